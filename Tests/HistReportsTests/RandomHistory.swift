import Foundation
import HistModel
import HistStore
import HistTestSupport

/// The one randomized history the rollup equivalence tests write through the real writer
/// (RollupEquivalenceTests, LoopRollupEquivalenceTests): bursts (crash loops) and quiet spells, pools,
/// lost starts, ends out of time order, ends recorded twice, exits and signals with and without core
/// dumps, limit kills, spawn failures, operator-caused ends, give-ups, and restart_scheduled events at
/// the end, later (some more than 60 s after it), or twice for one end.
enum RandomHistory {
    static func record(_ writer: HistoryWriter, _ rng: inout SeededGenerator, from: Int64, cycles: Int, span: Int64,
                       nextID: inout InstanceID, seq: inout UInt64) {
        let programs: [(name: String, workers: Int?)] = [("web", nil), ("batch", nil), ("jobs", 3), ("cron", nil)]
        var t = from
        var open: [(InstanceInfo, Int64)] = []
        var burst = 0
        func delay(_ rng: inout SeededGenerator) -> Duration { .milliseconds(Int64.random(in: 100...60_000, using: &rng)) }
        for _ in 0..<cycles {
            // Bursts: many crashes seconds apart (loops); otherwise minutes apart (mostly no loop).
            if burst == 0, Int.random(in: 0..<20, using: &rng) == 0 { burst = Int.random(in: 3...30, using: &rng) }
            let step = burst > 0 ? Int64.random(in: 0...20_000, using: &rng) : Int64.random(in: 0...(2 * span / Int64(cycles)), using: &rng)
            if burst > 0 { burst -= 1 }
            t += step
            let p = programs[Int.random(in: 0..<programs.count, using: &rng)]
            let worker = p.workers.map { Int.random(in: 0..<$0, using: &rng) }
            if Int.random(in: 0..<12, using: &rng) == 0 {
                writer.record(HistEvent(time: Timestamp(milliseconds: t), program: p.name,
                                        payload: .spawnFailed(errno: 2, step: "exec", reason: "No such file", workerIndex: worker)))
                writer.record(HistEvent(time: Timestamp(milliseconds: t), program: p.name,
                                        payload: .restartScheduled(instance: nil, delay: delay(&rng), attempt: 1, workerIndex: worker)))
                continue
            }
            nextID += 1
            let info = InstanceInfo(id: nextID, program: p.name, workerIndex: worker,
                                    identity: ProcessIdentity(pid: Int32.random(in: 100...30_000, using: &rng), startTicks: UInt64(t / 10)),
                                    startedAt: Timestamp(milliseconds: t))
            // Now and then the start is lost (a recording gap): the end then writes the whole row.
            if Int.random(in: 0..<10, using: &rng) != 0 {
                writer.record(HistEvent(time: Timestamp(milliseconds: t), program: p.name, payload: .started(info)))
            }
            open.append((info, t))
            // End a random open instance (not always the newest: ends arrive out of time order too).
            while open.count > Int.random(in: 0...3, using: &rng) {
                let (info, started) = open.remove(at: Int.random(in: 0..<open.count, using: &rng))
                let endAt = max(started, t - Int64.random(in: 0...60_000, using: &rng))
                let roll = Int.random(in: 0..<10, using: &rng)
                let cls: ExitClassification = roll < 5 ? .crash : roll < 7 ? .limit : roll < 9 ? .clean : .stopped
                let status: HistModel.ExitStatus = cls == .clean ? .exited(code: 0)
                    : cls == .limit ? .signaled(signal: 15, coreDumped: false)
                    : Bool.random(using: &rng) ? .exited(code: Int32.random(in: 1...3, using: &rng))
                    : .signaled(signal: [6, 9, 11][Int.random(in: 0..<3, using: &rng)], coreDumped: Bool.random(using: &rng))
                let end = InstanceEnd(instance: info, endedAt: Timestamp(milliseconds: endAt), status: status, classification: cls,
                                      uptime: .milliseconds(endAt - started), stderrTail: cls == .crash ? "boom" : "")
                // Now and then the end was caused by an operator (a restart through histctl): not a crash.
                let byOperator: UInt64? = Int.random(in: 0..<15, using: &rng) == 0 ? { seq += 1; return seq }() : nil
                writer.record(HistEvent(time: Timestamp(milliseconds: endAt), program: info.program, payload: .ended(end),
                                        operatorAction: byOperator))
                // Rarely, the same end twice: the first one counts, once.
                if Int.random(in: 0..<25, using: &rng) == 0 {
                    writer.record(HistEvent(time: Timestamp(milliseconds: endAt), program: info.program, payload: .ended(end)))
                }
                if cls != .clean, Int.random(in: 0..<8, using: &rng) == 0 {
                    writer.record(HistEvent(time: Timestamp(milliseconds: endAt), program: info.program,
                                            payload: .gaveUp(instance: info, restarts: 5, workerIndex: worker)))
                } else {
                    // Mostly at the end's time (as histd writes it); sometimes later, past the 60 s the
                    // listing allows; rarely twice, the second one possibly earlier than the first.
                    let times = Int.random(in: 0..<20, using: &rng) == 0 ? 2 : 1
                    for _ in 0..<times {
                        let late = Int.random(in: 0..<6, using: &rng) == 0 ? Int64.random(in: 0...75_000, using: &rng) : 0
                        writer.record(HistEvent(time: Timestamp(milliseconds: endAt + late), program: info.program,
                                                payload: .restartScheduled(instance: info, delay: delay(&rng),
                                                                           attempt: 1, workerIndex: info.workerIndex)))
                    }
                }
            }
        }
    }
}
