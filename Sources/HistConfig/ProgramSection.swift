import HistModel
import TOMLKit

/// Settings a program inherits from `[supervisor]` when it does not set them itself.
struct ProgramDefaults {
    var logMaxBytes = 10 * 1024 * 1024
    var logKeep = 5
}

/// `[program.NAME]` and the per-worker part of `[pool.NAME]`.
extension ConfigValidator {
    static let programKeys = [
        "command", "cwd", "env", "autostart", "restart", "restart_delay", "backoff_factor", "max_backoff",
        "max_restarts", "reset_after", "stop_signal", "stop_timeout", "stop_order", "max_memory_mb", "cgroup",
        "log_max_size", "log_keep", "stderr_tail", "kill_mode",
    ] + execKeys
    static let cgroupKeys = ["memory_max", "cpu_quota", "tasks_max"]

    /// Why a name cannot be used, or nil. Names become file names (LOG_DIR/NAME.out) and history keys.
    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "a name must not be empty" }
        if name == "." || name == ".." { return "name \"\(name)\" cannot be used: it names log files (LOG_DIR/NAME.out)" }
        if name.contains("/") { return "name cannot contain \"/\": it names log files (LOG_DIR/NAME.out)" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "name cannot contain control characters (NUL, newline, tab, ...): it names log files and appears in reports"
        }
        if name.utf8.count > 200 { return "name is \(name.utf8.count) bytes long; at most 200 (it names log files)" }
        return nil
    }

    /// Reads one program table. Returns nil when it has no usable command (problems already reported).
    func program(name: String, table: TOMLTable, path: [String], defaults: ProgramDefaults, extraKeys: [String] = []) -> ProgramSpec? {
        checkKnownKeys(table, path: path, known: Self.programKeys + extraKeys)
        var spec = ProgramSpec(name: name, command: [], logMaxBytes: defaults.logMaxBytes, logKeep: defaults.logKeep)
        var ok = true

        if let v = table["command"] {
            if let argv = command(v, path + ["command"]) { spec.command = argv } else { ok = false }
        } else {
            report(path, "missing command: add command = [\"/path/to/program\", \"arg\", ...]")
            ok = false
        }
        if let v = table["cwd"], let dir = self.path(v, path + ["cwd"]) {
            switch FileSystem.kind(dir) {
            case .directory: spec.cwd = dir
            case .missing: report(path + ["cwd"], "directory \(dir) does not exist")
            default: report(path + ["cwd"], "\(dir) is not a directory")
            }
        }
        if let v = table["env"] { spec.env = env(v, path + ["env"]) }
        if let v = table["autostart"], let b = bool(v, path + ["autostart"]) { spec.autostart = b }
        if let v = table["restart"], let r = oneOf(v, path + ["restart"], RestartPolicy.self) { spec.restart = r }
        readBackoff(table, path, into: &spec.backoff)
        if let v = table["stop_signal"], let s = signal(v, path + ["stop_signal"]) { spec.stopSignal = s }
        if let v = table["stop_timeout"], let d = duration(v, path + ["stop_timeout"]) { spec.stopTimeout = d }
        if let v = table["stop_order"], let i = int(v, path + ["stop_order"], in: -1_000_000...1_000_000, what: "a whole number between -1000000 and 1000000") {
            spec.stopOrder = i
        }
        if let v = table["max_memory_mb"], let i = int(v, path + ["max_memory_mb"], in: 1...8_000_000_000, what: "a positive number of MiB") {
            spec.maxMemoryMB = i
        }
        if let v = table["cgroup"] { spec.cgroup = cgroup(v, path + ["cgroup"]) }
        if let v = table["log_max_size"], let b = size(v, path + ["log_max_size"], in: 1024...(Int64(1) << 50)) { spec.logMaxBytes = Int(b) }
        if let v = table["log_keep"], let i = int(v, path + ["log_keep"], in: 0...1000, what: "a number of old log files between 0 and 1000") { spec.logKeep = i }
        if let v = table["kill_mode"], let m = oneOf(v, path + ["kill_mode"], KillMode.self) { spec.killMode = m }
        if let v = table["stderr_tail"], let b = size(v, path + ["stderr_tail"], in: 0...(16 << 20)) { spec.stderrTailBytes = Int(b) }
        spec.exec = exec(table, path: path)
        return ok ? spec : nil
    }

    private func readBackoff(_ table: TOMLTable, _ path: [String], into backoff: inout BackoffPolicy) {
        if let v = table["restart_delay"], let d = duration(v, path + ["restart_delay"]) { backoff.restartDelay = d }
        if let v = table["backoff_factor"], let f = number(v, path + ["backoff_factor"], in: 1...1000, what: "a number between 1.0 and 1000") {
            backoff.backoffFactor = f
        }
        var maxBackoffSet = false
        if let v = table["max_backoff"], let d = duration(v, path + ["max_backoff"]) { backoff.maxBackoff = d; maxBackoffSet = true }
        if let v = table["max_restarts"], let i = int(v, path + ["max_restarts"], in: 0...1_000_000_000, what: "0 (never give up) or a positive number") {
            backoff.maxRestarts = i
        }
        if let v = table["reset_after"], let d = duration(v, path + ["reset_after"]) { backoff.resetAfter = d }
        if backoff.maxBackoff < backoff.restartDelay {
            // Only one of them may have been written; blame the one that was.
            let key = maxBackoffSet ? "max_backoff" : "restart_delay"
            report(path + [key], "max_backoff (\(HistDuration.format(backoff.maxBackoff))) is shorter than restart_delay (\(HistDuration.format(backoff.restartDelay))); raise max_backoff")
        }
    }

    /// `["/bin/prog", "arg"]` or `"prog arg 'quoted arg'"`; `command[0]` becomes an absolute path.
    func command(_ v: any TOMLValueConvertible, _ path: [String]) -> [String]? {
        var argv: [String]
        if let s = v.string {
            do { argv = try ShellWords.split(s) } catch { report(path, error.description); return nil }
        } else if let array = v.array {
            argv = []
            for (i, element) in array.enumerated() {
                guard let s = element.string else {
                    report(path, "command[\(i)]: expected a string, got \(Self.typeName(element)); quote every argument")
                    return nil
                }
                argv.append(s)
            }
        } else {
            wrongType(path, expected: "an argv array such as [\"/usr/bin/prog\", \"--flag\"] or a command string", got: v)
            return nil
        }
        guard let first = argv.first else { report(path, "empty command: give at least the program to run"); return nil }
        guard !first.isEmpty else { report(path, "command[0] is empty: it must name the program to run"); return nil }
        switch ExecutableResolver.resolve(first, configDirectory: configDirectory, searchPath: searchPath) {
        case .success(let absolute): argv[0] = absolute
        case .failure(let e): report(path, e.message); return nil
        }
        return argv
    }

    func env(_ v: any TOMLValueConvertible, _ path: [String]) -> [String: String] {
        guard let table = v.table else { wrongType(path, expected: "a table of strings such as { PORT = \"8080\" }", got: v); return [:] }
        var out: [String: String] = [:]
        for (key, value) in entries(table, path: path) {
            if key.isEmpty || key.contains("=") {
                report(path + [key], "an environment variable name must be non-empty and contain no \"=\"")
                continue
            }
            guard let s = value.string else {
                let example = value.type == .int || value.type == .double || value.type == .bool ? " (quote it: \(key) = \"\(value.debugDescription)\")" : ""
                report(path + [key], "expected a string, got \(Self.typeName(value))\(example)")
                continue
            }
            out[key] = s
        }
        return out
    }

    func signal(_ v: any TOMLValueConvertible, _ path: [String]) -> Int32? {
        let text: String
        if let s = v.string { text = s } else if let i = v.int { text = String(i) } else {
            wrongType(path, expected: "a signal name such as \"TERM\" or a number", got: v)
            return nil
        }
        guard let n = SignalName.number(text.trimmingCharacters()) else {
            report(path, "unknown signal \"\(text)\": expected a name such as \"TERM\", \"SIGTERM\", \"INT\", \"HUP\", \"QUIT\", \"KILL\", \"USR1\", \"USR2\", or a number from 1 to 64")
            return nil
        }
        return n
    }

    func cgroup(_ v: any TOMLValueConvertible, _ path: [String]) -> CgroupLimits? {
        guard let table = v.table else {
            wrongType(path, expected: "a table such as { memory_max = \"512M\", cpu_quota = \"50%\", tasks_max = 64 }", got: v)
            return nil
        }
        checkKnownKeys(table, path: path, known: Self.cgroupKeys)
        var limits = CgroupLimits()
        if let m = table["memory_max"] { limits.memoryMax = size(m, path + ["memory_max"], in: (1 << 20)...(Int64(1) << 60)) }
        if let c = table["cpu_quota"] { limits.cpuQuotaPercent = percent(c, path + ["cpu_quota"], in: 0...102_400, exclusiveLow: true) }
        if let t = table["tasks_max"] { limits.tasksMax = int(t, path + ["tasks_max"], in: 1...4_194_304, what: "a positive number of tasks (at most 4194304)") }
        return limits
    }
}
