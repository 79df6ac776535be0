#if canImport(Glibc)
import Glibc
import HistSys
#endif
import HistModel

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
    /// `[supervisor] group`: the file's group, so its members can read the logs.
    let group: UInt32?
    /// Why the last open failed (a planted symbolic link, a FIFO, permissions), nil after a good open.
    private(set) var openProblem: FileProblem?

    /// Whether the file has been opened (or an open tried) yet; see `openNow`.
    private(set) var opened = false

    /// - Parameter openNow: false leaves the file unopened until `openIfNeeded()` or the first write.
    ///   histd's first start opens its programs' logs after spawning them (`Engine.startUp`).
    init(path: String, maxBytes: Int, keep: Int, group: UInt32? = nil, openNow: Bool = true) {
        self.path = path
        self.maxBytes = max(1, maxBytes)
        self.keep = max(0, keep)
        self.group = group
        if openNow { open() }
    }

    /// Opens the file if nothing has tried to yet.
    func openIfNeeded() {
        if !opened { open() }
    }

    deinit { Sys.close(fd) }

    /// Closes the file and opens `path` again (creating it): after an outside rotation moved it away.
    func reopen() {
        Sys.close(fd)
        fd = -1
        open()
    }

    private func open() {
        opened = true
        // 0640, O_NOFOLLOW, regular files only: stderr can hold secrets, and a root histd must not
        // append to whatever a planted link points at (FileSafety).
        switch FileSafety.openForAppend(path, group: group) {
        case .success(let opened): fd = opened; openProblem = nil
        case .failure(let problem): fd = -1; openProblem = problem
        }
        var st = stat()
        size = (fd >= 0 && fstat(fd, &st) == 0) ? Int(st.st_size) : 0
    }

    /// Appends `bytes`, rotating so that no file grows past `maxBytes`: a chunk that would cross
    /// the limit is cut after its last newline that fits (or at the limit when a line is longer).
    func write(_ bytes: UnsafeRawBufferPointer) {
        openIfNeeded()  // the size of what is already in the file decides the first rotation
        var rest = bytes
        while rest.count > 0 {
            let room = maxBytes - size
            if rest.count <= room {
                append(rest)
                if size >= maxBytes { rotate() }
                return
            }
            var cut = room
            if let nl = rest[..<room].lastIndex(of: 10) {
                cut = nl + 1
            } else if size > 0 {
                cut = 0  // start the long line in a fresh file
            }
            if cut > 0 { append(UnsafeRawBufferPointer(rebasing: rest[..<cut])) }
            rotate()
            rest = UnsafeRawBufferPointer(rebasing: rest[cut...])
        }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        if fd < 0 { open() }
        guard fd >= 0, Sys.writeAll(fd, bytes) else {
            let err = fd >= 0 ? errno : 0
            writeErrors += 1
            health.failed(path: path, bytes: bytes.count, errno: err, problem: openProblem)
            // What a partial write put in the file still counts toward the rotation size.
            if fd >= 0 { var st = stat(); if fstat(fd, &st) == 0 { size = Int(st.st_size) } }
            return
        }
        size += bytes.count
        health.succeeded(path: path)
    }

    /// Write failures reported once per episode (LogWriteHealth.swift).
    private var health = LogWriteHealth()

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
