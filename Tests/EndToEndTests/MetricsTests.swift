import Foundation
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
                guard let answer = try? LoopbackHTTP.get(port: port, path: "/metrics"), answer.status == 200 else { return false }
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
                      let answer = try? LoopbackHTTP.get(port: promPort, path: "/api/v1/query?query=\(q)"), answer.status == 200,
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

/// Loopback HTTP for the metrics tests: a free port, and one GET with `Connection: close`.
enum LoopbackHTTP {
    struct Answer {
        var status: Int
        var body: [UInt8]
    }

    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw E2EError("no free port") }
        return UInt16(bigEndian: addr.sin_port)
    }

    static func get(port: UInt16, path: String) throws -> Answer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw E2EError("connect 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += buf[0..<n]
            if let answer = parse(data), let length = answer.length, answer.body.count >= length { return Answer(status: answer.status, body: answer.body) }
        }
        guard let answer = parse(data) else { throw E2EError("no HTTP answer from 127.0.0.1:\(port)") }
        return Answer(status: answer.status, body: answer.body)
    }

    private static func parse(_ data: [UInt8]) -> (status: Int, length: Int?, body: [UInt8])? {
        guard data.count >= 4, let end = (0...(data.count - 4)).first(where: {
            data[$0] == 13 && data[$0 + 1] == 10 && data[$0 + 2] == 13 && data[$0 + 3] == 10 }) else { return nil }
        let head = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = head.first?.split(separator: " ") ?? []
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        let length = head.dropFirst().first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
        return (status, length, Array(data[(end + 4)...]))
    }
}
