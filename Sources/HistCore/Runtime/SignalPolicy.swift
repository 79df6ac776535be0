#if canImport(Glibc)
import Glibc
#endif

/// What histd does with each catchable signal (docs/CONFIG.md, "Signals"). Pure and table-tested;
/// the engine reads every signal in `handled` through its signalfd, so none of them can kill histd
/// by its default action.
///
/// Not handled: SIGKILL and SIGSTOP (cannot be caught); SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
/// SIGABRT (synchronous faults: blocking them would not stop the kernel from killing us, and a real
/// fault must crash); SIGCONT (continuing is harmless); the first real-time signals glibc keeps
/// for itself (32, 33).
public enum SignalPolicy {
    public enum Action: Equatable, Sendable {
        /// SIGTERM, SIGINT: the ordered shutdown.
        case shutdown
        /// SIGHUP: config reload (histd's ConfigReloader, the same as `histctl reload`).
        case reload
        /// SIGUSR1: reopen every log file (for logrotate's create/move).
        case reopenLogs
        /// SIGCHLD: collect exits.
        case reap
        /// Everything else: ignored, logged the first time it arrives.
        case ignore
    }

    public static func action(for signal: Int32) -> Action {
        switch signal {
        case SIGTERM, SIGINT: .shutdown
        case SIGHUP: .reload
        case SIGUSR1: .reopenLogs
        case SIGCHLD: .reap
        default: .ignore
        }
    }

    /// Every signal histd takes over (blocked in all threads, read by the engine).
    public static let handled: [Int32] = {
        var list: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGCHLD,
                             SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO,
                             SIGPWR, SIGSYS]
        // Real-time signals from SIGRTMIN (34 under glibc) to SIGRTMAX (64): their default is to terminate.
        list += Array(34...64).map { Int32($0) }
        return list
    }()
}
