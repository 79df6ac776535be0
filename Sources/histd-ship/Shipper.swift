import Foundation
import GRDB
import HistFleet
import Logging

/// Copies one host's local SQLite history to the central PostgreSQL with exactly-once effect.
///
/// Why a separate process and not a task inside histd: postgres-nio runs its continuations on Swift's
/// cooperative pool, which histd (and its 2-thread test suite) share with blocking work; an earlier
/// in-process shipper starved there. PostgreSQL also brings SwiftNIO into the binary, and histd's memory
/// footprint is measured (issue 18). As a process, the shipper cannot slow supervision or the local
/// writer: it only reads the SQLite file (WAL readers never block the writer) and its state lives centrally.
///
/// One batch = one central transaction:
/// 1. lock this host's ship_cursor row (FOR UPDATE: a second shipper for the same host waits);
/// 2. read, in one local read transaction, the outbox entries after cursor.outbox_seq and the events after
///    cursor.event_id, and the current state of every row the outbox names;
/// 3. upsert the rows (insert-only rows: ON CONFLICT DO NOTHING), keep fleet_status, advance the cursor;
/// 4. COMMIT. A kill at any point before the commit ships the same batch again; the keys
///    (host_id, db_epoch, id) make the second copy a no-op or the same update.
struct Shipper {
    struct Table {
        let name: String
        let columns: [String]
        /// The local column the outbox's row_id names.
        let key: String
        /// The central conflict target and what to do (nil: DO NOTHING).
        let conflict: String
        let upsert: Bool
    }

    static let tables: [Table] = [
        Table(name: "runs", columns: ["id", "host", "pid", "version", "config_path", "config_hash", "boot_id",
                                      "started_at", "stopped_at", "stop_reason"],
              key: "id", conflict: "(host_id, db_epoch, id)", upsert: true),
        Table(name: "programs", columns: ["id", "name", "kind"], key: "id", conflict: "(host_id, db_epoch, id)", upsert: true),
        Table(name: "instances", columns: ["id", "run_id", "program_id", "worker_index", "pid", "start_ticks", "started_at",
                                           "ended_at", "exit_code", "signal", "core_dumped", "class", "uptime_ms", "stderr_tail",
                                           "restart_delay_ms"],
              key: "id", conflict: "(host_id, db_epoch, id)", upsert: true),
        Table(name: "operator_effects", columns: ["instance_id", "effect", "run_id", "action_seq"], key: "instance_id",
              conflict: "(host_id, db_epoch, instance_id, effect, run_id, action_seq)", upsert: false),
        Table(name: "zombie_parents", columns: ["id", "parent_pid", "parent_start_ticks", "parent_name", "parent_cmdline",
                                                "max_zombies", "last_zombies", "first_seen", "last_seen", "scans"],
              key: "id", conflict: "(host_id, db_epoch, id)", upsert: true),
        Table(name: "orphans", columns: ["id", "pid", "start_ticks", "name", "cmdline", "user", "started_at", "program_id",
                                         "reason", "first_seen", "last_seen", "scans"],
              key: "id", conflict: "(host_id, db_epoch, id)", upsert: true),
        // What local retention deleted before it was shipped (docs/FLEET.md, "Backpressure"): insert-only.
        Table(name: "ship_gaps", columns: ["id", "at", "tbl", "rows", "first_id", "last_id", "first_ts", "last_ts", "reason",
                                           "held_bytes", "cap_bytes"],
              key: "id", conflict: "(host_id, db_epoch, id)", upsert: false),
    ]
    static let events = Table(name: "events", columns: ["id", "ts", "kind", "run_id", "program_id", "instance_id", "value", "detail"],
                              key: "id", conflict: "(host_id, db_epoch, id, ts)", upsert: false)
    /// Shipped snapshots (`--snapshots`, central 0008): insert-only, tailed by sweep id. Central columns
    /// after (host_id, db_epoch, seq = sweep id).
    static let snapshots = Table(name: "snapshots", columns: ["sweep_id", "ts", "instance_id", "state", "utime", "stime", "rss_kb",
                                                              "vsz_kb", "threads", "fds", "procs"],
                                 key: "sweep_id", conflict: "(host_id, db_epoch, instance_id, ts, sweep_id)", upsert: false)
    static let dayMs: Int64 = 86_400_000

