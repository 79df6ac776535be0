#if canImport(Glibc)
import Glibc
#endif

/// Every libc call HistProc makes goes through here, so EINTR is retried in exactly one place and
/// "the process is gone" is decided by one rule.
enum SysIO {
    /// Errors that mean the process (or the file's owner) vanished: a normal outcome when reading
    /// /proc, never reported as an error. ENOENT: the /proc/PID directory is gone; ESRCH: the task
    /// died between open and read (or a cached fd outlived its process).
    static func isGone(_ err: Int32) -> Bool { err == ENOENT || err == ESRCH || err == ENOTDIR }

    /// st_size from stat(2), or nil (errno set).
    static func fileSize(_ path: UnsafePointer<CChar>) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    /// The real procfs (not a fixture tree): the root is /proc.
    static func isProcfs(_ path: String) -> Bool {
        path == "/proc" || path == "/proc/"
    }

    /// open(2) read-only and close-on-exec, retrying EINTR. Returns -1 with errno set on failure.
    static func openRead(_ path: UnsafePointer<CChar>) -> Int32 {
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 || errno != EINTR { return fd }
        }
    }

    /// Reads the whole file at `path` into `buffer` (from offset 0), growing nothing: at most
    /// `buffer.count` bytes. Returns the byte count, 0 for an empty file, or -errno.
    static func readFile(_ path: UnsafePointer<CChar>, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let fd = openRead(path)
        if fd < 0 { return -Int(errno) }
        defer { close(fd) }
        return preadAll(fd, into: buffer)
    }

    /// pread(2) from offset 0 until EOF or the buffer is full. Returns bytes read or -errno.
    static func preadAll(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var total = 0
        while total < buffer.count {
            let n = pread(fd, base + total, buffer.count - total, off_t(total))
            if n < 0 {
                if errno == EINTR { continue }
                return total > 0 ? total : -Int(errno)
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Writes `text` to the file at `path` (O_WRONLY, no create, no truncate: cgroup files).
    /// Returns 0 or the errno.
    static func writeFile(_ path: String, _ text: String) -> Int32 {
        let fd = path.withCString { p in
            while true {
                let fd = open(p, O_WRONLY | O_CLOEXEC)
                if fd >= 0 || errno != EINTR { return fd }
            }
        }
        if fd < 0 { return errno }
        defer { close(fd) }
        var bytes = Array(text.utf8)
        let count = bytes.count
        var written = 0
        while written < count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + written, count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            written += n
        }
        return 0
    }

    /// Reads a small text file (cgroup and config files, never /proc hot paths). nil if unreadable.
    static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
        var size = 4096
        while true {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
            defer { buffer.deallocate() }
            let n = path.withCString { readFile($0, into: buffer) }
            if n < 0 { return nil }
            if n < size || size >= limit {
                return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<n]), as: UTF8.self)
            }
            size *= 4
        }
    }

    /// Calls `body` with each entry name of the directory at `path` (not "." or ".."), as raw
    /// NUL-terminated bytes. Returns false if the directory could not be opened.
    @discardableResult
    static func forEachEntry(_ path: UnsafePointer<CChar>, _ body: (UnsafePointer<CChar>) -> Void) -> Bool {
        guard let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: 256) { name in
                    if name[0] == 46 /* . */ && (name[1] == 0 || (name[1] == 46 && name[2] == 0)) { return }
                    body(name)
                }
            }
        }
        return true
    }

    /// Calls `body` with each entry name of a directory (String form, for cold paths).
    static func entries(_ path: String) -> [String]? {
        var out: [String] = []
        let ok = path.withCString { p in forEachEntry(p) { out.append(String(cString: $0)) } }
        return ok ? out : nil
    }

    /// Parses a NUL-terminated all-digit name as a positive pid; nil for anything else.
    static func pidFromName(_ name: UnsafePointer<CChar>) -> Int32? {
        var value: Int32 = 0
        var i = 0
        while name[i] != 0 {
            let c = name[i]
            guard c >= 48 && c <= 57, i < 10 else { return nil }
            value = value &* 10 &+ Int32(c - 48)
            i += 1
        }
        return i > 0 && value > 0 ? value : nil
    }
}
