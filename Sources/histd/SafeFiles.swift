#if canImport(Glibc)
import Glibc
#endif
import HistModel

/// What `histd run` checks and prepares before it writes anything: as root, the database folder and
/// `log_dir` must be folders no other user can plant links in; the database and its -wal/-shm must not
/// be links; the files get 0640 and `[supervisor] group`. See FileSafety for the rules.
enum SafeFiles {
    /// A message naming the path and the fix, or nil when everything is in place.
    static func prepare(dbPath: String, supervisor: SupervisorSpec) -> String? {
        let dbDir = directory(of: dbPath)
        for (dir, what) in [(dbDir, "the database folder"), (supervisor.logDir, "log_dir")] {
            if let problem = FileSafety.unsafeDirectoryProblem(dir, what: what) { return problem }
            if let problem = FileSafety.makeDirectories(dir, group: supervisor.groupID) { return "\(what): \(problem)" }
        }
        for suffix in ["", "-wal", "-shm"] {
            if let problem = FileSafety.checkExisting(dbPath + suffix, group: supervisor.groupID) {
                return "cannot use the history database: \(problem)"
            }
        }
        // Create it here (0640, O_EXCL|O_NOFOLLOW) rather than let SQLite create it 0644: SQLite gives the
        // -wal and -shm files it creates later the mode of this file (and, as root, its owner and group).
        let fd = open(dbPath, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, FileSafety.fileMode)
        if fd >= 0 {
            _ = fchmod(fd, FileSafety.fileMode)
            if let gid = supervisor.groupID { _ = fchown(fd, uid_t.max, gid) }
            close(fd)
        } else if errno != EEXIST && !Self.storageIsUnavailable(errno) {
            return "cannot create the history database \(dbPath): \(String(cString: strerror(errno)))"
        }
        // A full disk, a read-only mount or a missing permission is not refused: supervision starts
        // and the writer keeps trying to create the file (with these modes, HistoryDatabase.checkPath),
        // says so once on stderr, and gives the file the reader group once it exists (Recorder).
        return nil
    }

    /// Errors of the storage, not of the configuration: they may pass (space returns, a mount becomes
    /// writable, a permission is fixed), so histd supervises meanwhile. A planted link (ELOOP) or a
    /// path through a file (ENOTDIR) is the configuration's, and is refused.
    static func storageIsUnavailable(_ err: Int32) -> Bool {
        [ENOSPC, EDQUOT, EROFS, EACCES, EPERM, EIO, ENOMEM, EMFILE, ENFILE, EINTR].contains(err)
    }

    /// After SQLite opened the database: its -wal and -shm get the group too (a non-root SQLite cannot
    /// chown them itself). By path, never by opening them: closing any fd of a file drops every POSIX lock
    /// this process holds on it, SQLite's included, and a -shm that SQLite then thinks unused is reset
    /// under the writer's mapping (SIGBUS).
    static func shareDatabase(dbPath: String, supervisor: SupervisorSpec) {
        for suffix in ["", "-wal", "-shm"] {
            let path = dbPath + suffix
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            if let gid = supervisor.groupID, st.st_gid != gid { _ = lchown(path, uid_t.max, gid) }
            if st.st_mode & 0o007 != 0 { _ = chmod(path, st.st_mode & 0o7770) }
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
