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
