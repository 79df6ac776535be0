import HistModel

/// What a reload changes, per program and pool: the result of `ReloadPlan.make(old:new:)`, a pure
/// function of two validated configs. The engine carries it out (`SupervisorCommand.reload`).
public struct ReloadPlan: Hashable, Sendable, Codable {
    /// A program or pool and the TOML keys whose change put it in a list.
    public struct Change: Hashable, Sendable, Codable {
        public var name: String
        public var keys: [String]
        public init(name: String, keys: [String]) {
            self.name = name
            self.keys = keys
        }
    }

    /// A key that cannot change while histd runs; its presence refuses the whole reload.
    public struct Refusal: Hashable, Sendable, Codable {
        /// Key path in the file, e.g. `["supervisor", "db"]`.
        public var path: [String]
        public var message: String
        public init(path: [String], message: String) {
            self.path = path
            self.message = message
        }
    }

    /// Added programs and pools, started (programs only if `autostart`), in file order.
    public var start: [String] = []
    /// Removed programs and pools, stopped group by group in ascending (old) `stop_order`.
    public var stop: [String] = []
    /// Spawn-relevant keys changed: restarted with the new config (a pool: every worker, replaced one by one).
    public var restart: [Change] = []
    /// Supervision-only keys changed: applied in place, no restart.
    public var update: [Change] = []
    /// Pool size or autoscaler keys changed: re-sized within the new bounds.
    public var scale: [Change] = []
    /// Keys that cannot change live. When non-empty, nothing of the plan is applied.
    public var refused: [Refusal] = []
    /// Present in both configs with no key changed.
    public var unchanged: [String] = []

    public init() {}

    /// True when applying the plan would change nothing that runs.
    public var changesNothing: Bool {
        start.isEmpty && stop.isEmpty && restart.isEmpty && update.isEmpty && scale.isEmpty
    }

    /// The plan for reloading `new` over the running `old`.
    public static func make(old: HistConfig, new: HistConfig) -> ReloadPlan {
        var plan = ReloadPlan()
        for rule in ReloadKeys.supervisor where rule.differs(old.supervisor, new.supervisor) {
            switch rule.effect {
            case .refuse:
                plan.refused.append(Refusal(path: ["supervisor"] + rule.key.split(separator: ".").map(String.init),
                                            message: "cannot change while histd runs; restart histd to apply it"))
            case .inPlace, .restart, .scale:
                plan.update.append(Change(name: "[supervisor]", keys: [rule.key]))
            }
        }
        // Merge the [supervisor] keys into one entry.
        if !plan.update.isEmpty { plan.update = [Change(name: "[supervisor]", keys: plan.update.flatMap(\.keys))] }
        plan.compareShip(old.ship, new.ship)

        let oldPrograms = Dictionary(old.programs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let oldPools = Dictionary(old.pools.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let newProgramNames = Set(new.programs.map(\.name)), newPoolNames = Set(new.pools.map(\.name))

        // A name that moved between [program.X] and [pool.X] is a different thing: the old one stops, the new one starts.
        for spec in new.programs {
            guard let before = oldPrograms[spec.name] else { plan.start.append(spec.name); continue }
            plan.compare(name: spec.name, before, spec, pool: nil)
        }
        for pool in new.pools {
            guard let before = oldPools[pool.name] else { plan.start.append(pool.name); continue }
            plan.compare(name: pool.name, before.worker, pool.worker, pool: (before, pool))
        }
        var removed: [(name: String, order: Int)] = []
        for p in old.programs where !newProgramNames.contains(p.name) { removed.append((p.name, p.stopOrder)) }
        for p in old.pools where !newPoolNames.contains(p.name) { removed.append((p.name, p.worker.stopOrder)) }
        plan.stop = removed.sorted { ($0.order, $0.name) < ($1.order, $1.name) }.map(\.name)
        return plan
    }

    /// `[ship]`: whether the writer captures changes for histd-ship is decided as histd opens the database,
    /// so adding or removing the section is refused (a shipper started without capture would refuse to
    /// run). The writer's hold follows `ship_max_backlog` and `ship_snapshots` in place; the shipper's own
    /// settings (url, password_file, host_id, ship_snapshots) restart it through its program's command.
    private mutating func compareShip(_ a: ShipSpec?, _ b: ShipSpec?) {
        switch (a, b) {
        case (nil, nil): return
        case (nil, _), (_, nil):
            refused.append(Refusal(path: ["ship"], message: a == nil
                ? "cannot be added while histd runs: the writer starts capturing changes for histd-ship when histd opens the database; restart histd to apply it"
                : "cannot be removed while histd runs: the writer stops capturing changes for histd-ship when histd opens the database; restart histd to apply it"))
        case (let a?, let b?):
            var keys: [String] = []
            if a.maxBacklog != b.maxBacklog { keys.append("ship_max_backlog") }
            if a.snapshots != b.snapshots { keys.append("ship_snapshots") }
            if !keys.isEmpty { update.append(Change(name: "[ship]", keys: keys)) }
        }
    }

    private mutating func compare(name: String, _ a: ProgramSpec, _ b: ProgramSpec, pool: (PoolSpec, PoolSpec)?) {
        var restartKeys: [String] = [], inPlace: [String] = [], scaleKeys: [String] = []
        for rule in ReloadKeys.program where rule.differs(a, b) {
            switch rule.effect {
            case .restart: restartKeys.append(rule.key)
            case .inPlace: inPlace.append(rule.key)
            case .scale: scaleKeys.append(rule.key)
            case .refuse: refused.append(Refusal(path: [pool == nil ? "program" : "pool", name, rule.key],
                                                 message: "cannot change while histd runs; restart histd to apply it"))
            }
        }
        if let (pa, pb) = pool {
            for rule in ReloadKeys.pool where rule.differs(pa, pb) {
                switch rule.effect {
                case .restart: restartKeys.append(rule.key)
                case .inPlace: inPlace.append(rule.key)
                case .scale: scaleKeys.append(rule.key)
                case .refuse: refused.append(Refusal(path: ["pool", name, rule.key],
                                                     message: "cannot change while histd runs; restart histd to apply it"))
                }
            }
        }
        // "cgroup" (presence) and "cgroup.memory_max" may both differ: name each key once.
        restartKeys = restartKeys.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        if !restartKeys.isEmpty { restart.append(Change(name: name, keys: restartKeys)) }
        if !inPlace.isEmpty { update.append(Change(name: name, keys: inPlace)) }
        if !scaleKeys.isEmpty { scale.append(Change(name: name, keys: scaleKeys)) }
        if restartKeys.isEmpty && inPlace.isEmpty && scaleKeys.isEmpty { unchanged.append(name) }
    }

    /// One line per entry, for `reload --dry-run`, logs and the record:
    /// `start api`, `stop old`, `restart web (command, env)`, `update web (stop_timeout)`, `scale jobs (min_workers)`.
    public var lines: [String] {
        var out: [String] = []
        for r in refused { out.append("refuse \(r.path.joined(separator: ".")): \(r.message)") }
        for n in start { out.append("start \(n)") }
        for n in stop { out.append("stop \(n)") }
        for c in restart { out.append("restart \(c.name) (\(c.keys.joined(separator: ", ")))") }
        for c in update { out.append("update \(c.name) in place (\(c.keys.joined(separator: ", ")))") }
        for c in scale { out.append("scale \(c.name) (\(c.keys.joined(separator: ", ")))") }
        if !unchanged.isEmpty { out.append("unchanged \(unchanged.joined(separator: ", "))") }
        if out.isEmpty { out.append("nothing to change") }
        return out
    }
}
