#if canImport(Glibc)
import Glibc
#endif
import HistSys
import Foundation

/// The listening unix socket, created safely:
/// - the parent folder is created (mode 0750) if missing; an existing one must belong to histd's user or
///   root, and must not be writable by anyone unless sticky;
/// - an existing path is removed only when it is a socket nobody listens on (connect is refused);
///   a live socket ("another histd") or anything else (a file, a symlink) is an error, never touched;
/// - the socket gets mode 0660 and, when given, the group that may connect;
/// - `close()` removes the path only if it is still this socket (same device and inode).
public final class ControlSocket: Sendable {
    public let path: String
    public let fd: Int32
    private let identity: (dev: UInt64, ino: UInt64)

    /// - Parameter group: the socket's (and a newly created folder's) group, so its members can connect.
    public init(path: String, group: UInt32?) throws(ControlError) {
        self.path = path
        guard path.utf8.count < 108 else { throw ControlError("control socket path is too long (\(path.utf8.count) bytes, at most 107): \(path)") }
        let parent = (path as NSString).deletingLastPathComponent
        try Self.prepareParent(parent.isEmpty ? "." : parent, group: group)
        try Self.removeStale(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw ControlError("socket(AF_UNIX): \(Self.errnoText())") }
        let bound = Sys.bindUnix(fd, path)
        guard bound == 0 else {
            let why = Self.errnoText()
            Glibc.close(fd)
            throw ControlError("cannot bind the control socket \(path): \(why)")
        }
        // bind created it with the umask's mode; the folder (0750) keeps others out meanwhile.
        _ = chmod(path, 0o660)
        if let group { _ = chown(path, UInt32.max, group) }
        guard listen(fd, 128) == 0 else {
            let why = Self.errnoText()
            Glibc.close(fd)
            unlink(path)
            throw ControlError("cannot listen on the control socket \(path): \(why)")
        }
        var st = stat()
        _ = lstat(path, &st)
        identity = (UInt64(st.st_dev), UInt64(st.st_ino))
        self.fd = fd
    }

    /// Closes the socket and removes its path if the path is still this socket.
    public func close() {
        var st = stat()
        if lstat(path, &st) == 0, UInt64(st.st_dev) == identity.dev, UInt64(st.st_ino) == identity.ino {
            unlink(path)
        }
        Glibc.close(fd)
    }

    static func prepareParent(_ dir: String, group: UInt32?) throws(ControlError) {
        var st = stat()
        if stat(dir, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw ControlError("\(dir) is not a directory (the control socket's folder)") }
            // Someone else's folder, or one anyone may write without the sticky bit, could swap the socket.
            guard st.st_uid == geteuid() || st.st_uid == 0 else {
                throw ControlError("\(dir) (the control socket's folder) belongs to uid \(st.st_uid), not to histd's user or root")
            }
            guard st.st_mode & 0o002 == 0 || st.st_mode & 0o1000 != 0 else {
                throw ControlError("\(dir) (the control socket's folder) is writable by anyone and not sticky")
            }
            return
        }
        guard errno == ENOENT else { throw ControlError("cannot use \(dir): \(errnoText())") }
        let grand = (dir as NSString).deletingLastPathComponent
        if !grand.isEmpty, grand != dir, stat(grand, &st) != 0 {
            do { try FileManager.default.createDirectory(atPath: grand, withIntermediateDirectories: true) } catch {
                throw ControlError("cannot create \(grand): \(error.localizedDescription)")
            }
        }
        guard mkdir(dir, 0o750) == 0 || errno == EEXIST else { throw ControlError("cannot create \(dir): \(errnoText())") }
        _ = chmod(dir, 0o750)
        if let group { _ = chown(dir, UInt32.max, group) }
    }

    /// Removes `path` only when it is a socket that refuses connections (a histd that died).
    static func removeStale(_ path: String) throws(ControlError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw ControlError("cannot use \(path): \(errnoText())")
        }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw ControlError("\(path) exists and is not a socket; not removed (remove it or set [supervisor] control_socket)")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw ControlError("socket(AF_UNIX): \(errnoText())") }
        defer { Glibc.close(probe) }
        let rc = Sys.connectUnix(probe, path)
        if rc == 0 { throw ControlError("another histd is listening on \(path)") }
        guard errno == ECONNREFUSED else { throw ControlError("cannot probe \(path): \(errnoText()); not removed") }
        unlink(path)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
