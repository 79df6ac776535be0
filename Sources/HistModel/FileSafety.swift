#if canImport(Glibc)
import Glibc
#endif

/// The rules for the files a root histd creates (log files, the history database with its -wal and
/// -shm) in folders it does not fully own. A root process that follows a symbolic link planted by
/// another user appends to, overwrites or creates a file of root's choosing; so, as root:
/// - every folder on the way to `log_dir` and the database folder must be writable only by root or
///   histd's own user (group- or world-writable only with the sticky bit, like /tmp);
/// - the files themselves are opened with O_NOFOLLOW, must be regular files with one link, and are
///   created 0640 (folders 0750), with `[supervisor] group` as their group when set.
public enum FileSafety {
    /// Mode of the log files and of the database histd creates.
    public static let fileMode: mode_t = 0o640
    /// Mode of the folders histd creates.
    public static let directoryMode: mode_t = 0o750

    /// Why `directory` (or one of its ancestors) is unsafe for a root histd to create files in, with the
    /// fix; nil when it is safe, when it does not exist yet (histd creates it), or when histd is not root.
    public static func unsafeDirectoryProblem(_ directory: String, what: String, euid: uid_t = geteuid()) -> String? {
        guard euid == 0 else { return nil }
        var path = ""
        let parts = directory.split(separator: "/")
        var candidates = ["/"]
        for part in parts {
            path += "/" + part
            candidates.append(path)
        }
        for dir in candidates {
            var st = stat()
            guard stat(dir, &st) == 0 else { break }  // the rest does not exist yet
            let sticky = st.st_mode & S_ISVTX != 0
            if st.st_uid != 0 && st.st_uid != euid {
                let owner = userName(st.st_uid)
                return "\(what) \(directory) is not safe for a root histd: \(dir) is owned by \(owner) (uid \(st.st_uid)), who could plant a symbolic link there and make histd write a file of their choosing. Fix: chown root \(dir), or move \(what) to a root-owned folder such as /var/log/histd or /var/lib/histd"
            }
            if st.st_mode & 0o022 != 0 && !sticky {
                let who = st.st_mode & 0o002 != 0 ? "everyone" : "its group (gid \(st.st_gid))"
                return "\(what) \(directory) is not safe for a root histd: \(dir) is writable by \(who) without the sticky bit, so another user could plant a symbolic link there. Fix: chmod go-w \(dir)"
            }
        }
        return nil
    }

    /// `mkdir -p` with mode 0750 and `group` (when given) for the folders it creates; folders that exist
    /// are left as they are. Returns a message when the folder cannot be made or is not a folder.
    public static func makeDirectories(_ directory: String, group: UInt32? = nil) -> String? {
        var current = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            current += "/" + part
            if mkdir(current, directoryMode) == 0 {
                _ = chmod(current, directoryMode)  // the umask may have removed bits
                if let group { _ = chown(current, uid_t.max, group) }
            } else if errno != EEXIST {
                return "cannot create folder \(current): \(String(cString: strerror(errno)))"
            }
        }
        var st = stat()
        guard stat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { return "\(directory) is not a folder" }
        return nil
    }

    /// Opens `path` for appending (creating it 0640) without following a symbolic link and without
    /// blocking on a FIFO; refuses anything but a regular file with one link. Gives it `group` when set,
    /// and takes read access away from others on an older file. Returns the fd (O_CLOEXEC) or a message.
    public static func openForAppend(_ path: String, group: UInt32?) -> Result<Int32, FileProblem> {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, fileMode)
        guard fd >= 0 else { return .failure(FileProblem(path: path, errno: errno)) }
        if let problem = checkOpened(fd, path: path, group: group) {
            close(fd)
            return .failure(problem)
        }
        // Back to blocking writes (O_NONBLOCK only kept open() from waiting for a FIFO's reader).
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        return .success(fd)
    }

    /// For the database and its -wal/-shm: when `path` exists it must be a regular file with one link
    /// (never a symbolic link); it then gets `group` and loses access for others. Missing is fine.
    public static func checkExisting(_ path: String, group: UInt32?) -> FileProblem? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        if st.st_mode & S_IFMT == S_IFLNK { return FileProblem(path: path, errno: ELOOP) }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return FileProblem(path: path, errno: errno) }
        defer { close(fd) }
        return checkOpened(fd, path: path, group: group)
    }

    private static func checkOpened(_ fd: Int32, path: String, group: UInt32?) -> FileProblem? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return FileProblem(path: path, errno: errno) }
        if st.st_mode & S_IFMT != S_IFREG { return FileProblem(path: path, reason: "is not a regular file") }
        if st.st_nlink > 1 { return FileProblem(path: path, reason: "has \(st.st_nlink) hard links; histd writes only to a file of its own") }
        if let group, st.st_gid != group { _ = fchown(fd, uid_t.max, group) }
        if st.st_mode & 0o007 != 0 { _ = fchmod(fd, st.st_mode & 0o7770) }
        return nil
    }

    static func userName(_ uid: uid_t) -> String {
        guard let pw = getpwuid(uid) else { return "uid \(uid)" }
        return String(cString: pw.pointee.pw_name)
    }
}

/// A file histd refused or could not open, with the reason in words.
public struct FileProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var errno: Int32?

    public init(path: String, reason: String) { self.path = path; self.reason = reason; self.errno = nil }

    public init(path: String, errno code: Int32) {
        self.path = path
        self.errno = code
        // O_NOFOLLOW on a symbolic link fails with ELOOP.
        reason = code == ELOOP
            ? "is a symbolic link; histd never follows links for the files it writes (remove the link; point log_dir or db at the real location instead)"
            : "cannot be opened: \(String(cString: strerror(code)))"
    }

    public var description: String { "\(path) \(reason)" }
}