    let local: DatabaseQueue
    let hostID: String
    let epoch: String
    let batch: Int
    /// `--snapshots`: ship the first sweep of each interval of this many ms; nil: no snapshots.
    let snapshotEveryMs: Int64?
    let logger: Logger
    /// A day partition of `events` or `snapshots` (events_YYYYMMDD): the parent and the UTC day (ms / 86,400,000).
    struct Partition: Hashable {
        let parent: String
        let day: Int64
        var name: String { parent + "_" + Shipper.dayName(day) }
    }
    /// The day partitions this process has seen or made.
    var partitions: Set<Partition> = []

    /// Opens the local database read-only and reads its epoch (migrations/0012_ship_outbox.sql).
    init(path: String, hostID: String, batch: Int, snapshotEveryMs: Int64? = nil, logger: Logger) throws(FleetError) {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        config.label = "histd-ship"
        do {
            local = try DatabaseQueue(path: path, configuration: config)
            let e = try local.read { db -> String? in
                guard try db.tableExists("ship_epoch") else { return nil }
                return try String.fetchOne(db, sql: "SELECT epoch FROM ship_epoch WHERE id = 1")
            }
            guard let e else {
                throw FleetError("\(path) has no ship_epoch table: it was made by an older histd; start the new histd once (it migrates the file to 0012), then start histd-ship")
            }
            // Without capture the writer records no changed rows: shipping would miss every later change.
            let capturing = try local.read { try Bool.fetchOne($0, sql: "SELECT enabled FROM ship_capture WHERE id = 1") } ?? false
            guard capturing else {
                throw FleetError("\(path) is not capturing changes for shipping: histd runs it without a [ship] section (docs/FLEET.md); add [ship] and restart histd")
            }
            epoch = e
        } catch let error as FleetError {
            throw error
        } catch {
            throw FleetError("cannot read the local history \(path): \(error)")
        }
        self.hostID = hostID
        self.batch = batch
        self.snapshotEveryMs = snapshotEveryMs
        self.logger = logger
    }

    /// Where this host's central cursor is: the last outbox seq and event id shipped, and inside a local
    /// 'resync' entry (migrations/0012_ship_outbox.sql) the table being copied and its last key.
    struct Cursor: Equatable {
        var outboxSeq: Int64
        var eventID: Int64
        var resyncTable: String? = nil
        var resyncKey: Int64? = nil
        /// The last local sweep looked at for snapshots, and the local ship_sweeps.resets it belongs to.
        var sweepID: Int64 = 0
        var sweepResets: Int64 = 0
    }

    struct Batch {
        /// The cursor the batch was read after.
        let after: Cursor
        /// The cursor once it is shipped.
        var cursor: Cursor
        /// Per table: the rows as COPY text, each as (host_id, db_epoch, seq, the table's columns), where seq
        /// is the outbox seq that owes it.
        var rows: [String: CopyText] = [:]
        /// The events as COPY text, (host_id, db_epoch, seq = id, the columns), and the UTC days they fall on.
        var events = CopyText()
        var eventDays: Set<Int64> = []
        /// The snapshots of the sweeps the downsampling chose, (host_id, db_epoch, seq = sweep id, the
        /// columns of `Shipper.snapshots`), and their UTC days.
        var snapshots = CopyText()
        var snapshotDays: Set<Int64> = []
        /// Per program, the newest of the batch's instances by (started_at, id), for fleet_status: its id,
        /// started_at, pid, ended_at, exit_code, signal and class.
        var newest: [Int64: [DatabaseValue]] = [:]
        var count: Int { rows.values.reduce(0) { $0 + $1.count } + events.count + snapshots.count }
        /// The day partitions the batch inserts into.
        var partitions: Set<Partition> {
            Set(eventDays.map { Partition(parent: "events", day: $0) } + snapshotDays.map { Partition(parent: "snapshots", day: $0) })
        }
    }

