import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension E2E {
    /// Chromium's binary, when installed (Debian's `chromium`; .ci/run installs it).
    static let chromium: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            for name in ["chromium", "chromium-browser"] where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        }
        return nil
    }()
}

extension EndToEnd {
    /// `histctl postmortem --format html` on the history of a real histd run, opened in a real browser.
    @Suite struct HTMLReportInBrowser {
        /// Exit 3 after printing hostile stderr: markup, an ampersand, quotes and bytes that are not UTF-8.
        static let crasher = #"""
            printf '<script>document.title="PWNED"</script>\n</svg></pre></td> & "q" '"'"'a'"'"' <b>bold</b>\n' >&2
            printf '\377\376\200 not utf-8\n' >&2
            sleep 0.3
            exit 3
            """#
        static let leak = "import time\nb = []\nwhile True:\n    b.append(bytearray(b'x' * (8 << 20)))\n    time.sleep(0.05)\n"

        /// Decodes the first `rows` rows of an 8-bit PNG (all five filter types) and prints
        /// "WIDTH HEIGHT VARIANCE DISTINCT" of the pixels' grey levels (every 4th pixel).
        static let pngStats = #"""
            import sys, zlib, struct
            data = open(sys.argv[1], 'rb').read()
            assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
            pos, idat = 8, b''
            while pos < len(data):
                n, = struct.unpack('>I', data[pos:pos + 4]); t = data[pos + 4:pos + 8]; c = data[pos + 8:pos + 8 + n]; pos += 12 + n
                if t == b'IHDR': w, h, depth, ctype = struct.unpack('>IIBB', c[:10])
                elif t == b'IDAT': idat += c
            assert depth == 8, 'bit depth %d' % depth
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
            stride = w * bpp
            rows = min(int(sys.argv[2]), h)
            raw = zlib.decompressobj().decompress(idat, (stride + 1) * rows)
            prev = bytearray(stride); vals = []
            for y in range(rows):
                f = raw[y * (stride + 1)]; line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
                if f == 1:
                    for i in range(bpp, stride): line[i] = (line[i] + line[i - bpp]) & 255
                elif f == 2:
                    for i in range(stride): line[i] = (line[i] + prev[i]) & 255
                elif f == 3:
                    for i in range(stride): line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
                elif f == 4:
                    for i in range(stride):
                        a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
                        p = a + b - c; pa = abs(p - a); pb = abs(p - b); pc = abs(p - c)
                        line[i] = (line[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 255
                prev = line
                for x in range(0, w, 4):
                    i = x * bpp; vals.append(sum(line[i:i + min(3, bpp)]))
            mean = sum(vals) / len(vals)
            print(w, h, sum((v - mean) ** 2 for v in vals) / len(vals), len(set(vals)))
            """#

        func count(_ s: String, in text: String) -> Int { text.components(separatedBy: s).count - 1 }

        @Test(.enabled(if: E2E.chromium != nil, "chromium is not installed (.ci/run installs it)"),
              .enabled(if: E2E.hasPython, "python3 is not available (the leaker and the PNG check use it)"))
        func reportOfARealRunRendersInChromiumWithEveryMark() throws {
            let chromium = try #require(E2E.chromium)
            let ws = try Workspace("htmlreport")
            // HISTD_E2E_KEEP=1 keeps the report, its screenshot and the database for a look.
            defer { ws.cleanup(keepDir: ProcessInfo.processInfo.environment["HISTD_E2E_KEEP"] != nil) }
            let crasher = try ws.write("crash.sh", Self.crasher)
            let leak = try ws.write("leak.py", Self.leak)
            let config = try ws.write("h.toml", """
                [supervisor]
                db = "h.db"
                log_dir = "logs"
                control_socket = "\(ws.path("run/control.sock"))"
                snapshot_interval = "100ms"
                scan_interval = "off"

                [program.crasher]
                command = ["/bin/sh", "\(crasher)"]
                restart = "on-failure"
                restart_delay = "200ms"
                backoff_factor = 1
                max_restarts = 0

                [program.segv]
                command = ["/bin/sh", "-c", "echo boom >&2; sleep 0.4; kill -SEGV $$"]
                restart = "on-failure"
                restart_delay = "300ms"
                backoff_factor = 1
                max_restarts = 0

                [program.leaky]
                command = ["/usr/bin/env", "python3", "\(leak)"]
                restart = "always"
                restart_delay = "300ms"
                backoff_factor = 1
                max_restarts = 0
                stop_timeout = "1s"
                max_memory_mb = 64

                [program.steady]
                command = ["/bin/sleep", "1000"]
                stop_timeout = "1s"
                """)
            let db = HistoryDB(path: ws.path("h.db"))
            let since = E2E.nowMS() - 2000

            // Run 1 until it has crashes of both kinds and a limit kill; then histd dies (kill -9): the record
            // is incomplete from its last event until run 2 starts (an unclean supervisor end, as a power
            // loss or OOM kill of histd would leave it).
            let first = try ws.runHistd(config: config)
            let ok = E2E.waitUntil(60) {
                db.instances("crasher", class: "crash") >= 2 && db.instances("segv", class: "crash") >= 1 && db.instances("leaky", class: "limit") >= 1
            }
            #expect(ok, "run 1 had no crashes and limit kill in 60 s:\n\(ws.log())")
            first.kill9()
            Thread.sleep(forTimeInterval: 1.5) // the span nothing records: long enough to show on the charts
            let second = try ws.runHistd(config: config, logName: "histd2.log")
            let crashesBefore = db.instances("crasher", class: "crash")
            #expect(E2E.waitUntil(60) { db.instances("crasher", class: "crash") > crashesBefore + 1 }, "run 2 recorded no crash:\n\(ws.log("histd2.log"))")
            // An operator restarts steady (issue 11): an operator mark, not a crash, with who did it.
            let restart = try E2E.run(E2E.histctl, ["restart", "steady"], env: ["HISTD_SOCKET": ws.path("run/control.sock")],
                                      removeEnv: ["HISTD_DB"], timeout: 60)
            #expect(restart.status == 0 && restart.stdout.hasPrefix("steady: restarted, pid "), "\(restart.stdout)\(restart.stderr)")
            #expect(second.stop() == 0)
            let until = E2E.nowMS() + 1000

            // What the database says about the window.
            let args: StatementArguments = [since, until]
            let exitCrashes = try db.int("SELECT count(*) FROM crashes WHERE ts >= ? AND ts < ? AND reason = 'crash' AND exit_code IS NOT NULL", args)
            let signalCrashes = try db.int("SELECT count(*) FROM crashes WHERE ts >= ? AND ts < ? AND reason = 'crash' AND exit_code IS NULL", args)
            let limitKills = try db.int("SELECT count(*) FROM crashes WHERE ts >= ? AND ts < ? AND reason = 'limit'", args)
            let breaches = try db.int("SELECT count(*) FROM limit_breaches WHERE ts >= ? AND ts < ?", args)
            let unclean = try db.int("SELECT count(*) FROM runs WHERE stop_reason = 'unclean'")
            // Recording gaps, plus the stretch of the window before histd's first event (queries/record_start.sql).
            let gaps = try db.int("SELECT count(*) FROM recording_gaps WHERE ts < ? AND COALESCE(to_ms, from_ms, ts) >= ?", [until, since])
                + db.int("SELECT count(*) FROM (SELECT ts FROM events ORDER BY id LIMIT 1) WHERE ts > ?", [since])
            let actions = try db.int("SELECT count(*) FROM operator_actions WHERE ts >= ? AND ts < ?", args)
            let steadyCrashes = try db.int("SELECT count(*) FROM crashes WHERE program = 'steady' AND ts >= ? AND ts < ?", args)
            #expect(exitCrashes >= 3 && signalCrashes >= 1 && limitKills >= 1 && breaches >= 1)
            #expect(unclean == 1)
            #expect(actions == 1 && steadyCrashes == 0, "the restart is recorded and is no crash")

            func iso(_ ms: Int64) -> String {
                let f = ISO8601DateFormatter()
                f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
            }
            let report = try E2E.run(E2E.histctl, ["postmortem", "--db", ws.path("h.db"), "--since", iso(since), "--until", iso(until), "--format", "html"])
            #expect(report.status == 0, "histctl: \(report.stderr)")
            let html = report.stdout
            let page = ws.path("incident.html")
            try html.write(toFile: page, atomically: true, encoding: .utf8)
            #expect(html.range(of: "<script", options: .caseInsensitive) == nil)
            #expect(html.contains("&lt;script&gt;document.title=&quot;PWNED&quot;&lt;/script&gt;"))
            #expect(html.contains("\u{FFFD}"), "the invalid bytes are shown as U+FFFD")
            #expect(html.utf8.count < 2_000_000)

            // Chromium, headless, with its own profile (other Chromiums on the machine keep theirs); killed by
            // pid when it hangs (E2E.run's timeout), and its helpers carry the workspace marker for cleanup.
            let common = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + ws.path("chromium-profile"),
                          "--no-first-run", "--disable-extensions"]
            let env = [Workspace.markerKey: ws.markerValue]
            let dom = try E2E.run(chromium, common + ["--dump-dom", "file://" + page], env: env, timeout: 120)
            #expect(dom.status == 0, "chromium --dump-dom: \(dom.stderr.suffix(2000))")
            let d = dom.stdout
            #expect(d.contains("<title>Postmortem: "), "the document's title is ours")
            #expect(!d.contains("<title>PWNED"), "no script ran")
            #expect(d.range(of: "<script", options: .caseInsensitive) == nil, "no script element in the DOM")
            #expect(!d.contains("<b>bold</b>"), "no element from stderr in the DOM")
            #expect(count("<h2 ", in: d) == 9, "every section is there, none swallowed by an unclosed element")
            #expect(count("<svg", in: d) == count("</svg>", in: d))
            // Marks against the database's rows: crash triangles and crosses and limit-kill squares on the
            // timeline, breach diamonds on the memory charts, one hatched shade per incomplete span per chart.
            #expect(count("class=\"mark k-crash-exit\" x=", in: d) == exitCrashes)
            #expect(count("class=\"mark k-crash-signal\" x=", in: d) == signalCrashes)
            #expect(count("class=\"mark k-limit-kill\" x=", in: d) == limitKills)
            #expect(count("class=\"mark k-breach breach\"", in: d) == breaches)
            // The operator's restart: its own mark in steady's lane and a row of the operator table, with who did it.
            #expect(count("class=\"mark k-operator\" x=", in: d) == actions)
            #expect(count("<tr class=\"operator-action\">", in: d) == actions)
            #expect(d.range(of: #"<title>\S+ \(uid \d+, pid \d+, histctl\) restart steady: done at "#, options: .regularExpression) != nil,
                    "the operator mark's hover title says who restarted steady")
            let charts = count("<svg class=\"chart ", in: d)
            #expect(charts >= 6, "memory and CPU charts for crasher, segv, leaky and steady")
            #expect(count("<rect class=\"gap\" x=", in: d) == (unclean + gaps) * (1 + charts))
            #expect(count("<li class=\"gap-item\">", in: d) == unclean + gaps)
            // The crasher's identical tails are collapsed into one row.
            #expect(d.contains("×\(try db.int("SELECT count(*) FROM crashes WHERE program = 'crasher' AND ts >= ? AND ts < ?", args)) identical"))

            let png = ws.path("incident.png")
            let shot = try E2E.run(chromium, common + ["--screenshot=" + png, "--window-size=1280,2000", "file://" + page], env: env, timeout: 120)
            #expect(shot.status == 0, "chromium --screenshot: \(shot.stderr.suffix(2000))")
            let size = (try? FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
            #expect(size > 20_000, "a screenshot of a whole report is not a few bytes (\(size))")
            let script = try ws.write("pngstats.py", Self.pngStats)
            let stats = try E2E.run("/usr/bin/env", ["python3", script, png, "700"], timeout: 120)
            let fields = stats.stdout.split(separator: " ").map { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }
            #expect(fields.count == 4, "png stats: \(stats.stdout) \(stats.stderr)")
            if fields.count == 4 {
                #expect(fields[0] == 1280 && fields[1] == 2000)
                #expect(fields[2] > 200, "pixel variance \(fields[2]): a blank page has none")
                #expect(fields[3] > 20, "\(fields[3]) grey levels: text, marks and charts have many")
            }
        }
    }
}
