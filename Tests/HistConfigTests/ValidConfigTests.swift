import Foundation
import Testing
@testable import HistConfig
import HistModel

@Suite struct ValidConfigTests {
    static let full = """
    # every key
    [supervisor]
    db = "data/history.db"
    log_dir = "var/logs"
    shutdown_timeout = "45s"
    snapshot_interval = "500ms"
    scan_interval = "off"
    retention = "14d"
    snapshot_retention = "2d"
    orphan_ignore = ["sshd*", "*/cron"]
    stop_leftovers = false
    log_max_size = "2M"
    log_keep = 3

    [program.web]
    command = ["./bin/web.sh", "--port", "8080"]
    cwd = "www"
    env = { PORT = "8080", MODE = "prod" }
    autostart = false
    restart = "always"
    restart_delay = "250ms"
    backoff_factor = 1.5
    max_backoff = "30s"
    max_restarts = 0
    reset_after = "2m"
    stop_signal = "INT"
    stop_timeout = 3
    stop_order = 2
    max_memory_mb = 512
    cgroup = { memory_max = "512M", cpu_quota = "50%", tasks_max = 64 }
    log_max_size = "1K"
    log_keep = 0
    stderr_tail = "8K"

    [program.plain]
    command = "sh -c 'echo hello'"

    [pool.workers]
    command = ["/bin/sh", "-c", "sleep 1000"]
    min_workers = 2
    max_workers = 8
    scale_on = "system_cpu"
    cpu_target = "75%"
    scale_interval = "2s"
    scale_down_after = "1m"
    max_worker_age = "1h"
    age_jitter = 0.25
    restart = "on-failure"
    backoff_factor = 3
    stop_order = 1

    [pool.workers.cgroup]
    tasks_max = 10
    """

