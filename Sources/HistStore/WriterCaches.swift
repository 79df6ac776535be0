import HistModel

/// The id mappings the writer keeps across transactions (see `WriteSession`), with an undo log so that a
/// rolled-back transaction leaves no stale id behind.
///
/// Why an undo log rather than saving a copy before each transaction: a copy is cheap to take, but the
/// first write after it copies the whole dictionary (copy-on-write), once per transaction. With one
/// mapping per instance ever started, that made a long crash loop slower and slower (measured: events/s
/// halved within 10 s of a restart storm). The undo log costs one small append per change.
struct WriterCaches {
    /// program name -> programs.id
    private(set) var programIDs: [String: Int64] = [:]
    /// engine InstanceID -> instances.id
    private(set) var instanceRows: [InstanceID: Int64] = [:]
    /// When each mapped instance ended (ms), for dropping old mappings.
    private(set) var endedAt: [InstanceID: Int64] = [:]
    /// The ts of the restart_scheduled whose value this process wrote into the instance's
    /// `restart_delay_ms` (RestartDelay: a later-written one with an earlier ts replaces it).
    private(set) var restartAt: [InstanceID: Int64] = [:]
    /// programs.id -> its newest crashes, oldest first (LoopRollup's in-order fast path).
    private(set) var loopTails: [Int64: [LoopRollup.Crash]] = [:]
    /// The prune generation and this connection's `PRAGMA data_version` when the tails were last known
    /// good (another connection's commit, e.g. `histctl prune`, changes data_version).
    var loopTailsSeen: (generation: UInt64, dataVersion: Int64) = (0, -1)

    private enum Undo {
        case program(String, Int64?)
        case instance(InstanceID, Int64?)
        case ended(InstanceID, Int64?)
        case restart(InstanceID, Int64?)
        case loopTail(Int64, [LoopRollup.Crash]?)
    }

    /// Changes of the current transaction, oldest first, with the values they replaced.
    private var undo: [Undo] = []

    mutating func setProgram(_ name: String, _ id: Int64) {
        undo.append(.program(name, programIDs.updateValue(id, forKey: name)))
    }

    mutating func setInstance(_ id: InstanceID, row: Int64) {
        undo.append(.instance(id, instanceRows.updateValue(row, forKey: id)))
    }

    mutating func setEnded(_ id: InstanceID, at ms: Int64) {
        undo.append(.ended(id, endedAt.updateValue(ms, forKey: id)))
    }

    mutating func setRestart(_ id: InstanceID, at ms: Int64) {
        undo.append(.restart(id, restartAt.updateValue(ms, forKey: id)))
    }

    mutating func setLoopTail(_ programID: Int64, _ tail: [LoopRollup.Crash]?) {
        let old = loopTails[programID]
        loopTails[programID] = tail
        undo.append(.loopTail(programID, old))
    }

    /// Forgets every loop tail (someone pruned: a tail may name deleted crashes). Without undo: a
    /// forgotten tail is only a cache miss.
    mutating func clearLoopTails() {
        loopTails.removeAll()
        undo.removeAll { if case .loopTail = $0 { true } else { false } }
    }

    /// The transaction committed: its changes stay.
    mutating func commit() { undo.removeAll(keepingCapacity: undo.capacity <= 65_536) }

    /// The transaction rolled back: restores every value it changed, newest first.
    mutating func rollback() {
        for change in undo.reversed() {
            switch change {
            case .program(let k, let old): programIDs[k] = old
            case .instance(let k, let old): instanceRows[k] = old
            case .ended(let k, let old): endedAt[k] = old
            case .restart(let k, let old): restartAt[k] = old
            case .loopTail(let k, let old): loopTails[k] = old
            }
        }
        undo.removeAll()
    }

    /// Forgets instances that ended before `cutoffMs` (outside any transaction).
    mutating func forgetEnded(before cutoffMs: Int64) {
        precondition(undo.isEmpty, "forgetEnded inside a transaction")
        let old = endedAt.filter { $0.value < cutoffMs }.map(\.key)
        for id in old {
            endedAt[id] = nil
            instanceRows[id] = nil
            restartAt[id] = nil
        }
    }
}
