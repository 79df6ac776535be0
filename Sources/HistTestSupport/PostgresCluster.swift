import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Why a throwaway cluster could not be made or asked.
public struct PostgresClusterError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// A throwaway PostgreSQL 15 cluster for one test or benchmark (docs/FLEET.md, PLATFORM.md): initdb in a
/// temp dir, trust auth, 127.0.0.1 on a free port, its socket in the same dir. As root it runs as the
/// `postgres` user (initdb refuses root). `remove()` stops it (pg_ctl by its data dir) and deletes the
/// dir; call it in a `defer` registered before any assertion. Shared by the fleet tests and `histbench ship`.
public final class PostgresCluster {
    public static let bin = "/usr/lib/postgresql/15/bin"
    public static var available: Bool {
        FileManager.default.isExecutableFile(atPath: bin + "/initdb")
            && FileManager.default.isExecutableFile(atPath: bin + "/pg_ctl")
            && (getuid() != 0 || getpwnam("postgres") != nil)
    }

    public let dir: String
    public let port: Int
    public var data: String { dir + "/pg/data" }
    public var url: String { "postgres://postgres@127.0.0.1:\(port)/histd?sslmode=disable" }

    /// `parent`: where the cluster's directory goes (default: the temp dir).
    public init(parent: String = NSTemporaryDirectory()) throws {
        dir = (parent.hasSuffix("/") ? parent : parent + "/") + "histd-pg-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: dir + "/pg", withIntermediateDirectories: true)
        chmod(dir, 0o755)
        if getuid() == 0, let pw = getpwnam("postgres") { chown(dir + "/pg", pw.pointee.pw_uid, pw.pointee.pw_gid) }
        port = Self.freePort()
        try asPostgres("\(Self.bin)/initdb -D \(data) -A trust -U postgres")
        try start()
        _ = try psql("CREATE DATABASE histd", database: "postgres")
    }

    public func start() throws {
        try asPostgres("\(Self.bin)/pg_ctl -D \(data) -o '-p \(port) -k \(dir)/pg -c listen_addresses=127.0.0.1' -l \(dir)/pg/log -w start")
    }

    public func stop() throws {
        try asPostgres("\(Self.bin)/pg_ctl -D \(data) -m fast -w stop")
    }

    /// Stops the server if it runs and removes everything.
    public func remove() {
        if FileManager.default.fileExists(atPath: data + "/postmaster.pid") { try? stop() }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// psql -At: one line per row, columns separated by |.
    /// `timeout`: seconds before psql is killed (a benchmark's bulk statement may need more than the default).
    public func psql(_ sql: String, database: String = "histd", timeout: Double = 60) throws -> String {
        try runPsql(["-At", "-d", database, "-c", sql], timeout: timeout).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func count(_ sql: String) throws -> Int { Int(try psql(sql)) ?? -1 }

    /// The rows of a one-column query, whole (a value may hold newlines: records are NUL-separated).
    public func records(_ sql: String) throws -> [String] {
        var out = try runPsql(["-At", "-0", "-d", "histd", "-c", sql])
        if out.hasSuffix("\n") { out.removeLast() }
        if out.hasSuffix("\0") { out.removeLast() }
        return out.isEmpty ? [] : out.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
    }

    /// Runs psql (as the caller: trust auth over TCP) with `arguments` after the connection options.
    private func runPsql(_ arguments: [String], timeout: Double = 60) throws -> String {
        let tag = UUID().uuidString.prefix(8)
        let out = dir + "/psql-\(tag).out", err = dir + "/psql-\(tag).err"
        defer { unlink(out); unlink(err) }
        let argv = ["/usr/bin/psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres"] + arguments
        let status = try Self.spawn(argv, stdout: out, stderr: err, timeout: timeout)
        guard status == 0 else {
            throw PostgresClusterError("psql \(arguments.last ?? ""): \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "exit \(status)")")
        }
        return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    }

    /// Runs `command` through /bin/sh, as `postgres` when we are root.
    private func asPostgres(_ command: String) throws {
        let out = dir + "/pg/command.out"
        let argv = getuid() == 0 ? ["/bin/su", "postgres", "-s", "/bin/sh", "-c", command] : ["/bin/sh", "-c", command]
        let status = try Self.spawn(argv, stdout: out, stderr: out, timeout: 120)
        guard status == 0 else {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: dir + "/pg/log", encoding: .utf8)) ?? ""
            throw PostgresClusterError("\(command) failed (wait status \(status)): \(text)\n\(log)")
        }
    }

    /// Spawns `argv` with stdout and stderr into files, waits at most `timeout` seconds (then SIGKILL), and
    /// returns the wait status (0: exited 0). posix_spawn + waitpid, not Foundation's Process: its exit
    /// monitor missed su's exit (a zombie it never reaped, and a test that hung in waitUntilExit).
    static func spawn(_ argv: [String], stdout: String, stderr: String, timeout: Double) throws -> Int32 {
        var cArgv = argv.map { strdup($0) } + [nil]
        defer { for p in cArgv { free(p) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if stderr == stdout {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArgv, environ)
        guard rc == 0 else { throw PostgresClusterError("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw PostgresClusterError("\(argv.joined(separator: " ")): timed out after \(Int(timeout)) s")
            }
            usleep(5_000)
        }
        // WIFEXITED && WEXITSTATUS == 0, spelled out (the macros are not imported).
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status
    }

    /// A port the kernel hands out for an ephemeral bind on 127.0.0.1, released again.
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
