import Foundation
import HistModel
import HistStore
import Testing
@testable import HistReports

/// The postmortem timeline's marks on a history written by the real writer: operator actions (issue 11)
/// are their own mark and table row, an end an operator caused is no crash, a spawn failure is no signal
/// crash, and frequent marks (starts, clean ends) share one hover list per lane.
@Suite struct HTMLTimelineTests {
    static func at(_ ms: Int64) -> Timestamp { HTMLReportTests.at(ms) }

    /// web: killed by hand (a crash), then ended by an operator's `histctl signal` (not a crash) and
    /// started again for it; a refused `histctl stop db web`; a program whose spawn fails.
    static func makeHistory(_ path: String) throws {
        let store = try HistoryStore.open(path: path)
        _ = try store.beginRun(host: "h", pid: 1, version: "0.1.0", configPath: nil, configHash: nil, bootID: nil,
                               programs: [], pools: [], at: at(0))
        let w = store.startWriter()
        let byHand = HTMLReportTests.instance(1, "web", pid: 500, started: 1000)
        let signalled = HTMLReportTests.instance(2, "web", pid: 501, started: 3000)
        let restarted = HTMLReportTests.instance(3, "web", pid: 502, started: 6000)
        let signal = OperatorAction(seq: 1, action: "signal", programs: ["web"], result: "done", message: "web: sent HUP to pid 501",
                                    uid: 1000, gid: 1000, user: "ann", pid: 812, comm: "histctl", argument: "HUP")
        let refused = OperatorAction(seq: 2, action: "stop", programs: ["db", "web"], result: "denied", message: "permission denied",
                                     uid: 1001, gid: 1001, user: "bob<i>", pid: 900, comm: "histctl")
        let events: [HistEvent] = [
            HistEvent(time: byHand.startedAt, program: "web", payload: .started(byHand)),
            HTMLReportTests.ended(byHand, at: 2000, .signaled(signal: 9, coreDumped: false), .crash, stderr: ""),
            HistEvent(time: signalled.startedAt, program: "web", payload: .started(signalled)),
            HistEvent(time: at(4000), program: "web", payload: .operatorAction(signal)),
            HistEvent(time: at(4100), program: "web", payload: .ended(InstanceEnd(instance: signalled, endedAt: at(4100),
                status: .signaled(signal: 1, coreDumped: false), classification: .crash, uptime: .milliseconds(1100), stderrTail: "")),
                operatorAction: 1),
            HistEvent(time: restarted.startedAt, program: "web", payload: .started(restarted), operatorAction: 1),
            HistEvent(time: at(7000), program: "", payload: .operatorAction(refused)),
            HistEvent(time: at(8000), program: "bad", payload: .spawnFailed(errno: 2, step: "execve", reason: "No such file or directory", workerIndex: nil)),
        ]
        for e in events { w.record(e) }
        #expect(w.flush(timeout: .seconds(10)))
        store.close()
    }

    static func report() throws -> Postmortem {
        let dir = SampleHistory.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try makeHistory(dir + "/ops.db")
        return try Postmortem.build(try ReportDatabase(path: dir + "/ops.db"), ReportScope(since: at(0), until: at(60_000), now: at(60_000)))
    }

    func count(_ s: String, in text: String) -> Int { text.components(separatedBy: s).count - 1 }

