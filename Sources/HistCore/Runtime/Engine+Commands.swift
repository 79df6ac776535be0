#if canImport(Glibc)
import Glibc
#endif
import HistModel

extension Engine {
    /// Turns a posted command into lifecycle events of the units it names, and answers it: at once,
    /// or (with `options.wait`) once its goal holds (see `PendingWait`, checked by `settleWaits`).
    func handle(_ request: CommandRequest) {
        let command = request.command, reply = request.reply
        if phase != .running, command != .shutdown {
            logger.info("refusing \(command) during shutdown")
            reply.complete(.shuttingDown)
            return
        }
        switch command {
        case .shutdown:
            beginShutdown(cause: "shutdown command")
            reply.complete(.done([]))
        case .start(let name):
            guard let matching = resolve(name, reply) else { return }
            let todo = matching.filter { !isUp($0) }
            guard !todo.isEmpty else { return reply.answer(.already("\(name): already running")) }
            for unit in todo {
                link(unit, request.options, until: .started)
                deliver(.startRequested, to: unit)
            }
            answer(request, units: todo, goal: .running(after: [:]))
        case .stop(let name):
            guard let matching = resolve(name, reply) else { return }
            let todo = matching.filter { !isDown($0) }
            guard !todo.isEmpty else { return reply.answer(.already("\(name): already stopped")) }
            let before = pids(todo)
            for unit in todo {
                link(unit, request.options, until: .ended)
                deliver(.stopRequested(.operator), to: unit)
            }
            answer(request, units: todo, goal: .down, before: before)
        case .restart(let name):
            guard let matching = resolve(name, reply) else { return }
            let before = pids(matching)
            var after: [UnitKey: InstanceID] = [:]
            for unit in matching {
                if let id = unit.process?.info.id { after[unit.key] = id }
                link(unit, request.options, until: .started)
                deliver(.restartRequested, to: unit)
            }
            answer(request, units: matching, goal: .running(after: after), before: before)
        case .signal(let name, let sig):
            guard let matching = resolve(name, reply) else { return }
            let live = matching.filter { $0.process != nil && $0.state != .stopping }
            guard !live.isEmpty else { return reply.answer(.failed("\(name): not running, nothing to signal")) }
            for unit in live {
                // A crash within stop_timeout of the operator's signal is the operator's doing.
                link(unit, request.options, until: .ended, expires: unit.spec.stopTimeout)
                // ...and the lifecycle does not count it against the program (see `exitedOnOperatorSignal`).
                unit.operatorSignalUntil = MonotonicInstant.now().sinceOrigin + unit.spec.stopTimeout
                signalGroup(unit, sig)
                logger.notice("\(unit.key)[\(unit.process?.pid ?? 0)]: sent \(SignalName.name(sig)) (operator)")
            }
            reply.complete(.done(live.map { UnitChange(unit: $0.key, oldPID: $0.process?.pid, newPID: $0.process?.pid, state: $0.state) }))
        case .reset(let name):
            guard let matching = resolve(name, reply) else { return }
            for unit in matching { deliver(.reset, to: unit) }
            reply.complete(.done(matching.map { UnitChange(unit: $0.key, oldPID: $0.process?.pid, newPID: $0.process?.pid, state: $0.state) }))
        case .limitBreached(let id, let limit, let observed, let threshold):
            guard let unit = units.values.first(where: { $0.process?.info.id == id }) else {
                logger.debug("limit breach for instance \(id), which is no longer running: ignored")
                return reply.answer(.failed("instance \(id) is no longer running"))
            }
            deliver(.limitBreached(limit: limit, observed: observed, threshold: threshold), to: unit)
            reply.complete(.done([]))
        case .setDesiredWorkers(let name, let count):
            guard pools[name] != nil else { return reply.answer(noSuchPool(name)) }
            resizePool(name, to: count, signal: nil, action: request.options.operatorAction)
            reply.complete(.done([]))
        case .autoscale(let name, let count, let signal):
            guard pools[name] != nil else { return reply.answer(noSuchPool(name)) }
            resizePool(name, to: count, signal: signal, action: nil)
            reply.complete(.done([]))
        case .scale(let name, let count):
            guard let pool = pools[name] else { return reply.answer(noSuchPool(name)) }
            guard count >= pool.minWorkers, count <= pool.maxWorkers else {
                return reply.answer(.refused("\(name): \(count) is outside min_workers \(pool.minWorkers) ... max_workers \(pool.maxWorkers)"))
            }
            if desiredWorkers[name] == count, poolSettled(name, count) {
                return reply.answer(.already("\(name): already \(count) worker(s)"))
            }
            resizePool(name, to: count, signal: nil, action: request.options.operatorAction)
            if request.options.wait {
                waits.append(PendingWait(reply: reply, units: [], goal: .poolSize(name, count), before: [:]))
            } else {
                reply.complete(.done([]))
            }
        case .reload(let reload):
            applyReload(reload)
            reply.complete(.done([]))
        }
    }

