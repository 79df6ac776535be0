import Foundation
import GRDB
import HistReports

/// `histctl sql --db postgres://...`: one statement of the user's, in a READ ONLY transaction with a
/// statement timeout, so it can neither change the central database nor keep the server busy for long.
/// The parameters $1 since, $2 until, $3 now (bigint ms UTC), $4 the --program names and $5 the --host
/// names (text[]) are bound, as many as the statement uses (PostgreSQL refuses unused ones).
public enum FleetSQL {
    /// The statements that run: queries. Anything else (SET, COMMIT, DO, COPY, a write) is refused before
    /// it reaches the server; a write inside one of these (WITH ... DELETE) fails in the READ ONLY
    /// transaction.
    static let allowed: Set<String> = ["SELECT", "WITH", "VALUES", "TABLE", "EXPLAIN", "SHOW"]

    public static let parameterNames = ["since", "until", "now", "programs", "hosts"]

    public static func run(_ db: FleetDatabase, sql: String, scope: FleetScope, now: Int64, timeoutMs: Int) async throws(FleetError) -> ReportResult {
        let statements = FleetDatabase.statements(sql)
        guard statements.count == 1, let statement = statements.first else {
            throw FleetError(statements.isEmpty ? "histctl sql: no statement given" : "histctl sql runs one statement, not \(statements.count)")
        }
        let code = stripComments(statement)
        let first = code.prefix(while: { $0.isLetter }).uppercased()
        guard allowed.contains(first) else {
            throw FleetError("histctl sql is read-only: \(first.isEmpty ? "this statement" : first) is not a query; only SELECT, WITH, VALUES, TABLE, EXPLAIN and SHOW run")
        }
        let used = highestParameter(code)
        guard used <= parameterNames.count else {
            throw FleetError("histctl sql binds $1 since, $2 until, $3 now, $4 programs, $5 hosts; the statement uses $\(used)")
        }
        let all: [FleetValue] = [.integer(scope.since), .integer(scope.until), .integer(now), .texts(scope.programs), .texts(scope.hosts)]
        let binds = Array(all.prefix(used))
        try await db.execute(script: "BEGIN READ ONLY; SET LOCAL statement_timeout = \(timeoutMs)")
        do {
            var (names, rows) = try await db.namedRows(statement, binds)
            if rows.isEmpty, ["SELECT", "WITH", "VALUES", "TABLE"].contains(first) {
                // No row, so no column names from the server's rows: one row of NULLs under the same names
                // (a LEFT JOIN onto the statement as a subquery) gives them, for CSV and table headers.
                let inner = statement.trimmingCharacters(in: CharacterSet(charactersIn: "; \n\t"))
                if let named = try? await db.namedRows("SELECT q.* FROM (SELECT 1) one LEFT JOIN (\(inner)\n) q ON true LIMIT 1", binds) {
                    names = named.names
                }
                rows = []
            }
            try await db.execute(script: "COMMIT")
            return ReportResult(columns: names.map { ReportColumn($0) },
                                rows: rows.map { r in r.map { ReportDatabase.reportValue($0, as: .auto) } })
        } catch {
            try? await db.execute(script: "ROLLBACK")
            let text = FleetError.text(error)
            if text.contains("57014") {
                throw FleetError("the statement ran longer than \(FleetSQL.seconds(timeoutMs)) on \(db.url) and was cancelled (--timeout)")
            }
            if text.contains("25006") {
                throw FleetError("histctl sql is read-only: \(text)")
            }
            throw FleetError("histctl sql failed on \(db.url): \(text)")
        }
    }

    static func seconds(_ ms: Int) -> String {
        ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }

    /// The statement without its comments (a statement may start with "-- why").
    static func stripComments(_ sql: String) -> String {
        var out = "", i = sql.startIndex
        while i < sql.endIndex {
            let rest = sql[i...]
            if rest.hasPrefix("--") {
                i = sql[i...].firstIndex(of: "\n") ?? sql.endIndex
            } else if rest.hasPrefix("/*") {
                i = sql[sql.index(i, offsetBy: 2)...].range(of: "*/")?.upperBound ?? sql.endIndex
                out.append(" ")
            } else {
                out.append(sql[i])
                i = sql.index(after: i)
            }
        }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The highest $N the statement uses outside quotes ('...', "...", $tag$...$tag$); 0 for none.
    static func highestParameter(_ sql: String) -> Int {
        let chars = Array(sql)
        var i = 0, highest = 0
        while i < chars.count {
            let c = chars[i]
            if c == "'" || c == "\"" {
                i += 1
                while i < chars.count, chars[i] != c { i += 1 }
                i += 1
                continue
            }
            if c == "$" {
                var j = i + 1
                while j < chars.count, chars[j].isNumber { j += 1 }
                if j > i + 1, !(i > 0 && (chars[i - 1].isLetter || chars[i - 1].isNumber || chars[i - 1] == "_")) {
                    highest = max(highest, Int(String(chars[(i + 1)..<j])) ?? 0)
                    i = j
                    continue
                }
                // $tag$ ... $tag$ (a dollar-quoted string)
                j = i + 1
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                if j < chars.count, chars[j] == "$" {
                    let tag = String(chars[i...j])
                    i = j + 1
                    while i < chars.count, !String(chars[i..<min(chars.count, i + tag.count)]).elementsEqual(tag) { i += 1 }
                    i += tag.count
                    continue
                }
            }
            i += 1
        }
        return highest
    }

    /// The central schema with its comments: every migrations/postgres file in order (`histctl sql --schema`).
    public static var schema: String {
        FleetMigrator.migrations.map { "-- \($0.name)\n" + $0.sql }.joined(separator: "\n")
    }
}
