/// How a process ended, as `waitpid` reported it.
public enum ExitStatus: Hashable, Sendable, CustomStringConvertible {
    /// Normal exit with a code (0...255).
    case exited(code: Int32)
    /// Killed by a signal; `coreDumped` from WCOREDUMP.
    case signaled(signal: Int32, coreDumped: Bool)

    public var exitCode: Int32? { if case .exited(let c) = self { c } else { nil } }
    public var signal: Int32? { if case .signaled(let s, _) = self { s } else { nil } }
    public var coreDumped: Bool { if case .signaled(_, let c) = self { c } else { false } }
    public var isSuccess: Bool { self == .exited(code: 0) }

    public var description: String {
        switch self {
        case .exited(let code): "exit \(code)"
        case .signaled(let sig, let core): "\(SignalName.name(sig))\(core ? " (core dumped)" : "")"
        }
    }
}

/// Why an instance ended, as histd classifies it. Stored as text in `instances.class`.
public enum ExitClassification: String, Hashable, Sendable, CaseIterable {
    /// Exit code 0 that histd did not ask for.
    case clean
    /// Non-zero exit code or a signal that histd did not send.
    case crash
    /// Ended after histd asked it to stop (stop signal), within `stop_timeout`.
    case stopped
    /// Did not stop within `stop_timeout` and was SIGKILLed.
    case killed
    /// Stopped or killed because it breached a limit (`max_memory_mb`, cgroup OOM).
    case limit
    /// Could not be started at all (exec failed, cwd missing, ...).
    case spawnFailed = "spawn_failed"
}

/// Signal numbers and names (Linux x86_64/arm64 numbering).
public enum SignalName {
    private static let table: [(Int32, String)] = [
        (1, "SIGHUP"), (2, "SIGINT"), (3, "SIGQUIT"), (4, "SIGILL"), (5, "SIGTRAP"), (6, "SIGABRT"),
        (7, "SIGBUS"), (8, "SIGFPE"), (9, "SIGKILL"), (10, "SIGUSR1"), (11, "SIGSEGV"), (12, "SIGUSR2"),
        (13, "SIGPIPE"), (14, "SIGALRM"), (15, "SIGTERM"), (16, "SIGSTKFLT"), (17, "SIGCHLD"),
        (18, "SIGCONT"), (19, "SIGSTOP"), (20, "SIGTSTP"), (21, "SIGTTIN"), (22, "SIGTTOU"),
        (23, "SIGURG"), (24, "SIGXCPU"), (25, "SIGXFSZ"), (26, "SIGVTALRM"), (27, "SIGPROF"),
        (28, "SIGWINCH"), (29, "SIGIO"), (30, "SIGPWR"), (31, "SIGSYS"),
    ]

    /// "SIGSEGV" for 11; "SIG42" for numbers without a name.
    public static func name(_ signal: Int32) -> String {
        table.first(where: { $0.0 == signal })?.1 ?? "SIG\(signal)"
    }

    /// Accepts "TERM", "SIGTERM", "sigterm" or "15". Returns nil for unknown names.
    public static func number(_ text: String) -> Int32? {
        if let n = Int32(text), n > 0, n < 65 { return n }
        var upper = text.uppercased()
        if !upper.hasPrefix("SIG") { upper = "SIG" + upper }
        return table.first(where: { $0.1 == upper })?.0
    }
}
