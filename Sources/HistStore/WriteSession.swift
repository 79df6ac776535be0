import GRDB
import HistModel

/// Turns write items into rows, inside a transaction the caller owns. Lives on the writer thread only.
///
/// Keeps the id mappings the engine does not know: engine `InstanceID` -> `instances.id` and program name ->
/// `programs.id`. Every other fact comes with the event (which instance a `restart_scheduled` or `gave_up`
/// follows is the engine's to say, not rebuilt here). The caches keep an undo log: the caller calls
/// `caches.commit()` after a commit and `caches.rollback()` after a rollback, so a rolled-back insert never
/// leaves a stale id.
struct WriteSession {
    /// What one batch did.
    struct Outcome {
        var maxEventID: Int64 = 0
        var unmappedSamples = 0
    }

    /// nil until the run is recorded (the writer writes nothing of a pending run before that), or for
    /// good when there is no run (`histd scan --once`).
    var runID: Int64? {
        // Restarts waiting for a start are the old run's (or the old file's): a new run's starts never match them.
        didSet { if oldValue != runID { restarts.rolledBack() } }
    }
    var caches = WriterCaches()
    /// Events of the current transaction not yet inserted (see `EventRows`). Emptied at the start of every
    /// `write`, so rows of a rolled-back transaction are never inserted by the next one.
    private var pending = EventRows()
    /// The detail builder, reused for every event (no allocation per event once grown).
    private var json = JSONText()
    /// Ends of instances found in the batch before it is written (the first end per instance). When an
    /// instance starts and ends within one batch (crash loops), its row is inserted complete at the start,
    /// and the end needs no UPDATE: one write of the instances row and its four indexes instead of two.
    /// Same transaction, so the committed result is the same.
    private var endsAhead: [InstanceID: InstanceEnd] = [:]
    /// The restart_scheduled events of this batch per instance, seen before it is written: when an instance
    /// ends in this batch and exactly one restart_scheduled for it follows, its `restart_delay_ms`
    /// (RestartDelay) is written with the end (in the complete INSERT or the end's UPDATE) instead of by
    /// one more UPDATE of the row when the restart comes (a crash loop's start, end and restart are
    /// one INSERT again). Anything else (several, one before the end) takes the restart's own UPDATE.
    private var restartsAhead: [InstanceID: RestartAhead] = [:]
    /// Instances inserted complete in this batch whose end has not been reached yet.
    private var insertedComplete: Set<InstanceID> = []
    /// Instances whose end in this batch an operator caused (operator_effects 'ended'): not crashes, so
    /// not counted in crash_hours, the same rule as queries/crashes.sql.
    private var operatorEnded: Set<InstanceID> = []
    /// This transaction's crashes for `crash_hours`, written once per key before the commit.
    private var rollup = CrashRollup()
    /// This transaction's loop members for `loop_hours` and lifecycle counts for `program_hours`
    /// (migrations/0011_loop_rollups.sql), written once before the commit.
    private var loops = LoopRollup()
    private var programHours = ProgramHours()
    /// This transaction's restarts and starts for `restart_minutes` (migrations/0014_restart_minutes.sql),
    /// and the run's restarts still waiting for their start (kept across transactions).
    private var restarts = RestartRollup()
    /// This transaction's moves of the `program_current` pointers (migrations/0016_program_current.sql).
    private var current = ProgramCurrent()

    init(runID: Int64?) { self.runID = runID }

    // Statements are fetched from GRDB's per-connection cache once per batch (not once per row: the cache
    // is keyed by the SQL text, and hashing it per row is measurable at 300 k rows/s).
    struct Statements {
        let event: Statement
        let eventsSmall: Statement
        let eventsBig: Statement
        let instanceStart: Statement
        let instanceEnd: Statement
        let instanceComplete: Statement
        let programLookup: Statement
        let programInsert: Statement
        let sweep: Statement
        let snapshot: Statement
        let effect: Statement
        let crashRollup: Statement
        let restartDelay: Statement

        static let eventsSmallSQL = EventRows.sql(rows: EventRows.smallChunk)
        static let eventsBigSQL = EventRows.sql(rows: EventRows.chunk)

