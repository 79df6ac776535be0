import Foundation
import HistConfig
import HistCore
import HistModel
import HistStore
import Logging
import Synchronization
import HistSys

/// Re-reads the config file histd was started with and applies what changed (SIGHUP, and later the
/// control socket). Loads and validates the whole file first: on any error nothing changes and the
/// errors come back as `FILE:LINE: KEY: message`. Then plans (`ReloadPlan.make`), records the attempt
/// (`reloads`, and the new config generation), and hands the plan to the engine, which applies it on
/// its own thread. Reloads are serialized; none runs on the engine thread.
final class ConfigReloader: Sendable {
    /// Who asked.
    struct Requester: Sendable, Hashable {
        var trigger: ReloadRecord.Trigger
        var pid: Int32?
        var uid: UInt32?

        var text: String {
            let who = [pid.map { "pid \($0)" }, uid.map { "uid \($0)" }].compactMap { $0 }.joined(separator: ", ")
            return trigger == .sighup ? "SIGHUP" + (who.isEmpty ? "" : " from \(who)") : "socket" + (who.isEmpty ? "" : " (\(who))")
        }
    }

    /// What a reload did.
    struct ReloadResult: Sendable {
        var result: ReloadRecord.Result
        /// nil when the file was invalid.
        var plan: ReloadPlan?
        /// `FILE:LINE: KEY: message`, for invalid and refused reloads.
        var errors: [String]
        /// The new generation number (applied reloads).
        var generation: Int?

        /// The plan's lines (or the errors), as `histctl reload` and the log show them.
        var text: String {
            if !errors.isEmpty { return errors.joined(separator: "\n") }
            return (plan?.lines ?? []).joined(separator: "\n")
        }
    }

    private struct State {
        var current: HistConfig
        var supervisor: Supervisor?
        var watcher: Watcher?
    }

    /// The file histd was started with (as given on the command line).
    let path: String
    private let state: Mutex<State>
    private let store: HistoryStore?
    /// The writer whose backpressure follows `[ship]` (nil: none, as in tests that only plan).
    private let writer: HistoryWriter?
    private let logger: Logger
    /// Held for the whole of one reload, so two never interleave.
    private let serial = Mutex(())

    init(path: String, current: HistConfig, store: HistoryStore?, writer: HistoryWriter? = nil, logger: Logger) {
        self.path = path
        self.state = Mutex(State(current: current))
        self.store = store
        self.writer = writer
        self.logger = logger
    }

    /// Connects the running engine and watcher (after they are built; reloads before this only plan).
    func attach(supervisor: Supervisor, watcher: Watcher) {
        state.withLock { $0.supervisor = supervisor; $0.watcher = watcher }
    }

    /// The config in force (the last one applied).
    var current: HistConfig { state.withLock { $0.current } }

    /// SIGHUP handler (called on the engine thread): the reload runs on a thread of its own.
    func hangup(_ sender: SignalSender) {
        let requester = Requester(trigger: .sighup, pid: sender.pid, uid: sender.uid)
        let thread = Thread.named("histd-reload") { [self] in _ = reload(dryRun: false, requester: requester) }
        thread.start()
    }

    /// Reloads `path`. With `dryRun`, returns the plan and changes nothing (the attempt is still recorded).
    /// Blocks the calling thread for the file read and one database transaction; never call it on the engine thread.
    func reload(dryRun: Bool, requester: Requester) -> ReloadResult {
        serial.withLock { _ in reloadSerialized(dryRun: dryRun, requester: requester) }
    }

    private func reloadSerialized(dryRun: Bool, requester: Requester) -> ReloadResult {
        let old = current
        logger.notice("reload of \(path) requested (\(requester.text))\(dryRun ? ", dry run" : "")")
        let bytes = FileManager.default.contents(atPath: old.path).map { [UInt8]($0) }
        let new: HistConfig
        do {
            new = try ConfigLoader.load(path: old.path).addingShipper(dbPath: store?.path)
        } catch {
            let errors = error.problems.map(\.description)
            for line in errors { logger.error("reload: \(line)") }
            logger.error("reload: \(errors.count) problem(s) in \(path); nothing changed")
            record(requester, old: old, newHash: bytes.map { SHA256.hex($0) }, dryRun: dryRun, result: .invalid, plan: nil, errors: errors)
            return ReloadResult(result: .invalid, plan: nil, errors: errors, generation: nil)
        }
        let plan = ReloadPlan.make(old: old, new: new)
        if !plan.refused.isEmpty {
            let text = String(decoding: bytes ?? [], as: UTF8.self)
            let errors = plan.refused.map {
                ConfigLocator.problem(file: path, text: text, path: $0.path, message: $0.message).description
            }
            for line in errors { logger.error("reload refused: \(line)") }
            logger.error("reload refused; nothing changed")
            record(requester, old: old, newHash: new.contentHash, dryRun: dryRun, result: .refused, plan: plan, errors: errors)
            return ReloadResult(result: .refused, plan: plan, errors: errors, generation: nil)
        }
        if dryRun {
            record(requester, old: old, newHash: new.contentHash, dryRun: true, result: .dryRun, plan: plan, errors: [])
            return ReloadResult(result: .dryRun, plan: plan, errors: [], generation: nil)
        }
        if plan.changesNothing {
            logger.notice("reload: \(path) changes nothing that runs")
            // The file's hash may have changed (comments): it is the config in force from now on.
            state.withLock { $0.current = new }
            record(requester, old: old, newHash: new.contentHash, dryRun: false, result: .unchanged, plan: plan, errors: [])
            return ReloadResult(result: .unchanged, plan: plan, errors: [], generation: nil)
        }
        // Record first (programs new to the database get their kind), then apply.
        let generation = record(requester, old: old, newHash: new.contentHash, dryRun: false, result: .applied, plan: plan,
                                errors: [], generation: new)
        let (supervisor, watcher) = state.withLock { s -> (Supervisor?, Watcher?) in
            s.current = new
            return (s.supervisor, s.watcher)
        }
        writer?.setShipHold(maxBacklog: new.ship?.maxBacklog, snapshots: new.ship?.snapshots != nil)
        supervisor?.reload(ReloadRequest(plan: plan, config: new, origin: requester.text))
        var specs: [String: ProgramSpec] = [:]
        for p in new.programs { specs[p.name] = p }
        for p in new.pools { specs[p.name] = p.worker }
        watcher?.update(specs: specs)
        return ReloadResult(result: .applied, plan: plan, errors: [], generation: generation)
    }

    @discardableResult
    private func record(_ requester: Requester, old: HistConfig, newHash: String?, dryRun: Bool, result: ReloadRecord.Result,
                        plan: ReloadPlan?, errors: [String], generation: HistConfig? = nil) -> Int? {
        guard let store else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = plan.flatMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) }
        let record = ReloadRecord(trigger: requester.trigger, senderPID: requester.pid, senderUID: requester.uid,
                                  configPath: old.path, oldHash: old.contentHash, newHash: newHash, dryRun: dryRun,
                                  result: result, planJSON: json, errors: errors)
        do {
            return try store.recordReload(record, generation: generation).generation
        } catch {
            // Supervision never waits on recording: the reload still applies.
            logger.error("reload: could not record it: \(error)")
            return nil
        }
    }
}
