import HistModel

/// One thing handed to the writer.
enum WriteItem: Sendable {
    case event(HistEvent)
    case sweep(SnapshotSweep)
    case scan(ScanReport)

    /// The key under which a dropped item is counted in `dropped_by_kind`: the event kind name, or
    /// "sweep" / "scan".
    var dropKey: String {
        switch self {
        case .event(let e): e.kind.rawValue
        case .sweep: "sweep"
        case .scan: "scan"
        }
    }

    var time: Timestamp {
        switch self {
        case .event(let e): e.time
        case .sweep(let s): s.time
        case .scan(let s): s.time
        }
    }
}

/// What was dropped since the last `recording_gap` row was written.
struct GapAccumulator: Sendable, Equatable {
    var dropped = 0
    var byKind: [String: Int] = [:]
    /// Earliest and latest time of the dropped items (their own timestamps).
    var fromMs: Int64 = .max
    var toMs: Int64 = .min
    /// Reasons in order of first occurrence ("queue_full", "disk_full", "read_only", "busy", ...).
    var reasons: [String] = []

    var isEmpty: Bool { dropped == 0 }

    mutating func add(_ item: WriteItem, reason: String) {
        dropped += 1
        byKind[item.dropKey, default: 0] += 1
        let t = item.time.milliseconds
        if t < fromMs { fromMs = t }
        if t > toMs { toMs = t }
        if !reasons.contains(reason) { reasons.append(reason) }
    }

    mutating func merge(_ other: GapAccumulator) {
        dropped += other.dropped
        for (k, v) in other.byKind { byKind[k, default: 0] += v }
        fromMs = min(fromMs, other.fromMs)
        toMs = max(toMs, other.toMs)
        for r in other.reasons where !reasons.contains(r) { reasons.append(r) }
    }

    /// `events.detail` of the recording_gap row.
    func detailJSON(recordedAt: Int64) -> String {
        var kinds = JSONText()
        for k in byKind.keys.sorted() { kinds.add(dynamicKey: k, byKind[k]!) }
        var d = JSONText()
        d.add("from_ms", fromMs)
        d.add("to_ms", toMs)
        d.add("reason", reasons.joined(separator: ","))
        d.addRaw("dropped_by_kind", kinds.text)
        d.add("recorded_ms", recordedAt)
        return d.text
    }
}