    @Test func operatorActionsAreMarkedTitledAndListed() throws {
        let pm = try Self.report()
        let html = pm.html(zone: TimeZone(identifier: "UTC")!, generated: Self.at(60_000))
        // Two actions, each its own person-shaped mark with who did what as its hover title.
        #expect(count("class=\"mark k-operator\" x=", in: html) == 2)
        #expect(html.contains("<title>ann (uid 1000, pid 812, histctl) signal HUP web: done at 10:00:04</title>"))
        #expect(html.contains("<title>bob&lt;i&gt; (uid 1001, pid 900, histctl) stop db web: denied at 10:00:07</title>"))
        #expect(html.contains("<path id=\"m-operator\" d=\""), "the shape is defined once")
        #expect(html.contains("operator action (histctl, SIGHUP)</li>"), "and in the legend")
        // The same text without hovering (and on paper): a table right after the timeline.
        #expect(count("<tr class=\"operator-action\">", in: html) == 2)
        let table = try #require(html.range(of: "<h2 id=\"operator\">"))
        #expect(try #require(html.range(of: "<h2 id=\"timeline\">")).lowerBound < table.lowerBound)
        #expect(table.lowerBound < (try #require(html.range(of: "<h2 id=\"usage\">"))).lowerBound)
        #expect(html.contains("<td class=\"code\">web</td><td>ann (uid 1000, pid 812, histctl) signal HUP web: done</td>"))
        #expect(html.contains("<td class=\"code\">histd</td><td>bob&lt;i&gt; (uid 1001, pid 900, histctl) stop db web: denied</td>"))
        #expect(html.contains("<li><b>2</b>operator actions</li>"))

        // The kill by hand is the one crash; the end the operator's signal caused is drawn as an end.
        #expect(count("class=\"mark k-crash-signal\" x=", in: html) == 1)
        #expect(html.contains("<li><b>1</b>crashes</li>"))
        #expect(html.contains("10:00:04 pid 501 after 1.1s, ended by an operator&#39;s signal (not a crash)"))

        // The spawn failure: its own open triangle with the step and errno, not a signal crash.
        #expect(count("class=\"mark k-spawn-failed\" x=", in: html) == 1)
        #expect(html.contains("<title>spawn failed: bad at 10:00:08, execve failed: No such file or directory (errno 2)"))
        #expect(html.contains("<li><b>1</b>spawn failures</li>"))
        #expect(pm.crashGroups.contains { $0.program == "bad" && $0.endings == ["spawn failed"] })

        // Starts share one hover list per lane, which names each one's time and pid.
        #expect(html.contains("<g class=\"mark k-start\"><title>web: 3 starts\n10:00:01 pid 500\n10:00:03 pid 501\n10:00:06 pid 502</title>"))
        #expect(count("<use href=\"#m-start\" x=", in: html) == 3)
        #expect(HTMLReportTests.unbalancedTags(html) == [])
    }

    @Test func markdownListsOperatorActionsAsEvents() throws {
        let md = try Self.report().markdown(zone: TimeZone(identifier: "UTC")!)
        #expect(md.contains("| operator_action | web | - | 1000 | uid | ann \\(uid 1000, pid 812, histctl\\) signal HUP web: done |"), "\(md)")
        #expect(md.contains("| operator_action | - | - | 1001 | uid | bob\\<i\\> \\(uid 1001, pid 900, histctl\\) stop db web: denied |"))
    }

    @Test func denseStartsAreDrawnOncePerPixelAndListedUpToTheLimit() {
        // 100 starts within one second of a 1 h window: all in the count, each pixel column drawn once,
        // the first `listLimit` listed.
        let since = Self.at(0), until = Self.at(3_600_000)
        let marks = (0..<100).map { n in
            TimelineMark(time: Self.at(1000 + Int64(n) * 10), program: "loop", kind: .start, title: "10:00:01 pid \(1000 + n)")
        }
        var svg = TimelineSVG(lanes: [nil, "loop"], marks: marks, since: since, until: until)
        let out = svg.summary(.start, marks, lane: "loop")
        #expect(out.hasPrefix("<g class=\"mark k-start\"><title>loop: 100 starts\n10:00:01 pid 1000\n"))
        #expect(out.contains("pid \(1000 + TimelineSVG.listLimit - 1)\n… and \(100 - TimelineSVG.listLimit) more"))
        #expect(!out.contains("pid \(1000 + TimelineSVG.listLimit)\n"))
        #expect(count("<use ", in: out) < 5, "1 s of 1 h is about one pixel column")
        svg.marks = []
        #expect(svg.render(incomplete: [], zone: TimeZone(identifier: "UTC")!).contains("<text class=\"lane-label\" x=\"4\" y=\"56\">loop</text>"))
    }
}
