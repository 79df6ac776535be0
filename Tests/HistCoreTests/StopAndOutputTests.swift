#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistTestSupport
import Testing
@testable import HistCore

/// Real processes: stopping, SIGKILL escalation, ordered shutdown, leftovers, output capture.
@Suite(.serialized) struct StopAndOutputTests {
    @Test func programIgnoringTermIsKilledAfterStopTimeout() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let stubborn = program("stubborn", dir.script("stubborn", "trap '' TERM; echo ready > \(dir.path)/ready; exec sleep 1000"),
                               stopTimeout: .milliseconds(500))
        try await withSupervisor([stubborn], dir: dir) { sup, sink in
            await sink.waitFor { _ in dir.read(dir.path + "/ready") != nil }
            // Poll, not sleep: stop once the shell has become `sleep` (TERM stays ignored across exec).
            #expect(await sink.waitFor { $0.contains { $0.started != nil } })
            let pid = try #require(sink.events("stubborn").compactMap(\.started).first?.identity.pid)
            #expect(await sink.waitFor { _ in dir.read("/proc/\(pid)/comm") == "sleep\n" })
            sup.post(.stop(program: "stubborn"))
            let ended = await sink.waitFor { $0.contains { $0.ended != nil } }
            #expect(ended)
            let events = sink.events("stubborn")
            let requested = try #require(events.first(where: { $0.isStopRequested }))
            let end = try #require(events.compactMap(\.ended).first)
            #expect(events.contains(where: { $0.isKilled }))
            #expect(end.classification == .killed)
            #expect(end.status.signal == SIGKILL)
            #expect(end.endedAt.milliseconds - requested.time.milliseconds >= 450)
            #expect(sup.status().first?.state == .stopped)
            #expect(events.filter { $0.started != nil }.count == 1, "a stop histd asked for is never restarted")
        }
    }

    @Test func gracefulStopIsClassifiedStopped() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let polite = program("polite", dir.script("polite", "exec sleep 1000"), restart: .always)
        try await withSupervisor([polite], dir: dir) { sup, sink in
            await sink.waitFor { $0.contains { $0.started != nil } }
            sup.post(.stop(program: "polite"))
            await sink.waitFor { $0.contains { $0.ended != nil } }
            let end = try #require(sink.events("polite").compactMap(\.ended).first)
            #expect(end.classification == .stopped)
            #expect(end.status.signal == SIGTERM)
            // Three restart delays: a stop that still restarted would have done so by then.
            try await Task.sleep(for: polite.backoff.restartDelay * 3)
            #expect(sink.events("polite").filter { $0.started != nil }.count == 1)
            // An operator start brings it back.
            sup.post(.start(program: "polite"))
            let back = await sink.waitFor { $0.filter { $0.started != nil }.count == 2 }
            #expect(back)
            #expect(sup.status().first?.state == .running)
        }
    }

    @Test func grandchildOfAnExitedProgramIsGoneAfterShutdown() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        var forker = program("forker", dir.script("forker", "sleep 1000 & echo $! > \(dir.path)/gc.pid; exit 0"), restart: .never)
        // kill_mode = "process" leaves the grandchild to the final sweep (with "tree" it goes at the exit:
        // OwnershipTests).
        forker.killMode = .process
        var grandchild: PinnedProcess?
        defer { grandchild?.kill() }
        try await withSupervisor([forker], dir: dir) { _, sink in
            await sink.waitFor { $0.contains { $0.ended != nil } }
            let text = try #require(dir.read(dir.path + "/gc.pid"))
            let pid = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
            grandchild = PinnedProcess(pid)
            #expect(grandchild != nil, "the grandchild outlives its parent until histd stops")
        }
        // withSupervisor has shut down: nothing the program started may be left.
        #expect(grandchild?.isAlive != true)
    }

    @Test func orderedShutdownStopsGroupOneBeforeGroupTwo() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let d = dir.path
        // Group 1 takes a while to exit on TERM and records when it finished.
        let first = program("first", dir.script("first", """
            trap 'sleep 0.4; date +%s%N > \(d)/first.exit; exit 0' TERM
            echo > \(d)/first.ready
            while true; do sleep 0.05; done
            """), stopOrder: 1)
        // Group 2 records when it received its TERM.
        let second = program("second", dir.script("second", """
            trap 'date +%s%N > \(d)/second.term; exit 0' TERM
            echo > \(d)/second.ready
            while true; do sleep 0.05; done
            """), stopOrder: 2)
        try await withSupervisor([second, first], dir: dir) { _, sink in
            // Wait for both processes to be ready AND for both start events: a child can write its
            // ready file before the engine thread has recorded its start.
            await sink.waitFor { events in
                dir.read(d + "/first.ready") != nil && dir.read(d + "/second.ready") != nil
                    && events.compactMap(\.started).count >= 2
            }
            // Startup runs in reverse order: group 2 first.
            let starts = sink.events.compactMap(\.started).map(\.program)
            #expect(starts == ["second", "first"])
        }
        let firstExit = try #require(Int64(dir.read(d + "/first.exit")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        let secondTerm = try #require(Int64(dir.read(d + "/second.term")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        #expect(secondTerm > firstExit, "group 2 got TERM \((secondTerm - firstExit) / 1_000_000)ms relative to group 1's exit")
    }

    @Test func stderrTailIsAttachedToTheCrash() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let noisy = program("tail", dir.script("tail", """
            i=1; while [ $i -le 30 ]; do echo "line $i" >&2; i=$((i+1)); done
            echo "to stdout"
            exit 3
            """), restart: .never)
        try await withSupervisor([noisy], dir: dir) { _, sink in
            await sink.waitFor { $0.contains { $0.ended != nil } }
            let end = try #require(sink.events("tail").compactMap(\.ended).first)
            let lines = end.stderrTail.split(separator: "\n")
            #expect(lines.count == 20)
            #expect(lines.first == "line 11")
            #expect(lines.last == "line 30")
            #expect(dir.read(dir.path + "/logs/tail.out").map(LogMarker.programText) == "to stdout\n")
            #expect(dir.read(dir.path + "/logs/tail.err").map(LogMarker.programText)?.hasPrefix("line 1\n") == true)
            // Each line carries its time, and the instance's start is marked in both files.
            let raw = try #require(dir.read(dir.path + "/logs/tail.out"))
            let rawLines = raw.split(separator: "\n")
            #expect(rawLines.count == 2)
            #expect(LogMarker.parse(rawLines[0])?.unit == "tail")
            #expect(LogMarker.hasTimestamp(rawLines[1]) && rawLines[1].hasSuffix(" to stdout"))
        }
    }

    @Test func logsRotateBySize() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let writer = program("rot", dir.script("rot", """
            i=1; while [ $i -le 300 ]; do echo "0123456789012345678901234567890123456789 $i"; i=$((i+1)); done
            """), restart: .never, logMaxBytes: 1000, logKeep: 2)
        try await withSupervisor([writer], dir: dir) { _, sink in
            await sink.waitFor { $0.contains { $0.ended != nil } }
        }
        let base = dir.path + "/logs/rot.out"
        #expect(dir.size(base) != nil)
        for suffix in [".1", ".2"] {
            let size = try #require(dir.size(base + suffix), "missing \(base + suffix)")
            #expect(size > 900 && size <= 1000, "rotated file \(suffix) has \(size) bytes")
        }
        #expect(dir.size(base + ".3") == nil, "keeps only logKeep rotated files")
        #expect(dir.read(base + ".2")?.contains(" 1\n") == false, "the oldest output was rotated away")
        #expect(dir.read(base)?.hasSuffix(" 300\n") == true || dir.read(base + ".1")?.hasSuffix(" 300\n") == true)
    }

    @Test func floodingChildDoesNotStallOthers() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let flood = program("flood", dir.script("flood", "tr '\\0' x < /dev/zero >&2"),
                            logMaxBytes: 1 << 20, logKeep: 2)
        let ticker = program("ticker", dir.script("ticker", "exit 1"), delay: .milliseconds(50), factor: 1)
        try await withSupervisor([flood, ticker], dir: dir) { sup, sink in
            // The flood never stops; the ticker's restarts must keep being served all the same.
            let flowed = await sink.waitFor(.seconds(30)) { _ in (dir.size(dir.path + "/logs/flood.err.2") ?? 0) > 0 }
            #expect(flowed)
            let served = await sink.waitFor(.seconds(20)) { $0.filter { $0.program == "ticker" && $0.started != nil }.count >= 8 }
            #expect(served)
            sup.post(.stop(program: "ticker"))
            sup.post(.stop(program: "flood"))
            await sink.waitFor { $0.contains { $0.program == "flood" && $0.ended != nil } }
        }
        for suffix in ["", ".1", ".2"] {
            #expect((dir.size(dir.path + "/logs/flood.err" + suffix) ?? 0) <= 1 << 20)
        }
        #expect(dir.size(dir.path + "/logs/flood.err.3") == nil)
    }

    @Test func poolWorkersGetSlotsAndResize() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let worker = program("workers", dir.script("worker", """
            echo "$HISTD_POOL $HISTD_WORKER_INDEX $HISTD_WORKER_COUNT" > \(dir.path)/w$HISTD_WORKER_INDEX
            exec sleep 1000
            """))
        let pool = PoolSpec(worker: worker, minWorkers: 2, maxWorkers: 4)
        try await withSupervisor([], pools: [pool], dir: dir) { sup, sink in
            await sink.waitFor { $0.filter { $0.started != nil }.count == 2 }
            #expect(sup.liveInstances().map(\.workerIndex) == [0, 1])
            await sink.waitFor { _ in dir.read(dir.path + "/w1") != nil }
            #expect(dir.read(dir.path + "/w1") == "workers 1 2\n")
            sup.post(.setDesiredWorkers(pool: "workers", count: 3))
            await sink.waitFor { _ in sup.liveInstances().count == 3 }
            #expect(sup.liveInstances().compactMap(\.workerIndex).sorted() == [0, 1, 2])
            sup.post(.setDesiredWorkers(pool: "workers", count: 1))
            let shrunk = await sink.waitFor { _ in sup.liveInstances().count == 1 && sup.status().count == 1 }
            #expect(shrunk)
            #expect(sup.liveInstances().first?.workerIndex == 0)
        }
    }

    @Test func poolWorkerExitingZeroIsRecycledWithoutBackoff() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        let worker = program("recycler", dir.script("recycler", "sleep 0.02; exit 0"), delay: .seconds(5))
        let pool = PoolSpec(worker: worker, minWorkers: 1, maxWorkers: 1)
        try await withSupervisor([], pools: [pool], dir: dir) { _, sink in
            let ok = await sink.waitFor { $0.filter { $0.started != nil }.count >= 10 }
            #expect(ok, "restart_delay is 5s, so 10 starts in time means no backoff was applied")
            let events = sink.events("recycler")
            #expect(events.contains { if case .recycled(_, .exit0) = $0.payload { true } else { false } })
            #expect(events.compactMap(\.restart).isEmpty)
        }
    }
}
