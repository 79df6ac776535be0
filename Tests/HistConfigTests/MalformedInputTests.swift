import Foundation
import Testing
@testable import HistConfig
import HistModel

/// Generated malformed input: the loader must never crash, and must always return either a config
/// or at least one problem (a thrown `ConfigErrors` with an empty list would print nothing useful).
@Suite struct MalformedInputTests {
    static let seed = #"""
    # demo
    [supervisor]
    db = "history.db"
    log_dir = "logs"
    snapshot_interval = "1s"
    scan_interval = "off"
    orphan_ignore = ["sshd*", 'cron']

    [program.web]
    command = ["/bin/sh", "-c", "echo \"hi\"; sleep 1"]
    env = { PORT = "8080", NAME = "wëb 🚀" }
    restart = "on-failure"
    restart_delay = "250ms"
    backoff_factor = 2.0
    max_restarts = 5
    stop_signal = "TERM"
    cgroup = { memory_max = "512M", cpu_quota = "50%", tasks_max = 64 }

    [program."quoted name"]
    command = """
    /bin/sh -c 'exit 3'"""
    stop_order = -1

    [pool.workers]
    command = '/bin/sh'
    min_workers = 2
    max_workers = 4
    age_jitter = 0.5
    """#

    /// Every kind of TOML value, so flips reach toml++'s number, date and string parsers.
    static let valueSeed = #"""
    a = 0x1F
    b = 0o17
    c = 0b101
    d = +1_000
    e = -3.5e+10
    f = inf
    g = -nan
    h = 1979-05-27T07:32:00.999-07:00
    i = 1979-05-27 07:32:00Z
    j = 07:32:00
    k = 1979-05-27
    l = 'lit'
    m = """ml \
      basic"""
    n = '''ml
    literal'''
    o = [1, 2.0, "x", [true], {p = 1}]
    q = { r.s = 1, "t" = 2 }
    [[u]]
    v = 1
    [u.w]
    x = 1
    """#


    /// Loads `bytes` as a config in `dir`; returns true if it loaded, false if it gave problems.
    static func outcome(_ bytes: [UInt8], dir: String) -> Bool {
        if let dump = ProcessInfo.processInfo.environment["HISTD_FUZZ_DUMP"] {
            // Debugging aid: the input being tried, left behind if toml++ or the loader crashes.
            _ = FileManager.default.createFile(atPath: dump, contents: Data(bytes))
        }
        do {
            _ = try ConfigLoader.load(bytes: bytes, displayName: "fuzz.toml", absolutePath: dir + "/fuzz.toml",
                                      searchPath: "/usr/bin:/bin")
            return true
        } catch {
            #expect(!error.problems.isEmpty, "ConfigErrors with no problem for input: \(String(decoding: bytes, as: UTF8.self))")
            for p in error.problems { #expect(p.file == "fuzz.toml" && !p.message.isEmpty) }
            return false
        }
    }

    @Test func seedIsValid() {
        let dir = ConfigDir()
        #expect(Self.outcome(Array(Self.seed.utf8), dir: dir.path))
    }

    @Test func everyTruncationLoadsOrReports() {
        let dir = ConfigDir()
        let bytes = Array(Self.seed.utf8)
        var loaded = 0, rejected = 0
        for n in stride(from: 0, through: bytes.count, by: 3) {
            if Self.outcome(Array(bytes[..<n]), dir: dir.path) { loaded += 1 } else { rejected += 1 }
        }
        // Both outcomes must occur: cutting at a line end is often still valid, cutting mid-string never is.
        #expect(loaded > 0 && rejected > 0)
    }

    @Test func randomByteFlipsLoadOrReport() {
        let dir = ConfigDir()
        var rng = SeededGenerator(seed: 0x4849_5354_4400)
        let seed = Array(Self.seed.utf8)
        // Bytes that matter to TOML's structure, plus some that break UTF-8 or are NUL.
        let interesting: [UInt8] = Array("[]{}=\"'.,#\n\\ 0123456789-+e".utf8) + [0x00, 0xFF, 0xC3, 0x80, 0x7F, 0x09]
        var rejected = 0
        // HISTD_FUZZ_ITERATIONS raises the count for a longer local run; HISTD_FUZZ_SEED varies the sequence.
        let iterations = ProcessInfo.processInfo.environment["HISTD_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 400
        if let s = ProcessInfo.processInfo.environment["HISTD_FUZZ_SEED"].flatMap(UInt64.init) { rng = SeededGenerator(seed: s) }
        let seeds = [seed, Array(Self.valueSeed.utf8)]
        for _ in 0..<iterations {
            var bytes = seeds.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = interesting.randomElement(using: &rng)!
                case 1: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 2: bytes.insert(interesting.randomElement(using: &rng)!, at: at)
                default: bytes.remove(at: at)
                }
            }
            if !Self.outcome(bytes, dir: dir.path) { rejected += 1 }
        }
        #expect(rejected > iterations / 4)
    }

    @Test func generatedHostileDocuments() {
        let dir = ConfigDir()
        let docs: [String] = [
            String(repeating: "[", count: 5000),
            "a = " + String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000),
            "a = " + String(repeating: "{b = ", count: 500) + "1" + String(repeating: "}", count: 500),
            "[program.a]\ncommand = \"/bin/sh\"\n" + String(repeating: "x = 1\n", count: 3),
            "[program.a]\ncommand = \"" + String(repeating: "\\\\", count: 10000) + "\"\n",
            "[program.a]\ncommand = \"/bin/sh\"\nenv = { " + (0..<500).map { "K\($0) = \"v\"" }.joined(separator: ", ") + " }\n",
            "[program.\"" + String(repeating: "é", count: 300) + "\"]\ncommand = \"/bin/sh\"\n",
            "[program.a]\ncommand = [\"/bin/sh\"]\nstop_timeout = inf\nbackoff_factor = -inf\nrestart_delay = nan\n",
            "[program.a]\ncommand = [\"/bin/sh\"]\nrestart_delay = 1979-05-27T07:32:00Z\nstop_timeout = 07:32:00\n",
            "\u{FEFF}[program.a]\ncommand = \"/bin/sh\"\n",
            "[program.a]\r\ncommand = \"/bin/sh\"\r\nbad = 1\r\n",
            "[program]\n[program.a]\ncommand = \"/bin/sh\"\n[pool]\n",
            "program = []\npool = \"x\"\n",
            "[program.a.command]\nx = 1\n",
            "[program.a]\ncommand = [[\"/bin/sh\"]]\n",
            "[program.a]\ncommand = \"/bin/sh\"\ncgroup = 5\nenv = []\n",
            "[program.a]\ncommand = \"/bin/sh\"\n[program.a.env]\n\"\" = \"x\"\n\"A=B\" = \"y\"\n",
        ]
        for doc in docs { _ = Self.outcome(Array(doc.utf8), dir: dir.path) }
        // The CRLF document reports its unknown key on the right line.
        do {
            _ = try ConfigLoader.load(bytes: Array(docs[10].utf8), displayName: "f", absolutePath: dir.path + "/f", searchPath: "/bin")
            Issue.record("expected a problem")
        } catch {
            #expect(error.problems.map(\.line) == [3])
        }
    }
}
