/// The kinds of marks on the postmortem's timeline and charts. Each has its own **shape** (an SVG
/// path centred on 0,0, drawn with `<use>`), a CSS class for its colour and a legend label: colour is
/// never the only thing that tells two marks apart.
///
/// Adding a kind: add a case, give it a shape, label and
/// class below, and map its event kind name in `timelineKind(event:)`. Lanes, hover titles, the legend
/// and the counts need nothing else.
enum MarkKind: String, CaseIterable {
    case start
    case exit
    /// Crashed with an exit code: a triangle.
    case crashExit = "crash-exit"
    /// Crashed by a signal: a cross.
    case crashSignal = "crash-signal"
    /// Stopped or killed for a limit (instance class `limit`): a filled square.
    case limitKill = "limit-kill"
    /// A `limit_breach` event: a diamond.
    case breach
    case gaveUp = "gave-up"
    case spawnFailed = "spawn-failed"
    case scaleUp = "scale-up"
    case scaleDown = "scale-down"
    /// Someone acted through histd: a control-socket request (`operator_action`, refusals too) or a
    /// SIGHUP reload (`config_reload` with trigger `sighup`): a person, not a process shape.
    case operatorAction = "operator"
    case supervisor
    case other

    /// The path, centred on (0, 0), about 10 units across.
    var shape: String {
        switch self {
        case .start: "M0,-6V6"
        case .exit: "M-3,0a3,3 0 1,0 6,0a3,3 0 1,0 -6,0"
        case .crashExit: "M0,-6L6,5H-6Z"
        case .crashSignal: "M-5,-5L5,5M5,-5L-5,5"
        case .limitKill: "M-5,-5H5V5H-5Z"
        case .breach: "M0,-6L6,0L0,6L-6,0Z"
        case .gaveUp: "M-2,-7H2V7H-2Z"
        case .spawnFailed: "M0,6L6,-5H-6Z"
        case .scaleUp: "M-5,3L0,-4L5,3"
        case .scaleDown: "M-5,-3L0,4L5,-3"
        case .operatorAction: "M-2.6,-4a2.6,2.6 0 1,0 5.2,0a2.6,2.6 0 1,0 -5.2,0M-5.5,7C-5.5,0 5.5,0 5.5,7Z"
        case .supervisor: "M-4,-4H4V4H-4ZM-1,-1H1V1H-1Z"
        case .other: "M-2,-2H2V2H-2Z"
        }
    }

    /// Legend text.
    var label: String {
        switch self {
        case .start: "start"
        case .exit: "exit or stop (not a crash)"
        case .crashExit: "crash, exit code"
        case .crashSignal: "crash, signal"
        case .limitKill: "limit kill"
        case .breach: "limit breach"
        case .gaveUp: "gave up"
        case .spawnFailed: "spawn failed"
        case .scaleUp: "pool scaled up"
        case .scaleDown: "pool scaled down"
        case .operatorAction: "operator action (histctl, SIGHUP)"
        case .supervisor: "histd start or stop"
        case .other: "other event"
        }
    }

    /// Stroked (lines) rather than filled shapes.
    var stroked: Bool { self == .start || self == .crashSignal || self == .scaleUp || self == .scaleDown }

    /// Kinds too frequent to title one by one (a crash loop starts and ends hundreds of processes an
    /// hour): a lane's marks of such a kind share one hover title that lists them (`TimelineSVG`).
    /// Everything else (crashes, limit kills, breaches, give-ups, operator actions...) keeps its own.
    var summarised: Bool { self == .start || self == .exit }

    /// The element id of the shape in the report's shared `<defs>`.
    var symbolID: String { "m-" + rawValue }

    /// The mark for a timeline event of kind `event` (event_kinds.name); nil = not drawn as a mark
    /// (crashes and limit kills come from the crashes report, with their exit code or signal; a
    /// restart schedule or stop request is detail of the crash or stop it belongs to).
    static func timelineKind(event: String) -> MarkKind? {
        switch event {
        case "start": .start
        case "exit": .exit
        // A crash (and a spawn failure) is drawn from the crashes report, with its exit code or signal and
        // stderr; an end an operator caused is left out of that report and drawn from its event instead
        // (TimelineMark.all). A restart schedule or stop request is detail of the end it belongs to.
        case "crash", "restart_scheduled", "stop_requested", "recording_gap", "spawn_failed": nil
        case "limit_breach": .breach
        case "gave_up": .gaveUp
        case "scale_up": .scaleUp
        case "scale_down": .scaleDown
        case "operator_action", "config_reload": .operatorAction
        case "supervisor_start", "supervisor_stop": .supervisor
        default: .other
        }
    }
}
