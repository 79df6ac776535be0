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

    /// A class, so that GRDB's per-row mutation of the aggregate value never copies the tables. Program
    /// ids are small rowids: spans and maxima are arrays indexed by id (a dictionary past `dense`).
    /// `@exclusivity(unchecked)`: one row at a time on one connection; the dynamic checks cost more
    /// than the work per row.
    final class State {
        static let dense: Int64 = 1 << 16
        @exclusivity(unchecked) var spans: [Int64: (from: Int64, until: Int64)]?
        @exclusivity(unchecked) var from: [Int64] = []
        @exclusivity(unchecked) var until: [Int64] = []
        @exclusivity(unchecked) var best: [Int64] = []
        @exclusivity(unchecked) var seen: [Bool] = []
        @exclusivity(unchecked) var sparse: [Int64: Int64] = [:]
        /// Events seen before the spans row.
        @exclusivity(unchecked) var early: [(program: Int64, ts: Int64, value: Int64)] = []

        func setSpans(_ s: [Int64: (from: Int64, until: Int64)]) {
            spans = s
            let n = Int(min(Self.dense, (s.keys.max() ?? -1) + 1))
            from = Array(repeating: 1, count: max(0, n))
            until = Array(repeating: 0, count: max(0, n))  // empty span until set
            best = Array(repeating: 0, count: max(0, n))
            seen = Array(repeating: false, count: max(0, n))
            for (id, span) in s where id >= 0 && id < Self.dense {
                from[Int(id)] = span.from
                until[Int(id)] = span.until
            }
        }

        func add(_ program: Int64, _ ts: Int64, _ value: Int64) {
            if program >= 0 && program < Int64(from.count) {
                let i = Int(program)
                guard ts >= from[i], ts <= until[i] else { return }
                if !seen[i] || value > best[i] { best[i] = value; seen[i] = true }
                return
            }
            guard let span = spans?[program], ts >= span.from, ts <= span.until else { return }
            if let m = sparse[program], m >= value { return }
            sparse[program] = value
        }

        /// program id -> the largest value in its span.
        var maxima: [Int64: Int64] {
            var out = sparse
            for i in seen.indices where seen[i] { out[Int64(i)] = best[i] }
            return out
        }
    }
    let state = State()

    init() {}

    func step(_ dbValues: [DatabaseValue]) throws {
        let s = state
        if let text = String.fromDatabaseValue(dbValues[0]) {
            s.setSpans(Self.parse(text))
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
