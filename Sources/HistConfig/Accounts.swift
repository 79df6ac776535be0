#if canImport(Glibc)
import Glibc
#endif

/// User and group database look-ups (NSS: /etc/passwd, /etc/group, LDAP ...) for `user`, `group` and
/// `supplementary_groups`. They run when the config loads, never in the spawned child: NSS functions
/// are not async-signal-safe, and the child of vfork may only make raw syscalls.
enum Accounts {
    struct User { var name: String; var uid: UInt32; var gid: UInt32; var home: String }

    /// A user by name, or by number when `name` is all digits (like chown).
    static func user(_ name: String) -> User? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buf = [CChar](repeating: 0, count: 16384)
        if getpwnam_r(name, &pwd, &buf, buf.count, &result) == 0, result != nil {
            return User(name: name, uid: pwd.pw_uid, gid: pwd.pw_gid, home: String(cString: pwd.pw_dir))
        }
        if let n = UInt32(name), getpwuid_r(n, &pwd, &buf, buf.count, &result) == 0, result != nil {
            return User(name: String(cString: pwd.pw_name), uid: n, gid: pwd.pw_gid, home: String(cString: pwd.pw_dir))
        }
        return nil
    }

    /// A group id by name, or by number when `name` is all digits.
    static func groupID(_ name: String) -> UInt32? {
        var grp = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>? = nil
        var buf = [CChar](repeating: 0, count: 65536)
        if getgrnam_r(name, &grp, &buf, buf.count, &result) == 0, result != nil { return grp.gr_gid }
        if let n = UInt32(name), getgrgid_r(n, &grp, &buf, buf.count, &result) == 0, result != nil { return n }
        return nil
    }

    /// The groups initgroups(user, gid) would set: `gid` plus every group that lists the user.
    static func groupList(user: String, gid: UInt32) -> [UInt32] {
        var count: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let before = count
            if getgrouplist(user, gid, &groups, &count) >= 0 { return Array(groups[..<Int(count)]) }
            // -1: too small; `count` now holds the size needed.
            if count <= before { count = before * 2 }
        }
    }
}
