import GRDB

/// `histctl sql`: ad-hoc statements on the read-only connection, and the schema listing.
public enum AdHocSQL {
    /// Runs one statement. Anything that could write (including ATTACH and VACUUM INTO, which can
    /// create files even on a read-only connection) is refused before it runs.
    public static func run(_ db: ReportDatabase, sql: String, scope: ReportScope? = nil) throws(ReportError) -> ReportResult {
        let trimmed = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ReportError(.queryFailed, "histctl sql: no statement given") }
        let verdict: String? = try db.read { database in
            let statement: Statement
            do {
                statement = try database.makeStatement(sql: trimmed)
            } catch let e as DatabaseError where e.resultCode == .SQLITE_READONLY {
                return e.message ?? "it writes"
            }
            let first = trimmed.prefix(while: { $0.isLetter }).uppercased()
            if !statement.isReadonly || ["ATTACH", "DETACH", "VACUUM", "REINDEX", "ANALYZE"].contains(first) {
                return "\(first.isEmpty ? "this statement" : first) would modify the database or create a file"
            }
            if first == "PRAGMA", trimmed.contains("=") || trimmed.contains("(") {
                return "PRAGMA with a value may change the connection"
            }
            return nil
        }
        if let verdict { throw ReportError(.readOnlyRefused, "histctl sql is read-only: \(verdict); only SELECT-like statements run") }
        return try db.run(sql: trimmed, arguments: scope?.arguments ?? [:], columns: nil, label: "sql")
    }

    /// Every table, view, index and trigger's CREATE text, with the inline comments that document them.
    public static func schema(_ db: ReportDatabase) throws(ReportError) -> String {
        let rows = try db.read { database in
            try Row.fetchAll(database, sql: """
                SELECT type, name, sql FROM sqlite_master
                WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
                ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 1 WHEN 'index' THEN 2 ELSE 3 END, rowid
                """)
        }
        var out = ""
        for row in rows {
            let sql: String = row["sql"]
            out += sql + ";\n\n"
        }
        return out
    }
}
