#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HistSys

/// The few file-system questions the loader asks, in one place, with messages that say what is wrong.
enum FileSystem {
    enum Kind { case missing, directory, file, other }

    static func kind(_ path: String) -> Kind {
        var st = stat()
        guard stat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .file
        default: return .other
        }
    }

    static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    static func errnoText(_ e: Int32) -> String { String(cString: strerror(e)) }

    /// The process's working directory (for a relative `--config` path).
    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        let length = buf.firstIndex(of: 0) ?? buf.count
        return String(decoding: buf[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads a whole file. Errors name the reason (missing, a directory, permission).
    static func readFile(_ path: String) -> Result<[UInt8], ReadError> {
        switch kind(path) {
        case .missing: return .failure(ReadError(message: "no such file"))
        case .directory: return .failure(ReadError(message: "is a directory, not a config file"))
        default: break
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadError(message: "cannot open: \(errnoText(errno))")) }
        defer { close(fd) }
        // A config is small; refuse something absurd (e.g. /dev/zero) instead of eating memory.
        let limit = 64 * 1024 * 1024
        guard let out = Sys.readToEnd(fd, limit: limit) else {
            return .failure(ReadError(message: "cannot read: \(errnoText(errno))"))
        }
        if out.count > limit { return .failure(ReadError(message: "is larger than 64 MiB; not a config file")) }
        return .success(out)
    }

    struct ReadError: Error { var message: String }

    /// `base/relative`, made absolute and tidied (`.` and `..` components folded, no symlinks resolved).
    static func absolute(_ path: String, relativeTo base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for component in joined.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(component)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The folder part of an absolute path.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// histd's own `$PATH`, or the usual default when it is unset.
    static func searchPath() -> String {
        if let p = getenv("PATH") { let s = String(cString: p); if !s.isEmpty { return s } }
        return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    }
}

/// Turns `command[0]` into an absolute path of an executable file, or says why it cannot.
enum ExecutableResolver {
    /// - A name without a slash is looked up in `searchPath` (histd's `$PATH`), like `execvp` would.
    /// - A path with a slash is taken relative to `configDirectory` (not to histd's working directory,
    ///   so the config means the same thing wherever histd is started).
    static func resolve(_ program: String, configDirectory: String, searchPath: String) -> Result<String, ResolveError> {
        if program.contains("/") {
            let path = FileSystem.absolute(program, relativeTo: configDirectory)
            switch FileSystem.kind(path) {
            case .missing: return .failure(ResolveError(message: "\"\(program)\" not found (looked for \(path))"))
            case .directory: return .failure(ResolveError(message: "\"\(program)\" is a directory, not a program (\(path))"))
            default: break
            }
            guard FileSystem.isExecutable(path) else {
                return .failure(ResolveError(message: "\"\(program)\" is not executable (\(path)); try chmod +x"))
            }
            return .success(path)
        }
        var sawNonExecutable: String?
        for dir in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let folder = dir.isEmpty ? "." : String(dir)
            let candidate = FileSystem.absolute(program, relativeTo: FileSystem.absolute(folder, relativeTo: configDirectory))
            guard FileSystem.kind(candidate) == .file else { continue }
            if FileSystem.isExecutable(candidate) { return .success(candidate) }
            if sawNonExecutable == nil { sawNonExecutable = candidate }
        }
        if let sawNonExecutable {
            return .failure(ResolveError(message: "\"\(program)\" found at \(sawNonExecutable) but it is not executable"))
        }
        return .failure(ResolveError(message: "\"\(program)\" not found in $PATH (\(searchPath)); give an absolute path or a path relative to the config file"))
    }

    struct ResolveError: Error { var message: String }
}
