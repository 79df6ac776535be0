import Foundation
import GRDB
import HistModel
import Synchronization

/// The history database of one histd process: the one write connection, supervisor runs, and the
/// writer that the engine's events flow through.
///
/// Typical use in `histd run`:
/// ```swift
/// let store = try HistoryStore.open(path: path)
/// let start = try store.beginRun(host:pid:version:configPath:configHash:bootID:programs:pools:)
/// // check start.openInstances in /proc, stop leftovers, record .leftover events
/// let writer = store.startWriter(options: .init(retention: ..., snapshotRetention: ...))
/// engine.sink = writer
/// ...
/// try store.endRun(reason: .clean)   // flushes and stops the writer, then closes the run
/// ```
public final class HistoryStore: Sendable {
    /// The database file.
    public let path: String
    /// The one write connection. The writer thread uses it; `beginRun`/`endRun` use it before/after.
    let dbQueue: DatabaseQueue
    private struct State {
        var runID: Int64?
        var writer: HistoryWriter?
    }
    private let state = Mutex(State())

    init(path: String, dbQueue: DatabaseQueue) {
        self.path = path
        self.dbQueue = dbQueue
    }

    /// Opens the database for writing: creates its folder and the file (mode 0640; -wal/-shm inherit it)
    /// if missing, sets WAL/synchronous/busy_timeout, and applies the embedded migrations.
    /// Throws `HistoryStoreError` (directory, not SQLite, not a histd database, newer schema...).
    public static func open(path: String) throws -> HistoryStore {
        HistoryStore(path: path, dbQueue: try HistoryDatabase.openWriter(path: path, create: true))
    }

    /// Opens an existing database for writing without creating it (for `histctl prune` and tools).
    public static func openExisting(path: String) throws -> HistoryStore {
        HistoryStore(path: path, dbQueue: try HistoryDatabase.openWriter(path: path, create: false))
    }

    /// The current run's id, once `beginRun` has succeeded.
    public var runID: Int64? { state.withLock { $0.runID } }