        init(_ db: Database) throws {
            event = try db.cachedStatement(sql: EventRows.sql(rows: 1))
            eventsSmall = try db.cachedStatement(sql: Statements.eventsSmallSQL)
            eventsBig = try db.cachedStatement(sql: Statements.eventsBigSQL)
            instanceStart = try db.cachedStatement(sql: """
                INSERT INTO instances (run_id, program_id, worker_index, pid, start_ticks, started_at) VALUES (?, ?, ?, ?, ?, ?)
                """)
            instanceEnd = try db.cachedStatement(sql: """
                UPDATE instances SET ended_at = ?1, exit_code = ?2, signal = ?3, core_dumped = ?4, class = ?5, uptime_ms = ?6,
                    stderr_tail = ?7, restart_delay_ms = coalesce(?9, restart_delay_ms) WHERE id = ?8 AND ended_at IS NULL
                """)
            instanceComplete = try db.cachedStatement(sql: """
                INSERT INTO instances (run_id, program_id, worker_index, pid, start_ticks, started_at, ended_at, exit_code,
                    signal, core_dumped, class, uptime_ms, stderr_tail, restart_delay_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            programLookup = try db.cachedStatement(sql: "SELECT id FROM programs WHERE name = ?")
            programInsert = try db.cachedStatement(sql: "INSERT INTO programs (name, kind) VALUES (?, 'program')")
            sweep = try db.cachedStatement(sql: "INSERT INTO sweeps (ts) VALUES (?)")
            effect = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO operator_effects (instance_id, effect, run_id, action_seq) VALUES (?, ?, ?, ?)
                """)
            snapshot = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO snapshots (sweep_id, instance_id, state, utime, stime, rss_kb, vsz_kb, threads, fds, procs)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            crashRollup = try db.cachedStatement(sql: CrashRollup.upsertSQL)
            restartDelay = try db.cachedStatement(sql: RestartDelay.setSQL)
        }
    }

    /// Writes `items` (and the gap row first, if any). The caller wraps this in a transaction.
    mutating func write(_ items: ArraySlice<WriteItem>, gap: GapAccumulator?, db: Database, now: Int64) throws -> Outcome {
        let st = try Statements(db)
        pending.discard()
        rollup.discard()
        loops.discard()
        programHours.discard()
        restarts.discard()
        current.discard()
        var outcome = Outcome()
        if let gap, !gap.isEmpty {
            let detail = Array(gap.detailJSON(recordedAt: now).utf8)
            try detail.withUnsafeBufferPointer { d in
                try appendEvent(st, db, ts: gap.fromMs, kind: EventKindID.id(.recordingGap), programID: nil,
                                instanceID: nil, value: Int64(gap.dropped), detail: d, outcome: &outcome)
            }
        }
        endsAhead.removeAll(keepingCapacity: true)
        restartsAhead.removeAll(keepingCapacity: true)
        insertedComplete.removeAll(keepingCapacity: true)
        operatorEnded.removeAll(keepingCapacity: true)
        for i in items.indices {
            guard case .event(let e) = items[i] else { continue }
            switch e.payload {
            case .ended(let end):
                if endsAhead[end.instance.id] == nil { endsAhead[end.instance.id] = end }
                if e.operatorAction != nil { operatorEnded.insert(end.instance.id) }
            case .started(let info):
                // A start after the end in this batch remaps the instance: its restart names the new row.
                if endsAhead[info.id] != nil { restartsAhead[info.id] = .ambiguous }
            case .restartScheduled(let info?, let delay, _, _):
                // Usable only when it is the instance's one restart in the batch and its end came first.
                if restartsAhead[info.id] != nil || endsAhead[info.id] == nil {
                    restartsAhead[info.id] = .ambiguous
                } else {
                    restartsAhead[info.id] = .one(ts: e.time.milliseconds, delay: delay.milliseconds)
                }
            default: break
            }
        }
        for i in items.indices {
            switch items[i] { // by index: no copy of each item into a loop variable
            case .event(let e): try write(e, st, db, &outcome)
            case .sweep(let s): try write(s, st, db, &outcome)
            case .scan(let s): try write(s, db)
            }
        }
        try flushEvents(st, db, &outcome)
        try rollup.flush(st.crashRollup, db)
        try programHours.flush(db)
        try loops.flush(db, &caches) // reads back this transaction's rows: after every insert
        try restarts.flush(db, runID: runID) // likewise
        try current.flush(db) // likewise
        return outcome
    }

