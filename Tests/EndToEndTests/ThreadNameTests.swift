import Foundation
import Testing

extension EndToEnd {
    /// histd's threads carry their names to the kernel, so `top -H`, `ps -L` and perf tell the engine from
    /// the writer during an incident (they all read "oot.default-qos" before).
    @Suite struct ThreadNames {
        @Test func aRunningHistdsThreadsAreNamedForTheKernel() throws {
            let ws = try Workspace("thread-names")
            defer { ws.cleanup() }
            let config = try ws.write("h.toml", ControlConfig.header(ws) + """
                [program.idle]
                command = ["/bin/sleep", "300"]

                """)
            let histd = try ws.runHistd(config: config)
            // The control socket answers once every service has started.
            #expect(E2E.waitUntil(20) { (try? ControlConfig.histctl(ws, ["status", "idle"]))?.stdout.contains(" running ") == true },
                    "\(ws.log())")
            let names = Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(histd.pid)/task")) ?? []).compactMap { tid in
                (try? String(contentsOfFile: "/proc/\(histd.pid)/task/\(tid)/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            })
            for name in ["histd-engine", "histd-writer", "histd-dbwatch", "histd-watch", "histd-control", "histd-trim"] {
                #expect(names.contains(name), "no thread named \(name) in \(names.sorted())")
            }
            #expect(histd.stop() == 0, "\(ws.log())")
        }
    }
}
