import GRDB
import HistModel

/// A change of the history database's state, as the writer saw it: for one line on stderr per change
/// (`HistoryWriter.Options.onStorageState`), never one per failed attempt.
public struct StorageNotice: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        /// The file could not be opened (or created, or migrated): full disk, read-only mount, permission.
        case cannotOpen = "cannot_open"
        /// The file is not one histd may write (another application's, a newer histd's); retried, never modified.
        case refused
        case diskFull = "disk_full"
        case readOnly = "read_only"
        /// Another process holds the write lock longer than the busy timeout.
        case locked = "busy"
        case ioError = "io_error"
        case corrupt
        case noMemory = "no_memory"
        case writeError = "write_error"
        /// The file histd had open is no longer at its path / another file is.
        case deleted, replaced
        /// The file histd had open was renamed (it is still on disk, with what histd wrote to it), whether or
        /// not another file now has its name.
        case moved
        /// Facts are being lost (the memory bound or the queue is full); they are counted for a recording_gap.
        case dropping
        /// Writes succeed again.
        case recovered
    }
    public var state: State
    /// The line to print, naming the file, what is wrong, and what histd does about it.
    public var line: String
    /// True for the failure states (print as an error), false for `recovered`.
    public var isProblem: Bool { state != .recovered }
}

/// The writer's storage bookkeeping (writer thread only): which state was last reported, and the current
/// outage, which is written as one `storage_outage` row (kind 60, migrations/0010) in the first transaction
/// that commits after it, so its end is the moment writing worked again.
struct StorageHealth {
    let path: String
    let retainLimit: Int

    struct Outage {
        var fromMs: Int64
        /// States in order of first occurrence.
        var states: [String]
        var lastError: String?
        /// Most items held in memory at once while the database could not be written.
        var heldMax = 0
        /// The writer's total of dropped items when the outage began.
        var droppedAtStart: UInt64
        /// The file that was lost (deleted/replaced), and what this histd had committed to it.
        var lostFile: DatabaseSlot.Identity?
        var lostWritten: UInt64?
        /// The earliest time of those facts (the lost file's span is lostSinceMs ..< fromMs).
        var lostSinceMs: Int64?
    }
    private(set) var outage: Outage?
    /// The failure state last reported (nil: none since the last recovery).
    private var reported: StorageNotice.State?
    private var droppingReported = false

    init(path: String, retainLimit: Int) {
        self.path = path
        self.retainLimit = retainLimit
    }

    static func state(forReason reason: String) -> StorageNotice.State {
        StorageNotice.State(rawValue: reason) ?? .writeError
    }

    /// A write (or open) failed with `reason`. Returns a notice only when the state changed.
    mutating func failed(reason: String, message: String, nowMs: Int64, dropped: UInt64, held: Int) -> StorageNotice? {
        if outage == nil { outage = Outage(fromMs: nowMs, states: [], droppedAtStart: dropped) }
        if !outage!.states.contains(reason) { outage!.states.append(reason) }
        outage!.lastError = message
        outage!.heldMax = max(outage!.heldMax, held)
        let state = Self.state(forReason: reason)
        guard state != reported else { return nil }
        reported = state
        return StorageNotice(state: state, line: "history database \(path): \(Self.describe(state)) (\(message)); "
            + "supervision goes on: facts wait in memory (at most \(retainLimit)) and the writer retries")
    }

    /// The file under the open connection was deleted or replaced (seen by the timer's dev/inode check).
    /// `lastSeenMs`: when the file was last seen in place, the outage's start. `setAside`: the lost file's
    /// log, kept under another name because it held pages the lost file lacks (DatabaseSlot.checkFile).
    mutating func fileChanged(_ change: DatabaseSlot.FileChange, stillLinked: Bool = false, movedTo: String? = nil,
                              lostSinceMs: Int64? = nil, lastSeenMs: Int64, lostWritten: UInt64, dropped: UInt64,
                              setAside: [String] = []) -> StorageNotice {
        let state: StorageNotice.State = stillLinked ? .moved : change.state == "deleted" ? .deleted : .replaced
        if outage == nil { outage = Outage(fromMs: lastSeenMs, states: [], droppedAtStart: dropped) }
        if !outage!.states.contains(state.rawValue) { outage!.states.append(state.rawValue) }
        outage!.lostFile = change.lost
        outage!.lostWritten = (outage!.lostWritten ?? 0) + lostWritten
        if let lostSinceMs { outage!.lostSinceMs = min(outage!.lostSinceMs ?? lostSinceMs, lostSinceMs) }
        reported = state
        guard stillLinked else {
            let what = state == .deleted ? "was deleted" : "was replaced by another file"
            return StorageNotice(state: state, line: "history database \(path) \(what) while histd was writing it "
                + "(\(lostWritten) facts this histd had recorded there are lost with it); recreating it, recording this run "
                + "again and the loss as a storage_outage")
        }
        let replaced = change.state == "replaced"
        let whereNow = movedTo.map { "as \($0)" } ?? "under another name"
        let kept = setAside.first.map { log in
            "; its last pages are in \(log) (a reader kept histd from copying them into it): once nothing has the file "
                + "open, rename that to \(movedTo ?? "<its new name>")-wal to add them"
        } ?? ""
        return StorageNotice(state: state, line: "history database \(path) was moved away"
            + (replaced ? " and another file put in its place" : "") + " while histd was writing it (it is still on disk "
            + "\(whereNow), with the \(lostWritten) facts this histd had recorded there); "
            + (replaced ? "opening the new file" : "recreating it") + ", recording this run again and the change as a storage_outage" + kept)
    }

