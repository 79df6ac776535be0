#if canImport(Glibc)
import Glibc
#endif

/// What histd-ship last committed centrally, as it tells the local side (docs/FLEET.md, "Backpressure").
///
/// histd's writer is the only writer of the SQLite file and histd-ship opens it read-only, so the shipper
/// cannot record its cursor in the file. It keeps a small state file beside the database instead,
/// `<db>.ship-state`, replaced atomically (written to a temporary file, then renamed; see `write(to:)`
/// for why without fsync) after committed central transactions and on every change of state. Retention reads it to keep
/// rows not shipped yet; `histctl status` and histd's metrics read it to show the backlog.
///
/// Why a file and not a socket message to histd or a second SQLite file: it survives restarts of either
/// process (a shipper restarted while central is down still knows what it shipped), it needs no protocol,
/// and a reader gets the whole of one version or the one before (rename), never half. Its trust: it only
/// ever lets retention delete *more*; so a file that is missing, unreadable, of another epoch, not a regular
/// file, a symbolic link, writable by group or others, or owned by another user than the database's
/// owner (or root) is ignored, which means "nothing known shipped": retention holds within the cap.
///
/// The format: one `key=value` per line after a `histd-ship-state 1` header (no JSON parser in HistModel).
public struct ShipState: Sendable, Equatable {
    /// Shipping or caught up (the last attempt committed).
    public static let shipping = "shipping"
    /// The server failed or refused; `reason` says why. The cursor is the last one committed.
    public static let cannotShip = "cannot_ship"
    /// The local database is not ready (no epoch yet, capture off): nothing shipped from it.
    public static let waiting = "waiting"

    /// `ship_epoch.epoch` of the file the cursor belongs to.
    public var epoch: String
    public var hostID: String
    /// The last central cursor committed: outbox seq and event id. nil: not known (never connected).
    public var outboxSeq: Int64?
    public var eventID: Int64?
    /// The snapshot cursor (`ship_snapshots`): the last sweep id looked at and the `ship_sweeps.resets`
    /// count it belongs to (migrations/0017_ship_sweeps.sql). nil: snapshots are not shipped, or not known.
    public var sweepID: Int64?
    public var sweepResets: Int64?
    public var state: String
    public var reason: String?
    /// When this version was written, ms UTC.
    public var updatedAt: Int64
    /// The last committed central transaction (or caught-up check), ms UTC; nil: none yet.
    public var lastSuccessAt: Int64?
    /// Outbox entries and events after the cursor, as the shipper counted them at `updatedAt`.
    public var backlogRows: Int64
    /// `ts` of the oldest event not shipped (ms UTC), nil when none: lag = now - this.
    public var oldestUnshippedAt: Int64?
    public var pid: Int32

    public init(epoch: String, hostID: String, outboxSeq: Int64?, eventID: Int64?, state: String, reason: String? = nil,
                updatedAt: Int64, lastSuccessAt: Int64?, backlogRows: Int64, oldestUnshippedAt: Int64?, pid: Int32 = getpid(),
                sweepID: Int64? = nil, sweepResets: Int64? = nil) {
        self.epoch = epoch
        self.hostID = hostID
        self.outboxSeq = outboxSeq
        self.eventID = eventID
        self.state = state
        self.reason = reason
        self.updatedAt = updatedAt
        self.lastSuccessAt = lastSuccessAt
        self.backlogRows = backlogRows
        self.oldestUnshippedAt = oldestUnshippedAt
        self.pid = pid
        self.sweepID = sweepID
        self.sweepResets = sweepResets
    }

    /// One line for `histctl status`: "ship: shipping, backlog 12 rows (oldest 3s ago), last shipped 1s ago".
    public func line(now: Int64) -> String {
        func ago(_ t: Int64) -> String {
            let s = max(0, now - t) / 1000
            if s < 120 { return "\(s)s ago" }
            if s < 7200 { return "\(s / 60)m ago" }
            if s < 172_800 { return "\(s / 3600)h ago" }
            return "\(s / 86400)d ago"
        }
        var out = "ship: " + (state == Self.cannotShip ? "cannot ship" : state)
        if let reason { out += " (\(reason))" }
        out += ", backlog \(backlogRows) rows"
        if let t = oldestUnshippedAt { out += " (oldest \(ago(t)))" }
        out += ", last shipped " + (lastSuccessAt.map(ago) ?? "never")
        if now - updatedAt > 60_000 { out += "; state file \(ago(updatedAt)): is histd-ship running?" }
        return out
    }

    /// The state file of the database at `dbPath`.
    public static func path(forDatabase dbPath: String) -> String { dbPath + ".ship-state" }

    static let header = "histd-ship-state 1"
    static let maxSize = 16 * 1024

    public var text: String {
        func line(_ k: String, _ v: String?) -> String { "\(k)=\(v ?? "")\n" }
        // A reason is one line: newlines would start a new key.
        let oneLine = reason.map { String($0.map { $0 == "\n" || $0 == "\r" ? " " : $0 }) }
        return Self.header + "\n"
            + line("epoch", epoch) + line("host_id", hostID)
            + line("outbox_seq", outboxSeq.map(String.init)) + line("event_id", eventID.map(String.init))
            + line("state", state) + line("reason", oneLine)
            + line("updated_at", String(updatedAt)) + line("last_success_at", lastSuccessAt.map(String.init))
            + line("backlog_rows", String(backlogRows)) + line("oldest_unshipped_at", oldestUnshippedAt.map(String.init))
            + line("pid", String(pid))
            + line("sweep_id", sweepID.map(String.init)) + line("sweep_resets", sweepResets.map(String.init))
    }

