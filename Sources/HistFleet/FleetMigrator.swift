import Foundation

/// Applies migrations/postgres/*.sql (embedded at build time) that the central database lacks, each in its
/// own transaction with its fleet_migrations row, under a transaction advisory lock so that many
/// histd-ship processes starting at once apply each migration once.
public enum FleetMigrator {
    /// Every central migration, by file name, in order.
    public static var migrations: [(name: String, sql: String)] { EmbeddedSQL.migrations }

    /// Applies what is missing; returns the names applied now.
    @discardableResult
    public static func migrate(_ db: FleetDatabase) async throws(FleetError) -> [String] {
        try await db.execute(script: """
            CREATE TABLE IF NOT EXISTS fleet_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
            """)
        var applied: [String] = []
        for m in migrations {
            let done = try await db.rows("SELECT 1 FROM fleet_migrations WHERE name = $1", [.text(m.name)])
            if !done.isEmpty { continue }
            // The lock is taken inside the transaction and the row checked again under it: a second shipper
            // waits, then finds the migration applied and skips it.
            do {
                try await db.execute(script: "BEGIN")
                try await db.rows("SELECT pg_advisory_xact_lock(7366140017)")
                let again = try await db.rows("SELECT 1 FROM fleet_migrations WHERE name = $1", [.text(m.name)])
                if !again.isEmpty {
                    try await db.execute(script: "ROLLBACK")
                    continue
                }
                try await db.execute(script: m.sql)
                try await db.rows("INSERT INTO fleet_migrations (name) VALUES ($1)", [.text(m.name)])
                try await db.execute(script: "COMMIT")
                applied.append(m.name)
            } catch {
                try? await db.execute(script: "ROLLBACK")
                throw FleetError("central migration \(m.name) failed: \(FleetError.text(error))")
            }
        }
        return applied
    }
}
