import Foundation
import HistTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Tools from Debian's `prometheus` package (.ci/run installs it).
enum PrometheusTools {
    static func find(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin"]
        where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        return nil
    }
    static let promtool = find("promtool")
    static let prometheus = find("prometheus")
}

extension EndToEnd {
    /// The metrics endpoint and textfile of a real histd, checked by Prometheus's own tools and by a
    /// real Prometheus server that scrapes it.
    @Suite struct Metrics {
        /// A config with `crasher` (exit 3 after 0.2 s, gives up after 3 restarts) and `steady`.
        static func config(_ ws: Workspace, port: UInt16, maxRestarts: Int = 3) throws -> String {
            let crasher = try ws.write("crasher.sh", "#!/bin/sh\nsleep 0.2\nexit 3\n", executable: true)
            return try ws.write("metrics.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                snapshot_interval = "500ms"
                scan_interval = "1s"
                metrics_listen = "127.0.0.1:\(port)"
                metrics_textfile = "histd.prom"
                metrics_interval = "1s"

                [program.crasher]
                command = ["\(crasher)"]
                restart = "always"
                restart_delay = "200ms"
                backoff_factor = 1
                max_restarts = \(maxRestarts)

                [program.steady]
                command = ["sleep", "1000"]
                """)
        }

        @Test(.enabled(if: PrometheusTools.promtool != nil, "promtool is not installed (Debian package prometheus)"))
        func scrapeTextfileAndRulesPassPromtool() throws {
            let ws = try Workspace("metrics-promtool")
            defer { ws.cleanup() }
            let port = try LoopbackHTTP.freePort()
            let config = try Self.config(ws, port: port)
            let check = try E2E.run(E2E.histd, ["check", "--config", config], timeout: 60)
            #expect(check.status == 0, "histd check: \(check.stderr)")
            let histd = try ws.runHistd(config: config)
            let db = HistoryDB(path: ws.path("h.db"))
            // Wait until crasher has given up (4 crashes recorded) and the endpoint shows it.
            var scrape = ""
            let settled = E2E.waitUntil(60, poll: 0.2) {
                guard let answer = try? LoopbackHTTP.tcp(port: port, path: "/metrics"), answer.status == 200 else { return false }
                scrape = String(decoding: answer.body, as: UTF8.self)
                return scrape.contains(#"histd_program_given_up{program="crasher"} 1"#) && db.instances("crasher", class: "crash") == 4
            }
            try #require(settled, "histd log:\n\(ws.log())\nlast scrape:\n\(scrape)")
            let scrapeFile = try ws.write("scrape.txt", scrape)
            let checked = try E2E.run("/bin/sh", ["-c", "\"$0\" check metrics < \"$1\"", PrometheusTools.promtool!, scrapeFile], timeout: 60)
            #expect(checked.status == 0, "promtool check metrics (scrape): \(checked.stdout) \(checked.stderr)")
            #expect(scrape.contains(#"histd_program_crashes_total{program="crasher",reason="exit_code"} 4"#))

            // The textfile: rewritten every second, so it catches up with the final counts.
            let textfile = ws.path("histd.prom")
            let caughtUp = E2E.waitUntil(20, poll: 0.2) {
                ((try? String(contentsOfFile: textfile, encoding: .utf8)) ?? "").contains(#"histd_program_given_up{program="crasher"} 1"#)
            }
            #expect(caughtUp)
            let fileChecked = try E2E.run("/bin/sh", ["-c", "\"$0\" check metrics < \"$1\"", PrometheusTools.promtool!, textfile], timeout: 60)
            #expect(fileChecked.status == 0, "promtool check metrics (textfile): \(fileChecked.stdout) \(fileChecked.stderr)")

            let rules = E2E.root.appendingPathComponent("contrib/prometheus/histd.rules.yml").path
            let rulesChecked = try E2E.run(PrometheusTools.promtool!, ["check", "rules", rules], timeout: 60)
            #expect(rulesChecked.status == 0, "promtool check rules: \(rulesChecked.stdout) \(rulesChecked.stderr)")
            #expect(histd.stop() == 0)
        }

        @Test(.enabled(if: PrometheusTools.prometheus != nil, "prometheus is not installed (Debian package prometheus)"))
        func aRealPrometheusScrapesCrashesThatMatchTheDatabase() throws {
            let ws = try Workspace("metrics-prometheus")
            defer { ws.cleanup() }
            let port = try LoopbackHTTP.freePort()
            let config = try Self.config(ws, port: port)
            let histd = try ws.runHistd(config: config)
            let db = HistoryDB(path: ws.path("h.db"))

            let promPort = try LoopbackHTTP.freePort()
            let rules = E2E.root.appendingPathComponent("contrib/prometheus/histd.rules.yml").path
            let promConfig = try ws.write("prometheus.yml", """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files: ["\(rules)"]
                scrape_configs:
                  - job_name: histd
                    static_configs:
                      - targets: ["127.0.0.1:\(port)"]
                """)
            let prometheus = Process()
            prometheus.executableURL = URL(fileURLWithPath: PrometheusTools.prometheus!)
            prometheus.arguments = ["--config.file=\(promConfig)", "--storage.tsdb.path=\(ws.path("tsdb"))",
                                    "--web.listen-address=127.0.0.1:\(promPort)", "--log.level=warn"]
            var env = ProcessInfo.processInfo.environment
            env[Workspace.markerKey] = ws.markerValue
            prometheus.environment = env
            let promLog = FileHandle(forWritingAtPath: try ws.write("prometheus.log", ""))
            prometheus.standardOutput = promLog
            prometheus.standardError = promLog
            try prometheus.run()
            let promPID = prometheus.processIdentifier
            defer {
                // By pid: TERM, then KILL if it is still there after 10 s.
                kill(promPID, SIGTERM)
                if !E2E.waitUntil(10, { !prometheus.isRunning }) { kill(promPID, SIGKILL) }
                prometheus.waitUntilExit()
            }

            func query(_ promql: String) -> [(labels: [String: String], value: Double)]? {
                var allowed = CharacterSet.urlQueryAllowed
                allowed.remove(charactersIn: "+&=")
                guard let q = promql.addingPercentEncoding(withAllowedCharacters: allowed),
                      let answer = try? LoopbackHTTP.tcp(port: promPort, path: "/api/v1/query?query=\(q)"), answer.status == 200,
                      let json = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any],
                      let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else { return nil }
                return result.compactMap { r in
                    guard let labels = r["metric"] as? [String: String], let v = r["value"] as? [Any], v.count == 2,
                          let s = v[1] as? String, let d = Double(s) else { return nil }
                    return (labels, d)
                }
            }
            func scalar(_ promql: String) -> Double? { query(promql)?.first?.value }

            // Prometheus sees what the database holds: 4 crashes, then gave up; steady up.
            var seen: Double?
            let matched = E2E.waitUntil(90, poll: 0.5) {
                let dbCrashes = db.instances("crasher", class: "crash")
                seen = scalar(#"sum(histd_program_crashes_total{program="crasher"})"#)
                return dbCrashes == 4 && seen == Double(dbCrashes) && scalar(#"histd_program_given_up{program="crasher"}"#) == 1
            }
            try #require(matched, """
                Prometheus saw \(seen.map { "\($0)" } ?? "nothing") crashes, the database holds \(db.instances("crasher", class: "crash")).
                prometheus log:\n\((try? String(contentsOfFile: ws.path("prometheus.log"), encoding: .utf8)) ?? "")
                histd log:\n\(ws.log())
                """)
            let dbStarts = db.instances("crasher")
            #expect(scalar(#"histd_program_starts_total{program="crasher"}"#) == Double(dbStarts))
            #expect(scalar(#"histd_program_exits_total{program="crasher",class="crash"}"#) == 4)
            #expect(scalar(#"histd_program_restarts_total{program="crasher"}"#) == Double(db.events("restart_scheduled")))
            #expect(scalar(#"histd_program_up{program="crasher"}"#) == 0)
            #expect(scalar(#"histd_program_up{program="steady"}"#) == 1)
            #expect(scalar(#"histd_program_last_exit_code{program="crasher"}"#) == 3)
            #expect(scalar(#"up{job="histd"}"#) == 1, "the scrape itself succeeds (OpenMetrics, which Prometheus asks for)")
            // The rules file loads in the real server and its given-up alert fires for crasher.
            let firing = E2E.waitUntil(30, poll: 0.5) {
                (query(#"ALERTS{alertname="HistdProgramGivenUp",alertstate="firing"}"#) ?? []).contains { $0.labels["program"] == "crasher" }
            }
            #expect(firing, "HistdProgramGivenUp did not fire")
            #expect(histd.stop() == 0)
        }
    }
}
