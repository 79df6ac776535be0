import HistModel
import TOMLKit

/// Walks a parsed TOML document, checks each value's type and range itself (TOMLDecoder reports a wrong
/// type as "key not found" and rejects `2` for a Double), and collects every problem with its line.
///
/// One validator per load; it is a class only so the section readers can append problems as they go.
final class ConfigValidator {
    let file: String
    let configDirectory: String
    let positions: KeyPositions
    let searchPath: String
    private(set) var problems: [ConfigProblem] = []
    /// The uid of the histd that will run this config, when it matters (see `ConfigLoader.load`).
    var runnerUID: UInt32?

    init(file: String, configDirectory: String, positions: KeyPositions, searchPath: String) {
        self.file = file
        self.configDirectory = configDirectory
        self.positions = positions
        self.searchPath = searchPath
    }

    // MARK: Reporting

    /// Records a problem at `path`'s line (or at `line` when the caller knows better).
    func report(_ path: [String], _ message: String, line: Int? = nil) {
        problems.append(ConfigProblem(file: file, line: line ?? positions.line(of: path),
                                      key: path.isEmpty ? nil : Self.keyText(path), message: message))
    }

    /// Records a problem that lives in another file (an `env_file`'s own line).
    func add(_ problem: ConfigProblem) { problems.append(problem) }

    /// `program.web.command`, quoting parts that are not bare keys: `program."my app".command`.
    static func keyText(_ path: [String]) -> String {
        path.map { part in
            let bare = !part.isEmpty && part.unicodeScalars.allSatisfy {
                ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" || $0 == "-"
            }
            if bare { return part }
            return QuotedString.quote(part)
        }.joined(separator: ".")
    }

