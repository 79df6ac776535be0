import Foundation
import GRDB
import HistModel

/// One reload attempt, as `HistoryStore.recordReload` stores it in `reloads` (migrations/0005_reloads.sql).
public struct ReloadRecord: Sendable, Hashable {
    /// `reloads.trigger`.
    public enum Trigger: String, Sendable, CaseIterable { case sighup, socket }
    /// `reloads.result`.
    public enum Result: String, Sendable, CaseIterable {
        /// The plan was handed to the engine.
        case applied
        /// The new file changes nothing that runs (its hash may still differ: comments, order).
        case unchanged
        /// The file did not load or validate: nothing changed.
        case invalid
        /// A key that cannot change live changed: nothing changed.
        case refused
        /// `--dry-run`: the plan was computed and shown, nothing changed.
        case dryRun = "dry_run"
    }

    public var time: Timestamp
    public var trigger: Trigger
    public var senderPID: Int32?
    public var senderUID: UInt32?
    public var configPath: String
    public var oldHash: String?
    public var newHash: String?
    public var dryRun: Bool
    public var result: Result
    /// The plan as JSON; nil when the file was invalid.
    public var planJSON: String?
    /// `FILE:LINE: KEY: message` lines.
    public var errors: [String]

    public init(time: Timestamp = .now(), trigger: Trigger, senderPID: Int32?, senderUID: UInt32?, configPath: String,
                oldHash: String?, newHash: String?, dryRun: Bool, result: Result, planJSON: String?, errors: [String]) {
        self.time = time
        self.trigger = trigger
        self.senderPID = senderPID
        self.senderUID = senderUID
        self.configPath = configPath
        self.oldHash = oldHash
        self.newHash = newHash
        self.dryRun = dryRun
        self.result = result
        self.planJSON = planJSON
        self.errors = errors
    }
}

extension HistoryStore {
    /// Records a reload attempt. When `generation` is given (an applied reload), also records the new
    /// config generation of the current run: every program's and pool's config as JSON, adding the
    /// programs and pools that are new. One transaction, on the write connection (serialized with the
    /// writer thread); call it off the engine thread. Returns `reloads.id` and the generation number (if any).
    @discardableResult
    public func recordReload(_ record: ReloadRecord, generation config: HistConfig? = nil) throws -> (reloadID: Int64, generation: Int?) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var specs: [(name: String, kind: String, json: String)] = []
        if let config {
            for p in config.programs { specs.append((p.name, "program", String(decoding: try encoder.encode(p), as: UTF8.self))) }
            for p in config.pools { specs.append((p.name, "pool", String(decoding: try encoder.encode(p), as: UTF8.self))) }
        }
        let runID = self.runID
        return try write("recordReload") { db in
            try db.execute(sql: """
                INSERT INTO reloads (ts, run_id, trigger, sender_pid, sender_uid, config_path, old_hash, new_hash, dry_run,
                                     result, plan_json, errors)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [record.time.milliseconds, runID, record.trigger.rawValue, record.senderPID.map { Int64($0) },
                                 record.senderUID.map { Int64($0) }, record.configPath, record.oldHash, record.newHash,
                                 record.dryRun, record.result.rawValue, record.planJSON,
                                 record.errors.isEmpty ? nil : record.errors.joined(separator: "\n")])
            let reloadID = db.lastInsertedRowID
            // On the timeline too (histctl events, postmortem): value = reloads.id.
            var detail = JSONText()
            detail.add("result", record.result.rawValue)
            detail.add("trigger", record.trigger.rawValue)
            if let pid = record.senderPID { detail.add("sender_pid", Int64(pid)) }
            if let uid = record.senderUID { detail.add("sender_uid", Int64(uid)) }
            try db.execute(sql: "INSERT INTO events (ts, kind, run_id, value, detail) VALUES (?, ?, ?, ?, ?)",
                           arguments: [record.time.milliseconds, EventKindID.id(.configReload), runID, reloadID, detail.text])
            guard config != nil, let runID else { return (reloadID, nil) }
            let next = (try Int.fetchOne(db, sql: "SELECT max(generation) FROM config_generations WHERE run_id = ?",
                                         arguments: [runID]) ?? -1) + 1
            try db.execute(sql: """
                INSERT INTO config_generations (run_id, generation, ts, config_hash, reload_id) VALUES (?, ?, ?, ?, ?)
                """, arguments: [runID, next, record.time.milliseconds, record.newHash, reloadID])
            let generationID = db.lastInsertedRowID
            for spec in specs {
                let programID = try Int64.fetchOne(db, sql: """
                    INSERT INTO programs (name, kind) VALUES (?, ?)
                    ON CONFLICT (name) DO UPDATE SET kind = excluded.kind RETURNING id
                    """, arguments: [spec.name, spec.kind])!
                try db.execute(sql: "INSERT INTO program_config_generations (generation_id, program_id, config_json) VALUES (?, ?, ?)",
                               arguments: [generationID, programID, spec.json])
            }
            return (reloadID, next)
        }
    }
}
