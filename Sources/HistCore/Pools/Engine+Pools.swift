import HistModel

/// The pool side of the engine: the reconcile step and age recycling. Everything runs on the
/// engine thread; the counts always come from the unit table and its live processes.
extension Engine {
    /// Runs the reconcile step of every pool when a pool unit changed since the last pass.
    /// Nothing is reconciled once shutdown began (shutdown stops every worker).
    func reconcilePools() {
        guard poolsDirty, phase == .running else { return }
        for name in pools.keys.sorted() { reconcile(pool: name) }
        poolsDirty = false
        scaleActions.removeAll()
    }

    /// How a unit counts for its pool right now (see `WorkerSlot.Standing`).
    func standing(of unit: Unit) -> WorkerSlot.Standing {
        if unit.retiring && unit.process != nil && unit.state != .stopping { return .retiring(replacement: unit.replacement) }
        if unit.removeWhenIdle { return .leaving }
        switch unit.state {
        case .starting, .running: return unit.process != nil ? .live : .pending
        case .backoff: return .pending
        case .stopping:
            // A limit stop restarts under backoff; an operator restart starts again: both come back.
            return unit.counters.stopReason == .limit || unit.counters.startAfterStop ? .pending : .down
        case .stopped, .exited, .failed: return .down
        }
    }

    /// One pool: plan against the current table, apply, and plan again until nothing is left to
    /// do (a start can make a retiring worker's replacement live within the same pass).
    func reconcile(pool name: String) {
        guard let pool = pools[name] else { return }
        for _ in 0..<8 {
            let members = units.values.filter { $0.key.program == name }
            let slots = members.map { WorkerSlot(key: $0.key, standing: standing(of: $0), instance: $0.process?.info) }
            let plan = PoolReconciler.plan(desired: desiredWorkers[name] ?? 0, slots: slots)
            if plan.isEmpty { return }
            apply(plan, pool: pool)
        }
        logger.warning("pool \(name): reconcile did not settle in 8 passes; will retry on the next change")
    }

    private func apply(_ plan: PoolPlan, pool: PoolSpec) {
        let name = pool.name
        for key in plan.retire {
            guard let unit = units[key] else { continue }
            unit.removeWhenIdle = true
            if let action = scaleActions[name] { unit.link = OperatorLink(action: action, until: .ended, expiresAt: nil) }
            // Live: graceful stop (scale_down). Backoff: stopped at once. Down: removed below.
            deliver(.stopRequested(.scaleDown), to: unit)
            if units[key] != nil, unit.process == nil, [.stopped, .exited, .failed].contains(unit.state) { removeUnit(unit) }
        }
        var used = Set(units.values.filter { $0.key.program == name }.compactMap(\.key.workerIndex))
        var added: [Unit] = []
        var index = 0
        for _ in 0..<plan.start {
            while used.contains(index) { index += 1 }
            used.insert(index)
            added.append(addUnit(UnitKey(program: name, workerIndex: index), spec: pool.worker, pool: name))
        }
        for (old, new) in zip(plan.needReplacement, added) { units[old]?.replacement = new.key }
        for unit in added {
            if let action = scaleActions[name] { unit.link = OperatorLink(action: action, until: .started, expiresAt: nil) }
            deliver(.startRequested, to: unit)
        }
        for key in plan.release {
            guard let unit = units[key], let process = unit.process else { continue }
            unit.retiring = false
            unit.replacement = nil
            record(HistEvent(program: name, payload: .recycled(instance: process.info, reason: unit.retireReason)), unit: unit)
            logger.info("\(unit.key)[\(process.pid)]: \(unit.retireReason == .reload ? "replaced after a reload" : "reached max_worker_age"), and its replacement is live: recycling")
            deliver(.stopRequested(.recycle), to: unit)
        }
    }

    /// Arms the age timer of a pool worker's new process (`max_worker_age` plus jitter).
    func scheduleAgeRecycle(_ unit: Unit, instance: InstanceID) {
        timers.cancel(unit.ageTimer)
        unit.ageTimer = nil
        guard let name = unit.pool, let pool = pools[name], let maxAge = pool.maxWorkerAge, maxAge > .zero else { return }
        let life = AgeSchedule.lifetime(maxAge: maxAge, jitter: pool.ageJitter, using: &ageRNG)
        unit.ageTimer = timers.schedule(at: MonotonicInstant.now().sinceOrigin + life, .workerAge(unit.key, instance))
    }

    /// The worker's process reached its age: mark it retiring (its replacement starts in the
    /// reconcile step; it is stopped only once the replacement is live).
    func workerReachedMaxAge(_ unit: Unit, instance: InstanceID) {
        guard phase == .running, unit.process?.info.id == instance, unit.state == .running,
              !unit.retiring, !unit.removeWhenIdle else { return }
        unit.retiring = true
        unit.removeWhenIdle = true
        poolsDirty = true
        logger.info("\(unit.key): reached max_worker_age; starting its replacement first")
    }
}
