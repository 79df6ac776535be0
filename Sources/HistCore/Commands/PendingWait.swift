import HistModel

/// An operator command waiting for its effect, checked by the engine at the top of every loop
/// iteration (`Engine.settleWaits`). The engine never waits itself: it completes the reply when
/// the goal holds, and the asker waits on its own thread.
struct PendingWait {
    enum Goal {
        /// Every unit runs a process, with an instance other than the one in `after` (restart).
        case running(after: [UnitKey: InstanceID])
        /// Every unit's process is gone and it is stopped, exited or failed.
        case down
        /// The pool has exactly this many running workers, and none leaving.
        case poolSize(String, Int)
    }
    enum Verdict {
        case pending, reached
        case failed(String)
    }

    let reply: CommandReply
    let units: [UnitKey]
    let goal: Goal
    /// Pids before the command, by unit.
    let before: [UnitKey: Int32]

    func evaluate(_ engine: Engine) -> Verdict {
        switch goal {
        case .poolSize(let name, let count):
            if engine.desiredWorkers[name] != count { return .failed("\(name): resized again to \(engine.desiredWorkers[name] ?? 0) before reaching \(count)") }
            return engine.poolSettled(name, count) ? .reached : .pending
        case .down:
            for key in units {
                guard let unit = engine.units[key] else { continue }  // a removed slot is down
                if unit.process != nil || ![.stopped, .exited, .failed].contains(unit.state) { return .pending }
            }
            return .reached
        case .running(let after):
            for key in units {
                guard let unit = engine.units[key] else { return .failed("\(key): removed before it ran") }
                switch unit.state {
                case .running:
                    guard let id = unit.process?.info.id, id != after[key] else { return .pending }
                case .starting, .stopping: return .pending
                case .backoff:
                    // The new instance failed at once; keep waiting for the retry (the asker's timeout bounds it).
                    return .pending
                case .stopped, .exited, .failed:
                    return .failed("\(key): \(unit.state.rawValue) instead of running")
                }
            }
            return .reached
        }
    }

    /// One change per unit: its pid before, and (when `final`) the pid running now.
    func changes(_ engine: Engine, final: Bool) -> [UnitChange] {
        var keys = units
        if case .poolSize(let name, _) = goal {
            keys = engine.units.keys.filter { $0.program == name }.sorted()
        }
        return keys.map { key in
            let unit = engine.units[key]
            return UnitChange(unit: key, oldPID: before[key], newPID: final ? unit?.process?.pid : nil,
                              state: unit?.state ?? .stopped)
        }
    }
}

/// Ties a unit's next lifecycle facts to the operator action that caused them: its events carry
/// `HistEvent.operatorAction` until the link is used up.
struct OperatorLink {
    enum Until {
        /// Until a new instance started (start, restart: covers the stop of the old one too).
        case started
        /// Until the current instance ended (stop, signal).
        case ended
    }
    let action: UInt64
    let until: Until
    /// CLOCK_MONOTONIC time after which the link no longer applies (signal: stop_timeout).
    let expiresAt: Duration?
}