    // MARK: - Events

    /// Whether an event row carries the detail being built in `json`.
    private enum Detail {
        /// NULL.
        case none
        /// `json`, or NULL when nothing was added.
        case orNull
        /// `json`, even when empty.
        case always
    }

    private mutating func write(_ e: HistEvent, _ st: Statements, _ db: Database, _ outcome: inout Outcome) throws {
        let programID = e.program.isEmpty ? nil : try self.programID(e.program, st, db)
        json.reset()
        let instance: Int64?, value: Int64?, detail: Detail
        switch e.payload {
        case .started(let info):
            instance = try startInstance(info, programID: programID, st, db)
            (value, detail) = (nil, .none)

        case .ended(let end):
            instance = try endInstance(end, programID: programID, st, db)
            (value, detail) = (end.uptime.milliseconds, .none)

        case .restartScheduled(let info, let delay, let attempt, let worker):
            json.add("attempt", attempt)
            json.add("worker_index", worker)
            (instance, value, detail) = (row(of: info), delay.milliseconds, .orNull)

        case .gaveUp(let info, let restarts, let worker):
            json.add("worker_index", worker)
            (instance, value, detail) = (row(of: info), Int64(restarts), .orNull)

        case .stopRequested(let info, let reason, let signal):
            json.add("reason", reason.rawValue)
            (instance, value, detail) = (caches.instanceRows[info.id], Int64(signal), .always)

        case .killed(let info, let after):
            (instance, value, detail) = (caches.instanceRows[info.id], after.milliseconds, .none)

        case .limitBreach(let info, let limit, let observed, let threshold, let action, let refused):
            json.add("limit", limit.rawValue)
            json.add("threshold", threshold)
            json.add("action", action.rawValue)
            json.add("refused", refused)
            (instance, value, detail) = (row(of: info), observed, .always)

        case .spawnFailed(let errno, let step, let reason, let worker):
            json.add("step", step)
            json.add("reason", reason)
            json.add("worker_index", worker)
            (instance, value, detail) = (nil, Int64(errno), .always)

        case .scaled(_, let signal, let from, let to):
            json.add("from", from)
            json.add("signal", signal)
            (instance, value, detail) = (nil, Int64(to), .always)

        case .recycled(let info, let reason):
            json.add("reason", reason.rawValue)
            (instance, value, detail) = (caches.instanceRows[info.id], nil, .always)

        case .leftover(let left):
            // The row it acts on comes with the fact; a stopped leftover's row gets its end.
            let ts = e.time.milliseconds
            if let row = left.row, left.action == .stopped {
                try db.execute(sql: """
                    UPDATE instances SET ended_at = ?, class = 'stopped', uptime_ms = ? - started_at
                    WHERE id = ? AND ended_at IS NULL
                    """, arguments: [ts, ts, row])
                if db.changesCount == 1 { current.endedRow(row) }
            }
            json.add("start_ticks", Int64(clamping: left.identity.startTicks))
            json.add("action", left.action.rawValue)
            json.add("source", left.source.rawValue)
            if left.signal != 0 { json.add("signal", Int(left.signal)) }
            (instance, value, detail) = (left.row, Int64(left.identity.pid), .always)

        case .swept(let swept):
            json.add("start_ticks", Int64(clamping: swept.identity.startTicks))
            json.add("signal", Int(swept.signal))
            json.add("reason", swept.reason.rawValue)
            if !swept.gone { json.add("gone", false) }
            (instance, value, detail) = (row(of: swept.instance), Int64(swept.identity.pid), .always)

        case .operatorAction(let a):
            json.add("seq", Int64(clamping: a.seq))
            json.add("action", a.action)
            json.addRaw("programs", "[" + a.programs.map(QuotedString.quote).joined(separator: ",") + "]")
            json.add("result", a.result)
            json.add("message", a.message)
            json.add("gid", Int64(a.gid))
            json.add("user", a.user)
            json.add("pid", Int64(a.pid))
            json.add("comm", a.comm)
            json.add("argument", a.argument)
            (instance, value, detail) = (nil, Int64(a.uid), .always)
        }
        if let seq = e.operatorAction, let instance, let runID, let effect = Self.effect(of: e.payload) {
            try st.effect.execute(arguments: [instance, effect, runID, Int64(clamping: seq)])
            if effect == "ended" { restarts.add(.operatorEnded(instance: instance)) }
        }
        let ts = e.time.milliseconds, kind = EventKindID.id(e.kind)
        if let programID {
            switch e.payload {
            case .started: restarts.add(.start(programID: programID, ts: ts))
            case .restartScheduled: restarts.add(.restart(programID: programID, ts: ts, value: value, instance: instance))
            default: break
            }
        }
        programHours.add(kind: kind, programID: programID, ts: ts, value: value)
        if case .restartScheduled(let info?, let delay, _, _) = e.payload, let instance {
            try setRestartDelay(info.id, row: instance, ts: ts, delay: delay.milliseconds, st, db)
        }
        if case .spawnFailed = e.payload, let programID {
            loops.addSpawnFailure(programID: programID, ts: ts, worker: Self.worker(of: e.payload),
                                  floor: loops.needsEventIDFloor ? try Self.newestEventID(db) : nil)
        }
        if detail == .always || (detail == .orNull && !json.isEmpty) {
            json.close()
            let bytes = json.bytes
            try bytes.withUnsafeBufferPointer { d in
                try appendEvent(st, db, ts: ts, kind: kind, programID: programID, instanceID: instance, value: value,
                                detail: d, outcome: &outcome)
            }
        } else {
            try appendEvent(st, db, ts: ts, kind: kind, programID: programID, instanceID: instance, value: value,
                            detail: nil, outcome: &outcome)
        }
    }

