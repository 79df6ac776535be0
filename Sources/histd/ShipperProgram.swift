import Foundation
import HistModel

/// `[ship]` as a program: histd supervises histd-ship like any program it runs (docs/FLEET.md, "Why a
/// supervised process").
///
/// Why a child process and not a thread inside histd: postgres-nio brings SwiftNIO into the binary (histd's
/// footprint is measured, issue 18) and runs on Swift's cooperative pool, where an in-process shipper
/// starved beside histd's blocking work. As a child it can never slow supervision or the writer (it only
/// reads the file), and its crashes and restarts are recorded like any program's.
enum ShipperProgram {
    /// `config` with the shipper appended to its programs when `[ship]` is set (unchanged otherwise).
    /// `dbPath` is the history database the writer records to; `executableDirectory` is where histd-ship
    /// is installed beside histd.
    static func adding(to config: HistConfig, dbPath: String, executableDirectory: String = Self.histdDirectory(),
                       environment: [String: String] = ProcessInfo.processInfo.environment) -> HistConfig {
        guard let ship = config.ship else { return config }
        var command = [executableDirectory + "/histd-ship", "--db", dbPath, "--url", ship.url]
        if let file = ship.passwordFile { command += ["--password-file", file] }
        if let id = ship.hostID { command += ["--host-id", id] }
        if let every = ship.snapshots { command += ["--snapshots", "\(every.milliseconds)ms"] }
        var env: [String: String] = [:]
        // The child gets histd's PGPASSFILE (the password's other source) whatever its environment policy.
        if ship.passwordFile == nil, let file = environment["PGPASSFILE"] { env["PGPASSFILE"] = file }
        // Always restarted; a crash loop backs off as any program's would, and histctl crashes shows it.
        // The highest stop_order: stopped last (it ships while the others stop), started first.
        let spec = ProgramSpec(name: ShipSpec.programName, command: command, env: env, restart: .always,
                               stopTimeout: .seconds(5), stopOrder: 1_000_000)
        var out = config
        out.programs.append(spec)
        return out
    }

    /// The folder of the running histd executable (/proc/self/exe).
    static func histdDirectory() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }
}

extension HistConfig {
    /// `ShipperProgram.adding` for a reload (no database: nothing to ship).
    func addingShipper(dbPath: String?) -> HistConfig {
        guard let dbPath else { return self }
        return ShipperProgram.adding(to: self, dbPath: dbPath)
    }
}
