import HistModel

extension Engine {
    /// Carries out a reload plan on the engine thread. Nothing here waits: removed programs are
    /// signalled group by group (`advanceReloadStops`), restarts go through each unit's lifecycle,
    /// pool workers whose spawn keys changed are replaced one by one through the retire/replace path
    /// (the replacement runs before the old worker is stopped), and pool sizes go through the reconcile step.
    func applyReload(_ request: ReloadRequest) {
        let plan = request.plan
        guard plan.refused.isEmpty else {
            logger.error("reload (\(request.origin)) refused: \(plan.refused.map { $0.path.joined(separator: ".") }.joined(separator: ", "))")
            return
        }
        let config = request.config
        let newPrograms = Dictionary(config.programs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let newPools = Dictionary(config.pools.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        supervisorSpec.shutdownTimeout = config.supervisor.shutdownTimeout
        supervisorSpec.stopLeftovers = config.supervisor.stopLeftovers

        // Removed: stop, group by group in ascending (old) stop_order; slots go once their process is gone.
        var groups: [Int: [UnitKey]] = [:]
        for name in plan.stop {
            let wasPool = pools[name] != nil && newPools[name] == nil
            let members = units.values.filter { $0.key.program == name && ($0.key.workerIndex != nil) == wasPool }
            for unit in members {
                unit.removeWhenIdle = true
                unit.retiring = false
                groups[unit.spec.stopOrder, default: []].append(unit.key)
            }
            if wasPool {
                pools[name] = nil
                desiredWorkers[name] = nil
            } else {
                programs[name] = nil
            }
        }
        for order in groups.keys.sorted() { reloadStops.append(groups[order]!.sorted()) }

        let restartNames = Set(plan.restart.map(\.name))
        // Changed programs: in-place keys now; spawn keys at the next spawn (a restart follows at once).
        for change in plan.update + plan.restart where newPrograms[change.name] != nil {
            guard let spec = newPrograms[change.name], let unit = units[UnitKey(program: change.name)] else { continue }
            programs[change.name] = spec
            if restartNames.contains(change.name) || unit.pendingSpec != nil {
                // (A spawn change of an earlier reload still waiting for the next spawn keeps waiting, now with this spec.)
                unit.pendingSpec = spec
            } else {
                unit.spec = spec
            }
        }
        for name in restartNames where newPrograms[name] != nil {
            guard let unit = units[UnitKey(program: name)], unit.process != nil, unit.state == .running else { continue }
            deliver(.restartRequested, to: unit)
        }

        // Changed pools.
        for name in Set((plan.update + plan.restart + plan.scale).map(\.name)) {
            guard let pool = newPools[name], pools[name] != nil else { continue }
            pools[name] = pool
            for unit in units.values where unit.key.program == name && unit.key.workerIndex != nil && !unit.removeWhenIdle {
                if restartNames.contains(name) && unit.process != nil && unit.state == .running {
                    // Replaced like an aged worker: its replacement (new config) starts first.
                    unit.retiring = true
                    unit.removeWhenIdle = true
                    unit.retireReason = .reload
                } else if restartNames.contains(name) || unit.pendingSpec != nil {
                    unit.pendingSpec = pool.worker
                } else {
                    unit.spec = pool.worker
                }
            }
            let current = desiredWorkers[name] ?? pool.minWorkers
            let clamped = min(max(current, pool.minWorkers), pool.maxWorkers)
            if clamped != current { resizePool(name, to: clamped) }
            poolsDirty = true
        }

        // Added.
        for name in plan.start {
            if let spec = newPrograms[name] {
                let key = UnitKey(program: name)
                if units[key] != nil {
                    logger.warning("reload: \(name) is still stopping from an earlier removal; start it once it has stopped")
                    continue
                }
                programs[name] = spec
                let unit = addUnit(key, spec: spec, pool: nil)
                if spec.autostart { deliver(.startRequested, to: unit) }
            } else if let pool = newPools[name] {
                pools[name] = pool
                resizePool(name, to: pool.minWorkers)
            }
        }
        logger.notice("reload (\(request.origin)) applied: \(plan.lines.joined(separator: "; "))")
    }

    /// Moves the reload's removals forward: a group is signalled only once every process of the
    /// group before it has been reaped (as in shutdown, but the rest keeps running).
    func advanceReloadStops() {
        guard phase == .running else {
            reloadStops = []
            return
        }
        while let group = reloadStops.first {
            let members = group.compactMap { units[$0] }
            if !reloadStopSignalled {
                for unit in members { deliver(.stopRequested(.reload), to: unit) }
                reloadStopSignalled = true
            }
            if group.contains(where: { units[$0]?.process != nil }) { return }
            reloadStops.removeFirst()
            reloadStopSignalled = false
        }
    }
}
