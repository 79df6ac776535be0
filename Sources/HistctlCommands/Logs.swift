import ArgumentParser
import Foundation
import HistConfig
import HistModel
import HistReports

#if canImport(Glibc)
import Glibc
#endif

extension Histctl {
    struct Logs: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "logs",
            abstract: "Show a program's output (stdout and stderr) across log rotations, by instance.",
            discussion: """
            Reads LOG_DIR/NAME.out and NAME.err and their rotated files (NAME.out.1 ... oldest last) directly, so it \
            works whether or not histd runs. NAME is a program or one pool worker as the logs name it (jobs.0). \
            histd marks each instance's start with a line `### histd: start NAME pid=PID instance=ID TIME`, and with \
            [supervisor] log_timestamps (default on) every line starts with its UTC time; both streams are then \
            merged by time.

            The log folder is --log-dir, else the log_dir of --config FILE, else that of the config file the latest \
            supervisor run in the database was started with (--db, $HISTD_DB, default path).

            Examples:
              histctl logs web -n 50
              histctl logs web --previous          # the instance before the current one
              histctl logs jobs.0 --previous=3 --stderr
              histctl logs web --follow            # like tail -F: keeps following across rotations
            """)

        @Argument(help: "Program, or pool worker (pool.N).") var name: String
        @Option(name: .short, help: "Only the last N lines (0 = all).") var n: Int = 0
        @Flag(help: "Keep printing new lines as they are written, across rotations (like tail -F).") var follow = false
        @Flag(help: "Only stderr.") var stderr = false
        @Flag(help: "Only stdout.") var stdout = false
        @Option(help: ArgumentHelp("The K-th previous instance's output (--previous alone = 1, the one before the current).", valueName: "K"))
        var previous: Int?
        @Option(help: ArgumentHelp("The folder of the log files (default: the config's log_dir).", valueName: "dir")) var logDir: String?
        @Option(help: ArgumentHelp("A histd config file whose log_dir is used.", valueName: "file")) var config: String?
        @Option(help: ArgumentHelp("The history database, to find the config of the latest run.", valueName: "path")) var db: String?

        func validate() throws {
            // The name becomes a file name in the log folder: nothing that could leave it.
            if name.isEmpty || name.contains("/") || name.hasPrefix(".") || name.contains("\0") {
                throw ValidationError("\(QuotedString.quote(name)) is not a program or worker name")
            }
            if stderr && stdout { throw ValidationError("--stderr and --stdout exclude each other; give neither for both") }
            if n < 0 { throw ValidationError("-n must be 0 (all) or more") }
            if let previous, previous < 1 { throw ValidationError("--previous takes K >= 1") }
            if follow && previous != nil { throw ValidationError("--follow shows the current instance; it cannot follow --previous") }
        }

        var streams: [LogFiles.Stream] { stderr ? [.stderr] : stdout ? [.stdout] : [.stdout, .stderr] }

        func run() throws {
            try Failure.report {
                let dir = try resolveLogDir()
                var units = LogFiles.units(logDir: dir, matching: name)
                if units.count > 1 || (units.first.map { $0 != name } ?? false) {
                    throw Failure("\(name) is a pool; name one worker: \(units.joined(separator: ", "))")
                }
                if units.isEmpty {
                    guard follow else { throw Failure("no log files for \(name) in \(dir) (\(name).out, \(name).err)") }
                    units = [name]
                }
                // Following: open the current files first and show the history only up to where following
                // starts, so no line is lost or shown twice between the two.
                let follower = follow ? LogFollower(logDir: dir, unit: name, streams: streams) : nil
                let limits = follower?.offsets ?? [:]
                let instances = LogFiles.instances(logDir: dir, unit: name, streams: streams, byteLimits: limits)
                var selected: [LogFiles.Line]
                if let k = previous {
                    guard instances.count > k else {
                        throw Failure("\(name) has \(max(0, instances.count - 1)) previous instance(s) in its logs; --previous=\(k) is not there")
                    }
                    let instance = instances[instances.count - 1 - k]
                    selected = instance.lines
                    if let start = instance.start { selected.insert(Self.header(start), at: 0) }
                } else {
                    selected = instances.flatMap { i -> [LogFiles.Line] in
                        guard let s = i.start else { return i.lines }
                        return [Self.header(s)] + i.lines
                    }
                }
                if n > 0 { selected = Array(selected.suffix(n)) }
                var out = selected.map(\.text).joined(separator: "\n")
                if !out.isEmpty { out += "\n" }
                FileHandle.standardOutput.write(Data(out.utf8))
                follower?.run()
            }
        }

        /// The instance's start line, as the logs have it.
        static func header(_ s: LogMarker.Start) -> LogFiles.Line {
            LogFiles.Line(text: "\(LogMarker.prefix)\(s.unit) pid=\(s.pid) \(s.time)", stream: .stdout, time: nil, marker: s)
        }

        func resolveLogDir() throws -> String {
            if let logDir { return logDir }
            if let config { return try loadConfig(config).supervisor.logDir }
            let location = DatabaseLocation.resolve(flag: db, environment: ProcessInfo.processInfo.environment, configDB: nil)
            let database = try ReportDatabase(path: location.path)
            let path = try EventFeed.latestConfigPath(database)
            guard let path else { throw Failure("no supervisor run in \(location.path) names a config; give --log-dir or --config") }
            return try loadConfig(path).supervisor.logDir
        }
    }
}

