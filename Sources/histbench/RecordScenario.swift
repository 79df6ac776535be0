import Foundation
import HistModel
import HistStore

/// `record`: the real write path, HistoryStore + HistoryWriter (bounded queue, one writer thread,
/// batched transactions, WAL) into a fresh file. The workload is the engine's crash-loop vocabulary:
/// per cycle `started`, `ended` (crash, exit 1, with a short stderr tail) and `restartScheduled`, spread
/// over 200 programs, so instance rows are opened and closed as in a real run.
/// 1. Throughput: one producer records as fast as the writer takes it (it backs off when the queue is
///    over half full, so nothing is dropped) for `duration` s after 1 s of warm-up; events/s from
///    `stats.written`, per 1 s window and overall.
/// 2. Latency: `lightRate` events/s for 5 s; each event's time from `record()` to the moment
///    `stats.written` covers it (polled every ~50 us).
enum RecordScenario {
    /// `ship`: the writer's capture mode (`.off`, a host without [ship], is what every host pays).
    static func run(_ ws: Workspace, duration: Double, lightRate: Int, trials: Int, ship: ShipCapture = .off) throws -> ScenarioResult {
        var r = ScenarioResult("record")
        r.info["ship capture"] = ship.rawValue
        let dir = try ws.runDirectory("record")
        for mix in [false, true] {
            let label = mix ? "crash-loop mix" : "event rows only"
            progress("record: \(label), \(Int(duration)) s")
            let heavy = try throughput(path: dir + "/heavy-\(mix ? "mix" : "events").db", duration: duration, mix: mix, ship: ship)
            r.add("events/s sustained, \(label)", unit: "events/s", value: heavy.rate, limit: 300_000, atLeast: true,
                  target: ">= 300,000 events/s")
            r.add("events/s per 1 s window, \(label)", unit: "events/s", samples: heavy.windows)
            r.info["heavy run, \(label)"] = "written \(heavy.written), dropped \(heavy.dropped), batches \(heavy.batches), file \(fmt(heavy.fileMiB)) MiB"
        }
        let light = try latency(path: dir + "/light.db", rate: lightRate, seconds: 5, ship: ship)
        r.add("record -> commit latency at \(lightRate)/s", unit: "ms", samples: light.latencies)
        r.info["light run"] = "written \(light.written), dropped \(light.dropped), batches \(light.batches)"
        if let size = try? SizeScenario.measure(path: dir + "/heavy-mix.db") {
            r.add("bytes per event row (real writer, mix)", unit: "B", value: size.perEvent)
            r.info["real writer size objects"] = size.objects
        }
        r.info["workload"] = "event rows only: restartScheduled events (one events row each, like histstore-probe --bench); crash-loop mix: cycles of started/ended(crash)/restartScheduled over 200 programs (instance rows opened and closed too); latency run uses the mix"
        return r
    }

    /// The i-th event of the crash-loop workload.
    struct Workload {
        var cycle: UInt64 = 0
        var phase = 0
        let programs = (0..<200).map { String(format: "prog%03d", $0) }
        var base = Timestamp.now().milliseconds

        mutating func next() -> HistEvent {
            let p = Int(cycle % 200)
            let info = InstanceInfo(id: cycle + 1, program: programs[p], identity: ProcessIdentity(pid: Int32(10_000 + p), startTicks: cycle),
                                    startedAt: Timestamp(milliseconds: base + Int64(cycle)))
            let now = Timestamp(milliseconds: base + Int64(cycle) + Int64(phase))
            let event: HistEvent
            switch phase {
            case 0:
                event = HistEvent(time: now, program: programs[p], payload: .started(info))
            case 1:
                let end = InstanceEnd(instance: info, endedAt: now, status: .exited(code: 1), classification: .crash,
                                      uptime: .milliseconds(1), stderrTail: "boom \(cycle)")
                event = HistEvent(time: now, program: programs[p], payload: .ended(end))
            default:
                event = HistEvent(time: now, program: programs[p], payload: .restartScheduled(instance: nil, delay: .zero, attempt: 1, workerIndex: nil))
            }
            phase += 1
            if phase == 3 { phase = 0; cycle += 1 }
            return event
        }
    }

