#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistSys

/// The cgroup controllers histd uses for `[program.X] cgroup = {...}`.
public enum CgroupResource: String, Hashable, Sendable, CaseIterable, Comparable {
    case memory, pids, cpu
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// Where one controller lives on this machine: a cgroup v2 hierarchy that offers it, or its
/// cgroup v1 hierarchy.
public struct CgroupHierarchy: Hashable, Sendable {
    public enum Version: String, Hashable, Sendable { case v1, v2 }
    public var resource: CgroupResource
    public var version: Version
    /// histd's own group in that hierarchy: the mount point joined with the path that
    /// /proc/self/cgroup names. Program groups are created below it.
    public var ownDirectory: String

    public init(resource: CgroupResource, version: Version, ownDirectory: String) {
        self.resource = resource
        self.version = version
        self.ownDirectory = ownDirectory
    }
}

/// The cgroup controllers available to histd, detected at runtime per controller: cgroup v2 when a
/// cgroup2 mount offers the controller to histd's group (and it can be delegated to children), else
/// the controller's cgroup v1 hierarchy, else unavailable (with a reason).
public struct Cgroups: Hashable, Sendable {
    public var hierarchies: [CgroupResource: CgroupHierarchy]
    /// Why a controller is unavailable, per controller.
    public var missing: [CgroupResource: String]

    public init(hierarchies: [CgroupResource: CgroupHierarchy], missing: [CgroupResource: String]) {
        self.hierarchies = hierarchies
        self.missing = missing
    }

    /// nil when at least one controller works; otherwise one sentence for histd to print once at
    /// startup ("cgroups unavailable: ...") before running without them.
    public var unavailableReason: String? {
        guard hierarchies.isEmpty else { return nil }
        let parts = CgroupResource.allCases.map { "\($0.rawValue): \(missing[$0] ?? "not found")" }
        return "cgroups unavailable (" + parts.joined(separator: "; ") + ")"
    }

    /// One line for the startup log, e.g. "cgroups: cpu v1, memory v1, pids v1".
    public var summary: String {
        let parts = CgroupResource.allCases.map { r in
            if let h = hierarchies[r] { return "\(r.rawValue) \(h.version.rawValue) at \(h.ownDirectory)" }
            return "\(r.rawValue) unavailable: \(missing[r] ?? "not found")"
        }
        return "cgroups: " + parts.joined(separator: ", ")
    }

    /// Detects controllers from `/proc/self/mountinfo` and `/proc/self/cgroup` under `procRoot`.
    /// Never throws: what is missing is described in `missing`.
    public static func detect(procRoot: String = "/proc") -> Cgroups {
        let mountinfo = Sys.readText(procRoot + "/self/mountinfo") ?? ""
        let membership = Sys.readText(procRoot + "/self/cgroup") ?? ""
        return detect(mountinfo: mountinfo, procCgroup: membership, isWritable: { access($0, W_OK) == 0 },
                      readFile: { Sys.readText($0) })
    }

    /// Detection from the two files' text; file access is injected so tests can fake a machine.
    public static func detect(mountinfo: String, procCgroup: String,
                              isWritable: (String) -> Bool, readFile: (String) -> String?) -> Cgroups {
        let mounts = CgroupMount.parse(mountinfo: mountinfo)
        let membership = CgroupMembership.parse(procCgroup)
        var found: [CgroupResource: CgroupHierarchy] = [:]
        var missing: [CgroupResource: String] = [:]

        for resource in CgroupResource.allCases {
            var reasons: [String] = []
            // cgroup v2 first.
            if let v2 = mounts.first(where: { $0.isV2 }), let path = membership.v2Path {
                let own = v2.directory(for: path)
                let offered = words(readFile(own + "/cgroup.controllers"))
                let delegated = words(readFile(own + "/cgroup.subtree_control"))
                if !offered.contains(resource.rawValue) {
                    reasons.append("cgroup v2 at \(v2.mountPoint) does not offer it")
                } else if !delegated.contains(resource.rawValue) && path != "/" {
                    // Enabling it for children of a group that has processes (histd's own) is
                    // refused by the kernel ("no internal processes"), so histd must be started in
                    // a group that already delegates it.
                    reasons.append("cgroup v2: not enabled in \(own)/cgroup.subtree_control")
                } else if !isWritable(own) {
                    reasons.append("cgroup v2: \(own) is not writable (not root?)")
                } else {
                    found[resource] = CgroupHierarchy(resource: resource, version: .v2, ownDirectory: own)
                    continue
                }
            }
            // Then cgroup v1.
            if let v1 = mounts.first(where: { $0.controllers.contains(resource.rawValue) }) {
                guard let path = membership.v1Paths[resource.rawValue] else {
                    reasons.append("cgroup v1 \(resource.rawValue) is mounted but /proc/self/cgroup has no entry for it")
                    missing[resource] = reasons.joined(separator: "; ")
                    continue
                }
                let own = v1.directory(for: path)
                if isWritable(own) {
                    found[resource] = CgroupHierarchy(resource: resource, version: .v1, ownDirectory: own)
                    continue
                }
                reasons.append("cgroup v1: \(own) is not writable (not root?)")
            } else {
                reasons.append("no cgroup v1 \(resource.rawValue) hierarchy mounted")
            }
            missing[resource] = reasons.joined(separator: "; ")
        }
        return Cgroups(hierarchies: found, missing: missing)
    }