/// `tail -F` for a unit's current log files: prints each new complete line, and on rotation (a
/// new file at the path) finishes the old file before reading the new one from its start.
struct LogFollower {
    let tails: [Tail]

    /// Opens the unit's current files at their ends.
    init(logDir: String, unit: String, streams: [LogFiles.Stream]) {
        tails = streams.map { Tail(path: "\(logDir)/\(unit).\($0.rawValue)", atEnd: true) }
    }

    /// Where following starts in each current file.
    var offsets: [String: Int] {
        var out: [String: Int] = [:]
        for t in tails where t.fd >= 0 { out[t.path] = Int(lseek(t.fd, 0, SEEK_CUR)) }
        return out
    }

    final class Tail {
        let path: String
        var fd: Int32 = -1
        var inode: UInt64 = 0
        var pending: [UInt8] = []

        init(path: String, atEnd: Bool) {
            self.path = path
            reopen(atEnd: atEnd)
        }

        func reopen(atEnd: Bool) {
            if fd >= 0 { close(fd) }
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            var st = stat()
            fstat(fd, &st)
            inode = UInt64(st.st_ino)
            if atEnd { lseek(fd, 0, SEEK_END) }
        }

        /// New complete lines since the last call.
        func poll() -> [String] {
            var out = drain()
            var st = stat()
            let rotated = stat(path, &st) == 0 && (fd < 0 || UInt64(st.st_ino) != inode)
            if rotated {
                // What was written to the old file after the first drain and before it was rotated.
                out += drain()
                // Files rotated in between (more than one rotation since the last poll), oldest first.
                for missed in missedRotations() {
                    if let data = FileManager.default.contents(atPath: missed) { pending += data }
                }
                reopen(atEnd: false)
                out += drain()
            }
            return out
        }

        /// NAME.1, NAME.2, ... that are newer than the file we were reading (found by its inode).
        private func missedRotations() -> [String] {
            guard fd >= 0 else { return [] }
            var newer: [String] = []
            for k in 1...1000 {
                var st = stat()
                let p = "\(path).\(k)"
                guard stat(p, &st) == 0 else { break }
                if UInt64(st.st_ino) == inode { return newer.reversed() }
                newer.append(p)
            }
            // Ours was rotated away altogether: every rotated file is newer.
            return newer.reversed()
        }

        private func drain() -> [String] {
            guard fd >= 0 else { return [] }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                pending += buffer[0..<n]
            }
            guard let last = pending.lastIndex(of: 10) else { return [] }
            let complete = pending[...last]
            pending.removeSubrange(...last)
            return String(decoding: complete, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .dropLast().map(String.init)
        }
    }

    func run() -> Never {
        while true {
            for tail in tails {
                let lines = tail.poll()
                if !lines.isEmpty { FileHandle.standardOutput.write(Data(lines.map { $0 + "\n" }.joined().utf8)) }
            }
            usleep(100_000)
        }
    }
}
