import GRDB

/// How retention keeps the rollups of migrations/0011_loop_rollups.sql and their days
/// (0015_day_rollups.sql) exact, in the transaction that deletes the rows they summarise.
extension Pruner {
    /// After a step of the events phase: the hours of deleted start/restart_scheduled/gave_up events are
    /// recomputed in `program_hours` from what is left of them, and deleted spawn_failed events (crashes
    /// for `loop_hours`) recompute the loop membership within one window of them.
    func pruneEventRollups(_ db: Database, deleted: [(kind: Int64, ts: Int64)]) throws {
        var hours = Set<Int64>()
        var failed: (lo: Int64, hi: Int64)?
        for d in deleted {
            switch d.kind {
            case 1, 4, 5: hours.insert(d.ts - d.ts % ProgramHours.hourMs)
            case 9: failed = (min(failed?.lo ?? d.ts, d.ts), max(failed?.hi ?? d.ts, d.ts))
            default: break
            }
        }
        for h in hours.sorted() { try ProgramHours.rebuild(db, from: h, until: h + ProgramHours.hourMs) }
        // Their days (program_days, 0015) from the hour rows left, once per day.
        for d in Set(hours.map(DayRollups.day)).sorted() { try DayRollups.rebuildProgramDays(db, from: d, through: d) }
        if let failed {
            LoopRollup.pruneGeneration.add(1, ordering: .releasing)
            let (from, until) = LoopRollup.affectedHours(failed.lo, failed.hi)
            try LoopRollup.rebuild(db, from: from, until: until)
            let days = DayRollups.days(ofHours: from, until)
            try DayRollups.rebuildLoopDays(db, from: days.from, through: days.through)
        }
    }

    /// After instances that ended up to `newest` were deleted (every crash before `newest` is gone, and
    /// the events phase removed the older spawn failures): the hours before newest's go, and the hours
    /// of crashes within one window after it, whose runs may have lost members, are recomputed.
    func pruneLoopRollup(_ db: Database, through newest: Int64) throws {
        LoopRollup.pruneGeneration.add(1, ordering: .releasing)
        let hour = newest - newest % LoopRollup.hourMs
        try db.cachedStatement(sql: "DELETE FROM loop_hours WHERE hour < ?").execute(arguments: [hour])
        let (_, until) = LoopRollup.affectedHours(newest, newest)
        try LoopRollup.rebuild(db, from: hour, until: until)
        // loop_days (0015): the days wholly before hour's lost all their hours; hour's day and the days up
        // to until lost some or were recomputed: derived again from the hour rows left.
        let days = DayRollups.days(ofHours: hour, until)
        try db.cachedStatement(sql: "DELETE FROM loop_days WHERE day < ?").execute(arguments: [days.from])
        try DayRollups.rebuildLoopDays(db, from: days.from, through: days.through)
    }
}

/// How retention keeps `instances.restart_delay_ms` (migrations/0013_restart_delay.sql) exact: the
/// instances whose restart_scheduled events a step deleted get their value recomputed from the events
/// left (normally none: an event older than the cutoff follows an end older than it, and the instance
/// goes in a later phase; between the two the value must already say what the rows say).
extension Pruner {
    func pruneRestartDelays(_ db: Database, deleted: [(kind: Int64, instance: Int64?)]) throws {
        let ids = Set(deleted.compactMap { $0.kind == 4 ? $0.instance : nil })
        try RestartDelay.rebuild(db, instances: ids.sorted())
    }
}
