import Foundation
import GRDB
import HistModel
@testable import HistStore

/// A fresh temporary folder per test, removed at the end.
final class TempDir {
    let path: String
    init() {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/histstore-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// A fixed base time so tests do not depend on the clock (2026-01-01T00:00:00Z).
let T0: Int64 = 1_767_225_600_000

func ts(_ offsetMs: Int64) -> Timestamp { Timestamp(milliseconds: T0 + offsetMs) }

func info(_ id: InstanceID, _ program: String, pid: Int32, ticks: UInt64, at: Int64, worker: Int? = nil) -> InstanceInfo {
    InstanceInfo(id: id, program: program, workerIndex: worker, identity: ProcessIdentity(pid: pid, startTicks: ticks), startedAt: ts(at))
}

func ended(_ i: InstanceInfo, at: Int64, _ status: ExitStatus, _ cls: ExitClassification, tail: String = "") -> HistEvent {
    HistEvent(time: ts(at), program: i.program, payload: .ended(InstanceEnd(
        instance: i, endedAt: ts(at), status: status, classification: cls,
        uptime: .milliseconds(at - (i.startedAt.milliseconds - T0)), stderrTail: tail)))
}

/// Opens a store in a fresh folder and begins a run.
func makeStore(_ dir: TempDir, name: String = "h.db", programs: [String] = ["web", "worker"],
               ship: ShipCapture? = nil) throws -> (HistoryStore, RunStart) {
    let store = try HistoryStore.open(path: dir.file(name), ship: ship)
    let start = try store.beginRun(host: "testhost", pid: 4242, version: "0.1-test", configPath: "/etc/histd.toml",
                                   configHash: "abc", bootID: "boot-1",
                                   programs: programs.map { ProgramSpec(name: $0, command: ["/bin/true"]) }, pools: [],
                                   at: ts(0))
    return (store, start)
}

/// A separate read-only connection, like histctl's.
func reader(_ path: String) throws -> DatabaseQueue {
    try HistoryDatabase.openReadOnly(path: path)
}

func count(_ db: DatabaseQueue, _ sql: String, _ args: StatementArguments = []) throws -> Int {
    try db.read { try Int.fetchOne($0, sql: sql, arguments: args) ?? 0 }
}

/// Polls `condition` until true or `timeout` passes.
func waitUntil(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}

/// The folder of the running test binary (the build folder: histstore-probe is built next to it).
func buildProductsDir() -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return (exe as NSString).deletingLastPathComponent
}

func fileMode(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? nil
}
