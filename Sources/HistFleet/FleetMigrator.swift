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
            let quoted = m.name.replacingOccurrences(of: "'", with: "''")
            do {
                try await db.execute(script: """
                    BEGIN;
                    SELECT pg_advisory_xact_lock(7366140017);
                    DO $histd$ BEGIN
                      IF EXISTS (SELECT 1 FROM fleet_migrations WHERE name = '\(quoted)') THEN
                        RAISE EXCEPTION 'histd-already-applied';
                      END IF;
                    END $histd$;
                    \(m.sql)
                    ;
                    INSERT INTO fleet_migrations (name) VALUES ('\(quoted)');
                    COMMIT;
                    """)
                applied.append(m.name)
            } catch {
                try? await db.execute(script: "ROLLBACK")
                let text = FleetError.text(error)
                if text.contains("histd-already-applied") { continue }
                throw FleetError("central migration \(m.name) failed: \(text)")
            }
        }
        return applied
    }
}