    /// `instances.restart_delay_ms` of the crash a restart_scheduled follows (RestartDelay): set by the
    /// first such event by ts; one written later with an earlier ts (a clock stepped back) replaces it.
    private mutating func setRestartDelay(_ id: InstanceID, row: Int64, ts: Int64, delay: Int64, _ st: Statements,
                                          _ db: Database) throws {
        if let first = caches.restartAt[id], first <= ts { return }
        let raw = RawInsert(st.restartDelay, db)
        raw.bind(1, delay)
        raw.bind(2, row)
        raw.bind(3, ts)
        try raw.run()
        if raw.changes == 1 { caches.setRestart(id, at: ts) }
    }

    /// What the batch holds of an instance's restart_scheduled events (`restartsAhead`).
    enum RestartAhead {
        case one(ts: Int64, delay: Int64)
        case ambiguous
    }

    /// The `restart_delay_ms` to write with `end` (and the restart's ts), when the batch's one restart for
    /// the instance follows it within RestartDelay's window and the end is a crash or limit kill: the
    /// value `RestartDelay.setSQL` would set when that restart is written.
    private func restartWithEnd(_ end: InstanceEnd) -> (ts: Int64, delay: Int64)? {
        guard !restartsAhead.isEmpty, end.classification == .crash || end.classification == .limit,
              case .one(let ts, let delay)? = restartsAhead[end.instance.id] else { return nil }
        let at = end.endedAt.milliseconds
        guard ts >= at, ts <= at + RestartDelay.windowMs else { return nil }
        return (ts, delay)
    }

    /// The `operator_effects.effect` an operator-caused event stands for (nil: none recorded).
    static func effect(of payload: HistEvent.Payload) -> String? {
        switch payload {
        case .started: "started"
        case .stopRequested: "stopped"
        case .ended: "ended"
        default: nil
        }
    }

