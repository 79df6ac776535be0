import HistModel

extension Engine {
    /// Turns a posted command into lifecycle events of the units it names.
    func handle(_ command: SupervisorCommand) {
        if phase != .running, command != .shutdown {
            logger.info("ignoring \(command) during shutdown")
            return
        }
        switch command {
        case .shutdown:
            beginShutdown(cause: "shutdown command")
        case .start(let name):
            forEachUnit(of: name) { deliver(.startRequested, to: $0) }
        case .stop(let name):
            forEachUnit(of: name) { deliver(.stopRequested(.operator), to: $0) }
        case .restart(let name):
            forEachUnit(of: name) { deliver(.restartRequested, to: $0) }
        case .reset(let name):
            forEachUnit(of: name) { deliver(.reset, to: $0) }
        case .limitBreached(let id, let limit, let observed, let threshold):
            guard let unit = units.values.first(where: { $0.process?.info.id == id }) else {
                logger.debug("limit breach for instance \(id), which is no longer running: ignored")
                return
            }
            deliver(.limitBreached(limit: limit, observed: observed, threshold: threshold), to: unit)
        case .setDesiredWorkers(let name, let count):
            resizePool(name, to: count)
        }
    }

    private func forEachUnit(of name: String, _ body: (Unit) -> Void) {
        let matching = units.values.filter { $0.key.program == name }.sorted { $0.key < $1.key }
        if matching.isEmpty { logger.warning("no program or pool named \"\(name)\"") }
        matching.forEach(body)
    }

    /// Sets a pool's size: new slots take the lowest free indexes; shrinking stops the highest
    /// indexes (reason `scale_down`). The count of live workers always comes from the unit table.
    func resizePool(_ name: String, to requested: Int) {
        guard let pool = pools[name] else {
            logger.warning("no pool named \"\(name)\"")
            return
        }
        let count = max(0, requested)
        desiredWorkers[name] = count
        let slots = units.values.filter { $0.key.program == name && !$0.removeWhenIdle }
            .sorted { ($0.key.workerIndex ?? 0) < ($1.key.workerIndex ?? 0) }
        if slots.count < count {
            var used = Set(units.values.filter { $0.key.program == name }.compactMap(\.key.workerIndex))
            var index = 0
            for _ in slots.count..<count {
                while used.contains(index) { index += 1 }
                used.insert(index)
                let unit = addUnit(UnitKey(program: name, workerIndex: index), spec: pool.worker, pool: name)
                deliver(.startRequested, to: unit)
            }
        } else if slots.count > count {
            for unit in slots.suffix(slots.count - count).reversed() {
                unit.removeWhenIdle = true
                deliver(.stopRequested(.scaleDown), to: unit)
            }
        }
    }
}