    /// Creates (or reuses) the group(s) for one program below histd's own groups:
    /// `<own>/<parentName>/<program>` in each hierarchy it needs, and writes its limits.
    ///
    /// The program always gets at least one group, even without limits, so that `killAll` can find
    /// every process it started (pids is preferred for that: it is cheap). `parentName` defaults to
    /// "histd-<pid>" so that two histd processes (or parallel tests) never share groups.
    public func create(program: String, limits: CgroupLimits,
                       parentName: String = "histd-\(getpid())") throws(CgroupError) -> CgroupController {
        var needed: Set<CgroupResource> = []
        if limits.memoryMax != nil { needed.insert(.memory) }
        if limits.cpuQuotaPercent != nil { needed.insert(.cpu) }
        if limits.tasksMax != nil { needed.insert(.pids) }
        for r in needed where hierarchies[r] == nil {
            throw CgroupError(.controllerUnavailable, path: r.rawValue, detail: missing[r] ?? "not found")
        }
        if hierarchies[.pids] != nil { needed.insert(.pids) }
        if needed.isEmpty, let any = hierarchies.keys.sorted().first { needed.insert(any) }
        guard !needed.isEmpty else {
            throw CgroupError(.controllerUnavailable, path: "any", detail: unavailableReason ?? "")
        }

        let leaf = Self.safeName(program)
        var groups: [CgroupController.Group] = []
        // v1: one directory per hierarchy (two controllers may share a mount, e.g. cpu,cpuacct).
        // v2: one directory for all v2 controllers.
        var byDirectory: [String: (version: CgroupHierarchy.Version, resources: Set<CgroupResource>)] = [:]
        for r in needed.sorted() {
            let h = hierarchies[r]!
            byDirectory[h.ownDirectory, default: (h.version, [])].resources.insert(r)
        }
        for (own, entry) in byDirectory.sorted(by: { $0.key < $1.key }) {
            let parent = own + "/" + Self.safeName(parentName)
            let dir = parent + "/" + leaf
            try Self.makeDirectory(parent)
            if entry.version == .v2 {
                let enable = entry.resources.sorted().map { "+" + $0.rawValue }.joined(separator: " ")
                try Self.write(parent + "/cgroup.subtree_control", enable)
            }
            try Self.makeDirectory(dir)
            groups.append(CgroupController.Group(directory: dir, version: entry.version, resources: entry.resources))
        }
        let controller = CgroupController(program: program, groups: groups)
        try controller.apply(limits)
        return controller
    }

    /// Removes the empty "histd-<pid>" parents at shutdown (after every program group is removed).
    /// Best effort: a parent that still holds groups is left alone.
    public func removeParents(parentName: String = "histd-\(getpid())") {
        for own in Set(hierarchies.values.map(\.ownDirectory)) {
            _ = (own + "/" + Self.safeName(parentName)).withCString { rmdir($0) }
        }
    }

    /// Groups that dead histd processes left: `<own>/histd-<pid>` parents (and their program groups)
    /// whose pid `isLive` says is no longer a histd. Returns each parent with its program groups.
    public func staleParents(isLive: (Int32) -> Bool) -> [(parent: String, groups: [String])] {
        var out: [(String, [String])] = []
        for own in Set(hierarchies.values.map(\.ownDirectory)).sorted() {
            guard let dir = opendir(own) else { continue }
            var parents: [String] = []
            while let e = readdir(dir) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                guard name.hasPrefix("histd-"), let pid = Int32(name.dropFirst(6)), pid != getpid(), !isLive(pid) else { continue }
                parents.append(own + "/" + name)
            }
            closedir(dir)
            for parent in parents.sorted() {
                var groups: [String] = []
                if let d = opendir(parent) {
                    while let e = readdir(d) {
                        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                        if e.pointee.d_type == UInt8(DT_DIR) && name != "." && name != ".." { groups.append(parent + "/" + name) }
                    }
                    closedir(d)
                }
                out.append((parent, groups.sorted()))
            }
        }
        return out
    }

