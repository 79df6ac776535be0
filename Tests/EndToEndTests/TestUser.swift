import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real system user (and an extra group it belongs to) made for one test with useradd/groupadd, and
/// removed with userdel/groupdel by `remove()` (call it in a `defer`). Needs root.
final class TestUser {
    let name: String
    let extraGroup: String
    let uid: UInt32
    let gid: UInt32
    let extraGID: UInt32

    init(_ label: String) throws {
        let id = String(UInt32.random(in: 0...0xFFFFFF), radix: 36)
        name = "hd\(label.prefix(8))\(id)"
        extraGroup = "\(name)x"
        let g = try E2E.run("/usr/sbin/groupadd", [extraGroup], timeout: 30)
        guard g.status == 0 else { throw E2EError("groupadd \(extraGroup): \(g.stderr)") }
        let u = try E2E.run("/usr/sbin/useradd", ["-M", "-s", "/usr/sbin/nologin", "-G", extraGroup, name], timeout: 30)
        guard u.status == 0 else {
            _ = try? E2E.run("/usr/sbin/groupdel", [extraGroup], timeout: 30)
            throw E2EError("useradd \(name): \(u.stderr)")
        }
        guard let pw = getpwnam(name), let gr = getgrnam(extraGroup) else { throw E2EError("\(name) not in the user database") }
        uid = pw.pointee.pw_uid
        gid = pw.pointee.pw_gid
        extraGID = gr.pointee.gr_gid
    }

    func remove() {
        _ = try? E2E.run("/usr/sbin/userdel", [name], timeout: 30)
        _ = try? E2E.run("/usr/sbin/groupdel", [extraGroup], timeout: 30)
        _ = try? E2E.run("/usr/sbin/groupdel", [name], timeout: 30)  // the user's own group, if userdel left it
    }
}

extension Procfs {
    /// The value of one `Key:` line of /proc/PID/status, with whitespace runs turned into single spaces.
    static func statusField(_ pid: Int32, _ key: String) -> String? {
        guard let data = read("/proc/\(pid)/status") else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("\(key):") {
            return line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        }
        return nil
    }

    /// /proc/PID/environ as a dictionary.
    static func environment(_ pid: Int32) -> [String: String] {
        guard let data = read("/proc/\(pid)/environ") else { return [:] }
        var out: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let s = String(decoding: entry, as: UTF8.self)
            guard let eq = s.firstIndex(of: "=") else { continue }
            out[String(s[..<eq])] = String(s[s.index(after: eq)...])
        }
        return out
    }

    /// The soft and hard columns of one /proc/PID/limits row ("Max open files" ...).
    static func limit(_ pid: Int32, _ row: String) -> (soft: String, hard: String)? {
        guard let data = read("/proc/\(pid)/limits") else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix(row) {
            let cols = line.dropFirst(row.count).split(separator: " ")
            guard cols.count >= 2 else { return nil }
            return (String(cols[0]), String(cols[1]))
        }
        return nil
    }
}
