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
final class Recorder: Sendable {
    let store: HistoryStore
    let writer: HistoryWriter
    /// Instances an earlier histd of this database left with no recorded end (it died), read before the
    /// writer records this run; nil when the file cannot be read now (they cannot be checked).
    let leftovers: [OpenInstance]?
    let logger: Logger
    /// Each program's last restart fact from the runs before this one (read before the writer starts).
    let lastRestartFacts: [String: RestoredState.LastFact]

    /// The engine's sink.
    var sink: any HistorySink { writer }

    private init(store: HistoryStore, writer: HistoryWriter, leftovers: [OpenInstance]?, logger: Logger,
                 lastRestartFacts: [String: RestoredState.LastFact]) {
        self.lastRestartFacts = lastRestartFacts
        self.store = store
        self.writer = writer
        self.leftovers = leftovers
        self.logger = logger
    }

    /// Opens (creating if needed) the database and begins a run. A database that is not histd's,
    /// or is newer than this histd, is refused (thrown). One that cannot be opened now (full disk,
    /// read-only mount, permission) is not: supervision starts, and the writer keeps trying to open it
    /// and then records the run, what waited in memory, and the outage. Recording the run is the writer's first
    /// item, and supervision does not wait for it: the engine's events queue behind it, so what is
    /// recorded later still belongs to this run. If it fails (disk full, locked), the writer retries it
    /// before anything else. What the start needs from earlier runs (their leftovers, restore_state's
    /// facts) is read here, before the writer starts.
    /// `onCommit` times each transaction (the metrics' commit histogram).
    static func open(path: String, config: HistConfig, logger: Logger,
                     onCommit: (@Sendable (Duration) -> Void)? = nil) throws -> Recorder {
        // [ship] decides whether the writer captures changes for histd-ship (ShipCapture).
        let (store, deferred) = try HistoryStore.openOrDefer(path: path, ship: config.ship == nil ? .off : .on)
        // Read before the writer starts, so this run's own rows never count as "the last fact", and so
        // the first spawn waits only for these reads, never for the run's recording (the writer closes the
        // same runs as unclean when it records this one, and finds the same instances).
        let bootID = bootID()
        let programNames = config.programs.map(\.name)
        var leftovers: [OpenInstance]?
        var facts: [String: RestoredState.LastFact] = [:]
        var unreadable: String?
        if deferred == nil {
            facts = config.supervisor.restoreState ? store.lastRestartFacts(programs: programNames) : [:]
            do { leftovers = try store.leftovers(bootID: bootID) } catch { unreadable = "\(error)" }
        } else {
            do {
                (leftovers, facts) = try HistoryStore.readEarlierRuns(path: path, programs: programNames, bootID: bootID,
                                                                       restoreState: config.supervisor.restoreState)
            } catch { unreadable = "\(error)" }
        }
        let request = RunRequest(host: hostName(), pid: getpid(), version: HistdVersion.string,
                                 configPath: config.path, configHash: config.contentHash, bootID: bootID,
                                 programs: config.programs, pools: config.pools,
                                 startTicks: ProcFS().stat(getpid())?.startTicks)
        var options = HistoryWriter.Options(retention: config.supervisor.retention,
                                            snapshotRetention: config.supervisor.snapshotRetention)
        options.onCommit = onCommit
        options.onRunBegun = { start in
            logger.notice("recording to \(path) (run \(start.runID))")
            for run in start.closedRuns {
                logger.warning("an earlier histd (pid \(run.pid), run \(run.runID)) ended without a clean shutdown; its run is closed as unclean")
            }
        }
        // Backpressure: retention keeps what histd-ship has not shipped, up to ship_max_backlog (ShipHold).
        options.shipMaxBacklog = config.ship?.maxBacklog
        options.shipSnapshots = config.ship?.snapshots != nil
        // One line per change of the database's state (cannot open, full, locked, deleted, dropping,
        // recovered), from the writer thread; never one per retry.
        let supervisorSpec = config.supervisor
        options.onStorageState = { notice in
            if notice.isProblem { logger.error("\(notice.line)") } else { logger.notice("\(notice.line)") }
            // A file created late (it could not be opened at start) or recreated (deleted under us)
            // gets the reader group and modes the start gives an existing one.
            if notice.state == .recovered { SafeFiles.shareDatabase(dbPath: path, supervisor: supervisorSpec) }
        }
        let writer = store.startWriter(beginning: request, options: options)
        if let deferred {
            logger.error("cannot record this supervisor run in \(path) yet: \(deferred.message); supervising anyway, the run and its events are queued and retried")
        }
        if let unreadable {
            logger.error("cannot read the earlier runs in \(path): \(unreadable); the processes an earlier histd recorded are not checked (those that carry its marker or are in its cgroups still are)")
            if config.supervisor.restoreState {
                // The last run's facts are in the file we cannot read: say so rather than restore nothing silently.
                logger.error("restore_state does not apply to this start: the history database cannot be read, so every program starts fresh (programs that had given up start again, backoffs are not resumed)")
            }
        }
        return Recorder(store: store, writer: writer, leftovers: leftovers, logger: logger, lastRestartFacts: facts)
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
