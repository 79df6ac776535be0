import HistModel
import Testing
@testable import HistCore

/// The reload plan as a table: one row per kind of change, each checked against the whole plan.
@Suite("Reload plan")
struct ReloadPlanTests {
    static func program(_ name: String, _ edit: (inout ProgramSpec) -> Void = { _ in }) -> ProgramSpec {
        var p = ProgramSpec(name: name, command: ["/bin/sleep", "60"])
        edit(&p)
        return p
    }

    static func config(_ programs: [ProgramSpec], pools: [PoolSpec] = [], supervisor: (inout SupervisorSpec) -> Void = { _ in }) -> HistConfig {
        var s = SupervisorSpec(logDir: "/tmp/logs")
        supervisor(&s)
        return HistConfig(path: "/etc/histd.toml", contentHash: "h", supervisor: s, programs: programs, pools: pools)
    }

    static let base = config([program("web"), program("db", { $0.stopOrder = 1 })],
                             pools: [PoolSpec(worker: program("jobs"), minWorkers: 2, maxWorkers: 4)])

    struct Row: Sendable, CustomTestStringConvertible {
        var label: String
        var new: HistConfig
        var expected: ReloadPlan
        var testDescription: String { label }
    }

    static func plan(_ body: (inout ReloadPlan) -> Void) -> ReloadPlan {
        var p = ReloadPlan()
        body(&p)
        return p
    }

    static let rows: [Row] = [
        Row(label: "identical", new: base, expected: plan { $0.unchanged = ["db", "web", "jobs"] }),
        Row(label: "added program starts",
            new: config(base.programs + [program("api")], pools: base.pools),
            expected: plan { $0.start = ["api"]; $0.unchanged = ["db", "web", "jobs"] }),
        Row(label: "removed programs stop in stop_order",
            new: config([], pools: base.pools),
            expected: plan { $0.stop = ["web", "db"]; $0.unchanged = ["jobs"] }),
        Row(label: "command change restarts",
            new: config([program("web", { $0.command = ["/bin/sleep", "61"] }), program("db", { $0.stopOrder = 1 })], pools: base.pools),
            expected: plan { $0.restart = [.init(name: "web", keys: ["command"])]; $0.unchanged = ["db", "jobs"] }),
        Row(label: "env, cwd and cgroup restart",
            new: config([program("web", { $0.env = ["A": "1"]; $0.cwd = "/tmp"; $0.cgroup = CgroupLimits(tasksMax: 10) }),
                         program("db", { $0.stopOrder = 1 })], pools: base.pools),
            expected: plan {
                $0.restart = [.init(name: "web", keys: ["cwd", "env", "cgroup", "cgroup.tasks_max"])]
                $0.unchanged = ["db", "jobs"]
            }),
        Row(label: "log settings restart",
            new: config([program("web", { $0.logKeep = 2; $0.stderrTailBytes = 100 }), program("db", { $0.stopOrder = 1 })], pools: base.pools),
            expected: plan { $0.restart = [.init(name: "web", keys: ["log_keep", "stderr_tail"])]; $0.unchanged = ["db", "jobs"] }),
        Row(label: "supervision keys apply in place",
            new: config([program("web", {
                $0.restart = .always; $0.backoff.maxRestarts = 9; $0.backoff.restartDelay = .seconds(3)
                $0.stopTimeout = .seconds(2); $0.stopOrder = 5; $0.maxMemoryMB = 100; $0.stopSignal = 2; $0.autostart = false
            }), program("db", { $0.stopOrder = 1 })], pools: base.pools),
            expected: plan {
                $0.update = [.init(name: "web", keys: ["autostart", "restart", "restart_delay", "max_restarts", "stop_signal",
                                                        "stop_timeout", "stop_order", "max_memory_mb"])]
                $0.unchanged = ["db", "jobs"]
            }),
        Row(label: "both kinds on one program: restart and in place",
            new: config([program("web", { $0.command = ["/bin/true"]; $0.backoff.resetAfter = .seconds(1) }),
                         program("db", { $0.stopOrder = 1 })], pools: base.pools),
            expected: plan {
                $0.restart = [.init(name: "web", keys: ["command"])]
                $0.update = [.init(name: "web", keys: ["reset_after"])]
                $0.unchanged = ["db", "jobs"]
            }),
        Row(label: "pool size scales",
            new: config(base.programs, pools: [PoolSpec(worker: program("jobs"), minWorkers: 3, maxWorkers: 5)]),
            expected: plan { $0.scale = [.init(name: "jobs", keys: ["min_workers", "max_workers"])]; $0.unchanged = ["db", "web"] }),
        Row(label: "pool worker spawn keys restart the workers",
            new: config(base.programs, pools: [PoolSpec(worker: program("jobs", { $0.env = ["X": "y"] }), minWorkers: 2, maxWorkers: 4,
                                                        maxWorkerAge: .seconds(600))]),
            expected: plan {
                $0.restart = [.init(name: "jobs", keys: ["env"])]
                $0.update = [.init(name: "jobs", keys: ["max_worker_age"])]
                $0.unchanged = ["db", "web"]
            }),
        Row(label: "program becomes a pool: stop the program, start the pool",
            new: config([program("db", { $0.stopOrder = 1 })], pools: base.pools + [PoolSpec(worker: program("web"))]),
            expected: plan { $0.start = ["web"]; $0.stop = ["web"]; $0.unchanged = ["db", "jobs"] }),
        Row(label: "db and log_dir refuse, naming the key",
            new: config(base.programs, pools: base.pools, supervisor: { $0.db = "/x.db"; $0.logDir = "/elsewhere" }),
            expected: plan {
                $0.refused = [.init(path: ["supervisor", "db"], message: "cannot change while histd runs; restart histd to apply it"),
                              .init(path: ["supervisor", "log_dir"], message: "cannot change while histd runs; restart histd to apply it")]
                $0.unchanged = ["db", "web", "jobs"]
            }),
        Row(label: "shutdown_timeout applies in place",
            new: config(base.programs, pools: base.pools, supervisor: { $0.shutdownTimeout = .seconds(3) }),
            expected: plan { $0.update = [.init(name: "[supervisor]", keys: ["shutdown_timeout"])]; $0.unchanged = ["db", "web", "jobs"] }),
    ]

