#if canImport(Glibc)
import Glibc
#endif

/// The one syscall layer: every module that calls libc for I/O (HistConfig, HistProc, HistCore, histd,
/// histbench) goes through here, so EINTR is retried in exactly one place (`retrying`) and "the process
/// is gone" is decided by one rule. A target of its own because it sits below every other one.
package enum Sys {
    /// Retries `body` while it fails with EINTR (a negative result with errno EINTR).
    @inline(__always)
    package static func retrying<T: BinaryInteger>(_ body: () -> T) -> T {
        while true {
            let r = body()
            if r < 0 && errno == EINTR { continue }
            return r
        }
    }

    /// O_PATH from <fcntl.h> (Glibc's Swift module does not export it; Linux value on every arch): an fd
    /// that names a file without read or write access, for fstat and *at calls.
    package static let openPath: Int32 = 0o10000000

    /// Errors that mean the process (or the file's owner) vanished: a normal outcome when reading
    /// /proc, never reported as an error. ENOENT: the /proc/PID directory is gone; ESRCH: the task
    /// died between open and read (or a cached fd outlived its process).
    package static func isGone(_ err: Int32) -> Bool { err == ENOENT || err == ESRCH || err == ENOTDIR }

    /// The address of the unix socket at `path` (a file system path: no abstract names); nil when the
    /// path does not fit `sun_path` with its terminating NUL. One builder for every client and server.
    package static func unixAddress(_ path: String) -> sockaddr_un? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return addr
    }

    /// connect(2) of `fd` to the unix socket at `path`: connect's result, or -1 with errno
    /// ENAMETOOLONG when the path does not fit.
    package static func connectUnix(_ fd: Int32, _ path: String) -> Int32 {
        guard var addr = unixAddress(path) else { errno = ENAMETOOLONG; return -1 }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// bind(2) of `fd` to an IPv4 or IPv6 literal and a port: bind's result (-1 with errno), or -2 when
    /// `host` is not a literal of the family its form implies (a colon means IPv6). One builder for
    /// `histd check`'s probe and the metrics server, so both judge an address the same way.
    package static func bindInet(_ fd: Int32, host: String, port: UInt16) -> Int32 {
        if host.contains(":") {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 else { return -2 }
            return bind(fd, &addr)
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return -2 }
        return bind(fd, &addr)
    }

    /// bind(2) of `fd` to the unix socket path `path`: bind's result, or -1 with errno ENAMETOOLONG
    /// when the path does not fit (the control socket and the metrics server).
    package static func bindUnix(_ fd: Int32, _ path: String) -> Int32 {
        guard var addr = unixAddress(path) else { errno = ENAMETOOLONG; return -1 }
        return bind(fd, &addr)
    }

    /// bind(2) with any sockaddr_* value, its size taken from its type.
    private static func bind<Address>(_ fd: Int32, _ addr: inout Address) -> Int32 {
        withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
    }

    /// st_size from stat(2), or nil (errno set).
    package static func fileSize(_ path: UnsafePointer<CChar>) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    /// The real procfs (not a fixture tree): the root is /proc.
    package static func isProcfs(_ path: String) -> Bool {
        path == "/proc" || path == "/proc/"
    }

    /// The target of the symbolic link at `path` (readlink(2)), or nil.
    package static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// open(2) read-only and close-on-exec, retrying EINTR. Returns -1 with errno set on failure.
    package static func openRead(_ path: UnsafePointer<CChar>) -> Int32 {
        retrying { open(path, O_RDONLY | O_CLOEXEC) }
    }

    /// read(2) once into `buffer`, retrying EINTR. Returns the byte count or -errno.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = retrying { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        return n >= 0 ? n : -Int(errno)
    }

    /// pread(2) once at `offset`, retrying EINTR. Returns the byte count or -errno.
    package static func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int = 0) -> Int {
        let n = retrying { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
        return n >= 0 ? n : -Int(errno)
    }

    /// Reads `fd` to its end (the whole file for a regular one), at most `limit` bytes; nil on error.
    package static func readToEnd(_ fd: Int32, limit: Int = Int.max) -> [UInt8]? {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count <= limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, into: $0) }
            if n < 0 { return nil }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// poll(2), retrying EINTR. Returns the count of ready fds or -1 (errno set).
    package static func poll(_ fds: inout [pollfd], timeoutMs: Int32) -> Int32 {
        retrying { Glibc.poll(&fds, nfds_t(fds.count), timeoutMs) }
    }

    /// nanosleep(2) for the whole of `d`, resuming after a signal.
    package static func sleep(_ d: Duration) {
        let ns = max(0, d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
        var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var rem = timespec()
        while nanosleep(&ts, &rem) != 0 && errno == EINTR { ts = rem }
    }

    /// Reads the whole file at `path` into `buffer` (from offset 0), growing nothing: at most
    /// `buffer.count` bytes. Returns the byte count, 0 for an empty file, or -errno.
    package static func readFile(_ path: UnsafePointer<CChar>, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let fd = openRead(path)
        if fd < 0 { return -Int(errno) }
        defer { close(fd) }
        return preadAll(fd, into: buffer)
    }

    /// pread(2) from offset 0 until EOF or the buffer is full. Returns bytes read or -errno.
    package static func preadAll(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var total = 0
        while total < buffer.count {
            let n = retrying { Glibc.pread(fd, base + total, buffer.count - total, off_t(total)) }
            if n < 0 { return total > 0 ? total : -Int(errno) }
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Writes `text` to the file at `path` (O_WRONLY, no create, no truncate: cgroup files).
    /// Returns 0 or the errno.
    package static func writeFile(_ path: String, _ text: String) -> Int32 {
        let fd = path.withCString { p in retrying { open(p, O_WRONLY | O_CLOEXEC) } }
        if fd < 0 { return errno }
        defer { Glibc.close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { writeAll(fd, $0) } ? 0 : errno
    }

    /// Reads a small text file (cgroup and config files, never /proc hot paths). nil if unreadable.
    package static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
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
    package static func forEachEntry(_ path: UnsafePointer<CChar>, _ body: (UnsafePointer<CChar>) -> Void) -> Bool {
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
    package static func entries(_ path: String) -> [String]? {
        var out: [String] = []
        let ok = path.withCString { p in forEachEntry(p) { out.append(String(cString: $0)) } }
        return ok ? out : nil
    }

    /// Parses a NUL-terminated all-digit name as a positive pid; nil for anything else.
    package static func pidFromName(_ name: UnsafePointer<CChar>) -> Int32? {
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

    // MARK: - The engine's calls

    package static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// A close-on-exec pipe: (read, write). The write end is handed to the child by dup2, which
    /// clears close-on-exec on the copy.
    package static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        // pipe2 is not exported by Glibc's Swift module; only the engine thread spawns, so the
        // window between pipe() and F_SETFD cannot leak these fds into one of our own children.
        guard pipe(&fds) == 0 else { return nil }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return (fds[0], fds[1])
    }

    package static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Writes every byte (retrying short writes and EINTR); false on error (errno set).
    package static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let n = retrying { Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// `mkdir -p`.
    package static func makeDirectories(_ path: String) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            _ = mkdir(current, 0o755)
        }
    }

    package static func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