    @Test func fullConfigGivesExpectedSpecs() throws {
        let dir = ConfigDir()
        dir.write("bin/web.sh", "#!/bin/sh\nexit 0\n", executable: true)
        dir.mkdir("www")
        let config = try dir.load(Self.full)
        let root = dir.path

        #expect(config.path == root + "/histd.toml")
        #expect(config.contentHash == SHA256.hex(Array(Self.full.utf8)))
        #expect(config.supervisor == SupervisorSpec(
            db: root + "/data/history.db", logDir: root + "/var/logs", shutdownTimeout: .seconds(45),
            snapshotInterval: .milliseconds(500), scanInterval: nil, retention: .seconds(14 * 86400),
            snapshotRetention: .seconds(2 * 86400), orphanIgnore: ["sshd*", "*/cron"], stopLeftovers: false))

        #expect(config.programs.map(\.name) == ["web", "plain"])
        let web = ProgramSpec(
            name: "web", command: [root + "/bin/web.sh", "--port", "8080"], cwd: root + "/www",
            env: ["PORT": "8080", "MODE": "prod"], autostart: false, restart: .always,
            backoff: BackoffPolicy(restartDelay: .milliseconds(250), backoffFactor: 1.5, maxBackoff: .seconds(30),
                                   maxRestarts: 0, resetAfter: .seconds(120)),
            stopSignal: 2, stopTimeout: .seconds(3), stopOrder: 2, maxMemoryMB: 512,
            cgroup: CgroupLimits(memoryMax: 512 << 20, cpuQuotaPercent: 50, tasksMax: 64),
            logMaxBytes: 1024, logKeep: 0, stderrTailBytes: 8192)
        #expect(config.programs[0] == web)

        // A program without its own log settings inherits [supervisor] log_max_size / log_keep.
        let plain = config.programs[1]
        #expect(plain.command == ["/bin/sh", "-c", "echo hello"] || plain.command == ["/usr/bin/sh", "-c", "echo hello"])
        #expect(plain.logMaxBytes == 2 << 20)
        #expect(plain.logKeep == 3)
        #expect(plain.restart == .onFailure && plain.stopSignal == 15 && plain.cgroup == nil)

        #expect(config.pools.count == 1)
        let pool = config.pools[0]
        #expect(pool.name == "workers")
        #expect(pool.minWorkers == 2 && pool.maxWorkers == 8)
        #expect(pool.scaleOn == .systemCPU && pool.cpuTarget == 75)
        #expect(pool.scaleInterval == .seconds(2) && pool.scaleDownAfter == .seconds(60))
        #expect(pool.maxWorkerAge == .seconds(3600) && pool.ageJitter == 0.25)
        #expect(pool.worker.command == ["/bin/sh", "-c", "sleep 1000"])
        #expect(pool.worker.backoff.backoffFactor == 3)  // an integer is accepted for a number
        #expect(pool.worker.stopOrder == 1)
        #expect(pool.worker.cgroup == CgroupLimits(tasksMax: 10))
    }

    @Test func defaultsWhenKeysAreAbsent() throws {
        let dir = ConfigDir()
        let config = try dir.load("[program.a]\ncommand = [\"/bin/sh\"]\n[pool.p]\ncommand = \"/bin/sh\"\nmin_workers = 4\n")
        #expect(config.supervisor == SupervisorSpec(logDir: dir.path + "/logs"))
        #expect(config.programs[0] == ProgramSpec(name: "a", command: ["/bin/sh"]))
        // max_workers defaults to min_workers.
        #expect(config.pools[0].minWorkers == 4 && config.pools[0].maxWorkers == 4)
        #expect(config.pools[0].maxWorkerAge == nil && config.pools[0].ageJitter == 0.1)
    }

    @Test func controlSocketKeys() throws {
        let dir = ConfigDir()
        let config = try dir.load("[supervisor]\ncontrol_socket = \"run/c.sock\"\ncontrol_group = \"root\"\nread_group = \"root\"\n")
        #expect(config.supervisor.controlSocket == dir.path + "/run/c.sock")
        #expect(config.supervisor.controlGroup == "root" && config.supervisor.readGroup == "root")
    }

    @Test func emptyConfigIsValidWithNothingToSupervise() throws {
        let dir = ConfigDir()
        let config = try dir.load("# nothing yet\n")
        #expect(config.programs.isEmpty && config.pools.isEmpty)
    }

    @Test func programsAndPoolsKeepFileOrder() throws {
        let dir = ConfigDir()
        let names = ["zeta", "alpha", "mike", "bravo", "yankee", "charlie"]
        var toml = ""
        for n in names { toml += "[program.\(n)]\ncommand = [\"/bin/sh\"]\n\n" }
        toml += "[pool.zz]\ncommand = \"/bin/sh\"\n[pool.aa]\ncommand = \"/bin/sh\"\n"
        // A program defined by dotted keys, and one whose table comes after a multi-line string.
        toml += "[program.late]\ncommand = \"\"\"/bin/sh\n-c\n'true'\"\"\"\n"
        toml = "program.first.command = [\"/bin/sh\"]\n" + toml
        let config = try dir.load(toml)
        #expect(config.programs.map(\.name) == ["first"] + names + ["late"])
        #expect(config.pools.map(\.name) == ["zz", "aa"])
        #expect(config.programs.last?.command.suffix(2) == ["-c", "true"])
    }

    @Test func relativePathsResolveAgainstTheConfigFolder() throws {
        let dir = ConfigDir()
        let config = try dir.load("""
        [supervisor]
        db = "../elsewhere/h.db"
        log_dir = "./sub/../logs"
        """, name: "conf/histd.toml")
        #expect(config.supervisor.db == dir.path + "/elsewhere/h.db")
        #expect(config.supervisor.logDir == dir.path + "/conf/logs")
        #expect(config.path == dir.path + "/conf/histd.toml")
    }

    @Test func commandPathWithSlashIsRelativeToConfigFolderAndBareNamesUsePATH() throws {
        let dir = ConfigDir()
        dir.write("conf/tools/run.sh", "#!/bin/sh\n", executable: true)
        dir.mkdir("conf/work")
        let config = try dir.load("""
        [program.a]
        command = ["tools/run.sh", "x"]
        cwd = "work"
        [program.b]
        command = "sh -c true"
        """, name: "conf/histd.toml")
        #expect(config.programs[0].command == [dir.path + "/conf/tools/run.sh", "x"])
        #expect(config.programs[0].cwd == dir.path + "/conf/work")
        #expect(config.programs[1].command[0].hasPrefix("/"))
        #expect(config.programs[1].command[0].hasSuffix("/sh"))
    }

    @Test func unicodeNamesAreFine() throws {
        let dir = ConfigDir()
        let config = try dir.load("""
        [program."wëb-サーバー 🚀"]
        command = ["/bin/sh"]
        [pool."работники"]
        command = ["/bin/sh"]
        """)
        #expect(config.programs.map(\.name) == ["wëb-サーバー 🚀"])
        #expect(config.pools.map(\.name) == ["работники"])
    }

    @Test func durationsAcceptEveryDocumentedForm() throws {
        let dir = ConfigDir()
        let config = try dir.load("""
        [supervisor]
        shutdown_timeout = 1.5
        snapshot_interval = "100ms"
        scan_interval = "1h"
        retention = "2w"
        [program.a]
        command = "/bin/sh"
        restart_delay = 0
        max_backoff = "5m"
        reset_after = "1d"
        stop_timeout = "0.5s"
        """)
        #expect(config.supervisor.shutdownTimeout == .milliseconds(1500))
        #expect(config.supervisor.snapshotInterval == .milliseconds(100))
        #expect(config.supervisor.scanInterval == .seconds(3600))
        #expect(config.supervisor.retention == .seconds(14 * 86400))
        let b = config.programs[0].backoff
        #expect(b.restartDelay == .zero && b.maxBackoff == .seconds(300) && b.resetAfter == .seconds(86400))
        #expect(config.programs[0].stopTimeout == .milliseconds(500))
    }

    @Test(arguments: [("\"TERM\"", Int32(15)), ("\"SIGTERM\"", 15), ("\"15\"", 15), ("\"hup\"", 1), ("\"KILL\"", 9),
                      ("\"USR1\"", 10), ("\"QUIT\"", 3), ("2", 2)])
    func stopSignalForms(text: String, number: Int32) throws {
        let dir = ConfigDir()
        let config = try dir.load("[program.a]\ncommand = \"/bin/sh\"\nstop_signal = \(text)\n")
        #expect(config.programs[0].stopSignal == number)
    }

    @Test func sizesAndPercents() throws {
        let dir = ConfigDir()
        let config = try dir.load("""
        [program.a]
        command = "/bin/sh"
        cgroup = { memory_max = 1073741824, cpu_quota = 150, tasks_max = 1 }
        stderr_tail = 100
        log_max_size = "1.5GiB"
        """)
        #expect(config.programs[0].cgroup == CgroupLimits(memoryMax: 1 << 30, cpuQuotaPercent: 150, tasksMax: 1))
        #expect(config.programs[0].stderrTailBytes == 100)
        #expect(config.programs[0].logMaxBytes == 1_610_612_736)
    }

    @Test func tenThousandPrograms() throws {
        let dir = ConfigDir()
        var toml = "[supervisor]\nscan_interval = \"off\"\n"
        toml.reserveCapacity(700_000)
        for i in 0..<10_000 { toml += "[program.p\(i)]\ncommand = [\"/bin/sh\", \"-c\", \"exit \(i % 256)\"]\nstop_order = \(i % 7)\n" }
        let config = try dir.load(toml)
        #expect(config.programs.count == 10_000)
        #expect(config.programs.first?.name == "p0" && config.programs.last?.name == "p9999")
        #expect(config.programs[1234].stopOrder == 1234 % 7)
    }
}
