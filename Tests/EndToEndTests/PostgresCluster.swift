import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL 15 cluster for one test (docs/FLEET.md, /work/shared/PLATFORM.md): initdb in a
/// temp dir, trust auth, 127.0.0.1 on a free port, its socket in the same dir. As root it runs as the
/// `postgres` user (initdb refuses root). `remove()` stops it (pg_ctl by its data dir) and deletes the
/// dir; call it in a `defer` registered before any assertion.
final class PostgresCluster {
    static let bin = "/usr/lib/postgresql/15/bin"
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: bin + "/initdb")
            && FileManager.default.isExecutableFile(atPath: bin + "/pg_ctl")
            && (getuid() != 0 || getpwnam("postgres") != nil)
    }

    let dir: String
    let port: Int
    var data: String { dir + "/pg/data" }
    var url: String { "postgres://postgres@127.0.0.1:\(port)/histd?sslmode=disable" }

    init() throws {
        dir = NSTemporaryDirectory() + "histd-pg-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: dir + "/pg", withIntermediateDirectories: true)
        chmod(dir, 0o755)
        if getuid() == 0, let pw = getpwnam("postgres") { chown(dir + "/pg", pw.pointee.pw_uid, pw.pointee.pw_gid) }
        port = Self.freePort()
        try asPostgres("\(Self.bin)/initdb -D \(data) -A trust -U postgres")
        try start()
        _ = try psql("CREATE DATABASE histd", database: "postgres")
    }

    func start() throws {
        try asPostgres("\(Self.bin)/pg_ctl -D \(data) -o '-p \(port) -k \(dir)/pg -c listen_addresses=127.0.0.1' -l \(dir)/pg/log -w start")
    }

    func stop() throws {
        try asPostgres("\(Self.bin)/pg_ctl -D \(data) -m fast -w stop")
    }

    /// Stops the server if it runs and removes everything.
    func remove() {
        if FileManager.default.fileExists(atPath: data + "/postmaster.pid") { try? stop() }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// psql -At: one line per row, columns separated by |.
    func psql(_ sql: String, database: String = "histd") throws -> String {
        let r = try E2E.run("/usr/bin/psql", ["-X", "-v", "ON_ERROR_STOP=1", "-At", "-h", "127.0.0.1", "-p", "\(port)",
                                              "-U", "postgres", "-d", database, "-c", sql], timeout: 60)
        guard r.status == 0 else { throw E2EError("psql \(sql): \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func count(_ sql: String) throws -> Int { Int(try psql(sql)) ?? -1 }

    /// The rows of a one-column query, whole (a value may hold newlines: records are NUL-separated).
    func records(_ sql: String) throws -> [String] {
        let r = try E2E.run("/usr/bin/psql", ["-X", "-v", "ON_ERROR_STOP=1", "-At", "-0", "-h", "127.0.0.1", "-p", "\(port)",
                                              "-U", "postgres", "-d", "histd", "-c", sql], timeout: 60)
        guard r.status == 0 else { throw E2EError("psql \(sql): \(r.stderr)") }
        var out = r.stdout
        if out.hasSuffix("\n") { out.removeLast() }
        if out.hasSuffix("\0") { out.removeLast() }
        return out.isEmpty ? [] : out.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
    }

    /// Runs `command` through /bin/sh, as `postgres` when we are root. Spawned and reaped here
    /// (posix_spawn + waitpid), not with Foundation's Process: its exit monitor missed su's exit (a zombie
    /// it never reaped, and a test that hung in waitUntilExit).
    private func asPostgres(_ command: String) throws {
        let out = dir + "/pg/command.out"
        let full = "(\(command)) >\(out) 2>&1"
        let argv = getuid() == 0 ? ["/bin/su", "postgres", "-s", "/bin/sh", "-c", full] : ["/bin/sh", "-c", full]
        var cArgv = argv.map { strdup($0) } + [nil]
        defer { for p in cArgv { free(p) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArgv, environ)
        guard rc == 0 else { throw E2EError("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(120)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw E2EError("\(command): timed out")
            }
            usleep(10_000)
        }
        // WIFEXITED && WEXITSTATUS == 0, spelled out (the macros are not imported).
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: dir + "/pg/log", encoding: .utf8)) ?? ""
            throw E2EError("\(command) failed (wait status \(status)): \(text)\n\(log)")
        }
    }

    /// A port the kernel hands out for an ephemeral bind on 127.0.0.1, released again.
    static func freePort() -> Int {
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
