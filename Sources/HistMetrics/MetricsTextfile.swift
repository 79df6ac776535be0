#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization
import HistSys

/// Rewrites a Prometheus text file (for node_exporter's textfile collector) every `interval` on a
/// thread of its own: written to `PATH.tmp` in the same directory, then renamed over `PATH`, so a
/// reader sees the old file or the new one, never half of one.
public final class MetricsTextfile: Sendable {
    public let path: String
    private let interval: Duration
    private let metrics: SupervisorMetrics
    private let stopped = Mutex(false)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let lastError = Mutex<String?>(nil)

    public init(path: String, interval: Duration, metrics: SupervisorMetrics) {
        self.path = path
        self.interval = interval
        self.metrics = metrics
    }

    /// Writes once now, then every `interval` until `stop()`.
    public func start() {
        let thread = Thread.named("histd-metrics-textfile") { [self] in
            while !stopped.withLock({ $0 }) {
                writeOnce()
                let ns = interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000
                _ = wake.wait(timeout: .now() + .nanoseconds(Int(ns)))
            }
            writeOnce()
            finished.signal()
        }
        thread.start()
    }

    /// Stops the thread after one last write.
    public func stop() {
        stopped.withLock { $0 = true }
        wake.signal()
        finished.wait()
    }

    /// The last write's error, nil after a successful write.
    public var error: String? { lastError.withLock { $0 } }

    /// One atomic rewrite. Returns the error text, or nil.
    @discardableResult
    public func writeOnce() -> String? {
        let bytes = metrics.render(.prometheus)
        let problem = Self.write(bytes, to: path)
        lastError.withLock { $0 = problem }
        return problem
    }

    static func write(_ bytes: [UInt8], to path: String) -> String? {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return "cannot create \(temp): \(String(cString: strerror(errno)))" }
        var offset = 0
        while offset < bytes.count {
            let n = Sys.retrying { bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
            if n < 0 {
                let e = errno
                close(fd)
                unlink(temp)
                return "cannot write \(temp): \(String(cString: strerror(e)))"
            }
            offset += n
        }
        close(fd)
        guard rename(temp, path) == 0 else {
            let e = errno
            unlink(temp)
            return "cannot rename \(temp) to \(path): \(String(cString: strerror(e)))"
        }
        return nil
    }
}
