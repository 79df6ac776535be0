import GRDB
import HistModel
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The write connection of a `HistoryStore`, which may be absent (the file could not be opened at start)
/// or replaced (the file was deleted or replaced under a running histd).
///
/// Only the writer thread opens (`openIfNeeded`) and swaps (`checkFile`): a failed open is retried with
/// the writer's backoff, never on the engine's or an operator's call. The store's synchronous calls
/// (`beginRun`, `endRun`, reloads) use whatever is open now (`current`), and fail with `cannotOpen` while
/// nothing is.
final class DatabaseSlot: Sendable {
    let path: String
    /// The file histd opened, as (device, inode): a different pair at `path`, or no file, means the
    /// database was replaced or deleted.
    struct Identity: Sendable, Equatable {
        var device: UInt64
        var inode: UInt64
    }
    private struct Opened {
        var queue: DatabaseQueue
        var identity: Identity?
    }
    private let state: Mutex<Opened?>
    /// Applied to every connection the slot opens, a reopened one included (TEMP triggers are per connection).
    let ship: ShipCapture?

    init(path: String, queue: DatabaseQueue?, ship: ShipCapture? = nil) {
        self.path = path
        self.ship = ship
        state = Mutex(queue.map { Opened(queue: $0, identity: DatabaseSlot.identity(of: path)) })
    }

    /// The open connection; throws `cannotOpen` while the database could not be opened yet.
    func current() throws -> DatabaseQueue {
        if let q = state.withLock({ $0?.queue }) { return q }
        throw HistoryStoreError(.cannotOpen, path: path, "is not open (histd could not open it yet and keeps retrying)")
    }

    var isOpen: Bool { state.withLock { $0 != nil } }

    /// Writer thread: the open connection, or one more attempt to open (and create, and migrate) the
    /// file. Throws `HistoryStoreError` when it still cannot be opened.
    func openIfNeeded() throws -> DatabaseQueue {
        if let q = state.withLock({ $0?.queue }) { return q }
        let q = try HistoryDatabase.openWriter(path: path, create: true, ship: ship)
        let identity = DatabaseSlot.identity(of: path)
        state.withLock { $0 = Opened(queue: q, identity: identity) }
        return q
    }

    /// What `checkFile` found.
    enum FileChange: Sendable, Equatable {
        /// No file at the path any more.
        case deleted(Identity)
        /// Another file at the path (a different device or inode).
        case replaced(Identity, by: Identity)

        var state: String {
            switch self {
            case .deleted: "deleted"
            case .replaced: "replaced"
            }
        }
        var lost: Identity {
            switch self {
            case .deleted(let i), .replaced(let i, _): i
            }
        }
    }

    /// Writer thread, on a timer: compares the file at `path` with the one opened. On a change the old
    /// connection is closed (SQLite checkpoints into the lost file and removes its -wal/-shm by name,
    /// so the next open starts clean) and the slot is emptied: the next `openIfNeeded` recreates the file.
    /// A stat that fails for another reason than ENOENT (a permission flicker) is not a change.
    func checkFile() -> FileChange? {
        let opened = state.withLock { $0 }
        guard let opened, let known = opened.identity else { return nil }
        var st = stat()
        let change: FileChange
        if stat(path, &st) != 0 {
            guard errno == ENOENT else { return nil }
            change = .deleted(known)
        } else {
            let now = Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            guard now != known else { return nil }
            change = .replaced(known, by: now)
        }
        try? opened.queue.close()
        state.withLock { $0 = nil }
        return change
    }

    /// Closes the connection (if open). Idempotent.
    func close() {
        let q = state.withLock { s -> DatabaseQueue? in
            defer { s = nil }
            return s?.queue
        }
        try? q?.close()
    }

    static func identity(of path: String) -> Identity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}
