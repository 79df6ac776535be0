/// One sample of a supervised instance's process tree (the instance's root process plus its live
/// descendants). Raw counters only: rates are derived in SQL from adjacent samples.
public struct InstanceSample: Hashable, Sendable {
    public var instance: InstanceID
    /// State letter of the root process from /proc/PID/stat ("R", "S", "D", "Z", "T", ...).
    public var state: Character
    /// utime + cutime summed over every live process in the tree, in clock ticks. (Summing each live
    /// process's cutime keeps the counter monotonic when a child reaps a grandchild.)
    public var utimeTicks: UInt64
    /// Same for stime + cstime.
    public var stimeTicks: UInt64
    /// Sum of RSS over the tree, bytes.
    public var rssBytes: UInt64
    /// Sum of VSZ over the tree, bytes.
    public var vszBytes: UInt64
    /// Sum of threads over the tree.
    public var threads: Int32
    /// Open fds of the root process (-1 if unreadable).
    public var fds: Int32
    /// Number of processes in the tree.
    public var processes: Int32

    public init(instance: InstanceID, state: Character, utimeTicks: UInt64, stimeTicks: UInt64, rssBytes: UInt64,
                vszBytes: UInt64, threads: Int32, fds: Int32, processes: Int32) {
        self.instance = instance
        self.state = state
        self.utimeTicks = utimeTicks
        self.stimeTicks = stimeTicks
        self.rssBytes = rssBytes
        self.vszBytes = vszBytes
        self.threads = threads
        self.fds = fds
        self.processes = processes
    }
}

/// One sampling sweep over every supervised instance, taken at `time`.
public struct SnapshotSweep: Hashable, Sendable {
    public var time: Timestamp
    public var samples: [InstanceSample]
    /// How long reading /proc for this sweep took (zero when not measured).
    public var duration: Duration
    public init(time: Timestamp, samples: [InstanceSample], duration: Duration = .zero) {
        self.time = time
        self.samples = samples
        self.duration = duration
    }
}

/// A system-wide scan of /proc: counts, zombie parents, orphans.
public struct ScanReport: Hashable, Sendable {
    public var time: Timestamp
    public var summary: ScanSummary
    public var zombieParents: [ZombieParentSighting]
    public var orphans: [OrphanSighting]

    public init(time: Timestamp, summary: ScanSummary, zombieParents: [ZombieParentSighting], orphans: [OrphanSighting]) {
        self.time = time
        self.summary = summary
        self.zombieParents = zombieParents
        self.orphans = orphans
    }
}

/// Process counts by state, and total RSS, at one scan.
public struct ScanSummary: Hashable, Sendable {
    public var total: Int
    public var running: Int
    public var sleeping: Int
    /// Uninterruptible sleep (D).
    public var diskSleep: Int
    public var zombie: Int
    public var stopped: Int
    public var other: Int
    public var totalRSSBytes: UInt64

    public init(total: Int = 0, running: Int = 0, sleeping: Int = 0, diskSleep: Int = 0, zombie: Int = 0,
                stopped: Int = 0, other: Int = 0, totalRSSBytes: UInt64 = 0) {
        self.total = total
        self.running = running
        self.sleeping = sleeping
        self.diskSleep = diskSleep
        self.zombie = zombie
        self.stopped = stopped
        self.other = other
        self.totalRSSBytes = totalRSSBytes
    }
}

/// A parent seen with at least one zombie child in one scan.
public struct ZombieParentSighting: Hashable, Sendable {
    public var parent: ProcessIdentity
    public var parentName: String
    public var parentCmdline: String
    public var zombies: Int

    public init(parent: ProcessIdentity, parentName: String, parentCmdline: String, zombies: Int) {
        self.parent = parent
        self.parentName = parentName
        self.parentCmdline = parentCmdline
        self.zombies = zombies
    }
}

/// A process judged an orphan in one scan (see docs for the rule).
public struct OrphanSighting: Hashable, Sendable {
    public var identity: ProcessIdentity
    public var name: String
    public var cmdline: String
    public var user: String
    /// When the process started (wall clock, from boot time + start ticks).
    public var startedAt: Timestamp
    /// Program it came from, when histd knows (it was re-parented to histd as subreaper).
    public var program: String?
    /// Why it was judged an orphan.
    public var reason: OrphanReason

    public init(identity: ProcessIdentity, name: String, cmdline: String, user: String, startedAt: Timestamp,
                program: String?, reason: OrphanReason) {
        self.identity = identity
        self.name = name
        self.cmdline = cmdline
        self.user = user
        self.startedAt = startedAt
        self.program = program
        self.reason = reason
    }
}