    /// The units a name stands for: a program or pool (every slot), else one pool worker (`jobs.0`).
    /// Answers `.noSuchUnit` (with the closest name) and returns nil when there is none.
    private func resolve(_ name: String, _ reply: CommandReply) -> [Unit]? {
        let matching = units.values.filter { $0.key.program == name }.sorted { $0.key < $1.key }
        if !matching.isEmpty { return matching }
        if let unit = units.values.first(where: { $0.pool != nil && $0.key.description == name }) { return [unit] }
        let known = Set(units.keys.map(\.program) + units.keys.map(\.description))
        logger.warning("no program or pool named \"\(name)\"")
        reply.complete(.noSuchUnit(name: name, suggestion: NameSuggestion.closest(to: name, in: Array(known))))
        return nil
    }

    private func noSuchPool(_ name: String) -> CommandOutcome {
        logger.warning("no pool named \"\(name)\"")
        return .noSuchUnit(name: name, suggestion: NameSuggestion.closest(to: name, in: Array(pools.keys)))
    }

    private func isUp(_ unit: Unit) -> Bool {
        (unit.state == .running || unit.state == .starting) && unit.counters.stopReason == nil
    }

    private func isDown(_ unit: Unit) -> Bool {
        unit.process == nil && [.stopped, .exited, .failed].contains(unit.state)
    }

    private func pids(_ units: [Unit]) -> [UnitKey: Int32] {
        var m: [UnitKey: Int32] = [:]
        for u in units { if let p = u.process?.pid { m[u.key] = p } }
        return m
    }

    /// Marks the events the command causes on `unit` with the operator action (see `Unit.link`).
    private func link(_ unit: Unit, _ options: CommandOptions, until: OperatorLink.Until, expires: Duration? = nil) {
        guard let id = options.operatorAction else { return }
        unit.link = OperatorLink(action: id, until: until, expiresAt: expires.map { MonotonicInstant.now().sinceOrigin + $0 })
    }

    /// Answers now (not waiting, or the goal already holds) or parks the reply until the goal holds.
    private func answer(_ request: CommandRequest, units: [Unit], goal: PendingWait.Goal, before: [UnitKey: Int32] = [:]) {
        let wait = PendingWait(reply: request.reply, units: units.map(\.key), goal: goal, before: before)
        if !request.options.wait {
            request.reply.complete(.done(wait.changes(self, final: false)))
            return
        }
        if !settle(wait) { waits.append(wait) }
    }

    /// Answers the waits whose goal holds (or can no longer be reached). Runs at the top of every
    /// loop iteration; the list is short (one entry per operator command in flight).
    func settleWaits() {
        guard !waits.isEmpty else { return }
        waits.removeAll { settle($0) }
    }

    /// Answers every wait with `.shuttingDown` (shutdown began: nothing will restart).
    func abandonWaits() {
        for w in waits { w.reply.complete(.shuttingDown) }
        waits.removeAll()
    }

    /// True when `wait` was answered (or its asker gave up).
    private func settle(_ wait: PendingWait) -> Bool {
        if wait.reply.isComplete { return true }
        switch wait.evaluate(self) {
        case .pending: return false
        case .reached: wait.reply.complete(.done(wait.changes(self, final: true)))
        case .failed(let why): wait.reply.complete(.failed(why))
        }
        return true
    }

    /// Whether pool `name` has exactly `count` live, running workers and nothing leaving.
    func poolSettled(_ name: String, _ count: Int) -> Bool {
        let members = units.values.filter { $0.key.program == name }
        return members.count == count && members.allSatisfy { $0.state == .running && $0.process != nil && !$0.removeWhenIdle }
    }

    /// Sets a pool's desired size. The reconcile step (`reconcilePools`, at the top of the next
    /// loop iteration) compares it with the live workers and starts or stops the difference.
    /// A change of size is recorded here, where it happens (`scale_up`/`scale_down`), by whoever asked.
    func resizePool(_ name: String, to requested: Int, signal: Double? = nil, action: UInt64? = nil) {
        guard pools[name] != nil else {
            logger.warning("no pool named \"\(name)\"")
            return
        }
        let count = max(0, requested)
        let from = desiredWorkers[name] ?? 0
        desiredWorkers[name] = count
        shared.publishDesired(pool: name, count: count)
        poolsDirty = true
        // An operator's resize owns the workers it starts and stops; an autoscale or reload clears it.
        scaleActions[name] = action
        if from != count {
            var event = HistEvent(program: name, payload: .scaled(up: count > from, signal: signal ?? .nan, from: from, to: count))
            event.operatorAction = action
            sink.record(event)
            if let signal {
                logger.notice("pool \(name): signal \(String(format: "%.1f", signal))% — scaling \(count > from ? "up" : "down") \(from) -> \(count)")
            } else {
                logger.notice("pool \(name): resized \(from) -> \(count)")
            }
        }
    }
}
