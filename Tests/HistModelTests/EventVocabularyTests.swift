import HistModel
import Testing

/// The stored strings of every reason and kind. Scripts and reports match on them, so these tables
/// change only by adding a row: a renamed raw value fails here before it reaches a database.
@Suite struct EventVocabularyTests {
    @Test func eventKindNames() {
        #expect(EventKind.allCases.map(\.rawValue) == [
            "start", "exit", "crash", "restart_scheduled", "gave_up", "stop_requested", "killed", "limit_breach",
            "spawn_failed", "scale_up", "scale_down", "recycled", "supervisor_start", "supervisor_stop",
            "recording_gap", "leftover", "operator_action", "swept", "config_reload", "storage_outage",
        ])
    }

    @Test func reasonsAndKinds() {
        #expect(StopReason.allCases.map(\.rawValue) == ["operator", "shutdown", "limit", "scale_down", "recycle", "reload"])
        #expect(LimitKind.allCases.map(\.rawValue) == ["max_memory_mb", "cgroup_memory", "tasks_max"])
        #expect(BreachAction.allCases.map(\.rawValue) == ["stop", "oom_kill", "fork_refused"])
        #expect(RecycleReason.allCases.map(\.rawValue) == ["exit0", "max_age", "reload"])
        #expect(OrphanReason.allCases.map(\.rawValue) == [
            "adopted_by_histd", "reparented_to_init", "group_leader_gone", "reparented_to_subreaper",
        ])
    }

    /// Every case name is the camelCase of its stored name: EmbedSQLGen relies on it to generate the
    /// id switch from the migrations' seeds.
    @Test func eventKindCaseNamesAreTheCamelCaseOfTheirStoredNames() {
        for kind in EventKind.allCases {
            let parts = kind.rawValue.split(separator: "_")
            let camel = String(parts[0]) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
            #expect(String(describing: kind) == camel)
        }
    }
}
