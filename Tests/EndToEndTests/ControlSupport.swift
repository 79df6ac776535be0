import Foundation

#if canImport(Glibc)
import Glibc
#endif

import HistTestSupport

extension RawControl {
    /// The reply lines received so far plus what arrives within `timeout`, as JSON objects.
    static func json(_ line: String?) -> [String: Any]? {
        guard let line, let d = line.data(using: .utf8) else { return nil }
        return try? JSONSerialization.jsonObject(with: d) as? [String: Any]
    }
}

/// A config for the control tests: a socket in the workspace, no sampling.
enum ControlConfig {
    /// `histctl ARGS` against the workspace's histd, through its control socket only (no database).
    static func histctl(_ ws: Workspace, _ args: [String]) throws -> E2E.Output {
        try E2E.run(E2E.histctl, args, env: ["HISTD_SOCKET": ws.path("run/control.sock")], removeEnv: ["HISTD_DB"], timeout: 60)
    }

    static func header(_ ws: Workspace, extra: String = "") -> String {
        """
        [supervisor]
        db = "h.db"
        log_dir = "logs"
        control_socket = "\(ws.path("run/control.sock"))"
        snapshot_interval = "off"
        scan_interval = "off"
        shutdown_timeout = "10s"
        \(extra)

        """
    }
}
