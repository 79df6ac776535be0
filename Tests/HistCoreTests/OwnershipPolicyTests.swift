#if canImport(Glibc)
import Glibc
#endif
import HistModel
import Testing
@testable import HistCore

/// The pure parts of ownership: which process remains of an instance, what each signal does,
/// how much of the fd limit the caches take, and what a restart restores.
@Suite struct OwnershipPolicyTests {
    typealias C = RemnantRule.Candidate
    let rule = RemnantRule(leader: ProcessIdentity(pid: 100, startTicks: 5000), ownPID: 1)

    @Test(arguments: [
        // pid, ppid, pgrp, session, ticks, zombie, inCgroup, isUnitMain, expected
        (101, 100, 100, 100, 5001, false, false, false, RemnantRule.Verdict.sameTree),   // worker in the group
        (102, 1, 102, 100, 5002, false, false, false, .sameTree),                        // own group, same session
        (103, 1, 103, 103, 5003, false, false, false, .checkMarker),                     // setsid escaper re-parented to histd
        (104, 77, 104, 104, 5004, false, true, false, .sameCgroup),                      // elsewhere, but in the cgroup
        (105, 100, 100, 100, 4000, false, false, false, .notOurs),                       // older than the leader: a reused id
        (106, 100, 100, 100, 5005, true, false, false, .notOurs),                        // zombie
        (100, 1, 100, 100, 5000, false, false, false, .notOurs),                         // the leader itself
        (107, 1, 107, 107, 5006, false, false, true, .notOurs),                          // another unit's main process
        (108, 55, 108, 108, 5007, false, false, false, .notOurs),                        // unrelated
        (1, 0, 1, 1, 1, false, false, false, .notOurs),                                  // histd
    ] as [(Int32, Int32, Int32, Int32, UInt64, Bool, Bool, Bool, RemnantRule.Verdict)])
    func remnantRule(_ c: (Int32, Int32, Int32, Int32, UInt64, Bool, Bool, Bool, RemnantRule.Verdict)) {
        let candidate = C(pid: c.0, ppid: c.1, pgrp: c.2, session: c.3, startTicks: c.4, isZombie: c.5)
        #expect(rule.verdict(candidate, inCgroup: c.6, isUnitMain: c.7) == c.8)
    }

    /// Once the leader's pid may have been handed to a stranger (nothing of ours held it as a
    /// session or group id), session and group prove nothing: only the cgroup and the marker count.
    @Test(arguments: [
        (201, 100, 100, 100, 5001, false, RemnantRule.Verdict.notOurs),  // a stranger's child in "our" session
        (202, 55, 202, 100, 5002, false, .notOurs),                       // own group, "our" session
        (203, 77, 100, 100, 5003, true, .sameCgroup),                    // in the cgroup: still ours
        (204, 1, 204, 204, 5004, false, .checkMarker),                   // re-parented to histd: the marker decides
    ] as [(Int32, Int32, Int32, Int32, UInt64, Bool, RemnantRule.Verdict)])
    func remnantRuleOnceTheNumberMayBeReused(_ c: (Int32, Int32, Int32, Int32, UInt64, Bool, RemnantRule.Verdict)) {
        var rule = self.rule
        rule.treeIdsOurs = false
        let candidate = C(pid: c.0, ppid: c.1, pgrp: c.2, session: c.3, startTicks: c.4, isZombie: false)
        #expect(rule.verdict(candidate, inCgroup: c.5, isUnitMain: false) == c.6)
    }

    @Test func everyHandledSignalHasItsAction() {
        #expect(SignalPolicy.action(for: SIGTERM) == .shutdown)
        #expect(SignalPolicy.action(for: SIGINT) == .shutdown)
        #expect(SignalPolicy.action(for: SIGHUP) == .reload)
        #expect(SignalPolicy.action(for: SIGUSR1) == .reopenLogs)
        #expect(SignalPolicy.action(for: SIGCHLD) == .reap)
        for sig in SignalPolicy.handled where ![SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD].contains(sig) {
            #expect(SignalPolicy.action(for: sig) == .ignore, "\(sig)")
        }
        // Faults keep their default; glibc's own real-time signals are left alone.
        for sig in [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGKILL, SIGSTOP, 32, 33] {
            #expect(!SignalPolicy.handled.contains(sig), "\(sig)")
        }
        #expect(Set(SignalPolicy.handled).count == SignalPolicy.handled.count)
    }

    @Test(arguments: [(1024, 128), (4096, 896), (65536, 4096), (512, 0), (Int.max, 4096)])
    func cacheBudgetLeavesRoomForSpawning(_ c: (Int, Int)) {
        #expect(FileLimit.cacheBudget(soft: c.0) == c.1)
    }

    @Test func restoredStateFromTheLastFact() {
        let now = Timestamp(milliseconds: 100_000)
        #expect(RestoredState.decide(last: nil, now: now) == .fresh)
        #expect(RestoredState.decide(last: .started, now: now) == .fresh)
        #expect(RestoredState.decide(last: .gaveUp(restarts: 5), now: now) == .failed(restarts: 5))
        // Scheduled 4 s ago with a 10 s delay: 6 s left, attempt kept.
        #expect(RestoredState.decide(last: .restartScheduled(at: Timestamp(milliseconds: 96_000), delay: .seconds(10), attempt: 3), now: now)
                == .backoff(remaining: .seconds(6), attempt: 3))
        // Already due: now.
        #expect(RestoredState.decide(last: .restartScheduled(at: Timestamp(milliseconds: 10_000), delay: .seconds(10), attempt: 2), now: now)
                == .backoff(remaining: .zero, attempt: 2))
        // The clock went back: never longer than the delay itself.
        #expect(RestoredState.decide(last: .restartScheduled(at: Timestamp(milliseconds: 500_000), delay: .seconds(10), attempt: 1), now: now)
                == .backoff(remaining: .seconds(10), attempt: 1))
    }

    @Test func runMarkerRoundTripsWithColonsInTheKey() {
        let m = RunMarker(key: "/var/lib/a:b/history.db", owner: ProcessIdentity(pid: 42, startTicks: 99), engine: 7)
        #expect(RunMarker.parse(m.text) == m)
        #expect(RunMarker.parse("nonsense") == nil)
        #expect(RunMarker.parse("k:1:2") == nil)
    }
}