    /// Called when the queue or the memory bound dropped items (a recording_gap is pending).
    mutating func dropping(dropped: UInt64, held: Int) -> StorageNotice? {
        self.held(held)
        guard !droppingReported else { return nil }
        droppingReported = true
        return StorageNotice(state: .dropping, line: "history database \(path): dropping facts (\(dropped) so far): "
            + "\(outage == nil ? "the write queue is full" : "the memory bound (\(retainLimit)) is reached"); "
            + "they are counted in a recording_gap once writing works")
    }

    mutating func held(_ n: Int) {
        if outage != nil { outage!.heldMax = max(outage!.heldMax, n) }
    }

    /// Inside the transaction that is about to commit: the outage row, if one is open.
    func writeOutage(_ db: Database, runID: Int64?, nowMs: Int64, dropped: UInt64) throws {
        guard let o = outage else { return }
        var d = JSONText()
        d.add("from_ms", o.fromMs)
        d.add("to_ms", nowMs)
        d.add("states", o.states.joined(separator: ","))
        d.add("held", o.heldMax)
        d.add("dropped", Int64(dropped &- o.droppedAtStart))
        if let e = o.lastError { d.add("error", e) }
        if let f = o.lostFile {
            d.add("lost_device", Int64(bitPattern: f.device))
            d.add("lost_inode", Int64(bitPattern: f.inode))
        }
        if let w = o.lostWritten { d.add("lost_written", Int64(w)) }
        if let t = o.lostSinceMs { d.add("lost_since_ms", t) }
        try db.execute(sql: "INSERT INTO events (ts, kind, run_id, value, detail) VALUES (?, ?, ?, ?, ?)",
                       arguments: [o.fromMs, EventKindID.id(.storageOutage), runID, max(0, nowMs - o.fromMs), d.text])
    }

    /// A transaction committed. Returns the `recovered` notice when an outage (or a dropping episode
    /// whose gap row was just written) ended.
    mutating func committed(nowMs: Int64, dropped: UInt64, gapWritten: Bool) -> StorageNotice? {
        if let o = outage {
            outage = nil
            reported = nil
            droppingReported = false
            let lost = dropped &- o.droppedAtStart
            let secs = Double(max(0, nowMs - o.fromMs)) / 1000
            return StorageNotice(state: .recovered, line: "history database \(path): recording again after "
                + "\(String(format: "%.1f", secs)) s (\(o.states.joined(separator: ", "))): \(o.heldMax) facts were held and "
                + "written late, \(lost) dropped; recorded as storage_outage\(lost > 0 ? " and recording_gap" : "")")
        }
        if droppingReported && gapWritten {
            droppingReported = false
            reported = nil
            return StorageNotice(state: .recovered, line: "history database \(path): recording again; the dropped facts "
                + "are recorded as a recording_gap")
        }
        return nil
    }

    static func describe(_ state: StorageNotice.State) -> String {
        switch state {
        case .cannotOpen: "cannot be opened"
        case .refused: "is refused"
        case .diskFull: "cannot be written: the disk is full"
        case .readOnly: "cannot be written: read-only"
        case .locked: "is locked by another process"
        case .ioError: "cannot be written: I/O error"
        case .corrupt: "cannot be written: corrupt"
        case .noMemory: "cannot be written: out of memory"
        case .writeError: "cannot be written"
        case .deleted: "was deleted"
        case .replaced: "was replaced"
        case .moved: "was moved away"
        case .dropping: "is dropping facts"
        case .recovered: "is recording again"
        }
    }
}
