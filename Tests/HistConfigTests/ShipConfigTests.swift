import Foundation
import Testing
@testable import HistConfig
import HistModel

/// `[ship]` (docs/FLEET.md): what it accepts, and each refusal with its file, line and key.
@Suite struct ShipConfigTests {
    @Test func absentMeansNoShipping() throws {
        let c = try ConfigDir().load("[program.a]\ncommand = \"/bin/sh\"\n")
        #expect(c.ship == nil)
    }

    @Test func aFullSectionIsRead() throws {
        let dir = ConfigDir()
        dir.write("pg.pass", "secret\n")
        let c = try dir.load("""
            [ship]
            url = "postgres://histd@db.example:5432/fleet"
            password_file = "pg.pass"
            host_id = "web-1.example"
            ship_max_backlog = "2G"
            ship_snapshots = "off"
            """)
        #expect(c.ship == ShipSpec(url: "postgres://histd@db.example:5432/fleet", passwordFile: dir.path + "/pg.pass",
                                   hostID: "web-1.example", maxBacklog: 2 << 30, snapshots: nil))
        let every10s = try dir.load("[ship]\nurl = \"postgres://histd@db/fleet\"\nship_snapshots = \"10s\"\n")
        #expect(every10s.ship?.snapshots == .seconds(10))
        let minimal = try dir.load("[ship]\nurl = \"postgresql://histd@[::1]/fleet?sslmode=disable\"\n")
        #expect(minimal.ship?.hostID == nil && minimal.ship?.maxBacklog == ShipSpec.defaultMaxBacklog && minimal.ship?.snapshots == nil)
    }

    @Test func aPasswordInTheURLIsAnErrorNamingFileLineAndKey() throws {
        let dir = ConfigDir()
        let problems = dir.problems("""
            [program.a]
            command = "/bin/sh"

            [ship]
            url = "postgres://histd:hunter2@db.example:5432/fleet"
            """)
        expectProblem(problems, line: 5, key: "ship.url", contains: "password")
        #expect(problems.allSatisfy { $0.file.hasSuffix("histd.toml") })
        #expect(!problems.contains { $0.description.contains("hunter2") }, "the error repeats the password: \(problems)")
    }

    @Test func eachBadValueIsReported() throws {
        let dir = ConfigDir()
        expectProblem(dir.problems("[ship]\nhost_id = \"x\"\n"), line: 1, key: "ship", contains: "needs url")
        expectProblem(dir.problems("[ship]\nurl = \"mysql://db/x\"\n"), line: 2, key: "ship.url", contains: "PostgreSQL URL")
        expectProblem(dir.problems("[ship]\nurl = \"postgres://u@/x\"\n"), line: 2, key: "ship.url", contains: "no host")
        expectProblem(dir.problems("[ship]\nurl = \"postgres://u@db:99999/x\"\n"), line: 2, key: "ship.url", contains: "not a port")
        expectProblem(dir.problems("[ship]\nurl = \"postgres://u@db/x\"\npassword_file = \"nope\"\n"), line: 3, key: "ship.password_file",
                      contains: "does not exist")
        expectProblem(dir.problems("[ship]\nurl = \"postgres://u@db/x\"\nhost_id = \"a b\"\n"), line: 3, key: "ship.host_id",
                      contains: "character")
        expectProblem(dir.problems("[ship]\nurl = \"postgres://u@db/x\"\nship_max_backlog = \"10K\"\n"), line: 3, key: "ship.ship_max_backlog",
                      contains: "out of range")
        expectProblem(dir.problems("[ship]\nurl = \"postgres://u@db/x\"\nship_snapshots = \"500ms\"\n"), line: 3, key: "ship.ship_snapshots",
                      contains: "at least")
        expectProblem(dir.problems("[ship]\nurl = \"postgres://u@db/x\"\nship_snapshots = \"often\"\n"), line: 3, key: "ship.ship_snapshots",
                      contains: "expected \"off\" or a number with a unit")
        expectProblem(dir.problems("[ship]\nurl = \"postgres://u@db/x\"\nbatch = 3\n"), line: 3, key: "ship.batch", contains: "unknown key")
        expectProblem(dir.problems("[program.histd-ship]\ncommand = \"/bin/sh\"\n\n[ship]\nurl = \"postgres://u@db/x\"\n"),
                      line: 1, key: "program.histd-ship", contains: "histd's own shipper")
    }
}
