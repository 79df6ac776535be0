import HistFleet

/// `ship_cursor.caught_up_at` (central 0008): the time a round of batches last found nothing left to ship,
/// so that the fleet postmortem can tell a host where nothing happened from one whose shipper stopped.
extension Shipper {
    /// At most this often while caught up: one small UPDATE per host every 10 s, against one per poll
    /// (250 ms), is what a fleet of hundreds of hosts costs the server.
    static let caughtUpEveryMs: Int64 = 10_000

    /// Writes `at` (ms UTC, read before the round that found nothing) as the host's caught-up time.
    func shipCaughtUp(_ db: FleetDatabase, at: Int64) async throws(FleetError) {
        try await db.rows("UPDATE ship_cursor SET caught_up_at = $3 WHERE host_id = $1 AND db_epoch = $2",
                          [.text(hostID), .text(epoch), .integer(at)])
    }
}
