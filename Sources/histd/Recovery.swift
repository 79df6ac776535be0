import CShim
import HistModel
import HistProc
import HistStore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// After an earlier histd died: finds everything it started that is still alive and stops it (or
/// leaves it, with `stop_leftovers = false`), recording a `leftover` for each, then removes its
/// cgroups. Three ways in, so that nothing escapes:
/// - its recorded instances with no recorded end (the database, when it can be read);
/// - every process whose `HISTD_RUN` marker names a dead histd of this family (same database path):
///   escapers that called setsid or double-forked, a subreaper's grandchildren, and processes
///   spawned in the moment before the crash, whose row was never committed;
/// - every process in a dead histd's cgroups (`histd-<pid>`), which are then removed.
/// The marker works without cgroups and without the database.
struct Recovery {
    struct Found: Hashable {
        var identity: ProcessIdentity
        var row: Int64?
        var program: String
        var source: LeftoverSource
    }

    var markerKey: String
    var programs: Set<String>
    var logger: Logger

    /// Everything alive that dead runs left, deduplicated by identity (a recorded row wins).
    func find(openInstances: [OpenInstance], cgroups: Cgroups?) -> (found: [Found], staleGroups: [(parent: String, groups: [String])]) {
        let procfs = ProcFS()
        var byIdentity: [ProcessIdentity: Found] = [:]
        for o in openInstances where LeftoverStopper.isRunning(o.identity, procfs: procfs) {
            byIdentity[o.identity] = Found(identity: o.identity, row: o.rowID, program: o.program, source: .instanceRow)
        }
        let own = getpid()
        var ownerAlive: [ProcessIdentity: Bool] = [:]
        for pid in procfs.allPids() where pid != own {
            guard let text = procfs.environValue(pid, RunMarker.runVariable), let marker = RunMarker.parse(text),
                  marker.key == markerKey, marker.owner.pid != own else { continue }
            let alive = ownerAlive[marker.owner] ?? {
                let a = LeftoverStopper.isRunning(marker.owner, procfs: procfs)
                ownerAlive[marker.owner] = a
                return a
            }()
            guard !alive, let s = procfs.stat(pid), s.state != "Z" else { continue }
            let identity = s.identity
            if byIdentity[identity] != nil { continue }
            let unit = procfs.environValue(pid, RunMarker.unitVariable) ?? ""
            byIdentity[identity] = Found(identity: identity, row: nil, program: program(ofUnit: unit), source: .marker)
        }
        var stale: [(parent: String, groups: [String])] = []
        if let cgroups {
            stale = cgroups.staleParents(isLive: { Self.isHistd($0, procfs: procfs) })
            for (_, groups) in stale {
                for g in groups {
                    let unit = String(g.split(separator: "/").last ?? "")
                    for pid in Cgroups.pids(inGroup: g) {
                        guard let s = procfs.stat(pid), s.state != "Z", byIdentity[s.identity] == nil else { continue }
                        byIdentity[s.identity] = Found(identity: s.identity, row: nil, program: program(ofUnit: unit), source: .cgroup)
                    }
                }
            }
        }
        return (byIdentity.values.sorted { $0.identity.pid < $1.identity.pid }, stale)
    }

    /// Finds and handles leftovers until a scan finds nothing new (a leftover may fork between the
    /// scan and its stop signal: the next round catches the child), at most `rounds` times, then
    /// removes the stale cgroups.
    func run(openInstances: [OpenInstance], cgroups: Cgroups?, stop: Bool, sink: any HistorySink, rounds: Int = 5) {
        var handled: Set<ProcessIdentity> = []
        var rows = openInstances
        var stale: [(parent: String, groups: [String])] = []
        for _ in 0..<rounds {
            let (found, groups) = find(openInstances: rows, cgroups: cgroups)
            rows = []
            if stale.isEmpty { stale = groups }
            let fresh = found.filter { !handled.contains($0.identity) }
            if fresh.isEmpty { break }
            handled.formUnion(fresh.map(\.identity))
            handle(fresh, staleGroups: [], stop: stop, sink: sink)
            if !stop { break }
        }
        if stop { handle([], staleGroups: stale, stop: true, sink: sink) }
    }

    /// Stops (or leaves) what `find` found, records one `leftover` each, and removes stale cgroups.
    func handle(_ found: [Found], staleGroups: [(parent: String, groups: [String])], stop: Bool, sink: any HistorySink) {
        if !found.isEmpty {
            let list = found.map { "\($0.program.isEmpty ? "?" : $0.program)[\($0.identity.pid)]" }.joined(separator: ", ")
            if !stop {
                logger.warning("left running by an earlier histd (stop_leftovers = false, left alone): \(list)")
                for f in found { record(f, action: .left, signal: 0, sink: sink) }
            } else {
                logger.warning("stopping what an earlier histd left running: \(list)")
                let outcome = LeftoverStopper.stop(found.map(\.identity), procfs: ProcFS(), grace: .seconds(5))
                for f in found {
                    let signal = outcome.signals[f.identity] ?? 0
                    record(f, action: outcome.gone.contains(f.identity) ? .stopped : .stillRunning, signal: signal, sink: sink)
                }
            }
        }
        guard stop else { return }
        for (parent, groups) in staleGroups {
            if Cgroups.removeGroups(parent: parent, groups: groups) {
                logger.notice("removed the cgroup \(parent) of a dead histd")
            } else {
                logger.warning("cannot remove the stale cgroup \(parent) (still busy)")
            }
        }
    }

    private func record(_ f: Found, action: LeftoverAction, signal: Int32, sink: any HistorySink) {
        let left = Leftover(row: f.row, identity: f.identity, action: action, source: f.source, signal: signal)
        sink.record(HistEvent(program: f.program, payload: .leftover(left)))
    }

    /// A unit name (`PROGRAM` or `POOL.N`) as a configured program name, or "" when it names none.
    func program(ofUnit unit: String) -> String {
        if programs.contains(unit) { return unit }
        if let dot = unit.lastIndex(of: "."), Int(unit[unit.index(after: dot)...]) != nil, programs.contains(String(unit[..<dot])) {
            return String(unit[..<dot])
        }
        return ""
    }

    /// A live process named histd* (the test runner embeds the engine under its own name, which
    /// also starts with "histd").
    static func isHistd(_ pid: Int32, procfs: ProcFS) -> Bool {
        guard let s = procfs.stat(pid), s.state != "Z" else { return false }
        return s.comm.hasPrefix("histd")
    }
}