    static func typeName(_ v: any TOMLValueConvertible) -> String {
        switch v.type {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }

    func wrongType(_ path: [String], expected: String, got v: any TOMLValueConvertible) {
        report(path, "expected \(expected), got \(Self.typeName(v))")
    }

    // MARK: Tables

    /// The table's entries in file order. A key that TOMLKit lists but cannot look up again (a key with a
    /// NUL character is cut short by the C bridge) is reported instead of trusted.
    func entries(_ table: TOMLTable, path: [String]) -> [(key: String, value: any TOMLValueConvertible)] {
        var out: [(key: String, value: any TOMLValueConvertible)] = []
        for key in table.keys {
            guard let value = table[key] else {
                // Already reported with its exact line when the scanner saw the NUL escape.
                if !positions.nulEscapes.isEmpty { continue }
                report(path, "a key here cannot be read back (does it contain a NUL character?)")
                continue
            }
            out.append((key, value))
        }
        return out.sorted { (positions.line(of: path + [$0.key]) ?? 0) < (positions.line(of: path + [$1.key]) ?? 0) }
    }

    /// Reports every key of `table` that is not in `known`, suggesting the closest known key.
    func checkKnownKeys(_ table: TOMLTable, path: [String], known: [String]) {
        for key in table.keys where !known.contains(key) {
            let hint = KeySuggestion.hint(for: key, among: known)
            if table[key]?.type == .table {
                report(path + [key], "unknown table [\(Self.keyText(path + [key]))]\(hint)")
            } else {
                report(path + [key], "unknown key\(hint)")
            }
        }
    }

    // MARK: Typed values. Each returns nil after reporting when the value is unusable.

    func string(_ v: any TOMLValueConvertible, _ path: [String], nonEmpty: Bool = true) -> String? {
        guard let s = v.string else { wrongType(path, expected: "a string", got: v); return nil }
        if nonEmpty, s.isEmpty { report(path, "must not be empty"); return nil }
        return s
    }

    func bool(_ v: any TOMLValueConvertible, _ path: [String]) -> Bool? {
        guard let b = v.bool else { wrongType(path, expected: "true or false", got: v); return nil }
        return b
    }

    func int(_ v: any TOMLValueConvertible, _ path: [String], in range: ClosedRange<Int>, what: String) -> Int? {
        guard let i = v.int else {
            if let d = v.double, d.rounded() == d, d.isFinite {
                report(path, "expected an integer (\(what)), got the floating-point number \(d); write it without a decimal point")
            } else {
                wrongType(path, expected: "an integer (\(what))", got: v)
            }
            return nil
        }
        guard range.contains(i) else { report(path, "\(i) is out of range: expected \(what)"); return nil }
        return i
    }

    /// A TOML float or integer (`backoff_factor = 2` is as good as `2.0`).
    func number(_ v: any TOMLValueConvertible, _ path: [String], in range: ClosedRange<Double>, what: String) -> Double? {
        let d: Double
        if let x = v.double { d = x }
        else if let i = v.int { d = Double(i) }
        else { wrongType(path, expected: "a number (\(what))", got: v); return nil }
        guard d.isFinite, range.contains(d) else { report(path, "\(Self.show(d)) is out of range: expected \(what)"); return nil }
        return d
    }

    /// A duration string (`"250ms"`, `"2s"`, ...) or a plain number of seconds.
    func duration(_ v: any TOMLValueConvertible, _ path: [String], atLeast minimum: Duration = .zero, atMost maximum: Duration? = nil) -> Duration? {
        var parsed: Duration?
        if let s = v.string {
            do { parsed = try HistDuration.parse(s) } catch { report(path, error.description); return nil }
        } else if let n = v.double ?? v.int.map(Double.init) {
            do { parsed = try HistDuration.fromSeconds(n) } catch {
                report(path, "\(Self.show(n)) is not a usable number of seconds: expected \(HistDuration.acceptedForms)")
                return nil
            }
        } else {
            wrongType(path, expected: "a duration: \(HistDuration.acceptedForms)", got: v)
            return nil
        }
        guard let d = parsed else { return nil }
        if d < minimum || (maximum.map { d > $0 } ?? false) {
            let range = maximum.map { "between \(HistDuration.format(minimum)) and \(HistDuration.format($0))" }
                ?? "at least \(HistDuration.format(minimum))"
            report(path, "\(HistDuration.format(d)) is out of range: expected a duration \(range)")
            return nil
        }
        return d
    }

    /// A duration, or the string `"off"` (returned as `.some(nil)`).
    func durationOrOff(_ v: any TOMLValueConvertible, _ path: [String], atLeast minimum: Duration, atMost maximum: Duration? = nil) -> Duration?? {
        if let s = v.string, s.trimmingCharacters().lowercased() == "off" { return .some(nil) }
        if let s = v.string, HistDuration.parseOrNil(s) == nil {
            report(path, "invalid value \"\(s)\": expected \"off\" or \(HistDuration.acceptedForms)")
            return nil
        }
        guard let d = duration(v, path, atLeast: minimum, atMost: maximum) else { return nil }
        return .some(d)
    }

    /// Bytes from `"10M"`-style text or a plain integer.
    func size(_ v: any TOMLValueConvertible, _ path: [String], in range: ClosedRange<Int64>) -> Int64? {
        let bytes: Int64
        if let s = v.string {
            guard let b = ByteSize.parse(s) else { report(path, "invalid size \"\(s)\": expected \(ByteSize.acceptedForms)"); return nil }
            bytes = b
        } else if let i = v.int {
            bytes = Int64(i)
        } else {
            wrongType(path, expected: ByteSize.acceptedForms, got: v)
            return nil
        }
        guard range.contains(bytes) else {
            report(path, "\(bytes) bytes is out of range: expected between \(Self.showBytes(range.lowerBound)) and \(Self.showBytes(range.upperBound))")
            return nil
        }
        return bytes
    }

    func percent(_ v: any TOMLValueConvertible, _ path: [String], in range: ClosedRange<Double>, exclusiveLow: Bool = false) -> Double? {
        let p: Double
        if let s = v.string {
            guard let x = Percent.parse(s) else { report(path, "invalid percentage \"\(s)\": expected \(Percent.acceptedForms)"); return nil }
            p = x
        } else if let x = v.double ?? v.int.map(Double.init) {
            p = x
        } else {
            wrongType(path, expected: Percent.acceptedForms, got: v)
            return nil
        }
        guard p.isFinite, range.contains(p), !(exclusiveLow && p == range.lowerBound) else {
            let low = exclusiveLow ? "more than \(Self.show(range.lowerBound))%" : "at least \(Self.show(range.lowerBound))%"
            report(path, "\(Self.show(p))% is out of range: expected \(low) and at most \(Self.show(range.upperBound))%")
            return nil
        }
        return p
    }

    func oneOf<E: RawRepresentable & CaseIterable>(_ v: any TOMLValueConvertible, _ path: [String], _: E.Type) -> E? where E.RawValue == String {
        let choices = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard let s = v.string else { wrongType(path, expected: "one of \(choices)", got: v); return nil }
        guard let e = E(rawValue: s) else {
            let hint = KeySuggestion.hint(for: s, among: E.allCases.map(\.rawValue))
            report(path, "invalid value \"\(s)\": expected one of \(choices)\(hint)")
            return nil
        }
        return e
    }

    func path(_ v: any TOMLValueConvertible, _ keyPath: [String]) -> String? {
        guard let s = string(v, keyPath) else { return nil }
        return FileSystem.absolute(s, relativeTo: configDirectory)
    }

    // MARK: Formatting numbers in messages

    static func show(_ d: Double) -> String {
        if d.isFinite, d.rounded() == d, abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    static func showBytes(_ b: Int64) -> String {
        for (unit, size) in [("T", Int64(1) << 40), ("G", Int64(1) << 30), ("M", Int64(1) << 20), ("K", Int64(1) << 10)]
        where b >= size && b % size == 0 {
            return "\(b / size)\(unit)"
        }
        return "\(b)"
    }
}

extension HistDuration {
    static func parseOrNil(_ s: String) -> Duration? { try? parse(s) }
}
