import Foundation
import GRDB
import HistModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// The binaries work when copied elsewhere and run from a folder with no migrations/ or queries/:
    /// their SQL is embedded, not read from the source tree.
    @Suite struct InstalledBinary {
        @Test func copiedBinariesCreateMigrateAndQueryWithoutTheSourceTree() throws {
            let ws = try Workspace("installed")
            defer { ws.cleanup() }
            let bin = ws.path("bin"), elsewhere = ws.path("elsewhere"), data = ws.path("data")
            for d in [bin, elsewhere, data] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
            for name in ["histd", "histctl"] {
                // By cp, not in this process: see InstallTests (ETXTBSY from a write fd a concurrent fork inherits).
                let copy = try E2E.run("/bin/cp", [E2E.built(name), "\(bin)/\(name)"])
                #expect(copy.status == 0, "\(copy.stderr)")
            }
            let env = ["HOME": elsewhere]
            let db = "\(data)/h.db"

            let scan = try E2E.run("\(bin)/histd", ["scan", "--once", "--db", db], cwd: elsewhere, env: env, removeEnv: ["HISTD_DB"])
            #expect(scan.status == 0, "histd scan --once: \(scan.stderr)")
            #expect(scan.stdout.contains("recorded to"))
            // Created and fully migrated: every migration file of the source tree is recorded as applied.
            let migrationFiles = try FileManager.default.contentsOfDirectory(atPath: E2E.root.appendingPathComponent("migrations").path)
                .filter { $0.hasSuffix(".sql") }
            let history = HistoryDB(path: db)
            let applied = try history.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
            #expect(applied.count == migrationFiles.count, "applied \(applied) for files \(migrationFiles)")
            #expect(try history.int("SELECT count(*) FROM scans") == 1)
            #expect(try history.int("SELECT count(*) FROM event_kinds") == EventKind.allCases.count)
            // Nothing was written next to the binaries or in the working folder.
            #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: bin).sorted() == ["histctl", "histd"])

            let z = try E2E.run("\(bin)/histctl", ["zombies", "--db", db, "--format", "json", "--since", "1h"], cwd: elsewhere, env: env, removeEnv: ["HISTD_DB"])
            #expect(z.status == 0, "histctl zombies: \(z.stderr)")
            #expect((try? JSONSerialization.jsonObject(with: z.stdoutData)) is [Any], "\(z.stdout.prefix(300))")
            let o = try E2E.run("\(bin)/histctl", ["orphans", "--db", db, "--format", "csv", "--since", "1h"], cwd: elsewhere, env: env, removeEnv: ["HISTD_DB"])
            #expect(o.status == 0, "histctl orphans: \(o.stderr)")

            // And the SQL really is inside the binaries: each migration's first statement is in histd's bytes.
            let histdBytes = try Data(contentsOf: URL(fileURLWithPath: "\(bin)/histd"))
            for file in migrationFiles {
                let sql = try String(contentsOfFile: E2E.root.appendingPathComponent("migrations/\(file)").path, encoding: .utf8)
                let probe = sql.split(separator: "\n").first { $0.uppercased().hasPrefix("CREATE ") } ?? ""
                #expect(!probe.isEmpty && histdBytes.range(of: Data(probe.utf8)) != nil, "\(file): \(probe) not embedded")
            }
        }
    }
}
