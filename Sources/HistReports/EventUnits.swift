/// What an event's `value` counts, per event kind (docs/SCHEMA.md, "Event kinds"): the postmortem's
/// timeline shows it in a `unit` column so "value 629145600" reads as bytes and "value 5000" as a
/// delay in ms.
public enum EventUnits {
    /// The unit of `value` for the event kind `kind`; `limit` is a limit_breach's detail "limit".
    static func unit(kind: String, limit: String?) -> String? {
        switch kind {
        case "exit", "crash": "ms uptime"
        case "restart_scheduled": "ms delay"
        case "gave_up": "restarts"
        case "stop_requested": "signal"
        case "killed": "ms waited"
        case "limit_breach":
            switch limit {
            case "tasks_max": "tasks"
            case .some: "bytes"
            case nil: nil
            }
        case "spawn_failed": "errno"
        case "scale_up", "scale_down": "workers"
        case "supervisor_start", "leftover": "pid"
        case "operator_action": "uid"
        case "config_reload": "reloads.id"
        case "recording_gap": "records dropped"
        default: nil
        }
    }

    /// Inserts a `unit` column after `value` in a timeline result (queries/timeline.sql columns).
    public static func addUnitColumn(_ r: inout ReportResult) {
        guard let kc = r.columns.firstIndex(where: { $0.name == "kind" }),
              let vc = r.columns.firstIndex(where: { $0.name == "value" }) else { return }
        let dc = r.columns.firstIndex(where: { $0.name == "detail" })
        r.columns.insert(ReportColumn("unit"), at: vc + 1)
        for i in r.rows.indices {
            guard case .text(let kind) = r.rows[i][kc] else { r.rows[i].insert(.null, at: vc + 1); continue }
            var limit: String?
            if kind == "limit_breach", let dc, case .text(let d) = r.rows[i][dc] { limit = jsonStringField(d, "limit") }
            let hasValue = r.rows[i][vc] != .null
            r.rows[i].insert(hasValue ? (unit(kind: kind, limit: limit).map { .text($0) } ?? .null) : .null, at: vc + 1)
        }
    }

    /// The string value of `"key":"..."` in a flat JSON object written by the store (no escapes in
    /// the limit names it writes); nil when absent.
    static func jsonStringField(_ json: String, _ key: String) -> String? {
        guard let r = json.range(of: "\"\(key)\":\"") else { return nil }
        guard let end = json[r.upperBound...].firstIndex(of: "\"") else { return nil }
        return String(json[r.upperBound..<end])
    }

    /// An integer field of the writer's compact JSON (`"key":123`), nil when absent.
    static func jsonNumberField(_ json: String, _ key: String) -> Int64? {
        guard let r = json.range(of: "\"\(key)\":") else { return nil }
        return Int64(json[r.upperBound...].prefix { $0 == "-" || $0.isNumber })
    }
}
