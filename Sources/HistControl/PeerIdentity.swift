#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistSys
import Foundation

/// Who is at the other end of a control connection: SO_PEERCRED at accept time (the kernel's
/// word, not the client's), with the user name, command name and groups resolved then.
public struct PeerIdentity: Hashable, Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    public var user: String
    public var comm: String
    /// Primary and supplementary groups of the peer process (/proc/PID/status `Groups:`).
    public var groups: Set<UInt32>

    public init(pid: Int32, uid: UInt32, gid: UInt32, user: String, comm: String, groups: Set<UInt32>) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.user = user
        self.comm = comm
        self.groups = groups
    }

    /// Reads the peer of a connected unix socket; nil when the kernel cannot say.
    static func of(socket fd: Int32) -> PeerIdentity? {
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        guard histd_peer_cred(fd, &pid, &uid, &gid) == 0 else { return nil }
        var groups: Set<UInt32> = [gid]
        // Sys.readText reads to the end: Foundation's String(contentsOfFile:) takes one read(2) of a procfs
        // file, and a user in many groups has a Groups: line past the first page of status.
        let status = Sys.readText("/proc/\(pid)/status") ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("Groups:") {
            for g in line.dropFirst(7).split(separator: " ") { if let n = UInt32(g.trimmingCharacters(in: .whitespaces)) { groups.insert(n) } }
        }
        let comm = (Sys.readText("/proc/\(pid)/comm") ?? "?")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return PeerIdentity(pid: pid, uid: uid, gid: gid, user: userName(uid), comm: comm, groups: groups)
    }

    static func userName(_ uid: UInt32) -> String {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &pw, &buf, buf.count, &result) == 0, result != nil, let name = pw.pw_name else { return String(uid) }
        return String(cString: name)
    }
}

/// What a peer may do through the control socket.
public enum ControlRole: Int, Comparable, Sendable {
    /// Nothing: every request is refused (and the refusal recorded).
    case none = 0
    /// `status` only (`read_group`).
    case read = 1
    /// Everything (root, the user histd runs as, `control_group`).
    case control = 2

    public static func < (a: ControlRole, b: ControlRole) -> Bool { a.rawValue < b.rawValue }
}

/// `control_group` and `read_group`, resolved to group ids when the server starts.
public struct ControlAccess: Sendable {
    public var controlGID: UInt32?
    public var readGID: UInt32?

    public init(controlGID: UInt32? = nil, readGID: UInt32? = nil) {
        self.controlGID = controlGID
        self.readGID = readGID
    }

    /// Resolves group names; throws `ControlError` naming an unknown group.
    public init(controlGroup: String?, readGroup: String?) throws(ControlError) {
        func gid(_ name: String?, _ key: String) throws(ControlError) -> UInt32? {
            guard let name else { return nil }
            guard let g = getgrnam(name) else { throw ControlError("\(key): no such group \"\(name)\"") }
            return g.pointee.gr_gid
        }
        controlGID = try gid(controlGroup, "control_group")
        readGID = try gid(readGroup, "read_group")
    }

    /// Root and histd's own user may act; then group membership decides.
    public func role(of peer: PeerIdentity) -> ControlRole {
        if peer.uid == 0 || peer.uid == geteuid() { return .control }
        if let g = controlGID, peer.groups.contains(g) { return .control }
        if let g = readGID, peer.groups.contains(g) { return .read }
        return .none
    }
}

/// Errors of the control socket setup, with a message to print as is.
public struct ControlError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
