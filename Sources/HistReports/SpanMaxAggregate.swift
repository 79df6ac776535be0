import Foundation
import GRDB

/// The SQL aggregate `histctl_span_max(spans, program_id, ts, value)` that queries/loops.sql runs once
/// over every restart_scheduled event in the loops' overall span.
///
/// One row carries `spans`, a JSON array `[[program_id, from_ms, until_ms], ...]` (one span per program,
/// inclusive), with NULL in the other arguments; every other row has NULL spans and an event. An event
/// counts for the span of its own program when its `ts` falls inside. (Events that come before the spans
/// row are kept and checked at the end, so the row order does not matter.) The result is a JSON array
/// `[[program_id, max_value], ...]`, by program id; programs with no event in their span are left out.
///
/// Why not SQL: the loops of a month's history overlap, so one pass over the events in their union is
/// needed, with a per-event lookup of the event's program's span. SQLite plans that lookup as a scan of
/// the spans for every event (it builds no automatic index there), and a per-loop range of the events
/// reads the same month once per loop.
struct SpanMaxAggregate: DatabaseAggregate {
    static let name = "histctl_span_max"
    static let function = DatabaseFunction(name, argumentCount: 4, pure: true, aggregate: SpanMaxAggregate.self)

    /// A class, so that GRDB's per-row mutation of the aggregate value never copies the dictionaries.
    final class State {
        var spans: [Int64: (from: Int64, until: Int64)]?
        var maxima: [Int64: Int64] = [:]
        /// Events seen before the spans row.
        var early: [(program: Int64, ts: Int64, value: Int64)] = []

        func add(_ program: Int64, _ ts: Int64, _ value: Int64) {
            guard let span = spans?[program], ts >= span.from, ts <= span.until else { return }
            if let m = maxima[program], m >= value { return }
            maxima[program] = value
        }
    }
    let state = State()

    init() {}

    func step(_ dbValues: [DatabaseValue]) throws {
        let s = state
        if let text = String.fromDatabaseValue(dbValues[0]) {
            s.spans = Self.parse(text)
            for e in s.early { s.add(e.program, e.ts, e.value) }
            s.early = []
            return
        }
        guard let program = Int64.fromDatabaseValue(dbValues[1]), let ts = Int64.fromDatabaseValue(dbValues[2]),
              let value = Int64.fromDatabaseValue(dbValues[3]) else { return }
        if s.spans == nil { s.early.append((program, ts, value)) } else { s.add(program, ts, value) }
    }

    func finalize() throws -> (any DatabaseValueConvertible)? {
        let maxima = state.maxima
        return "[" + maxima.keys.sorted().map { "[\($0),\(maxima[$0]!)]" }.joined(separator: ",") + "]"
    }

    static func parse(_ json: String) -> [Int64: (from: Int64, until: Int64)] {
        guard let rows = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[NSNumber]] else { return [:] }
        var out: [Int64: (from: Int64, until: Int64)] = [:]
        for r in rows where r.count == 3 { out[r[0].int64Value] = (r[1].int64Value, r[2].int64Value) }
        return out
    }
}
