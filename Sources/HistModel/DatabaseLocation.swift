#if canImport(Glibc)
import Glibc
#endif

/// Which history database histd and histctl use. The same order for both:
/// `--db PATH`, then `$HISTD_DB`, then `db` from `--config FILE`, then the default path.
public enum DatabaseLocation {
    /// Where the choice came from, for `--help` and error messages.
    public enum Source: String, Sendable { case flag = "--db", environment = "$HISTD_DB", config = "config db", fallback = "default" }

    /// The default path: `/var/lib/histd/history.db` for root, else `$XDG_STATE_HOME/histd/history.db`
    /// (`~/.local/state/histd/history.db`).
    public static func defaultPath(environment: [String: String]) -> String {
        if geteuid() == 0 { return "/var/lib/histd/history.db" }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/histd/history.db" }
        let home = environment["HOME"] ?? "/tmp"
        return home + "/.local/state/histd/history.db"
    }

    /// Resolves the database path. `configDB` is the config's `db`, already made absolute.
    public static func resolve(flag: String?, environment: [String: String], configDB: String?) -> (path: String, source: Source) {
        if let flag, !flag.isEmpty { return (flag, .flag) }
        if let env = environment["HISTD_DB"], !env.isEmpty { return (env, .environment) }
        if let configDB, !configDB.isEmpty { return (configDB, .config) }
        return (defaultPath(environment: environment), .fallback)
    }
}
