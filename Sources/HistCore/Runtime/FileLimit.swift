#if canImport(Glibc)
import Glibc
#endif

/// RLIMIT_NOFILE, and how many fds histd's caches may keep open under it.
///
/// Every live process costs the engine three fds (a pidfd and two pipe ends) and a spawn briefly
/// four more; the /proc caches (the sampler's stat/statm/fd files, about two per sampled process)
/// would otherwise grow with the widest tree. So caches get a share of the limit and the rest is
/// kept for spawning: one program with thousands of children can no longer starve the others.
public enum FileLimit {
    /// The fds the /proc caches leave free at the least, whatever the limit.
    public static let spawnHeadroom = 512

    /// Raises the soft limit to the hard one. Returns the soft limit in force afterwards.
    @discardableResult
    public static func raiseSoftToHard() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return softLimit()
    }

    /// The soft limit now (RLIM_INFINITY as Int.max).
    public static func softLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur >= UInt64(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// How many fds a cache may hold under `soft`: a quarter of the limit once `spawnHeadroom` is
    /// set aside, never more than `ceiling` (4,096: beyond that a cache saves little), 0 when the
    /// limit is too small to share.
    public static func cacheBudget(soft: Int = softLimit(), ceiling: Int = 4096) -> Int {
        let spare = soft == Int.max ? ceiling * 4 : soft - spawnHeadroom
        return max(0, min(ceiling, spare / 4))
    }
}
