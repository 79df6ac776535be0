import Foundation
import GRDB
import HistModel

/// Everything needed to record a supervisor start, fixed when histd starts (so that a start recorded
/// late, after the database became writable, still says when histd started and with which config).
///
/// The programs' and pools' configs are encoded to JSON when the run is recorded, on the writer's thread,
/// not here: with 500 programs the encoding is ~25 ms of CPU, and histd's first spawn no longer waits for
/// it (BENCHMARKS.md, "Launch: the first spawn waits for nothing the writer does").
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
    let programs: [ProgramSpec]
    let pools: [PoolSpec]

    public init(host: String, pid: Int32, version: String, configPath: String?, configHash: String?, bootID: String?,
                programs: [ProgramSpec], pools: [PoolSpec], startTicks: UInt64? = nil, at now: Timestamp = .now()) {
        self.programs = programs
        self.pools = pools
        self.host = host
        self.pid = pid
        self.version = version
        self.configPath = configPath
        self.configHash = configHash
        self.bootID = bootID
        self.startedAt = now
        self.startTicks = startTicks
    }

    /// Programs and pools with their config as JSON (sorted keys), in config order. A value JSON cannot
    /// carry (a non-finite number, which the config validator already refuses) is recorded as an
    /// `encoding_error` object rather than failing the run's recording: without its run, nothing of this
    /// histd could be written.
    func encodedSpecs() -> [(name: String, kind: String, json: String)] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json(_ value: some Encodable) -> String {
            do { return String(decoding: try encoder.encode(value), as: UTF8.self) } catch {
                var failed = JSONText()
                failed.add("encoding_error", "\(error)")
                return failed.text
            }
        }
        return programs.map { ($0.name, "program", json($0)) } + pools.map { ($0.name, "pool", json($0)) }
    }

    /// The instances of earlier runs that are still open (histd died) with no recorded end, from this
    /// boot or an unknown one: what `begin` will report as `openInstances`. Read-only, so histd can check
    /// them before its writer has recorded the new run.
    static func leftovers(_ db: Database, bootID: String?) throws -> [OpenInstance] {
        var open: [OpenInstance] = []
        for r in try Row.fetchAll(db, sql: "SELECT id, boot_id FROM runs WHERE stopped_at IS NULL ORDER BY id") {
            let boot: String? = r["boot_id"]
            if let boot, let bootID, boot != bootID { continue }
            open += try openInstances(of: r["id"], db)
        }
        return open
    }

    /// The open instances of run `runID`.
    private static func openInstances(of runID: Int64, _ db: Database) throws -> [OpenInstance] {
        try Row.fetchAll(db, sql: """
            SELECT i.id, i.run_id, p.name, i.worker_index, i.pid, i.start_ticks, i.started_at
            FROM instances i JOIN programs p ON p.id = i.program_id
            WHERE i.run_id = ? AND i.ended_at IS NULL ORDER BY i.id
            """, arguments: [runID]).map { row in
            OpenInstance(rowID: row[0], runID: row[1], program: row[2], workerIndex: row[3],
                         identity: ProcessIdentity(pid: row[4], startTicks: UInt64(max(0, row[5] as Int64))),
                         startedAt: Timestamp(milliseconds: row[6]))
        }
    }

    /// Closes every earlier open run as `unclean`, inserts the new run, upserts the programs and pools
    /// with their config, and writes `supervisor_start`. Inside the caller's transaction. `detectedAt`:
    /// now (later than `startedAt` when the writer could only record the start late).
    /// `specs`: `encodedSpecs()`, encoded once by a caller that retries (the writer, while the file is
    /// unwritable), nil to encode here.
    func begin(_ db: Database, detectedAt: Timestamp, specs: [(name: String, kind: String, json: String)]? = nil) throws -> RunStart {
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
            open += try Self.openInstances(of: id, db)
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
        for spec in specs ?? encodedSpecs() {
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
