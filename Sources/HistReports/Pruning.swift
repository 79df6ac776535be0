import Foundation
import HistModel
import HistStore

/// `histctl prune`: retention on demand, through the store's `HistoryMaintenance.prune`. The one report
/// path that writes; it still never creates a database or turns a non-history file into one.
public enum Pruning {
    /// One row per table: how many rows were deleted, and the cutoff that applied to it.
    public static let columns = [ReportColumn("table"), ReportColumn("deleted"), ReportColumn("older_than", .time)]

    /// Deletes rows older than `retention` (events, instances, scans, zombie_parents, orphans) and
    /// `snapshotRetention` (sweeps, snapshots), `batchSize` rows per transaction so a running histd's
    /// writer is never held up for long. Refuses, like every report, a missing, empty, non-SQLite or
    /// foreign file before the store opens it for writing.
    public static func prune(path: String, now: Timestamp = .now(), retention: Duration, snapshotRetention: Duration,
                             batchSize: Int = 1000, shipMaxBacklog: Int64? = ShipSpec.defaultMaxBacklog, shipSnapshots: Bool = false,
                             gaps: ((rows: Int, gaps: Int)) -> Void = { _ in }) throws(ReportError) -> ReportResult {
        // Checked (and closed again) first: the store's writer would initialize an empty file as a new history.
        _ = try ReportDatabase(path: path)
        let result: PruneResult
        do {
            result = try HistoryMaintenance.prune(path: path, now: now, retention: retention,
                                                  snapshotRetention: snapshotRetention, batchSize: batchSize, shipMaxBacklog: shipMaxBacklog,
                                                  shipSnapshots: shipSnapshots)
            if result.shipGaps > 0 { gaps((rows: result.shipGapRows, gaps: result.shipGaps)) }
        } catch let e as HistoryStoreError {
            throw ReportError(.writeFailed, "cannot prune \(path): \(e.message)")
        } catch {
            throw ReportError(.writeFailed, "cannot prune \(path): \(error)")
        }
        let cutoff = ReportValue.time(Timestamp(milliseconds: now.milliseconds - retention.milliseconds))
        let snapshotCutoff = ReportValue.time(Timestamp(milliseconds: now.milliseconds - snapshotRetention.milliseconds))
        let rows: [(String, Int, ReportValue)] = [
            ("events", result.events, cutoff), ("instances", result.instances, cutoff), ("scans", result.scans, cutoff),
            ("zombie_parents", result.zombieParents, cutoff), ("orphans", result.orphans, cutoff),
            ("sweeps", result.sweeps, snapshotCutoff), ("snapshots", result.snapshots, snapshotCutoff),
        ]
        return ReportResult(columns: columns, rows: rows.map { [.text($0.0), .integer(Int64($0.1)), $0.2] })
    }
}
