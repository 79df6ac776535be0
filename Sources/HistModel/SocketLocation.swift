#if canImport(Glibc)
import Glibc
#endif

/// Which control socket histd listens on and histctl connects to, in the same order as
/// `DatabaseLocation`: `--socket PATH`, then `$HISTD_SOCKET`, then `control_socket` from the config,
/// then the default.
public enum SocketLocation {
    public enum Source: String, Sendable { case flag = "--socket", environment = "$HISTD_SOCKET", config = "config control_socket", fallback = "default" }

    /// `/run/histd/control.sock` for root, else `$XDG_RUNTIME_DIR/histd/control.sock`
    /// (`/tmp/histd-UID/control.sock` when XDG_RUNTIME_DIR is unset).
    public static func defaultPath(environment: [String: String]) -> String {
        if geteuid() == 0 { return "/run/histd/control.sock" }
        if let xdg = environment["XDG_RUNTIME_DIR"], !xdg.isEmpty { return xdg + "/histd/control.sock" }
        return "/tmp/histd-\(geteuid())/control.sock"
    }

    public static func resolve(flag: String?, environment: [String: String], configSocket: String?) -> (path: String, source: Source) {
        if let flag, !flag.isEmpty { return (flag, .flag) }
        if let env = environment["HISTD_SOCKET"], !env.isEmpty { return (env, .environment) }
        if let configSocket, !configSocket.isEmpty { return (configSocket, .config) }
        return (defaultPath(environment: environment), .fallback)
    }
}
