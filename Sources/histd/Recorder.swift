import Foundation
import HistConfig
import HistModel
import HistProc
import HistStore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// histd's side of the history store: opens it, records the supervisor run, hands the engine a
/// writer, deals with what an earlier, unclean histd left running, and closes the run at the end.
final class Recorder {
    let store: HistoryStore
    let writer: HistoryWriter
    let start: RunStart?
    let logger: Logger

    /// The engine's sink.
    var sink: any HistorySink { writer }

    private init(store: HistoryStore, writer: HistoryWriter, start: RunStart?, logger: Logger) {
        self.store = store
        self.writer = writer
        self.start = start
        self.logger = logger
    }

    /// Opens (creating if needed) the database and begins a run. A database that is not histd's,
    /// or is newer than this histd, is refused (thrown). If only recording the run fails (disk full,
    /// locked), supervision still starts: the writer keeps retrying and records the gap later.
    /// `onCommit` times each transaction (the metrics' commit histogram).
    static func open(path: String, config: HistConfig, logger: Logger,
                     onCommit: (@Sendable (Duration) -> Void)? = nil) throws -> Recorder {
        let store = try HistoryStore.open(path: path)
        var start: RunStart?
        do {
            start = try store.beginRun(host: hostName(), pid: getpid(), version: HistdVersion.string,
                                       configPath: config.path, configHash: config.contentHash, bootID: bootID(),
                                       programs: config.programs, pools: config.pools)
        } catch {
            logger.error("cannot record this supervisor run in \(path): \(error); supervising anyway, events are queued and retried")
        }
        var options = HistoryWriter.Options(retention: config.supervisor.retention,
                                            snapshotRetention: config.supervisor.snapshotRetention)
        options.onCommit = onCommit
        let writer = store.startWriter(options: options)
        if let start {
            logger.notice("recording to \(path) (run \(start.runID))")
            for run in start.closedRuns {
                logger.warning("an earlier histd (pid \(run.pid), run \(run.runID)) ended without a clean shutdown; its run is closed as unclean")
            }
        }
        return Recorder(store: store, writer: writer, start: start, logger: logger)
    }

    /// Processes of an earlier, unclean run that are still alive (same pid AND start time, same
    /// boot): stop them (their whole process group: TERM, then KILL after 5 s) or leave them, and
    /// record a `leftover` event for each, so that nothing runs unsupervised twice.
    func handleLeftovers(stop: Bool) {
        guard let start, !start.openInstances.isEmpty else { return }
        let procfs = ProcFS()
        let alive = start.openInstances.filter { LeftoverStopper.isRunning($0.identity, procfs: procfs) }
        guard !alive.isEmpty else { return }
        let list = alive.map { "\($0.program)[\($0.identity.pid)]" }.joined(separator: ", ")
        if !stop {
            logger.warning("left running by the earlier histd (stop_leftovers = false, left alone): \(list)")
            for o in alive { writer.record(HistEvent(program: o.program, payload: .leftover(identity: o.identity, action: "left"))) }
            return
        }
        logger.warning("stopping what the earlier histd left running: \(list)")
        let stopped = LeftoverStopper.stop(alive.map(\.identity), procfs: procfs, grace: .seconds(5))
        for o in alive {
            let action = stopped.contains(o.identity) ? "stopped" : "still_running"
            writer.record(HistEvent(program: o.program, payload: .leftover(identity: o.identity, action: action)))
        }
    }

    /// Flushes the writer and closes the run.
    func finish(reason: RunStopReason) {
        do {
            try store.endRun(reason: reason)
        } catch {
            logger.error("could not close the run in the history database: \(error)")
        }
        let stats = writer.stats
        if stats.dropped > 0 {
            logger.warning("recording: \(stats.written) written, \(stats.dropped) dropped (recorded as recording_gap where possible)")
        }
        store.close()
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "unknown" }
        return String(cString: buf)
    }

    static func bootID() -> String? {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
