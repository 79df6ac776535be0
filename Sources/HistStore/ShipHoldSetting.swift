import Synchronization

/// The writer's backpressure settings for histd-ship (`[ship] ship_max_backlog` and whether
/// `ship_snapshots` is on), shared between the thread that reloads the config and the writer thread,
/// which reads them when a prune begins (ShipHold). A class: a Mutex cannot be captured or copied.
final class ShipHoldSetting: Sendable {
    struct Value: Sendable, Equatable {
        /// nil: no hold (no [ship]).
        var maxBacklog: Int64?
        var snapshots: Bool
    }

    private let state: Mutex<Value>

    init(_ value: Value) { state = Mutex(value) }

    var value: Value {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }

    /// The hold for a prune of the file at `path`, nil when there is none.
    func hold(path: String) -> ShipHold? {
        let v = value
        return v.maxBacklog.map { ShipHold(dbPath: path, maxBacklog: $0, snapshots: v.snapshots) }
    }
}
