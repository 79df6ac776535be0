#if canImport(Glibc)
import Glibc
#endif
import HistModel
import TOMLKit

/// The program keys that shape the child before exec: identity, umask, environment, rlimits.
extension ConfigValidator {
    static let execKeys = ["user", "group", "supplementary_groups", "umask", "env_file", "clear_env", "rlimits", "no_new_privileges"]

    func exec(_ table: TOMLTable, path: [String]) -> ExecContext {
        var ctx = ExecContext()
        ctx.identity = identity(table, path: path)
        if let v = table["umask"] { ctx.umask = umask(v, path + ["umask"]) }
        if let v = table["clear_env"], let b = bool(v, path + ["clear_env"]) { ctx.clearEnv = b }
        if let v = table["no_new_privileges"], let b = bool(v, path + ["no_new_privileges"]) { ctx.noNewPrivileges = b }
        if let v = table["env_file"] { ctx.envFile = envFile(v, path + ["env_file"]) }
        if let v = table["rlimits"] { ctx.rlimits = rlimits(v, path + ["rlimits"]) }
        return ctx
    }

    private func identity(_ table: TOMLTable, path: [String]) -> RunAs? {
        let keys = ["user", "group", "supplementary_groups"].filter { table[$0] != nil }
        guard let firstKey = keys.first else { return nil }
        if let euid = runnerUID, euid != 0 {
            // Switching identity needs CAP_SETUID/CAP_SETGID; refuse it here rather than fail every spawn.
            report(path + [firstKey], "histd runs as uid \(euid), not root, so it cannot run a program as another user or group; remove \(keys.joined(separator: ", ")) or run histd as root")
            return nil
        }
        var user: Accounts.User?
        if let v = table["user"], let name = string(v, path + ["user"]) {
            guard let u = Accounts.user(name) else {
                report(path + ["user"], "unknown user \"\(name)\": it is not in the user database (check with: getent passwd \(name))")
                return nil
            }
            user = u
        }
        var gid = user?.gid ?? 0
        if let v = table["group"], let name = string(v, path + ["group"]) {
            guard let g = Accounts.groupID(name) else {
                report(path + ["group"], "unknown group \"\(name)\": it is not in the group database (check with: getent group \(name))")
                return nil
            }
            gid = g
        } else if user == nil {
            return nil  // only supplementary_groups, reported below when bad
        }
        var groups: [UInt32]
        if let v = table["supplementary_groups"] {
            groups = []
            for name in stringArray(v, path + ["supplementary_groups"]) {
                guard let g = Accounts.groupID(name) else {
                    report(path + ["supplementary_groups"], "unknown group \"\(name)\": it is not in the group database (check with: getent group \(name))")
                    return nil
                }
                groups.append(g)
            }
        } else if let user {
            // What initgroups would set; resolved now because the spawned child cannot call NSS.
            groups = Accounts.groupList(user: user.name, gid: user.gid)
            if gid != user.gid, !groups.contains(gid) { groups.append(gid) }
        } else {
            groups = []  // group without user: drop root's supplementary groups
        }
        return RunAs(user: user?.name, uid: user?.uid, gid: gid, groups: groups, home: user?.home)
    }

    /// `"027"` / `"0027"` (octal text, as umask(1) prints it) or a TOML integer such as `0o027`.
    private func umask(_ v: any TOMLValueConvertible, _ path: [String]) -> UInt32? {
        let expected = "an octal umask such as \"027\" or 0o027 (at most 0777)"
        var value: Int?
        if let s = v.string {
            let digits = s.hasPrefix("0o") ? String(s.dropFirst(2)) : s
            value = digits.isEmpty ? nil : Int(digits, radix: 8)
            if value == nil { report(path, "invalid value \"\(s)\": expected \(expected)"); return nil }
        } else if let i = v.int {
            value = i
        } else {
            wrongType(path, expected: expected, got: v)
            return nil
        }
        guard let value, (0...0o777).contains(value) else { report(path, "\(value ?? 0) is out of range: expected \(expected)"); return nil }
        return UInt32(value)
    }

    /// Reads the file now (histd check reports its problems as ENVFILE:LINE); a leading "-" makes a missing file fine.
    private func envFile(_ v: any TOMLValueConvertible, _ path: [String]) -> [String: String] {
        guard var raw = string(v, path) else { return [:] }
        let optional = raw.hasPrefix("-")
        if optional { raw.removeFirst() }
        let file = FileSystem.absolute(raw, relativeTo: configDirectory)
        if optional, FileSystem.kind(file) == .missing { return [:] }
        let bytes: [UInt8]
        switch FileSystem.readFile(file) {
        case .success(let b): bytes = b
        case .failure(let e): report(path, "cannot read env_file \(file): \(e.message)"); return [:]
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            report(path, "env_file \(file) is not valid UTF-8 text")
            return [:]
        }
        switch EnvFile.parse(text) {
        case .failure(let p):
            add(ConfigProblem(file: file, line: p.line, key: Self.keyText(path), message: p.message))
            return [:]
        case .success(let pairs):
            var out: [String: String] = [:]
            for (k, value) in pairs { out[k] = value }
            return out
        }
    }

    private func rlimits(_ v: any TOMLValueConvertible, _ path: [String]) -> [ResourceLimit] {
        guard let table = v.table else {
            wrongType(path, expected: "a table such as { nofile = 65536, core = \"unlimited\" }", got: v)
            return []
        }
        checkKnownKeys(table, path: path, known: ResourceLimit.names)
        var out: [ResourceLimit] = []
        for name in ResourceLimit.names {
            guard let value = table[name] else { continue }
            let p = path + [name]
            let bytes = ["core", "memlock", "as"].contains(name)
            let expected = bytes ? "a number of bytes, a size such as \"64M\", or \"unlimited\"" : "a whole number or \"unlimited\""
            if let s = value.string {
                let t = s.trimmingCharacters().lowercased()
                if t == "unlimited" || t == "infinity" { out.append(ResourceLimit(name: name, value: nil)); continue }
                if bytes, let b = ByteSize.parse(s) { out.append(ResourceLimit(name: name, value: UInt64(b))); continue }
                report(p, "invalid value \"\(s)\": expected \(expected)")
            } else if let i = value.int {
                if i < 0 { report(p, "\(i) is out of range: expected \(expected)"); continue }
                out.append(ResourceLimit(name: name, value: UInt64(i)))
            } else {
                wrongType(p, expected: expected, got: value)
            }
        }
        return out
    }
}
