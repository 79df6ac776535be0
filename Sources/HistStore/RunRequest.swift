import Foundation
import GRDB
import HistModel

/// Everything needed to record a supervisor start, fixed when histd starts (so that a start recorded
/// late, after the database became writable, still says when histd started and with which config).
/// The programs' and pools' configs are encoded here, so an encoding error is thrown at once.
public struct RunRequest: Sendable {
    public var host: String
    public var pid: Int32
    public var version: String
    public var configPath: String?
    public var configHash: String?
    public var bootID: String?
    public var startedAt: Timestamp
    /// histd's own start time (clock ticks since boot, /proc/self/stat), so a reader can tell whether the
    /// run's histd is still the process with that pid (`SupervisorLiveness`).
    public var startTicks: UInt64?
    /// Programs and pools with their config as JSON (sorted keys), in config order.
    var specs: [(name: String, kind: String, json: String)]

    public init(host: String, pid: Int32, version: String, configPath: String?, configHash: String?, bootID: String?,
                programs: [ProgramSpec], pools: [PoolSpec], startTicks: UInt64? = nil, at now: Timestamp = .now()) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var specs: [(name: String, kind: String, json: String)] = []
        for p in programs {
            specs.append((p.name, "program", String(decoding: try encoder.encode(p), as: UTF8.self)))
        }
        for p in pools {
            specs.append((p.name, "pool", String(decoding: try encoder.encode(p), as: UTF8.self)))
        }
        self.host = host
        self.pid = pid
        self.version = version
        self.configPath = configPath
        self.configHash = configHash
        self.bootID = bootID
        self.startedAt = now
        self.startTicks = startTicks
        self.specs = specs
    }

    /// Closes every earlier open run as `unclean`, inserts the new run, upserts the programs and pools
    /// with their config, and writes `supervisor_start`. Inside the caller's transaction. `detectedAt`:
    /// now (later than `startedAt` when the writer could only record the start late).
    func begin(_ db: Database, detectedAt: Timestamp) throws -> RunStart {
        var closed: [ClosedRun] = []
        var open: [OpenInstance] = []
        let openRuns = try Row.fetchAll(db, sql: "SELECT id, pid, started_at, boot_id FROM runs WHERE stopped_at IS NULL ORDER BY id")
        for r in openRuns {
            let id: Int64 = r["id"], started: Int64 = r["started_at"]
            let boot: String? = r["boot_id"]
            // Newest first by rowid: the run being closed is the latest, so this stops early.
            let last = try Int64.fetchOne(db, sql: """
                SELECT ts FROM events WHERE run_id = ? ORDER BY id DESC LIMIT 1
                """, arguments: [id])
            let stopped = max(last ?? detectedAt.milliseconds, started)
            try db.execute(sql: "UPDATE runs SET stopped_at = ?, stop_reason = 'unclean' WHERE id = ?",
                           arguments: [stopped, id])
            var detail = JSONText()
            detail.add("reason", RunStopReason.unclean.rawValue)
            detail.add("detected_ms", detectedAt.milliseconds)
            try db.execute(sql: "INSERT INTO events (ts, kind, run_id, value, detail) VALUES (?, ?, ?, NULL, ?)",
                           arguments: [stopped, EventKindID.id(.supervisorStop), id, detail.text])
            closed.append(ClosedRun(runID: id, pid: r["pid"], startedAt: Timestamp(milliseconds: started),
                                    stoppedAt: Timestamp(milliseconds: stopped), bootID: boot))
            // Start ticks are only comparable within one boot: other boots' processes are gone.
            if let boot, let bootID, boot != bootID { continue }
            let rows = try Row.fetchAll(db, sql: """
                SELECT i.id, i.run_id, p.name, i.worker_index, i.pid, i.start_ticks, i.started_at
                FROM instances i JOIN programs p ON p.id = i.program_id
                WHERE i.run_id = ? AND i.ended_at IS NULL ORDER BY i.id
                """, arguments: [id])
            for row in rows {
                open.append(OpenInstance(rowID: row[0], runID: row[1], program: row[2], workerIndex: row[3],
                                         identity: ProcessIdentity(pid: row[4], startTicks: UInt64(max(0, row[5] as Int64))),
                                         startedAt: Timestamp(milliseconds: row[6])))
            }
        }
        try db.execute(sql: """
            INSERT INTO runs (host, pid, version, config_path, config_hash, boot_id, started_at, start_ticks)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [host, pid, version, configPath, configHash, bootID, startedAt.milliseconds,
                             startTicks.map { Int64(bitPattern: $0) }])
        let runID = db.lastInsertedRowID
        // Generation 0 of this run's config (migrations/0005_reloads.sql); each reload adds one.
        try db.execute(sql: "INSERT INTO config_generations (run_id, generation, ts, config_hash) VALUES (?, 0, ?, ?)",
                       arguments: [runID, startedAt.milliseconds, configHash])
        let generationID = db.lastInsertedRowID
        // Prepared once for all programs: parsing the three statements anew per program was most of the
        // time between histd's start and its first spawn with 500 programs (~40 ms; BENCHMARKS.md).
        let program = try db.cachedStatement(sql: """
            INSERT INTO programs (name, kind) VALUES (?, ?)
            ON CONFLICT (name) DO UPDATE SET kind = excluded.kind RETURNING id
            """)
        let config = try db.cachedStatement(sql: """
            INSERT INTO program_configs (program_id, run_id, config_json) VALUES (?, ?, ?)
            ON CONFLICT (program_id, run_id) DO UPDATE SET config_json = excluded.config_json
            """)
        let generation = try db.cachedStatement(sql: """
            INSERT INTO program_config_generations (generation_id, program_id, config_json) VALUES (?, ?, ?)
            ON CONFLICT DO UPDATE SET config_json = excluded.config_json
            """)
        for spec in specs {
            let programID = try Int64.fetchOne(program, arguments: [spec.name, spec.kind])!
            try config.execute(arguments: [programID, runID, spec.json])
            try generation.execute(arguments: [generationID, programID, spec.json])
        }
        var detail = JSONText()
        detail.add("version", version)
        detail.add("host", host)
        try db.execute(sql: "INSERT INTO events (ts, kind, run_id, value, detail) VALUES (?, ?, ?, ?, ?)",
                       arguments: [startedAt.milliseconds, EventKindID.id(.supervisorStart), runID, Int64(pid), detail.text])
        return RunStart(runID: runID, startedAt: startedAt, closedRuns: closed, openInstances: open)
    }
}
