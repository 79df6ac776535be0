import GRDB
import HistModel
import HistSys
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
        /// The `-wal` and `-shm` files beside it, by suffix, as last seen while the file was in place: after
        /// a change, only these are the lost file's (a `-wal` with another identity belongs to someone else).
        var sidecars: [String: Identity]
        /// An `O_PATH` descriptor of the file as opened (no read or write access, one fd): after a change, its
        /// link count tells a file that lives on under another name (moved) from one that is gone.
        var handle: Int32
    }
    static let sidecarSuffixes = ["-wal", "-shm"]
    private let state: Mutex<Opened?>
    /// Applied to every connection the slot opens, a reopened one included (TEMP triggers are per connection).
    let ship: ShipCapture?

    init(path: String, queue: DatabaseQueue?, ship: ShipCapture? = nil) {
        self.path = path
        self.ship = ship
        state = Mutex(queue.map { Opened(queue: $0, identity: DatabaseSlot.identity(of: path),
                                         sidecars: DatabaseSlot.sidecars(of: path), handle: DatabaseSlot.handle(of: path)) })
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
        let sidecars = DatabaseSlot.sidecars(of: path)
        let handle = DatabaseSlot.handle(of: path)
        state.withLock { $0 = Opened(queue: q, identity: identity, sidecars: sidecars, handle: handle) }
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

    /// What `checkFile` found and did.
    struct Change: Sendable, Equatable {
        var change: FileChange
        /// The file histd had open still has a name somewhere (it was renamed, or another hard link is
        /// left): what histd wrote to it is in it, not lost. False: it is gone (unlinked, or unknown).
        var stillLinked: Bool
        /// Where the file is now, when it is still linked and the kernel can say (one of its names).
        var movedTo: String?
        /// The moved file's `-wal`, moved out of the way under this name because it still held pages the
        /// file did not (a reader's snapshot kept the final checkpoint from copying them all). Empty when
        /// the log was complete in the file, or the file is gone: then it was removed.
        var setAside: [String]
    }

    /// Writer thread, on a timer: compares the file at `path` with the one opened. On a change the lost
    /// file's log is checkpointed into it, the old connection is closed, its `-wal`/`-shm` are taken away
    /// from the path, and the slot is emptied: the next `openIfNeeded` recreates or opens the new file.
    /// A stat that fails for another reason than ENOENT (a permission flicker) is not a change.
    ///
    /// Why the sidecars must go: SQLite names them after the path, not the file. When the database has
    /// moved, a closing connection neither checkpoints nor deletes them (`SQLITE_FCNTL_HAS_MOVED`), and a
    /// reader that still has the lost file open keeps them alive anyway. Left in place, the next open
    /// would replay the lost file's log into the new file, or share one wal-index between two databases.
    func checkFile() -> Change? {
        let opened = state.withLock { $0 }
        guard let opened, let known = opened.identity else { return nil }
        var st = stat()
        let change: FileChange
        if stat(path, &st) != 0 {
            guard errno == ENOENT else { return nil }
            change = .deleted(known)
        } else {
            let now = Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            guard now != known else {
                // In place: keep the sidecars' identities current (SQLite recreates a -wal it had removed).
                let sidecars = DatabaseSlot.sidecars(of: path)
                if sidecars != opened.sidecars { state.withLock { $0?.sidecars = sidecars } }
                return nil
            }
            change = .replaced(known, by: now)
        }
        // An explicit checkpoint still works on a moved file: the lost file (wherever it is now, if it
        // still is) gets every page of its log, so its log can be removed without losing anything.
        let complete = (try? opened.queue.writeWithoutTransaction { db -> Bool in
            guard let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") else { return false }
            let busy: Int = row[0], log: Int = row[1], copied: Int = row[2]
            return busy == 0 && log == copied
        }) ?? false
        try? opened.queue.close()
        state.withLock { $0 = nil }
        var linked = stat()
        let stillLinked = opened.handle >= 0 && fstat(opened.handle, &linked) == 0 && linked.st_nlink > 0
        let movedTo = stillLinked ? Self.currentPath(of: opened.handle) : nil
        if opened.handle >= 0 { Glibc.close(opened.handle) }
        var setAside: [String] = []
        let stamp = Timestamp.now().milliseconds
        for suffix in Self.sidecarSuffixes {
            let name = path + suffix
            guard let mine = opened.sidecars[suffix], DatabaseSlot.identity(of: name) == mine else { continue }
            // The -shm is only an index of the log, and the log of a file that is gone is of no use: both
            // go. The log of a file that lives on elsewhere is kept if it holds pages the file lacks. It is
            // not renamed to sit beside the file: a reader may still use it with the old -shm, and a new
            // connection would pair it with a new one.
            if complete || suffix == "-shm" || !stillLinked {
                unlink(name)
            } else {
                let aside = "\(name).lost-\(stamp)"
                if rename(name, aside) == 0 { setAside.append(aside) } else { unlink(name) }
            }
        }
        return Change(change: change, stillLinked: stillLinked, movedTo: movedTo, setAside: setAside)
    }

    /// Closes the connection (if open). Idempotent.
    func close() {
        let opened = state.withLock { s -> Opened? in
            defer { s = nil }
            return s
        }
        try? opened?.queue.close()
        if let h = opened?.handle, h >= 0 { Glibc.close(h) }
    }

    /// An `O_PATH` fd of the file at `path` (-1 if it cannot be opened: then a change is reported as a loss).
    static func handle(of path: String) -> Int32 {
        open(path, Sys.openPath | O_CLOEXEC)
    }

    /// The path of the file `fd` names now, from /proc/self/fd (nil when unlinked or unreadable).
    static func currentPath(of fd: Int32) -> String? {
        guard let target = Sys.readLink("/proc/self/fd/\(fd)") else { return nil }
        return target.hasSuffix(" (deleted)") || !target.hasPrefix("/") ? nil : target
    }

    static func sidecars(of path: String) -> [String: Identity] {
        var found: [String: Identity] = [:]
        for suffix in sidecarSuffixes { found[suffix] = identity(of: path + suffix) }
        return found
    }

    static func identity(of path: String) -> Identity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}
