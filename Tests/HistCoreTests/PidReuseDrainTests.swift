#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistProc
import Logging
import Testing
import HistTestSupport
@testable import HistCore

/// A drain must never adopt a stranger that was handed the ended leader's pid. Once the last
/// member of the old session is gone, the number is free: a new process may get it, call setsid and
/// fork, and its children carry "our" session id with start times after our leader's. Seen in CI
/// under heavy pid churn (histd signalled and recorded another program's child); reproduced here by
/// forcing the pid with `/proc/sys/kernel/ns_last_pid`.
@Suite struct PidReuseDrainTests {
    static let usable: Bool = OwnershipTests.cgroupsUsable && OwnershipTests.python != nil && access("/proc/sys/kernel/ns_last_pid", W_OK) == 0

    @Test(.enabled(if: usable, "needs root, a cgroup controller, python3 and a writable ns_last_pid"))
    func strangerWithTheLeadersPidAsItsSessionIsLeftAlone() async throws {
        let dir = TempDir()
        defer { dir.remove() }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let resources = CgroupResources(cgroups: Cgroups.detect(), logger: logger)
        defer { resources.removeParents() }
        // The leader forks an escaper (ignores SIGTERM, still in the cgroup: it keeps the drain going
        // until the test kills it; stop_timeout is far away) which first forks a member into the leader's session, then leaves
        // that session with setsid. The member dies at SIGTERM and the escaper reaps it at once, so
        // the leader's pid is free again (an orphan's zombie would hold it until init reaps it).
        // The escaper ignores SIGTERM only after the fork: a child forked while it ignored SIGTERM
        // inherits that until it resets it, and on a loaded box the drain's SIGTERM came first once (the
        // member lived on as `sleep 1000` and the test waited in vain; CI, 2026-12-08). The pids file is
        // written after the escaper ignores it, and the drain starts only once the file is there.
        dir.write(dir.path + "/escaper.py", """
            import os, signal, time
            member = os.fork()
            if member == 0:
                os.execv("/bin/sleep", ["sleep", "1000"])
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.setsid()
            open("\(dir.path)/pids.tmp", "w").write("%d %d" % (os.getpid(), member))
            os.rename("\(dir.path)/pids.tmp", "\(dir.path)/pids")
            os.waitpid(member, 0)
            time.sleep(1000)
            """)
        var spec = program("reuse", dir.script("reuse", """
            \(OwnershipTests.python!) \(dir.path)/escaper.py &
            while [ ! -e \(dir.path)/pids ]; do sleep 0.01; done
            exit 1
            """), restart: .never, stopTimeout: .seconds(120))
        spec.cgroup = CgroupLimits()
        // By (pid, start ticks), taken while each was alive: this test rewinds the kernel's pid
        // counter, so a dead stray's number is soon another test's process (CI once saw the
        // cleanup's kill of a bare pid end a process of the command-outcome tests running beside it).
        var strays: [ProcessIdentity] = []
        func stray(_ pid: Int32) {
            if let ticks = ProcFS().stat(pid)?.startTicks { strays.append(ProcessIdentity(pid: pid, startTicks: ticks)) }
        }
        defer {
            // And their children, pinned before their parents die (a stranger whose child was never read
            // when the test failed early would leave its `sleep 1000` behind).
            let kids = strays.filter { isAlive($0.pid, ticks: $0.startTicks) }
                .flatMap { ProcFS().descendants(of: $0.pid) }.compactMap { PinnedProcess($0) }
            for p in strays where isAlive(p.pid, ticks: p.startTicks) { Engine.signalExact(p.pid, p.startTicks, SIGKILL) }
            for p in strays { var st: Int32 = 0; _ = waitpid(p.pid, &st, WNOHANG) }
            for k in kids { k.kill() }
        }
        try await withSupervisor([spec], dir: dir, resources: resources) { _, sink in
            #expect(await sink.waitFor(.seconds(20)) { $0.contains { $0.ended != nil } })
            let leader = try #require(sink.events.compactMap(\.started).first).identity.pid
            let pids = OwnershipTests.pids(dir.read(dir.path + "/pids"))
            try #require(pids.count == 2)
            let (escaper, member) = (pids[0], pids[1])
            stray(member)
            stray(escaper)
            // The member is often gone by now. Alive as the member means: in the leader's session and not a
            // zombie (a process that reused its number later is in another session: no stranger exists yet).
            func memberAlive() -> Bool { ProcFS().stat(member).map { $0.session == leader && $0.state != "Z" } ?? false }
            // The member dies at SIGTERM; the escaper holds the drain open. The leader's number is free from
            // the moment the member is gone (a live process's session id keeps its number from being reused),
            // so the stranger takes it at once: every moment between is a chance for a process of another
            // suite to be handed that number (CI saw 200 attempts fail behind a wait for the sweep's record).
            #expect(await sink.waitFor(.seconds(30)) { _ in !memberAlive() })
            #expect(isAlive(escaper))

            // A stranger takes the leader's pid, makes it a session id and forks into it.
            var stranger: Int32 = -1
            var attempts = 0
            let deadline = MonotonicInstant.now().adding(.seconds(30))
            while stranger != leader && MonotonicInstant.now() < deadline && attempts < 500 {
                if stranger > 0 {
                    // A stranger that missed the pid: its whole group (setsid made it the leader; its pid, not
                    // reaped yet, cannot name another group), or its `sleep 1000` outlives the test holding
                    // swift test's output pipe, which then waits for it (CI hung on 15 of them).
                    kill(-stranger, SIGKILL)
                    kill(stranger, SIGKILL)
                    var st: Int32 = 0
                    waitpid(stranger, &st, 0)
                    stranger = -1
                }
                // Someone else holds the number (another suite's process got it first): wait for it to end
                // rather than spawn strangers that cannot get it.
                if kill(leader, 0) == 0 || errno != ESRCH { usleep(20_000); continue }
                attempts += 1
                stranger = Self.spawnAt(pid: leader, ["/usr/bin/setsid", "/bin/sh", "-c",
                                                      "sleep 1000 & echo $! > \(dir.path)/stranger.tmp; mv \(dir.path)/stranger.tmp \(dir.path)/stranger; wait"])
                if stranger > 0 { stray(stranger) }
            }
            if stranger > 0 && stranger != leader {
                kill(-stranger, SIGKILL)
                kill(stranger, SIGKILL)
            }
            // The member's end is recorded as a sweep of this drain.
            #expect(await sink.waitFor(.seconds(30)) { $0.contains { $0.swept?.identity.pid == member } })
            try #require(stranger == leader, "could not get pid \(leader) for the stranger in \(attempts) attempts (held by: \(ProcFS().stat(leader).map { "\($0)" } ?? "nobody"))")
            #expect(await sink.waitFor(.seconds(30)) { _ in dir.read(dir.path + "/stranger") != nil })
            let strangersChild = try #require(OwnershipTests.pids(dir.read(dir.path + "/stranger")).first)
            stray(strangersChild)
            let strangersTicks = try #require(ProcFS().stat(strangersChild)?.startTicks)
            #expect(ProcFS().stat(strangersChild)?.session == leader, "the stranger's child is in session \(leader)")

            // The escaper's death ends the drain: the check that finds it gone scans for remnants in
            // the same pass, which is when the old rule adopted the stranger's child and sent it SIGTERM.
            kill(escaper, SIGKILL)
            #expect(await sink.waitFor(.seconds(30)) { $0.contains { $0.swept?.identity.pid == escaper } })
            // A SIGTERM would end the child within moments: watch for a second.
            _ = await sink.waitFor(.seconds(1)) { _ in !isAlive(strangersChild) }
            // The first instance's drain (restart = never: there is no other).
            let firstID = sink.events("reuse").compactMap(\.started).first?.id
            let swept = Set(sink.events("reuse").compactMap(\.swept).filter { $0.instance?.id == firstID }.map(\.identity.pid))
            #expect(swept == [member, escaper])
            #expect(!sink.events("reuse").compactMap(\.swept).contains { $0.identity == ProcessIdentity(pid: strangersChild, startTicks: strangersTicks) })
            #expect(isAlive(strangersChild, ticks: strangersTicks), "histd signalled a stranger's child that only shared a reused session number")
        }
    }

    /// posix_spawn right after setting the kernel's last pid to `pid - 1`; another fork on the box
    /// may win the number, so the caller checks and retries.
    static func spawnAt(pid: Int32, _ argv: [String]) -> Int32 {
        let fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return -1 }
        let text = Array("\(pid - 1)".utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        var child: pid_t = 0
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        guard posix_spawn(&child, argv[0], nil, nil, &cargs, environ) == 0 else { return -1 }
        return child
    }
}
