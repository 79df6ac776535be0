import Foundation
import HistModel

/// Reads a unit's log files (LOG_DIR/NAME.out and NAME.err, with their rotated NAME.out.1 ... NAME.out.N)
/// as histd writes them: lines optionally prefixed by their UTC time, and a start marker
/// (`LogMarker`) at each instance's start. Read-only; works whether or not histd runs.
public enum LogFiles {
    public enum Stream: String, Sendable, CaseIterable {
        case stdout = "out", stderr = "err"
    }

    /// One line of a log file.
    public struct Line: Hashable, Sendable {
        public var text: String
        public var stream: Stream
        /// The line's time prefix (`2026-...Z`), nil without `log_timestamps`.
        public var time: Substring?
        /// The start marker, when this line is one.
        public var marker: LogMarker.Start?

        public init(text: String, stream: Stream, time: Substring?, marker: LogMarker.Start?) {
            self.text = text
            self.stream = stream
            self.time = time
            self.marker = marker
        }
    }

    /// The output of one instance (from its start marker to the next), or of an instance whose start
    /// was rotated away (`start == nil`, only ever first).
    public struct Instance: Hashable, Sendable {
        public var start: LogMarker.Start?
        public var lines: [Line]
    }

    /// The files of one stream, oldest first (NAME.out.N ... NAME.out.1, NAME.out), those that exist.
    public static func files(logDir: String, unit: String, stream: Stream) -> [String] {
        let base = "\(logDir)/\(unit).\(stream.rawValue)"
        var rotated: [(Int, String)] = []
        let prefix = "\(unit).\(stream.rawValue)."
        for name in (try? FileManager.default.contentsOfDirectory(atPath: logDir)) ?? [] where name.hasPrefix(prefix) {
            if let n = Int(name.dropFirst(prefix.count)), n > 0 { rotated.append((n, "\(logDir)/\(name)")) }
        }
        var out = rotated.sorted { $0.0 > $1.0 }.map(\.1)
        if FileManager.default.fileExists(atPath: base) { out.append(base) }
        return out
    }

    /// Splits one file's text into lines (a last line without its newline is kept).
    public static func lines(_ text: String, stream: Stream) -> [Line] {
        var out: [Line] = []
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        if text.hasSuffix("\n") { parts.removeLast() }
        for raw in parts {
            if let m = LogMarker.parse(raw) {
                out.append(Line(text: String(raw), stream: stream, time: Substring(m.time), marker: m))
            } else {
                let time = LogMarker.hasTimestamp(raw) ? raw.prefix(24) : nil
                out.append(Line(text: String(raw), stream: stream, time: time, marker: nil))
            }
        }
        return out
    }

    /// The unit's instances, oldest first, from the chosen streams. With both streams, each
    /// instance's lines are merged by their time (stdout first on ties; unstamped lines keep file order).
    /// `byteLimits`: read at most this many bytes of these files (`--follow` reads the rest as it follows).
    public static func instances(logDir: String, unit: String, streams: [Stream], byteLimits: [String: Int] = [:]) -> [Instance] {
        // Per stream: segments keyed by the marker's (pid, time), in order.
        var order: [String?] = []
        var byKey: [String?: Instance] = [:]
        for stream in streams {
            var current: String? = nil
            for file in files(logDir: logDir, unit: unit, stream: stream) {
                guard var data = FileManager.default.contents(atPath: file) else { continue }
                if let limit = byteLimits[file], data.count > limit { data = data.prefix(limit) }
                for line in lines(String(decoding: data, as: UTF8.self), stream: stream) {
                    if let m = line.marker {
                        current = "\(m.time) \(m.pid)"
                        if byKey[current] == nil {
                            byKey[current] = Instance(start: m, lines: [])
                            order.append(current)
                        }
                        continue
                    }
                    if byKey[current] == nil {
                        byKey[current] = Instance(start: nil, lines: [])
                        order.insert(current, at: 0)
                    }
                    byKey[current]!.lines.append(line)
                }
            }
        }
        // Markers carry sortable UTC times: instances in start order, the one with no marker first.
        let keys = order.sorted { a, b in
            switch (a, b) {
            case (nil, nil): false
            case (nil, _): true
            case (_, nil): false
            case let (x?, y?): x < y
            }
        }
        return keys.compactMap { key in
            guard var instance = byKey[key] else { return nil }
            if streams.count > 1 {
                let indexed = instance.lines.enumerated().map { ($0.offset, $0.element) }
                instance.lines = indexed.sorted { a, b in
                    if let ta = a.1.time, let tb = b.1.time, ta != tb { return ta < tb }
                    return a.0 < b.0
                }.map(\.1)
            }
            return instance
        }
    }

    /// Log units in `logDir` whose name is `name` or a worker of pool `name` (`name.0`, `name.1`, ...).
    public static func units(logDir: String, matching name: String) -> [String] {
        var found = Set<String>()
        for file in (try? FileManager.default.contentsOfDirectory(atPath: logDir)) ?? [] {
            for s in Stream.allCases {
                let suffix = ".\(s.rawValue)"
                guard file.hasSuffix(suffix) else { continue }
                let unit = String(file.dropLast(suffix.count))
                if unit == name { found.insert(unit) }
                if unit.hasPrefix(name + "."), Int(unit.dropFirst(name.count + 1)) != nil { found.insert(unit) }
            }
        }
        return found.sorted()
    }
}
