import Foundation
import HistModel
import HistSys
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Tells the writer at once when the database file's name changes in its folder (deleted, renamed away,
/// replaced by a rename or by a new file), so an idle writer need not check the file on a timer.
///
/// Why inotify and not the 1 s `stat` alone: a histd whose programs are quiet (recording off, nothing
/// crashing) woke its writer every second only to learn that nothing had changed, about 0.008 % of a
/// core on its own (BENCHMARKS.md, "Recording off"). The kernel knows when a name in a folder changes;
/// asking it is both cheaper and sooner. The writer still checks by the clock while it writes (it is
/// awake anyway) and, when idle, at `backstop` intervals, for what a folder watch cannot see: a folder
/// higher up renamed, a mount put over the folder, a change made by another host on a network file system.
///
/// One thread blocked in `read(2)` on the inotify descriptor; it wakes only for events in the database's
/// folder and pokes the writer only for the database's own name. It stops the watch (and falls back to
/// the writer's timer) when the folder itself goes away, moves or is unmounted, or when the kernel's
/// event queue overflowed (after poking once, since an event may have been lost).
final class DatabaseFileWatch: Sendable {
    /// How often an idle writer still checks the file while the watch is active.
    static let backstop: Duration = .seconds(60)

    /// What the watch thread and `stop` share (a class: a Mutex or an Atomic cannot be captured).
    private final class Shared: Sendable {
        /// The inotify descriptor, -1 once the thread closed it; and whether `stop` removed the watch.
        let descriptor: Mutex<(fd: Int32, stopping: Bool)>
        let active = Atomic<Bool>(true)
        init(fd: Int32) { descriptor = Mutex((fd, false)) }
    }
    private let shared: Shared
    private let watchID: Int32

    /// Whether changes in the folder are still reported (false after the folder moved or went away, or
    /// `stop`): the writer then checks by its timer again.
    var isActive: Bool { shared.active.load(ordering: .acquiring) }

    /// Starts watching the folder of `path`; nil when inotify is unavailable or the folder cannot be
    /// watched (the writer then checks on its timer, as before). `poke` runs on the watch thread with the
    /// time of the event in ms, and must return at once.
    init?(path: String, poke: @escaping @Sendable (Int64) -> Void) {
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        let folder = url.deletingLastPathComponent().path
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        // Names only: no IN_MODIFY or IN_ATTRIB, which every write and checkpoint would raise.
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
        let wd = inotify_add_watch(fd, folder, mask)
        guard wd >= 0 else {
            close(fd)
            return nil
        }
        watchID = wd
        let shared = Shared(fd: fd)
        self.shared = shared
        Thread.named("histd-dbwatch") {
            DatabaseFileWatch.readEvents(fd: fd, name: name, shared: shared, poke: poke)
        }.start()
    }

    /// Ends the watch; the thread exits once the kernel confirms (IN_IGNORED). Idempotent.
    func stop() {
        shared.active.store(false, ordering: .releasing)
        let watchID = self.watchID
        shared.descriptor.withLock { s in
            guard !s.stopping, s.fd >= 0 else { return }
            s.stopping = true
            // Wakes the thread's read with IN_IGNORED; closing the descriptor would not wake it.
            _ = inotify_rm_watch(s.fd, watchID)
        }
    }

    private static func readEvents(fd: Int32, name: String, shared: Shared, poke: @Sendable (Int64) -> Void) {
        let headerSize = MemoryLayout<inotify_event>.size
        var buffer = [UInt8](repeating: 0, count: 16 * (headerSize + Int(NAME_MAX) + 1))
        let wanted = Array(name.utf8)
        reading: while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            var ours = false, ended = false
            buffer.withUnsafeBytes { raw in
                var offset = 0
                while offset + headerSize <= n {
                    let mask = raw.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int32>.size, as: UInt32.self)
                    let length = Int(raw.loadUnaligned(fromByteOffset: offset + headerSize - MemoryLayout<UInt32>.size, as: UInt32.self))
                    if mask & UInt32(IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT) != 0 {
                        ours = true
                        ended = true
                    } else if length > 0 {
                        // The name is NUL-padded to `length`.
                        let bytes = raw[(offset + headerSize)..<(offset + headerSize + length)]
                        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
                        if bytes[bytes.startIndex..<end].elementsEqual(wanted) { ours = true }
                    }
                    offset += headerSize + length
                }
            }
            if ended { shared.active.store(false, ordering: .releasing) }
            if ours { poke(Timestamp.now().milliseconds) }
            if ended { break reading }
        }
        shared.active.store(false, ordering: .releasing)
        shared.descriptor.withLock { s in
            close(s.fd)
            s.fd = -1
        }
    }
}
