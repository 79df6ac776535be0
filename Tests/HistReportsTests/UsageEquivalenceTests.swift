import Foundation
import GRDB
import HistModel
import HistStore
import HistTestSupport
import Testing
@testable import HistReports

// Serialized with the other randomized suites (RandomizedHistories).
extension RandomizedHistories {
/// The postmortem's one-pass usage reader (UsageReader) gives exactly what queries/usage.sql gives, on
/// randomized histories written by the real writer: instances starting and ending between sweeps, pool
/// workers, empty sweeps, a clock that steps back, tick counters that go down, duplicate samples, late
/// samples of unknown instances, and snapshot retention pruning between slices. Random windows
/// (sweep-aligned or not, wider than the history, empty), bucket counts and program filters.
@Suite struct UsageEquivalenceTests {
    static let t0: Int64 = 1_764_547_200_000 // 2025-12-01T00:00:00Z

    /// Writes `sweeps` sweeps about `step` ms apart, with starts and ends of instances in between.
    static func record(_ writer: HistoryWriter, _ rng: inout SeededGenerator, from: Int64, sweeps: Int, step: Int64,
                       live: inout [(info: InstanceInfo, ticks: UInt64)], nextID: inout InstanceID) -> Int64 {
        let programs: [(name: String, workers: Int?)] = [("web", nil), ("batch", nil), ("jobs", 3), ("cron", nil)]
        var t = from
        for _ in 0..<sweeps {
            // Mostly forward; now and then the same instant or a step back (a clock change).
            let roll = Int.random(in: 0..<30, using: &rng)
            t += roll == 0 ? -Int64.random(in: 1...(2 * step), using: &rng) : roll == 1 ? 0 : Int64.random(in: step / 2...(2 * step), using: &rng)
            if Int.random(in: 0..<3, using: &rng) == 0 || live.isEmpty {
                let p = programs[Int.random(in: 0..<programs.count, using: &rng)]
                nextID += 1
                let info = InstanceInfo(id: nextID, program: p.name, workerIndex: p.workers.map { Int.random(in: 0..<$0, using: &rng) },
                                        identity: ProcessIdentity(pid: Int32.random(in: 100...30_000, using: &rng), startTicks: UInt64(nextID)),
                                        startedAt: Timestamp(milliseconds: t - 1))
                writer.record(HistEvent(time: info.startedAt, program: p.name, payload: .started(info)))
                live.append((info, UInt64.random(in: 0...1000, using: &rng)))
            }
            if live.count > 1, Int.random(in: 0..<4, using: &rng) == 0 {
                let (info, _) = live.remove(at: Int.random(in: 0..<live.count, using: &rng))
                let end = InstanceEnd(instance: info, endedAt: Timestamp(milliseconds: t - 1), status: .exited(code: 1),
                                      classification: .crash, uptime: .milliseconds(1), stderrTail: "")
                writer.record(HistEvent(time: end.endedAt, program: info.program, payload: .ended(end)))
            }
            var samples: [InstanceSample] = []
            // One sweep in ten is empty; otherwise most live instances, and rarely an unknown one.
            if Int.random(in: 0..<10, using: &rng) != 0 {
                for i in live.indices where Int.random(in: 0..<6, using: &rng) != 0 {
                    // Counters mostly grow; now and then one goes down (a tree lost a process).
                    let delta = Int64.random(in: -20...400, using: &rng)
                    live[i].ticks = UInt64(max(0, Int64(live[i].ticks) + delta))
                    let sample = InstanceSample(instance: live[i].info.id, state: "R", utimeTicks: live[i].ticks / 2,
                                                stimeTicks: live[i].ticks - live[i].ticks / 2,
                                                rssBytes: UInt64.random(in: 1...400_000, using: &rng) * 1024, vszBytes: 1 << 30,
                                                threads: 1, fds: 3, processes: 1)
                    samples.append(sample)
                    if Int.random(in: 0..<40, using: &rng) == 0 { samples.append(sample) } // the same instance twice
                }
                if Int.random(in: 0..<20, using: &rng) == 0 {
                    samples.append(InstanceSample(instance: 9_999_999, state: "S", utimeTicks: 1, stimeTicks: 1, rssBytes: 4096,
                                                  vszBytes: 4096, threads: 1, fds: 1, processes: 1))
                }
            }
            writer.record(SnapshotSweep(time: Timestamp(milliseconds: t), samples: samples))
        }
        return t
    }

    /// Both answers for one window, bucket count and filter.
    static func compare(_ db: ReportDatabase, since: Int64, until: Int64, buckets: Int, programs: [String]) throws -> Int {
        let args: [String: (any DatabaseValueConvertible)?] = ["since": since, "until": until, "buckets": buckets, "programs": Renderer.json(programs)]
        let reference = UsageSeries.from(try db.run(query: "usage", arguments: args, columns: Reports.usageColumns))
        let fast = try db.read { try UsageReader.series($0, since: since, until: until, buckets: buckets, programs: programs) }
        #expect(fast == reference, "window \(since)..<\(until), \(buckets) buckets, programs \(programs)")
        return reference.reduce(0) { $0 + $1.points.count }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func readerMatchesTheQuery(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/usage.db"
        let store = try HistoryStore.open(path: path)
        defer { store.close() }
        _ = try store.beginRun(host: "test", pid: 1, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                               programs: [], pools: [], at: Timestamp(milliseconds: Self.t0 - 1000))
        let writer = store.startWriter(options: .init(batchSize: Int.random(in: 1...40, using: &rng)))
        let step: Int64 = 10_000
        var live: [(info: InstanceInfo, ticks: UInt64)] = []
        var nextID: InstanceID = 0
        var t = Self.t0
        var points = 0
        let filters: [[String]] = [[], ["web"], ["jobs"], ["batch", "cron"], ["nosuch"]]
        for slice in 0..<3 {
            t = Self.record(writer, &rng, from: t, sweeps: 300, step: step, live: &live, nextID: &nextID)
            #expect(writer.flush(timeout: .seconds(30)))
            // Snapshot retention with a cutoff somewhere in what was written (the oldest sweeps go).
            let cutoff = Self.t0 + Int64.random(in: 0...(t - Self.t0) / 2, using: &rng)
            let now = t + 1000
            try store.prune(now: Timestamp(milliseconds: now), retention: .seconds(365 * 86_400),
                            snapshotRetention: .milliseconds(now - cutoff), batchSize: Int.random(in: 1...300, using: &rng))
            let db = try ReportDatabase(path: path)
            for k in 0..<30 {
                var a = Int64.random(in: (Self.t0 - step)...(t + step), using: &rng), b = Int64.random(in: (Self.t0 - step)...(t + step), using: &rng)
                if k % 3 == 0 { a -= a % step }
                if k % 7 == 0 { (a, b) = (Self.t0 - 86_400_000, t + 86_400_000) }
                if k % 11 == 0 { b = a }
                let buckets = [1, 7, 40, 1000][k % 4]
                points += try Self.compare(db, since: min(a, b), until: max(a, b), buckets: buckets, programs: filters[k % filters.count])
            }
            #expect(points > 0 || slice == 0, "seed \(seed): the histories have samples")
        }
    }
}
}