    private mutating func appendEvent(_ st: Statements, _ db: Database, ts: Int64, kind: Int64, programID: Int64?,
                                      instanceID: Int64?, value: Int64?, detail: UnsafeBufferPointer<UInt8>?,
                                      outcome: inout Outcome) throws {
        pending.append(ts: ts, kind: kind, programID: programID, instanceID: instanceID, value: value, detail: detail)
        if pending.isFull { try flushEvents(st, db, &outcome) }
    }

    private mutating func flushEvents(_ st: Statements, _ db: Database, _ outcome: inout Outcome) throws {
        let last = try pending.flush(runID: runID, big: st.eventsBig, small: st.eventsSmall, single: st.event, db: db,
                                     inserted: &current)
        if last != 0 { outcome.maxEventID = last }
    }

    private mutating func startInstance(_ info: InstanceInfo, programID: Int64?, _ st: Statements, _ db: Database) throws -> Int64 {
        if !endsAhead.isEmpty, let end = endsAhead.removeValue(forKey: info.id) {
            let row = try insertComplete(info, end, programID: programID, st, db)
            insertedComplete.insert(info.id)
            caches.setInstance(info.id, row: row)
            return row
        }
        let raw = RawInsert(st.instanceStart, db)
        bindStart(raw, info, programID: programID)
        try raw.run()
        let row = raw.lastRowID
        current.insertedInstance(row: row, programID: programID, startedAt: info.startedAt.milliseconds, ended: false)
        caches.setInstance(info.id, row: row)
        return row
    }

    private mutating func endInstance(_ end: InstanceEnd, programID: Int64?, _ st: Statements, _ db: Database) throws -> Int64 {
        let info = end.instance
        let row: Int64
        endsAhead.removeValue(forKey: info.id) // an end seen before its start is never used by that start
        if !insertedComplete.isEmpty, insertedComplete.remove(info.id) != nil, let known = caches.instanceRows[info.id] {
            row = known // inserted complete at its start, in this transaction (and counted there)
        } else if let known = caches.instanceRows[info.id] {
            let raw = RawInsert(st.instanceEnd, db)
            bindEnd(raw, end, from: 1)
            raw.bind(8, known)
            let restart = restartWithEnd(end)
            raw.bind(9, restart?.delay)
            try raw.run()
            // An instance that already has an end keeps its first one (and is counted once).
            if raw.changes == 1 {
                current.endedRow(known)
                if let restart { caches.setRestart(info.id, at: restart.ts) }
                try countCrash(info, end, programID: programID, row: known, db)
            }
            row = known
        } else {
            // The start was lost (recording gap) or belongs to no run we know: write the whole row.
            row = try insertComplete(info, end, programID: programID, st, db)
            caches.setInstance(info.id, row: row)
            // insertComplete counted it.
        }
        caches.setEnded(info.id, at: end.endedAt.milliseconds)
        return row
    }

    /// Binds parameters 1...6 shared by both instance inserts: run, program, worker slot, pid,
    /// start ticks, start time.
    private func bindStart(_ raw: RawInsert, _ info: InstanceInfo, programID: Int64?) {
        // Never a made-up 0: a missing run or program is NULL, which instances' NOT NULL refuses, so the
        // item is rejected and counted in the next recording_gap instead of pointing at no row.
        raw.bind(1, runID)
        raw.bind(2, programID)
        raw.bind(3, info.workerIndex)
        raw.bind(4, Int64(info.identity.pid))
        raw.bind(5, Int64(clamping: info.identity.startTicks))
        raw.bind(6, info.startedAt.milliseconds)
    }

    /// Binds the seven end columns, in the order both statements list them (ended_at, exit_code, signal,
    /// core_dumped, class, uptime_ms, stderr_tail), as parameters `first`...`first + 6`.
    private func bindEnd(_ raw: RawInsert, _ end: InstanceEnd, from first: Int32) {
        raw.bind(first, end.endedAt.milliseconds)
        raw.bind(first + 1, end.status.exitCode)
        raw.bind(first + 2, end.status.signal)
        raw.bind(first + 3, Int64(end.status.coreDumped ? 1 : 0))
        raw.bind(first + 4, end.classification.rawValue)
        raw.bind(first + 5, end.uptime.milliseconds)
        raw.bind(first + 6, end.stderrTail.isEmpty ? nil : end.stderrTail)
    }

