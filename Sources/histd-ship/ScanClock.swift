import Foundation
import GRDB
import HistFleet

/// The host's newest scan time, shipped for fleet `orphans` (queries/postgres/orphans.sql): the local report
/// calls an orphan alive when the newest row of `scans` saw it, and `scans` itself is not shipped (one row
/// per scan, no report but that one needs it). The main loop reads it before it ships a round of batches
/// and writes it to ship_cursor.last_scan_at once that round is caught up, so every orphan row central then
/// has is at least as new as that scan: the fleet answer equals the local one as of it, and is one round
/// behind at most.
extension Shipper {
    /// MAX(scans.ts) locally (scans_ts index), nil when the host has never scanned.
    func newestScan() throws -> Int64? {
        try local.read { db in
            guard try db.tableExists("scans") else { return nil }
            return try Int64.fetchOne(db, sql: "SELECT MAX(ts) FROM scans")
        }
    }

    func shipScanTime(_ db: FleetDatabase, _ ts: Int64) async throws(FleetError) {
        try await db.rows("UPDATE ship_cursor SET last_scan_at = $3 WHERE host_id = $1 AND db_epoch = $2",
                          [.text(hostID), .text(epoch), .integer(ts)])
    }
}
