import Testing
@testable import HistMetrics

@Suite struct ExpositionTests {
    static let accepts: [(String?, ExpositionFormat)] = [
        (nil, .prometheus),
        ("*/*", .prometheus),
        ("text/plain;version=0.0.4", .prometheus),
        // What Prometheus 2.42 sends.
        ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", .openMetrics),
        ("application/openmetrics-text; version=1.0.0", .openMetrics),
        ("text/plain, application/openmetrics-text;q=0", .prometheus),
    ]

    @Test(arguments: accepts)
    func negotiation(_ accept: String?, _ expected: ExpositionFormat) {
        #expect(ExpositionFormat.negotiate(accept: accept) == expected)
    }

    @Test func openMetricsRenamesCounterAndInfoFamiliesAndEnds() {
        let text = """
            # HELP histd_program_starts_total Processes started.
            # TYPE histd_program_starts_total counter
            histd_program_starts_total{program="a"} 3
            # TYPE histd_build_info gauge
            histd_build_info{version="0.1.0"} 1.0
            # HELP histd_program_up 1 while running.
            # TYPE histd_program_up gauge
            histd_program_up{program="a"} 1.0

            """
        let om = String(decoding: OpenMetrics.convert(Array(text.utf8)), as: UTF8.self)
        #expect(om == """
            # HELP histd_program_starts Processes started.
            # TYPE histd_program_starts counter
            histd_program_starts_total{program="a"} 3
            # TYPE histd_build info
            histd_build_info{version="0.1.0"} 1.0
            # HELP histd_program_up 1 while running.
            # TYPE histd_program_up gauge
            histd_program_up{program="a"} 1.0
            # EOF

            """)
    }

    @Test func everyMetricHasHelpAndIsInMetricsDoc() throws {
        let doc = try String(contentsOfFile: Self.root + "/docs/METRICS.md", encoding: .utf8)
        for (name, help) in MetricHelp.text {
            #expect(!help.isEmpty)
            #expect(doc.contains("`\(name)`"), "docs/METRICS.md does not document \(name)")
        }
    }

    static let root: String = {
        var path = #filePath
        while !path.isEmpty {
            path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if FileManager.default.fileExists(atPath: path + "/Package.swift") { return path }
        }
        return "."
    }()
}

import Foundation

@Suite struct ControlRequestTests {
    @Test func controlRequestsAreCountedByCommandAndResult() {
        let metrics = SupervisorMetrics(programs: [], pools: [], version: "t")
        #expect(Exposition(metrics.render(.prometheus))[#"histd_control_requests_total{command="status",result="ok"}"#] == nil)
        metrics.countControlRequest(command: "status", result: "ok")
        metrics.countControlRequest(command: "status", result: "ok")
        metrics.countControlRequest(command: "stop", result: "error")
        let m = Exposition(metrics.render(.prometheus))
        #expect(m[#"histd_control_requests_total{command="status",result="ok"}"#] == 2)
        #expect(m[#"histd_control_requests_total{command="stop",result="error"}"#] == 1)
    }
}
