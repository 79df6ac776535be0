#if canImport(Glibc)
import Glibc
#endif

/// An append-only log file rotated by size: when it reaches `maxBytes`, NAME -> NAME.1 -> ... -> NAME.keep
/// (the oldest is dropped) and a fresh NAME is opened. Write errors (disk full, folder removed) are
/// counted and swallowed: a program must never stall because its log cannot be written.
final class RotatingLogFile {
    let path: String
    let maxBytes: Int
    let keep: Int
    private var fd: Int32 = -1
    private var size: Int = 0
    private(set) var writeErrors = 0

    init(path: String, maxBytes: Int, keep: Int) {
        self.path = path
        self.maxBytes = max(1, maxBytes)
        self.keep = max(0, keep)
        open()
    }

    deinit { Sys.close(fd) }

    private func open() {
        fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        var st = stat()
        size = (fd >= 0 && fstat(fd, &st) == 0) ? Int(st.st_size) : 0
    }

    func write(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if fd < 0 { open() }
        guard fd >= 0, Sys.writeAll(fd, bytes) else {
            writeErrors += 1
            return
        }
        size += bytes.count
        if size >= maxBytes { rotate() }
    }

    func rotate() {
        Sys.close(fd)
        fd = -1
        if keep == 0 {
            unlink(path)
        } else {
            unlink("\(path).\(keep)")
            var n = keep - 1
            while n >= 1 {
                rename("\(path).\(n)", "\(path).\(n + 1)")
                n -= 1
            }
            rename(path, "\(path).1")
        }
        open()
    }
}