    static func openStore(_ path: String, ship: ShipCapture = .off) throws -> (HistoryStore, HistoryWriter) {
        let store = try HistoryStore.open(path: path, ship: ship)
        _ = try store.beginRun(host: "histbench", pid: getpid(), version: "histbench", configPath: nil, configHash: nil,
                               bootID: nil, programs: [], pools: [])
        return (store, store.startWriter())
    }

    static func throughput(path: String, duration: Double, mix: Bool, ship: ShipCapture) throws -> (rate: Double, windows: [Double], written: UInt64, dropped: UInt64, batches: UInt64, fileMiB: Double) {
        let (store, writer) = try openStore(path, ship: ship)
        defer { store.close() }
        let half = writer.options.capacity / 2
        var work = Workload()
        let start = monoNow()
        let warmEnd = start + 1_000_000_000
        let end = warmEnd + Int64(duration * 1e9)
        var w0: UInt64 = 0, t0: Int64 = 0
        var windows: [Double] = []
        var lastW: UInt64 = 0, lastT: Int64 = 0
        var started = false
        // Called between bursts and while backing off, so 1 s windows are cut on time.
        func tick(_ written: UInt64) -> Bool {
            let now = monoNow()
            if !started && now >= warmEnd { started = true; w0 = written; t0 = now; lastW = w0; lastT = now }
            if started && now - lastT >= 1_000_000_000 {
                windows.append(Double(written - lastW) / (Double(now - lastT) / 1e9))
                lastW = written; lastT = now
            }
            return now >= end
        }
        var i = 0
        outer: while true {
            for _ in 0..<1000 {
                if mix {
                    writer.record(work.next())
                } else {
                    writer.record(HistEvent(program: work.programs[i % 200], payload: .restartScheduled(instance: nil, delay: .seconds(1), attempt: i, workerIndex: nil)))
                    i += 1
                }
            }
            var s = writer.stats
            if tick(s.written) { break }
            // Never outrun the queue: a full queue drops (by design), which would measure drops.
            while s.queued > half {
                usleep(200)
                s = writer.stats
                if tick(s.written) { break outer }
            }
        }
        let s = writer.stats
        let t1 = monoNow()
        let rate = Double(s.written - w0) / (Double(t1 - t0) / 1e9)
        writer.flush(timeout: .seconds(30))
        let final = writer.stats
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return (rate, windows, final.written, final.dropped, final.batches, Double(size) / 1_048_576)
    }

    static func latency(path: String, rate: Int, seconds: Double, ship: ShipCapture) throws -> (latencies: [Double], written: UInt64, dropped: UInt64, batches: UInt64) {
        let (store, writer) = try openStore(path, ship: ship)
        defer { store.close() }
        var work = Workload()
        let total = Int(Double(rate) * seconds)
        var enqueuedAt = [Int64](repeating: 0, count: total)
        var latencies: [Double] = []
        latencies.reserveCapacity(total)
        let base = writer.stats.written
        var committed = 0
        var next = 0
        let start = monoNow()
        let interval = 1e9 / Double(rate)
        let deadline = start + Int64((seconds + 10) * 1e9)
        while committed < total && monoNow() < deadline {
            let now = monoNow()
            while next < total && Double(now - start) >= Double(next) * interval {
                enqueuedAt[next] = monoNow()
                writer.record(work.next())
                next += 1
            }
            let w = Int(writer.stats.written - base)
            if w > committed {
                let t = monoNow()
                for i in committed..<min(w, next) { latencies.append(Double(t - enqueuedAt[i]) / 1e6) }
                committed = w
            }
            usleep(50)
        }
        let s = writer.stats
        return (latencies, s.written, s.dropped, s.batches)
    }
}
