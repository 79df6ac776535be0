import Foundation
import Testing

extension EndToEnd {
    /// histd hands its start-up code pages back to the kernel 3 s after its services start
    /// (Sources/histd/StartupCodeRelease.swift): what an idle histd costs in PSS depends on it.
    @Suite struct CodeRelease {
        /// The release covers every read-only file mapping, not those in the first page of /proc/self/maps.
        /// It read the file with Foundation's `String(contentsOfFile:)`, which takes a single read(2) of a
        /// procfs file (about 4 KiB, a dozen of histd's ~55 mappings), so most of the libraries' pages
        /// stayed mapped, and how many depended on where the thread stacks landed (PSS 19 to 30 MiB).
        @Test func theStartUpReleaseAdvisesEveryReadOnlyFileMapping() throws {
            let ws = try Workspace("code-release")
            defer { ws.cleanup() }
            let config = try ws.write("h.toml", ControlConfig.header(ws) + """
                [program.idle]
                command = ["/bin/sleep", "300"]

                """)
            let histd = try ws.startHistd(["run", "--config", config, "--log-level", "trace"])
            let pattern = /advised (\d+) KiB of read-only file mappings out/
            var advised: Int?
            #expect(E2E.waitUntil(20) {
                advised = ws.log().firstMatch(of: pattern).flatMap { Int($0.1) }
                return advised != nil
            }, "no release logged in 20 s: \(ws.log().suffix(2000))")
            // An idle histd maps no file after start-up, so its maps now are the ones it advised.
            let maps = String(decoding: try #require(Procfs.read("/proc/\(histd.pid)/maps"), "cannot read histd's maps"), as: UTF8.self)
            let ranges = maps.split(separator: "\n").compactMap { line -> (Int, String)? in
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count >= 6, f[1] == "r-xp" || f[1] == "r--p", f[5].hasPrefix("/") else { return nil }
                let b = f[0].split(separator: "-").compactMap { Int($0, radix: 16) }
                return b.count == 2 ? (b[1] - b[0], String(f[5])) : nil
            }
            #expect(ranges.count > 20, "expected histd, the Swift runtime and Foundation's libraries: \(ranges.map(\.1))")
            #expect(maps.utf8.count > 4096, "the maps fit in one page; the test would not tell a first-page read apart")
            let total = ranges.reduce(0) { $0 + $1.0 } / 1024
            #expect(advised == total, "advised \(advised ?? -1) KiB of the \(total) KiB in \(ranges.count) read-only file mappings")
            #expect(histd.stop() == 0, "\(ws.log().suffix(2000))")
        }
    }
}