    /// Parses `text`; nil when it is not a state file (no header, no epoch, no state, a bad number).
    public static func parse(_ text: String) -> ShipState? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first.map(String.init) == header else { return nil }
        lines.removeFirst()
        var kv: [String: String] = [:]
        for l in lines {
            guard let eq = l.firstIndex(of: "=") else { return nil }
            kv[String(l[..<eq])] = String(l[l.index(after: eq)...])
        }
        func num(_ k: String) -> Int64?? {
            guard let v = kv[k], !v.isEmpty else { return .some(nil) }
            guard let n = Int64(v) else { return nil }
            return .some(n)
        }
        guard let epoch = kv["epoch"], !epoch.isEmpty, let state = kv["state"], !state.isEmpty,
              let seq = num("outbox_seq"), let eid = num("event_id"), let updated = num("updated_at"), let updatedAt = updated,
              let success = num("last_success_at"), let backlog = num("backlog_rows"), let oldest = num("oldest_unshipped_at"),
              let sweep = num("sweep_id"), let resets = num("sweep_resets")
        else { return nil }
        return ShipState(epoch: epoch, hostID: kv["host_id"] ?? "", outboxSeq: seq, eventID: eid, state: state,
                         reason: kv["reason"].flatMap { $0.isEmpty ? nil : $0 }, updatedAt: updatedAt, lastSuccessAt: success,
                         backlogRows: backlog ?? 0, oldestUnshippedAt: oldest, pid: num("pid").flatMap { $0 }.map { Int32(truncatingIfNeeded: $0) } ?? 0,
                         sweepID: sweep, sweepResets: resets)
    }

    /// Why the state file was not used, for a reader that shows it.
    public enum ReadProblem: Error, Equatable, Sendable {
        case missing
        case unsafe(String)
        case unreadable(String)
    }

    /// Reads the state file at `path` without following a symbolic link. It must be a regular file with one
    /// link, at most 16 KiB, not writable by group or others, owned by `owner` (the database file's owner)
    /// or root. `owner` nil: the owner of the database at `dbPath` decides (see `read(forDatabase:)`).
    public static func read(path: String, owner: uid_t) -> Result<ShipState, ReadProblem> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { return .failure(.missing) }
            if e == ELOOP { return .failure(.unsafe("\(path) is a symbolic link")) }
            return .failure(.unreadable("\(path): \(String(cString: strerror(e)))"))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(.unreadable("\(path): \(String(cString: strerror(errno)))")) }
        if st.st_mode & S_IFMT != S_IFREG || st.st_nlink != 1 { return .failure(.unsafe("\(path) is not a regular file with one link")) }
        if st.st_uid != owner && st.st_uid != 0 { return .failure(.unsafe("\(path) is owned by uid \(st.st_uid), not the database's owner (uid \(owner)) or root")) }
        if st.st_mode & 0o022 != 0 { return .failure(.unsafe("\(path) is writable by its group or others")) }
        if st.st_size > maxSize { return .failure(.unsafe("\(path) is larger than \(maxSize) bytes")) }
        var buf = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
        var got = 0
        while got < buf.count {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        guard let s = parse(String(decoding: buf[0..<got], as: UTF8.self)) else { return .failure(.unreadable("\(path) is not a histd-ship state file")) }
        return .success(s)
    }

    /// The state file beside the database at `dbPath`, checked against the database file's owner.
    public static func read(forDatabase dbPath: String) -> Result<ShipState, ReadProblem> {
        var st = stat()
        guard stat(dbPath, &st) == 0 else {
            // No database: a state file beside it (if any) cannot be checked against its owner.
            var own = stat()
            if lstat(path(forDatabase: dbPath), &own) != 0 { return .failure(.missing) }
            return .failure(.unreadable("\(dbPath): \(String(cString: strerror(errno)))"))
        }
        return read(path: path(forDatabase: dbPath), owner: st.st_uid)
    }

    /// Replaces the file at `path` with this state atomically: a temporary file beside it (created with
    /// O_EXCL | O_NOFOLLOW, mode 0644: the state holds no secret and readers may be another user), written,
    /// renamed over `path`. Returns a message on failure.
    ///
    /// No fsync, on purpose: every way the file can be wrong after a power loss (empty, torn, the previous
    /// version) makes readers hold more, never less (an older cursor, or "nothing known shipped"), so
    /// durability buys nothing here, while an fsync in the shipper's loop can wait seconds on a box busy
    /// writing (suspected, not proven, when the kill -9 fleet test missed 6 of its 20 batches in one full
    /// test run on a loaded box; it passes alone either way).
    public func write(to path: String) -> String? {
        let tmp = path + ".tmp"
        // A leftover from a kill mid-write; unlink never follows a link, it removes the link itself.
        _ = unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return "cannot create \(tmp): \(String(cString: strerror(errno)))" }
        _ = fchmod(fd, 0o644)  // the umask may have removed bits; never more than 0644
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let e = errno
                close(fd)
                _ = unlink(tmp)
                return "cannot write \(tmp): \(String(cString: strerror(e)))"
            }
            off += n
        }
        close(fd)
        if rename(tmp, path) != 0 {
            let e = errno
            _ = unlink(tmp)
            return "cannot rename \(tmp) to \(path): \(String(cString: strerror(e)))"
        }
        return nil
    }
}