    @Test(arguments: rows)
    func plan(_ row: Row) {
        var got = ReloadPlan.make(old: Self.base, new: row.new)
        var want = row.expected
        // `unchanged` follows file order (programs, then pools); compare as sets.
        #expect(Set(got.unchanged) == Set(want.unchanged))
        got.unchanged = []; want.unchanged = []
        #expect(got == want)
    }

    @Test func theSamePlanTwiceIsPure() {
        let new = Self.rows[3].new
        #expect(ReloadPlan.make(old: Self.base, new: new) == ReloadPlan.make(old: Self.base, new: new))
    }

    @Test func linesNameEveryEntry() {
        let p = ReloadPlan.make(old: Self.base, new: Self.rows[7].new)
        #expect(p.lines == ["restart web (command)", "update web in place (reset_after)", "unchanged db, jobs"])
        #expect(ReloadPlan.make(old: Self.base, new: Self.base).lines == ["unchanged web, db, jobs"])
    }

    /// Every stored property of the three specs has a rule: a new key added without one fails here.
    @Test func everyKeyIsClassified() {
        func fields(_ value: Any, prefix: String = "") -> [String] {
            Mirror(reflecting: value).children.compactMap { $0.label.map { prefix + $0 } }
        }
        let p = ProgramSpec(name: "x", command: ["/bin/true"], cgroup: CgroupLimits())
        var programFields = Set(fields(p)).subtracting(["backoff", "cgroup"])
        programFields.formUnion(fields(p.backoff, prefix: "backoff."))
        programFields.formUnion(fields(CgroupLimits(), prefix: "cgroup."))
        programFields.insert("cgroup")
        let classifiedProgram = Set(ReloadKeys.program.map(\.field)).union(ReloadKeys.programIdentity)
        #expect(programFields.subtracting(classifiedProgram).isEmpty, "unclassified ProgramSpec keys")
        #expect(classifiedProgram.subtracting(programFields).isEmpty, "rules for keys that do not exist")

        let poolFields = Set(fields(PoolSpec(worker: p))).subtracting(["worker"])
        #expect(poolFields == Set(ReloadKeys.pool.map(\.field)), "unclassified PoolSpec keys")

        let supervisorFields = Set(fields(SupervisorSpec()))
        #expect(supervisorFields == Set(ReloadKeys.supervisor.map(\.field)), "unclassified SupervisorSpec keys")
    }

    /// Each rule really detects a change of its own field (no rule that can never fire).
    @Test func everyProgramRuleFires() {
        let a = ProgramSpec(name: "x", command: ["/bin/true"], cgroup: CgroupLimits())
        var b = a
        b.command = ["/bin/false"]; b.cwd = "/"; b.env = ["K": "V"]; b.autostart = false; b.restart = .never
        b.backoff = BackoffPolicy(restartDelay: .seconds(9), backoffFactor: 3, maxBackoff: .seconds(99), maxRestarts: 1, resetAfter: .seconds(7))
        b.stopSignal = 2; b.stopTimeout = .seconds(1); b.stopOrder = 3; b.maxMemoryMB = 5
        b.cgroup = CgroupLimits(memoryMax: 1, cpuQuotaPercent: 2, tasksMax: 3)
        b.logMaxBytes = 1; b.logKeep = 1; b.stderrTailBytes = 1
        b.killMode = .process; b.exec.clearEnv = true
        let silent = ReloadKeys.program.filter { !$0.differs(a, b) }.map(\.field)
        #expect(silent == ["cgroup"])  // presence: both have a cgroup table
        var c = a
        c.cgroup = nil
        #expect(ReloadKeys.program.first { $0.field == "cgroup" }!.differs(a, c))
    }

    /// `[ship]`: added or removed is refused (the writer's capture is decided when histd opens the
    /// database); ship_max_backlog and ship_snapshots are updated in place (the writer's hold); the url
    /// alone changes nothing here (it restarts the shipper through its program's command, which histd adds).
    @Test func shipChangesAreRefusedOrAppliedInPlace() {
        func with(_ ship: ShipSpec?) -> HistConfig {
            var c = Self.base
            c.ship = ship
            return c
        }
        let ship = ShipSpec(url: "postgres://histd@db/fleet")
        var added = ReloadPlan.make(old: with(nil), new: with(ship))
        #expect(added.refused.map(\.path) == [["ship"]] && added.refused[0].message.contains("restart histd"))
        added = ReloadPlan.make(old: with(ship), new: with(nil))
        #expect(added.refused.map(\.path) == [["ship"]] && added.refused[0].message.contains("cannot be removed"))
        var bigger = ship
        bigger.maxBacklog = 4 << 30
        bigger.snapshots = .seconds(10)
        let update = ReloadPlan.make(old: with(ship), new: with(bigger))
        #expect(update.refused.isEmpty)
        #expect(update.update == [ReloadPlan.Change(name: "[ship]", keys: ["ship_max_backlog", "ship_snapshots"])])
        #expect(!update.changesNothing && update.lines.contains("update [ship] in place (ship_max_backlog, ship_snapshots)"))
        var moved = ship
        moved.url = "postgres://histd@db2/fleet"
        #expect(ReloadPlan.make(old: with(ship), new: with(moved)).update.isEmpty)
    }
}
