/// How a program's process is set up between fork and exec, beyond argv, cwd and stdio: whose
/// identity it takes, its umask, its environment's starting point and its resource limits.
/// The config loader resolves names (user, groups) and reads `env_file`, so the spawner only copies
/// numbers into the child (the vfork child may not call NSS functions such as initgroups).
public struct ExecContext: Hashable, Sendable, Codable {
    /// Switch to this identity (`user`, `group`, `supplementary_groups`); nil = keep histd's.
    public var identity: RunAs?
    /// `umask`, e.g. 0o027; nil = inherit histd's.
    public var umask: UInt32?
    /// `clear_env`: start from an empty environment instead of histd's own.
    public var clearEnv: Bool
    /// Variables read from `env_file` (systemd EnvironmentFile syntax). `env` wins over these.
    public var envFile: [String: String]
    /// `rlimits`, in a stable order (soft and hard are both set to the value).
    public var rlimits: [ResourceLimit]
    /// `no_new_privileges`: prctl(PR_SET_NO_NEW_PRIVS), so setuid binaries and file capabilities grant nothing.
    public var noNewPrivileges: Bool

    public init(identity: RunAs? = nil, umask: UInt32? = nil, clearEnv: Bool = false, envFile: [String: String] = [:],
                rlimits: [ResourceLimit] = [], noNewPrivileges: Bool = false) {
        self.identity = identity
        self.umask = umask
        self.clearEnv = clearEnv
        self.envFile = envFile
        self.rlimits = rlimits
        self.noNewPrivileges = noNewPrivileges
    }
}

extension ExecContext {
    private enum CodingKeys: String, CodingKey {
        case identity, umask, clearEnv, envFileKeys, rlimits, noNewPrivileges
    }

    /// The history records each program's spec as JSON (programs.config): `env_file` is where secrets
    /// live, so only its variable names are written, never their values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(identity, forKey: .identity)
        try c.encodeIfPresent(umask, forKey: .umask)
        try c.encode(clearEnv, forKey: .clearEnv)
        try c.encode(envFile.keys.sorted(), forKey: .envFileKeys)
        try c.encode(rlimits, forKey: .rlimits)
        try c.encode(noNewPrivileges, forKey: .noNewPrivileges)
    }

    /// Reads what `encode` wrote: the env_file variables come back with empty values.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(identity: try c.decodeIfPresent(RunAs.self, forKey: .identity),
                  umask: try c.decodeIfPresent(UInt32.self, forKey: .umask),
                  clearEnv: try c.decodeIfPresent(Bool.self, forKey: .clearEnv) ?? false,
                  envFile: Dictionary(uniqueKeysWithValues: (try c.decodeIfPresent([String].self, forKey: .envFileKeys) ?? []).map { ($0, "") }),
                  rlimits: try c.decodeIfPresent([ResourceLimit].self, forKey: .rlimits) ?? [],
                  noNewPrivileges: try c.decodeIfPresent(Bool.self, forKey: .noNewPrivileges) ?? false)
    }
}

/// A resolved identity: numbers for the child, names for messages.
public struct RunAs: Hashable, Sendable, Codable {
    /// `user`, as written; nil when only `group` was given (the uid stays histd's).
    public var user: String?
    public var uid: UInt32?
    public var gid: UInt32
    /// Supplementary groups passed to setgroups: `supplementary_groups`, or the user's groups from the
    /// group database (what initgroups would set), resolved with getgrouplist when the config loads.
    public var groups: [UInt32]
    /// The user's home folder from the user database; the child gets HOME, USER and LOGNAME for the user.
    public var home: String?

    public init(user: String?, uid: UInt32?, gid: UInt32, groups: [UInt32], home: String? = nil) {
        self.user = user
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.home = home
    }
}

/// One `rlimits` entry.
public struct ResourceLimit: Hashable, Sendable, Codable {
    /// The resources histd sets, by their config names (RLIMIT_NOFILE, RLIMIT_CORE, ...).
    public static let names = ["nofile", "core", "nproc", "memlock", "as"]
    /// One of `names`.
    public var name: String
    /// nil = "unlimited" (RLIM_INFINITY).
    public var value: UInt64?

    public init(name: String, value: UInt64?) {
        self.name = name
        self.value = value
    }
}
