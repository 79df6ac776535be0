#if canImport(Glibc)
import Glibc
#endif

/// A cgroup operation that failed, naming the file and the system's reason.
public struct CgroupError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// A controller the limits need is not available (`detail` says why).
        case controllerUnavailable = "controller_unavailable"
        /// mkdir of a group failed.
        case createFailed = "create_failed"
        /// Writing a limit or control file failed.
        case writeFailed = "write_failed"
        /// rmdir failed (usually: processes are still in the group).
        case removeFailed = "remove_failed"
    }

    public var code: Code
    /// The file or directory concerned.
    public var path: String
    /// errno of the failing call, 0 when not from a syscall.
    public var errno: Int32
    /// Extra words for the reader.
    public var detail: String

    public init(_ code: Code, path: String, errno: Int32 = 0, detail: String = "") {
        self.code = code
        self.path = path
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let what: String = switch code {
        case .controllerUnavailable: "cgroup controller unavailable"
        case .createFailed: "cannot create cgroup"
        case .writeFailed: "cannot write cgroup file"
        case .removeFailed: "cannot remove cgroup"
        }
        var text = "\(what) \(path)"
        if errno != 0 { text += ": \(String(cString: strerror(errno)))" }
        if !detail.isEmpty { text += " (\(detail))" }
        return text
    }
}