    /// The pids in one cgroup directory (`cgroup.procs`).
    public static func pids(inGroup directory: String) -> [Int32] {
        (Sys.readText(directory + "/cgroup.procs") ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    /// rmdir of a stale parent's groups, then of the parent. Returns false if any remains (busy).
    @discardableResult
    public static func removeGroups(parent: String, groups: [String]) -> Bool {
        var ok = true
        for g in groups where g.withCString({ rmdir($0) }) != 0 && errno != ENOENT { ok = false }
        if parent.withCString({ rmdir($0) }) != 0 && errno != ENOENT { ok = false }
        return ok
    }

    // MARK: helpers

    /// A program name as a directory name: no "/", never "." or "..".
    static func safeName(_ name: String) -> String {
        var s = String(name.map { $0 == "/" || $0 == "\n" ? "_" : $0 })
        if s.isEmpty || s == "." || s == ".." { s = "_" + s }
        return s
    }

    static func makeDirectory(_ path: String) throws(CgroupError) {
        if path.withCString({ mkdir($0, 0o755) }) != 0 && errno != EEXIST {
            throw CgroupError(.createFailed, path: path, errno: errno)
        }
    }

    static func write(_ path: String, _ text: String) throws(CgroupError) {
        let err = Sys.writeFile(path, text)
        if err != 0 { throw CgroupError(.writeFailed, path: path, errno: err, detail: "writing \"\(text)\"") }
    }

    static func words(_ text: String?) -> Set<String> {
        Set((text ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init))
    }
}

/// One line of /proc/self/mountinfo that mounts a cgroup hierarchy.
struct CgroupMount: Hashable, Sendable {
    var mountPoint: String
    /// The root of the mount inside the hierarchy ("/" unless a sub-tree is bind-mounted).
    var mountRoot: String
    var isV2: Bool
    /// v1 controllers from the super options ("memory", "cpu", "cpuacct", "name=systemd", ...).
    var controllers: Set<String>

    /// The directory of the group at `path` (as /proc/self/cgroup names it) under this mount.
    func directory(for path: String) -> String {
        var relative = path
        if mountRoot != "/" && (path == mountRoot || path.hasPrefix(mountRoot + "/")) {
            relative = String(path.dropFirst(mountRoot.count))
        }
        if relative == "/" || relative.isEmpty { return mountPoint }
        return mountPoint + (relative.hasPrefix("/") ? relative : "/" + relative)
    }

    /// "36 25 0:32 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory"
    static func parse(mountinfo: String) -> [CgroupMount] {
        var out: [CgroupMount] = []
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let dash = fields.firstIndex(of: "-"), dash >= 5, fields.count >= dash + 4 else { continue }
            let fstype = fields[dash + 1]
            guard fstype == "cgroup" || fstype == "cgroup2" else { continue }
            let options = fields[dash + 3].split(separator: ",").map(String.init)
            out.append(CgroupMount(mountPoint: unescape(fields[4]), mountRoot: unescape(fields[3]),
                                   isV2: fstype == "cgroup2",
                                   controllers: fstype == "cgroup" ? Set(options) : []))
        }
        return out
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        var bytes: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            if u[i] == 92, i + 3 < u.count,
               let v = UInt8(String(decoding: u[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                bytes.append(v)
                i += 4
            } else {
                bytes.append(u[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// /proc/self/cgroup: "4:memory:/a/b", "2:cpu,cpuacct:/", "0::/" (the v2 line).
struct CgroupMembership: Hashable, Sendable {
    var v1Paths: [String: String] = [:]
    var v2Path: String?

    static func parse(_ text: String) -> CgroupMembership {
        var m = CgroupMembership()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = String(parts[2])
            if parts[0] == "0" && parts[1].isEmpty {
                m.v2Path = path
            } else {
                for c in parts[1].split(separator: ",") { m.v1Paths[String(c)] = path }
            }
        }
        return m
    }
}
