#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over the libc calls the engine makes. EINTR is retried here and only here.
enum Sys {
    /// Retries `body` while it fails with EINTR.
    @inline(__always)
    static func retrying<T: BinaryInteger>(_ body: () -> T) -> T {
        while true {
            let r = body()
            if r < 0 && errno == EINTR { continue }
            return r
        }
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// A close-on-exec pipe: (read, write). The write end is handed to the child by dup2, which
    /// clears close-on-exec on the copy.
    static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        // pipe2 is not exported by Glibc's Swift module; only the engine thread spawns, so the
        // window between pipe() and F_SETFD cannot leak these fds into one of our own children.
        guard pipe(&fds) == 0 else { return nil }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return (fds[0], fds[1])
    }

    static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Writes every byte (retrying short writes); false on error.
    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let n = retrying { Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            _ = mkdir(current, 0o755)
        }
    }

    static func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Milliseconds-rounded monotonic now.
    static func monotonicNow() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return .seconds(Int64(ts.tv_sec)) + .nanoseconds(Int64(ts.tv_nsec))
    }
}