    /// The next batch after the cursor, read in one local read transaction (a consistent snapshot).
    func readBatch(_ cursor: Cursor) throws -> Batch {
        try local.read { db in
            var b = Batch(after: cursor, cursor: cursor)
            // Retention emptied `events` and its ids start again at 1 (migrations/0012_ship_outbox.sql): no
            // events until the marker, then the event cursor starts again at 0.
            let reset = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM ship_outbox WHERE tbl = 'events_reset' AND seq > ?",
                                           arguments: [cursor.outboxSeq])
            // Capture was turned on after a period without: every live row is owed, copied whole at the marker.
            let resync = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM ship_outbox WHERE tbl = 'resync' AND seq > ?",
                                            arguments: [cursor.outboxSeq])
            let stop = min(reset ?? Int64.max, resync.map { $0 - 1 } ?? Int64.max)
            let outbox = try Row.fetchAll(db, sql: "SELECT seq, tbl, row_id FROM ship_outbox WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                                          arguments: [cursor.outboxSeq, stop, batch])
            var owed: [String: [Int64: Int64]] = [:]  // table -> row_id -> newest seq
            for r in outbox {
                let seq: Int64 = r["seq"], tbl: String = r["tbl"], id: Int64 = r["row_id"]
                owed[tbl, default: [:]][id] = seq
                b.cursor.outboxSeq = seq
            }
            if outbox.isEmpty, let resync {
                try copyWhole(db, marker: resync, into: &b)
            } else {
                for t in Self.tables {
                    guard let ids = owed[t.name], !ids.isEmpty else { continue }
                    b.rows[t.name] = try fetchRows(db, t, ids: ids, defaultSeq: b.cursor.outboxSeq, newest: &b.newest)
                }
            }
            try readSnapshots(db, cursor, into: &b)
            if let reset {
                if b.cursor.outboxSeq == reset { b.cursor.eventID = 0 }
                return b
            }
            let cols = Self.events.columns.joined(separator: ", ")
            let events = try Row.fetchCursor(db, sql: "SELECT \(cols) FROM events WHERE id > ? ORDER BY id LIMIT ?",
                                             arguments: [cursor.eventID, batch])
            let head = [FleetValue.text(hostID), .text(epoch)]
            while let row = try events.next() {
                // id is the INTEGER PRIMARY KEY and ts NOT NULL (migrations/0001_init.sql).
                let id = Int64.fromDatabaseValue(row[0]) ?? 0, ts = Int64.fromDatabaseValue(row[1]) ?? 0
                b.events.append(head + [.integer(id)] + row.databaseValues.map(FleetValue.init))
                b.eventDays.insert(ts / Self.dayMs)
                b.cursor.eventID = id
            }
            return b
        }
    }

    /// The current state of the rows `ids` names (a row retention deleted since is skipped: the central
    /// copy keeps it until its own retention) as COPY text, each with the outbox seq that owes it. Instances
    /// also keep `newest` (fleet_status).
    func fetchRows(_ db: Database, _ t: Table, ids: [Int64: Int64], defaultSeq: Int64,
                   newest: inout [Int64: [DatabaseValue]]) throws -> CopyText {
        let list = "[" + ids.keys.map(String.init).joined(separator: ",") + "]"
        let cols = t.columns.map { "\"\($0)\"" }.joined(separator: ", ")
        let found = try Row.fetchCursor(db, sql: "SELECT \(cols) FROM \(t.name) WHERE \(t.key) IN (SELECT value FROM json_each(?))",
                                        arguments: [list])
        let keyIndex = t.columns.firstIndex(of: t.key)!
        let head = [FleetValue.text(hostID), .text(epoch)]
        var text = CopyText()
        while let row = try found.next() {
            let id = Int64.fromDatabaseValue(row[keyIndex]) ?? 0
            text.append(head + [.integer(ids[id] ?? defaultSeq)] + row.databaseValues.map(FleetValue.init))
            if t.name == "instances" { Self.keepNewest(row, in: &newest) }
        }
        return text
    }

    /// The snapshots owed after the cursor's sweep (`--snapshots`): of the sweeps after it, those whose
    /// ts / interval differs from the sweep before (the first sweep of each interval), each with all its
    /// snapshot rows, until about `batch` rows. The cursor moves onto the last sweep looked at, chosen or
    /// not. The choice depends only on the local rows, so a batch read again (a kill, a failed commit)
    /// chooses the same sweeps. A `ship_sweeps.resets` other than the cursor's: retention emptied sweeps
    /// and its ids started again at 1 (migrations/0017_ship_sweeps.sql), so the cursor starts again at 0.
    func readSnapshots(_ db: Database, _ cursor: Cursor, into b: inout Batch) throws {
        guard let every = snapshotEveryMs else { return }
        let resets = try Int64.fetchOne(db, sql: "SELECT resets FROM ship_sweeps WHERE id = 1") ?? 0
        var after = cursor.sweepID
        if resets != cursor.sweepResets {
            after = 0
            b.cursor.sweepResets = resets
            b.cursor.sweepID = 0
        }
        func bucket(_ ts: Int64) -> Int64 { ts >= 0 ? ts / every : (ts - every + 1) / every }
        var previous = try Int64.fetchOne(db, sql: "SELECT ts FROM sweeps WHERE id <= ? ORDER BY id DESC LIMIT 1", arguments: [after]).map(bucket)
        let sweeps = try Row.fetchCursor(db, sql: "SELECT id, ts FROM sweeps WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, batch])
        let rows = try db.cachedStatement(sql: """
            SELECT instance_id, state, utime, stime, rss_kb, vsz_kb, threads, fds, procs FROM snapshots WHERE sweep_id = ?
            """)
        let head = [FleetValue.text(hostID), .text(epoch)]
        while b.snapshots.count < batch, let sweep = try sweeps.next() {
            let id: Int64 = sweep[0], ts: Int64 = sweep[1]
            b.cursor.sweepID = id
            let k = bucket(ts)
            defer { previous = k }
            guard k != previous else { continue }
            let found = try Row.fetchCursor(rows, arguments: [id])
            while let r = try found.next() {
                b.snapshots.append(head + [.integer(id), .integer(id), .integer(ts)] + r.databaseValues.map(FleetValue.init))
            }
            b.snapshotDays.insert(ts / Self.dayMs)
        }
    }

    /// Keeps, per program, the newest instance by (started_at, id). Columns as in `tables`: id 0,
    /// program_id 2, pid 4, started_at 6, ended_at 7, exit_code 8, signal 9, class 11.
    static func keepNewest(_ row: Row, in newest: inout [Int64: [DatabaseValue]]) {
        guard let program = Int64.fromDatabaseValue(row[2]), let started = Int64.fromDatabaseValue(row[6]),
              let id = Int64.fromDatabaseValue(row[0]) else { return }
        if let o = newest[program], let os = Int64.fromDatabaseValue(o[1]), let oid = Int64.fromDatabaseValue(o[0]),
           (os, oid) >= (started, id) { return }
        newest[program] = [0, 6, 4, 7, 8, 9, 11].map { row[$0] as DatabaseValue }
    }

    /// Inside a 'resync' entry: the next `batch` keys of the table being copied, in key order; past the
    /// last table the cursor moves onto the entry itself (the resync is done).
    ///
    /// A row with an outbox entry after the marker is left out: that entry ships the row's current state
    /// once the resync is done (entries after the marker wait for it), and an entry only goes away when
    /// the row changes again (a newer entry) or is deleted (then retention holds it as unshipped, or
    /// records a ship_gap). Copying it here as well shipped it twice: in histbench's crash-loop backlog,
    /// where the whole history was written after the marker, every one of 100,000 instance rows was
    /// inserted by the resync and then updated by its entry, five index entries each time.
    func copyWhole(_ db: Database, marker: Int64, into b: inout Batch) throws {
        var index = b.cursor.resyncTable.flatMap { name in Self.tables.firstIndex { $0.name == name } } ?? 0
        var after = b.cursor.resyncKey ?? Int64.min
        while index < Self.tables.count {
            let t = Self.tables[index]
            let keys = try Int64.fetchAll(db, sql: "SELECT DISTINCT \(t.key) FROM \(t.name) WHERE \(t.key) > ? ORDER BY \(t.key) LIMIT ?",
                                          arguments: [after, batch])
            if let last = keys.last {
                let later = try Int64.fetchSet(db, sql: """
                    SELECT row_id FROM ship_outbox WHERE tbl = ? AND seq > ? AND row_id BETWEEN ? AND ?
                    """, arguments: [t.name, marker, keys[0], last])
                let owed = keys.filter { !later.contains($0) }
                b.rows[t.name] = try fetchRows(db, t, ids: Dictionary(uniqueKeysWithValues: owed.map { ($0, marker) }), defaultSeq: marker,
                                               newest: &b.newest)
                b.cursor.resyncTable = t.name
                b.cursor.resyncKey = last  // the last key looked at, owed or not: a stretch of skipped keys is passed too
                return
            }
            index += 1
            after = Int64.min
        }
        b.cursor.outboxSeq = marker
        b.cursor.resyncTable = nil
        b.cursor.resyncKey = nil
    }

    /// How many outbox entries, events and sweeps (`--snapshots`) are not shipped yet, and the time of the oldest event not
    /// shipped (for the state file: `histctl status`, metrics). O(outbox backlog): events are counted by
    /// id range (ids only ever go up; retention deletes from the low end), not scanned. Before an
    /// unshipped 'events_reset' every event in the table is owed.
    func backlog(_ c: Cursor) throws -> (rows: Int64, oldest: Int64?) {
        try local.read { db in
            let a = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM ship_outbox WHERE seq > ?", arguments: [c.outboxSeq]) ?? 0
            let reset = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM ship_outbox WHERE tbl = 'events_reset' AND seq > ?)",
                                          arguments: [c.outboxSeq]) ?? false
            let after = reset ? 0 : c.eventID
            // Sweeps not looked at yet, by id range too (ids only go up until retention empties the table).
            var sweeps: Int64 = 0
            if snapshotEveryMs != nil {
                let resets = try Int64.fetchOne(db, sql: "SELECT resets FROM ship_sweeps WHERE id = 1") ?? 0
                let newest = try Int64.fetchOne(db, sql: "SELECT max(id) FROM sweeps") ?? 0
                sweeps = max(0, newest - (resets == c.sweepResets ? c.sweepID : 0))
            }
            let first = try Row.fetchOne(db, sql: "SELECT id, ts FROM events WHERE id > ? ORDER BY id LIMIT 1", arguments: [after])
            let last = try Int64.fetchOne(db, sql: "SELECT max(id) FROM events") ?? 0
            guard let first else { return (a + sweeps, nil) }
            let firstID: Int64 = first[0]
            return (a + sweeps + max(0, last - firstID + 1), first[1] as Int64)
        }
    }

    /// The cursor of the last committed central transaction (set by `shipOnce`), nil until one.
    var committed: Cursor? = nil

    /// The next batch, read from the local file while the server runs the statements of the one before
    /// (started by `shipOnce` once it knows the cursor that batch ends at). The local read and the
    /// encoding are histd-ship's own CPU, 1.5 of the 9.8 s of a 300,000-event backlog (histbench), and the
    /// server waited for them between batches. Used only when the batch before committed and the locked
    /// central cursor is the one it was read after; any other outcome (a failed batch, a second shipper
    /// that moved the cursor) reads afresh. A snapshot read a few milliseconds earlier is as consistent as
    /// one read later: a row changed since has a newer outbox entry, which a later batch ships.
    var readAhead: Task<Batch, any Error>? = nil

    /// Makes the cursor row and this host's row exist. A host_id already pinned to another machine
    /// (another /etc/machine-id) is refused: two machines would mix their rows under one name.
    func register(_ db: FleetDatabase) async throws(FleetError) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let machine = Self.machineID()
        let pinned = try await db.rows("SELECT machine_id FROM hosts WHERE host_id = $1", [.text(hostID)])
        if let row = pinned.first, let other = String.fromDatabaseValue(row[0]), let machine, other != machine {
            throw FleetError("host_id \(hostID) is already shipped by another machine (machine-id \(other), this one is \(machine)): give one of them its own [ship] host_id")
        }
        try await db.rows("""
            INSERT INTO ship_cursor (host_id, db_epoch, outbox_seq, event_id, shipped_at) VALUES ($1, $2, 0, 0, $3)
            ON CONFLICT DO NOTHING
            """, [.text(hostID), .text(epoch), .integer(now)])
        try await db.rows("""
            INSERT INTO hosts (host_id, machine_id, db_epoch, first_shipped_at, last_shipped_at) VALUES ($1, $4, $2, $3, $3)
            ON CONFLICT (host_id) DO UPDATE SET db_epoch = EXCLUDED.db_epoch, machine_id = coalesce(hosts.machine_id, EXCLUDED.machine_id)
            """, [.text(hostID), .text(epoch), .integer(now), machine.map { FleetValue.text($0) } ?? .null])
    }

    /// /etc/machine-id (systemd's stable id of this installation), nil when there is none.
    static func machineID(path: String = "/etc/machine-id") -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }

    /// Creates the day partitions of `events` and `snapshots` a batch needs, each in its own short transaction (creating a
    /// partition locks the parent table; holding that lock for a whole batch would stall fleet reports).
    mutating func ensurePartitions(_ db: FleetDatabase, _ wanted: Set<Partition>) async throws(FleetError) {
        for p in wanted.sorted(by: { ($0.parent, $0.day) < ($1.parent, $1.day) }) where !partitions.contains(p) {
            let name = p.name
            do {
                try await db.execute(script: """
                    CREATE TABLE IF NOT EXISTS \(name) PARTITION OF \(p.parent) FOR VALUES FROM (\(p.day * Self.dayMs)) TO (\((p.day + 1) * Self.dayMs))
                    """)
            } catch {
                // Two shippers creating the same day at once: the loser sees a duplicate; the table exists.
                let exists = try await db.rows("SELECT 1 FROM pg_class WHERE relname = $1", [.text(name)])
                if exists.isEmpty { throw error }
            }
            partitions.insert(p)
        }
    }

    static func dayName(_ day: Int64) -> String {
        let d = Date(timeIntervalSince1970: TimeInterval(day * 86_400))
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day], from: d)
        return String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
    }

    /// The UTC days (ms / 86,400,000) of the next batch's events. Synchronous: a short local read; this
    /// process's pool runs nothing else that could starve.
    func eventDays(after id: Int64) throws -> Set<Int64> {
        try local.read { db in
            try Int64.fetchSet(db, sql: "SELECT DISTINCT ts / 86400000 FROM (SELECT ts FROM events WHERE id > ? ORDER BY id LIMIT ?)",
                               arguments: [id, batch])
        }
    }

    /// Ships one batch. Returns how many rows it shipped (0: caught up).
    mutating func shipOnce(_ db: FleetDatabase) async throws -> Int {
        var ahead: Batch? = nil
        if let task = readAhead {
            readAhead = nil
            if let b = try? await task.value, b.after == committed { ahead = b }
        }
        // Partitions first, outside the main transaction: for the batch read ahead, or from a peek at the
        // events the batch will take (snapshots of an older day than today make the batch start again below).
        var wanted: Set<Partition>
        if let ahead {
            wanted = ahead.partitions
        } else {
            let peek = try await db.rows("SELECT event_id FROM ship_cursor WHERE host_id = $1 AND db_epoch = $2",
                                         [.text(hostID), .text(epoch)])
            wanted = Set(try eventDays(after: peek.first.flatMap { Int64.fromDatabaseValue($0[0]) } ?? 0).map { Partition(parent: "events", day: $0) })
        }
        let today = Int64(Date().timeIntervalSince1970) / 86_400
        wanted.insert(Partition(parent: "events", day: today))
        if snapshotEveryMs != nil { wanted.insert(Partition(parent: "snapshots", day: today)) }
        try await ensurePartitions(db, wanted)

        try await db.execute(script: "BEGIN")
        do {
            let cur = try await db.rows("""
                SELECT outbox_seq, event_id, resync_table, resync_key, sweep_id, sweep_resets FROM ship_cursor
                WHERE host_id = $1 AND db_epoch = $2 FOR UPDATE
                """, [.text(hostID), .text(epoch)])
            guard let c = cur.first, let seq = Int64.fromDatabaseValue(c[0]), let eid = Int64.fromDatabaseValue(c[1]) else {
                throw FleetError("the central cursor of \(hostID) epoch \(epoch) is missing")
            }
            let cursor = Cursor(outboxSeq: seq, eventID: eid, resyncTable: String.fromDatabaseValue(c[2]), resyncKey: Int64.fromDatabaseValue(c[3]),
                                sweepID: Int64.fromDatabaseValue(c[4]) ?? 0, sweepResets: Int64.fromDatabaseValue(c[5]) ?? 0)
            let b = try ahead.flatMap { $0.after == cursor ? $0 : nil } ?? readBatch(cursor)
            // Caught up: no entry and no event after the cursor. (Entries for rows retention deleted, and
            // the markers, ship no row but still move the cursor.)
            if b.cursor == cursor {
                try await db.execute(script: "COMMIT")
                committed = cursor
                return 0
            }
            let next = b.cursor, reader = self
            readAhead = Task.detached { try reader.readBatch(next) }
            let needed = b.partitions
            if !needed.isSubset(of: partitions) {
                // Snapshots of a day before today, events older than the peek saw (cannot happen with ids in
                // order), or a race: make the partitions, then the batch again.
                try await db.execute(script: "ROLLBACK")
                try await ensurePartitions(db, needed)
                return try await shipOnce(db)
            }
            for t in Self.tables {
                guard let rows = b.rows[t.name], !rows.isEmpty else { continue }
                try await insert(db, t, rows)
            }
            if !b.events.isEmpty {
                try await insertAppended(db, Self.events, b.events)
            }
            if !b.snapshots.isEmpty {
                try await insertAppended(db, Self.snapshots, b.snapshots)
            }
            if !b.newest.isEmpty { try await updateStatus(db, b.newest) }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try await db.rows("""
                UPDATE ship_cursor SET outbox_seq = $3, event_id = $4, shipped_at = $5, resync_table = $6, resync_key = $7,
                    sweep_id = $8, sweep_resets = $9
                WHERE host_id = $1 AND db_epoch = $2
                """, [.text(hostID), .text(epoch), .integer(b.cursor.outboxSeq), .integer(b.cursor.eventID), .integer(now),
                      b.cursor.resyncTable.map { .text($0) } ?? .null, b.cursor.resyncKey.map { .integer($0) } ?? .null,
                      .integer(b.cursor.sweepID), .integer(b.cursor.sweepResets)])
            try await db.rows("UPDATE hosts SET last_shipped_at = $2 WHERE host_id = $1", [.text(hostID), .integer(now)])
            try await db.execute(script: "COMMIT")
            committed = b.cursor
            return max(1, b.count)
        } catch {
            try? await db.execute(script: "ROLLBACK")
            throw error
        }
    }

    /// Events and snapshots by COPY, the fast path (issue 17's 50,000 events/s): they are insert-only, and
    /// the cursor they are read after commits in the same transaction as they do, so none of them can be
    /// central already. Should one be anyway (a unique violation), the COPY is rolled back to its savepoint
    /// and the batch goes through `insert`'s ON CONFLICT DO NOTHING instead: never a failed batch retried forever.
    func insertAppended(_ db: FleetDatabase, _ t: Table, _ rows: CopyText) async throws(FleetError) {
        try await db.execute(script: "SAVEPOINT appended_copy")
        do {
            try await db.copy(into: t.name, columns: ["host_id", "db_epoch", "seq"] + t.columns, text: rows)
            try await db.execute(script: "RELEASE SAVEPOINT appended_copy")
        } catch where error.description.contains("23505") || error.description.contains("duplicate key") {
            logger.info("\(t.name) already central in this batch; inserting with ON CONFLICT DO NOTHING instead of COPY")
            try await db.execute(script: "ROLLBACK TO SAVEPOINT appended_copy")
            try await insert(db, t, rows)
        }
    }

    /// `rows` into `t` with its ON CONFLICT action, by way of a session-local staging table: COPY into the
    /// stage, then one `INSERT ... SELECT ... ON CONFLICT` per batch. Why not a multi-row VALUES: a VALUES
    /// list is capped at ~30,000 parameters (1,666 instance rows a statement), and the server parsed, bound
    /// and planned every one of those statements afresh; that was 2.0 of the 11.3 s that 100,000 instance
    /// rows took in histbench's crash-loop mix, and the VALUES executor was about twice as slow as a SELECT
    /// from a table. One statement a batch also fires the statement triggers (migrations/postgres/0003-0006)
    /// once per batch rather than once per 1,666 rows.
    ///
    /// The stage is `ON COMMIT DELETE ROWS` and emptied after its INSERT, so a batch that is rolled back or
    /// killed leaves nothing in it, a second call in one batch sees only its own rows, and a new connection
    /// (after a reconnect) makes its own.
    func insert(_ db: FleetDatabase, _ t: Table, _ rows: CopyText) async throws(FleetError) {
        let columns = ["host_id", "db_epoch", "seq"] + t.columns
        let quoted = columns.map { "\"\($0)\"" }.joined(separator: ", ")
        let action = t.upsert
            ? "DO UPDATE SET " + (["seq"] + t.columns.filter { $0 != t.key }).map { "\"\($0)\" = EXCLUDED.\"\($0)\"" }.joined(separator: ", ")
            : "DO NOTHING"
        let stage = "ship_stage_" + t.name
        try await db.execute(script: "CREATE TEMP TABLE IF NOT EXISTS \(stage) (LIKE \(t.name)) ON COMMIT DELETE ROWS")
        try await db.copy(into: stage, columns: columns, text: rows)
        try await db.execute(script: """
            INSERT INTO \(t.name) (\(quoted)) SELECT \(quoted) FROM \(stage) ON CONFLICT \(t.conflict) \(action);
            DELETE FROM \(stage)
            """)
    }

    /// Keeps fleet_status: per program, the newest instance by (started_at, id) among those shipped
    /// (`Batch.newest`: id, started_at, pid, ended_at, exit_code, signal, class) and the one already there.
    func updateStatus(_ db: FleetDatabase, _ newest: [Int64: [DatabaseValue]]) async throws(FleetError) {
        // One multi-row statement for the whole batch (one round trip per program was most of a batch's time
        // in the crash-loop mix, which touches ~200 programs per batch). `newest` holds one row per program,
        // so no statement updates a row twice.
        let rows = newest.sorted(by: { $0.key < $1.key })
        for chunk in stride(from: 0, to: rows.count, by: 2000).map({ rows[$0..<min(rows.count, $0 + 2000)] }) {
            var sql = "INSERT INTO fleet_status (host_id, db_epoch, program_id, instance_id, started_at, pid, ended_at, exit_code, signal, class) VALUES "
            var binds: [FleetValue] = [.text(hostID), .text(epoch)]
            for (k, (program, r)) in chunk.enumerated() {
                let n = binds.count
                sql += (k > 0 ? ", " : "") + "($1, $2, " + (1...8).map { "$\(n + $0)" }.joined(separator: ", ") + ")"
                binds += [.integer(program)] + r.map(FleetValue.init)
            }
            sql += """

                 ON CONFLICT (host_id, db_epoch, program_id) DO UPDATE SET
                  instance_id = EXCLUDED.instance_id, started_at = EXCLUDED.started_at, pid = EXCLUDED.pid,
                  ended_at = EXCLUDED.ended_at, exit_code = EXCLUDED.exit_code, signal = EXCLUDED.signal, class = EXCLUDED.class
                WHERE (fleet_status.started_at, fleet_status.instance_id) <= (EXCLUDED.started_at, EXCLUDED.instance_id)
                """
            try await db.rows(sql, binds)
        }
    }
}