    /// Inserts an instances row with its start and its end.
    private mutating func insertComplete(_ info: InstanceInfo, _ end: InstanceEnd, programID: Int64?, _ st: Statements,
                                _ db: Database) throws -> Int64 {
        let raw = RawInsert(st.instanceComplete, db)
        bindStart(raw, info, programID: programID)
        bindEnd(raw, end, from: 7)
        let restart = restartWithEnd(end)
        raw.bind(14, restart?.delay)
        try raw.run()
        let row = raw.lastRowID
        current.insertedInstance(row: row, programID: programID, startedAt: info.startedAt.milliseconds, ended: true)
        if let restart { caches.setRestart(info.id, at: restart.ts) }
        try countCrash(info, end, programID: programID, row: row, db)
        return row
    }

    /// The `instances.id` of an instance the event names, when the writer has mapped it.
    private func row(of info: InstanceInfo?) -> Int64? {
        guard let info else { return nil }
        return caches.instanceRows[info.id]
    }

    /// Adds an instance end just written to its instances row (`row`) to this transaction's `crash_hours`
    /// and `loop_hours` batches. The program is the row's own: an end event without a program name (none
    /// comes from the engine, but the writer takes what it is given) is counted under the program its
    /// row was started with, never under a made-up id 0, so the rollups stay equal to the instances.
    private mutating func countCrash(_ info: InstanceInfo, _ end: InstanceEnd, programID: Int64?, row: Int64,
                                     _ db: Database) throws {
        guard operatorEnded.isEmpty || !operatorEnded.contains(info.id) else { return }
        let cls = end.classification
        guard cls == .crash || cls == .limit else { return }
        var program = programID
        if program == nil {
            program = try Int64.fetchOne(db.cachedStatement(sql: "SELECT program_id FROM instances WHERE id = ?"), arguments: [row])
        }
        guard let program else { return }
        rollup.add(programID: program, worker: info.workerIndex, class: cls.rawValue,
                   exitCode: end.status.exitCode, signal: end.status.signal, endedAt: end.endedAt.milliseconds)
        loops.addInstance(programID: program, row: row, endedAt: end.endedAt.milliseconds, worker: info.workerIndex,
                          uptime: end.uptime.milliseconds)
    }

    /// A spawn failure's worker slot.
    static func worker(of payload: HistEvent.Payload) -> Int? {
        if case .spawnFailed(_, _, _, let worker) = payload { return worker }
        return nil
    }

    /// The newest events.id so far (every row inserted later has a larger one).
    static func newestEventID(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(id) FROM events")) ?? 0
    }

    private mutating func programID(_ name: String, _ st: Statements, _ db: Database) throws -> Int64 {
        if let id = caches.programIDs[name] { return id }
        let id: Int64
        if let found = try Int64.fetchOne(st.programLookup, arguments: [name]) {
            id = found
        } else {
            let raw = RawInsert(st.programInsert, db)
            raw.bind(1, name)
            try raw.run()
            id = raw.lastRowID
        }
        caches.setProgram(name, id)
        return id
    }

    // MARK: - Snapshots

    private func write(_ sweep: SnapshotSweep, _ st: Statements, _ db: Database, _ outcome: inout Outcome) throws {
        let sweepRow = RawInsert(st.sweep, db)
        sweepRow.bind(1, sweep.time.milliseconds)
        try sweepRow.run()
        let sweepID = sweepRow.lastRowID
        for s in sweep.samples {
            guard let row = caches.instanceRows[s.instance] else {
                outcome.unmappedSamples += 1
                continue
            }
            let raw = RawInsert(st.snapshot, db)
            raw.bind(1, sweepID)
            raw.bind(2, row)
            raw.bind(3, String(s.state))
            raw.bind(4, Int64(clamping: s.utimeTicks))
            raw.bind(5, Int64(clamping: s.stimeTicks))
            raw.bind(6, Int64(clamping: s.rssBytes / 1024))
            raw.bind(7, Int64(clamping: s.vszBytes / 1024))
            raw.bind(8, Int64(s.threads))
            raw.bind(9, Int64(s.fds))
            raw.bind(10, Int64(s.processes))
            try raw.run()
        }
    }

