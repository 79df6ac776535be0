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
        case .reload(let request):
            applyReload(request)
        }
    }

    private func forEachUnit(of name: String, _ body: (Unit) -> Void) {
        let matching = units.values.filter { $0.key.program == name }.sorted { $0.key < $1.key }
        if matching.isEmpty { logger.warning("no program or pool named \"\(name)\"") }
        matching.forEach(body)
    }

    /// Sets a pool's desired size. The reconcile step (`reconcilePools`, at the top of the next
    /// loop iteration) compares it with the live workers and starts or stops the difference.
    func resizePool(_ name: String, to requested: Int) {
        guard pools[name] != nil else {
            logger.warning("no pool named \"\(name)\"")
            return
        }
        let count = max(0, requested)
        desiredWorkers[name] = count
        shared.publishDesired(pool: name, count: count)
        poolsDirty = true
    }
}