    /// Records a supervisor start: closes every earlier open run as `unclean` (stopped_at = its last
    /// event, or now), inserts the new run, upserts the programs and pools with their config as JSON,
    /// and writes `supervisor_start`. Returns the closed runs' instances that may still be alive.
    /// One transaction: either all of it is recorded or none.
    public func beginRun(host: String, pid: Int32, version: String, configPath: String?, configHash: String?,
                         bootID: String?, programs: [ProgramSpec], pools: [PoolSpec],
                         startTicks: UInt64? = nil, at now: Timestamp = .now()) throws -> RunStart {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var specs: [(name: String, kind: String, json: String)] = []
        for p in programs {
            specs.append((p.name, "program", String(decoding: try encoder.encode(p), as: UTF8.self)))
        }
        for p in pools {
            specs.append((p.name, "pool", String(decoding: try encoder.encode(p), as: UTF8.self)))
        }
        let result: RunStart = try write("beginRun") { db in
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
                let stopped = max(last ?? now.milliseconds, started)
                try db.execute(sql: "UPDATE runs SET stopped_at = ?, stop_reason = 'unclean' WHERE id = ?",
                               arguments: [stopped, id])
                var detail = JSONText()
                detail.add("reason", RunStopReason.unclean.rawValue)
                detail.add("detected_ms", now.milliseconds)
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
                """, arguments: [host, pid, version, configPath, configHash, bootID, now.milliseconds,
                                 startTicks.map { Int64(bitPattern: $0) }])
            let runID = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO config_generations (run_id, generation, ts, config_hash) VALUES (?, 0, ?, ?)",
                           arguments: [runID, now.milliseconds, configHash])
            let generationID = db.lastInsertedRowID
            for spec in specs {
                let programID = try Int64.fetchOne(db, sql: """
                    INSERT INTO programs (name, kind) VALUES (?, ?)
                    ON CONFLICT (name) DO UPDATE SET kind = excluded.kind RETURNING id
                    """, arguments: [spec.name, spec.kind])!
                try db.execute(sql: """
                    INSERT INTO program_configs (program_id, run_id, config_json) VALUES (?, ?, ?)
                    ON CONFLICT (program_id, run_id) DO UPDATE SET config_json = excluded.config_json
                    """, arguments: [programID, runID, spec.json])
                try db.execute(sql: """
                    INSERT INTO program_config_generations (generation_id, program_id, config_json) VALUES (?, ?, ?)
                    ON CONFLICT DO UPDATE SET config_json = excluded.config_json
                    """, arguments: [generationID, programID, spec.json])
            }
            var detail = JSONText()
            detail.add("version", version)
            detail.add("host", host)
            try db.execute(sql: "INSERT INTO events (ts, kind, run_id, value, detail) VALUES (?, ?, ?, ?, ?)",
                           arguments: [now.milliseconds, EventKindID.id(.supervisorStart), runID, Int64(pid), detail.text])
            return RunStart(runID: runID, startedAt: now, closedRuns: closed, openInstances: open)
        }
        state.withLock { $0.runID = result.runID }
        return result
    }

    /// Starts the single writer for this store (once; later calls return the same writer). Events are
    /// attributed to the current run (`beginRun` first; without a run, e.g. `histd scan --once`, run_id is NULL).
    public func startWriter(options: HistoryWriter.Options = .init()) -> HistoryWriter {
        startWriter(options: options, onCommit: nil)
    }

    /// `onCommit` (benchmarks) is called on the writer thread after each commit with the total of items written.
    func startWriter(options: HistoryWriter.Options, onCommit: (@Sendable (UInt64) -> Void)?) -> HistoryWriter {
        state.withLock { s in
            if let w = s.writer { return w }
            let w = HistoryWriter(dbQueue: dbQueue, runID: s.runID, options: options, onCommit: onCommit)
            s.writer = w
            return w
        }
    }

    /// The writer, if started.
    public var writer: HistoryWriter? { state.withLock { $0.writer } }

    /// Closes the current run: flushes and stops the writer (waiting at most `flushTimeout`), writes
    /// `supervisor_stop` and sets `runs.stopped_at`/`stop_reason`.
    public func endRun(reason: RunStopReason = .clean, at now: Timestamp? = nil, flushTimeout: Duration = .seconds(5)) throws {
        let (runID, writer) = state.withLock { ($0.runID, $0.writer) }
        writer?.close(timeout: flushTimeout)
        guard let runID else { return }
        let ts = (now ?? .now()).milliseconds
        try write("endRun") { db in
            var detail = JSONText()
            detail.add("reason", reason.rawValue)
            try db.execute(sql: "INSERT INTO events (ts, kind, run_id, value, detail) VALUES (?, ?, ?, NULL, ?)",
                           arguments: [ts, EventKindID.id(.supervisorStop), runID, detail.text])
            try db.execute(sql: "UPDATE runs SET stopped_at = ?, stop_reason = ? WHERE id = ?",
                           arguments: [ts, reason.rawValue, runID])
        }
        state.withLock { $0.runID = nil }
    }

    /// Deletes rows older than the retention periods, in small transactions (see `HistoryMaintenance`).
    /// Synchronous, on the store's connection; the running writer prunes by itself when given retention options.
    @discardableResult
    public func prune(now: Timestamp = .now(), retention: Duration, snapshotRetention: Duration,
                      batchSize: Int = 1000) throws -> PruneResult {
        try HistoryMaintenance.prune(dbQueue, path: path, now: now, retention: retention,
                                     snapshotRetention: snapshotRetention, batchSize: batchSize)
    }

    /// Stops the writer (flushing first) and closes the connection.
    public func close(timeout: Duration = .seconds(5)) {
        let writer = state.withLock { $0.writer }
        writer?.close(timeout: timeout)
        try? dbQueue.close()
    }

    /// Runs `body` on the write connection (serialized with the writer thread). For tests (fault
    /// injection: `PRAGMA max_page_count`, `PRAGMA query_only`) and maintenance.
    package func withWriteConnection<T>(_ body: (Database) throws -> T) throws -> T {
        try dbQueue.inDatabase(body)
    }

    func write<T>(_ what: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try dbQueue.inDatabase { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as DatabaseError {
            throw HistoryStoreError(.writeFailed, path: path, "\(what) failed: \(error.message ?? "\(error)")")
        }
    }
}

/// `event_kinds.id` of each kind (fixed by 0001_init.sql).
enum EventKindID {
    static func id(_ kind: EventKind) -> Int64 {
        switch kind {
        case .start: 1
        case .exit: 2
        case .crash: 3
        case .restartScheduled: 4
        case .gaveUp: 5
        case .stopRequested: 6
        case .killed: 7
        case .limitBreach: 8
        case .spawnFailed: 9
        case .scaleUp: 10
        case .scaleDown: 11
        case .recycled: 12
        case .supervisorStart: 13
        case .supervisorStop: 14
        case .recordingGap: 15
        case .leftover: 16
        case .adopted: 17
        case .configReload: 40
        }
    }
}