    // MARK: - Scans

    /// A scans row, then interval upserts. A sighting extends the interval of the same identity
    /// (pid, start_ticks) whose last_seen is the previous scan's ts (looked up in `scans`, so it works
    /// for a long-running histd and for `histd scan --once` from cron alike); otherwise it opens a new one.
    private mutating func write(_ scan: ScanReport, _ db: Database) throws {
        let ts = scan.time.milliseconds
        let prev = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(ts) FROM scans WHERE ts < ?"), arguments: [ts])
        let sum = scan.summary
        try db.cachedStatement(sql: """
            INSERT INTO scans (ts, run_id, total, running, sleeping, disk_sleep, zombie, stopped, other, total_rss_kb)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [ts, runID, sum.total, sum.running, sum.sleeping, sum.diskSleep, sum.zombie,
                                     sum.stopped, sum.other, Int64(clamping: sum.totalRSSBytes / 1024)])
        let extendZombie = try db.cachedStatement(sql: """
            UPDATE zombie_parents SET last_seen = ?, last_zombies = ?, max_zombies = max(max_zombies, ?), scans = scans + 1,
                parent_name = ?, parent_cmdline = ?
            WHERE parent_pid = ? AND parent_start_ticks = ? AND last_seen = ?
            """)
        let newZombie = try db.cachedStatement(sql: """
            INSERT INTO zombie_parents (parent_pid, parent_start_ticks, parent_name, parent_cmdline, max_zombies,
                last_zombies, first_seen, last_seen, scans) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
            """)
        for z in scan.zombieParents {
            let ticks = Int64(clamping: z.parent.startTicks)
            var extended = false
            if let prev {
                try extendZombie.execute(arguments: [ts, z.zombies, z.zombies, z.parentName, z.parentCmdline,
                                                     z.parent.pid, ticks, prev])
                extended = db.changesCount > 0
            }
            if !extended {
                try newZombie.execute(arguments: [z.parent.pid, ticks, z.parentName, z.parentCmdline, z.zombies,
                                                  z.zombies, ts, ts])
            }
        }
        // A first sighting in the middle of an execve has the new name and no arguments yet (the kernel
        // changes comm before it maps the new argument area): the next sighting fills them in.
        let extendOrphan = try db.cachedStatement(sql: """
            UPDATE orphans SET last_seen = ?1, scans = scans + 1, program_id = coalesce(program_id, ?2),
                name = CASE WHEN cmdline = '' THEN ?6 ELSE name END, cmdline = CASE WHEN cmdline = '' THEN ?7 ELSE cmdline END
            WHERE pid = ?3 AND start_ticks = ?4 AND last_seen = ?5
            """)
        let newOrphan = try db.cachedStatement(sql: """
            INSERT INTO orphans (pid, start_ticks, name, cmdline, user, started_at, program_id, reason, first_seen,
                last_seen, scans) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
            """)
        let st = try Statements(db)
        for o in scan.orphans {
            let ticks = Int64(clamping: o.identity.startTicks)
            let programID = try o.program.map { try self.programID($0, st, db) }
            var extended = false
            if let prev {
                try extendOrphan.execute(arguments: [ts, programID, o.identity.pid, ticks, prev, o.name, o.cmdline])
                extended = db.changesCount > 0
            }
            if !extended {
                try newOrphan.execute(arguments: [o.identity.pid, ticks, o.name, o.cmdline, o.user,
                                                  o.startedAt.milliseconds, programID, o.reason.rawValue, ts, ts])
            }
        }
    }

    /// The transaction rolled back (see `RestartRollup.rolledBack`).
    mutating func rolledBack() { restarts.rolledBack() }

    /// Forgets instances that ended before `cutoffMs` (late snapshots of them are skipped).
    mutating func forgetEnded(before cutoffMs: Int64) {
        caches.forgetEnded(before: cutoffMs)
    }
}
