import HistModel
import TOMLKit

/// Loads and validates a histd TOML config.
///
/// Every problem is collected (not just the first), each with file, line and key, sorted by line.
/// Validation also touches the file system: `command[0]` must resolve to an executable, `cwd` must be
/// a directory. See docs/CONFIG.md for the schema.
public enum ConfigLoader {
    /// Reads, parses and validates `path`. Throws `ConfigErrors` listing every problem found,
    /// each with file, line and key. `runnerUID` is the uid of the histd that will run it (histd passes
    /// its euid): then `user`/`group` keys that uid cannot honour (it is not root) are problems. nil (histctl,
    /// which only reads the config's paths) skips that check.
    public static func load(path: String, runnerUID: UInt32? = nil) throws(ConfigErrors) -> HistConfig {
        let absolutePath = FileSystem.absolute(path, relativeTo: FileSystem.currentDirectory())
        let bytes: [UInt8]
        switch FileSystem.readFile(absolutePath) {
        case .success(let b): bytes = b
        case .failure(let e): throw ConfigErrors(problems: [ConfigProblem(file: path, line: nil, key: nil, message: e.message)])
        }
        return try load(bytes: bytes, displayName: path, absolutePath: absolutePath, searchPath: FileSystem.searchPath(),
                        runnerUID: runnerUID)
    }

    /// Validates config text as if it were the file at `absolutePath` (relative paths resolve against its folder).
    /// `displayName` is what problems call the file. `searchPath` is the `$PATH` used to find bare command names.
    public static func load(bytes: [UInt8], displayName: String, absolutePath: String, searchPath: String,
                            runnerUID: UInt32? = nil) throws(ConfigErrors) -> HistConfig {
        func fail(_ line: Int?, _ column: Int?, _ message: String) -> ConfigErrors {
            ConfigErrors(problems: [ConfigProblem(file: displayName, line: line, column: column, key: nil, message: message)])
        }
        // toml++ receives a C string: a raw NUL would silently end the document early, so refuse it here.
        if let nul = bytes.firstIndex(of: 0) {
            throw fail(lineNumber(at: nul, in: bytes), nil, "the file contains a NUL byte; is it a text file?")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let bad = firstInvalidUTF8(bytes)
            throw fail(lineNumber(at: bad, in: bytes), nil, "the file is not valid UTF-8 text (TOML requires UTF-8)")
        }

        let positions = KeyPositions(text: text)
        if let bad = positions.unsafe {
            // toml++ would assert here. Parse only the statements before it, so an earlier syntax error
            // is still reported first (as toml++ would), and otherwise report this spot ourselves.
            let before = String(decoding: bytes[..<min(bad.statementOffset, bytes.count)], as: UTF8.self)
            if case .failure(let e) = parse(before) { throw fail(e.line, e.column, e.message) }
            throw fail(bad.line, bad.column, "TOML syntax error: \(bad.message)")
        }
        let root: TOMLTable
        switch parse(text) {
        case .success(let table): root = table
        case .failure(let e): throw fail(e.line, e.column, e.message)
        }

        let validator = ConfigValidator(file: displayName, configDirectory: FileSystem.directory(of: absolutePath),
                                        positions: positions, searchPath: searchPath)
        validator.runnerUID = runnerUID
        let config = validator.document(root, path: absolutePath, contentHash: SHA256.hex(bytes))
        guard validator.problems.isEmpty else {
            // Stable sort by line: problems about the same line keep the order they were found in.
            let sorted = validator.problems.enumerated()
                .sorted { ($0.element.line ?? 0, $0.offset) < ($1.element.line ?? 0, $1.offset) }
                .map(\.element)
            throw ConfigErrors(problems: sorted)
        }
        return config
    }

    private struct SyntaxError: Error { var line: Int?; var column: Int?; var message: String }

    private static func parse(_ text: String) -> Result<TOMLTable, SyntaxError> {
        do {
            return .success(try TOMLTable(string: text))
        } catch let error as TOMLParseError {
            let line = error.source.begin.line > 0 ? error.source.begin.line : nil
            let column = error.source.begin.column > 0 ? error.source.begin.column : nil
            return .failure(SyntaxError(line: line, column: column, message: "TOML syntax error: \(error.description)"))
        } catch {
            return .failure(SyntaxError(line: nil, column: nil, message: "TOML syntax error: \(error)"))
        }
    }

    private static func lineNumber(at index: Int, in bytes: [UInt8]) -> Int {
        var line = 1
        for b in bytes[..<min(index, bytes.count)] where b == 0x0A { line += 1 }
        return line
    }

    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int {
        // Grow a prefix until it stops decoding; configs are small, and this only runs on bad files.
        var lo = 0, hi = bytes.count
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if validUTF8Prefix(bytes, mid) { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Whether `bytes[..<n]` is valid UTF-8, allowing a character cut off at the very end.
    private static func validUTF8Prefix(_ bytes: [UInt8], _ n: Int) -> Bool {
        var cut = n
        // Step back over at most 3 continuation bytes and their lead byte (a cut-off character).
        var back = 0
        while cut > 0, back < 3, bytes[cut - 1] & 0xC0 == 0x80 { cut -= 1; back += 1 }
        if cut > 0, bytes[cut - 1] >= 0xC0 { cut -= 1 }
        return String(validating: bytes[..<cut], as: UTF8.self) != nil
    }
}

extension ConfigValidator {
    static let rootKeys = ["supervisor", "program", "pool", "ship"]

    /// The whole document. Always returns a config; it is only valid when `problems` is empty.
    func document(_ root: TOMLTable, path: String, contentHash: String) -> HistConfig {
        for (line, keyPath) in positions.nulEscapes {
            report(keyPath, "contains a NUL character (\\u0000), which cannot be passed to a program or used in a name", line: line)
        }
        checkKnownKeys(root, path: [], known: Self.rootKeys)
        let (supervisor, defaults) = supervisor(root["supervisor"], path: ["supervisor"])

        var programs: [ProgramSpec] = []
        var usedBy: [String: [String]] = [:]
        for (name, table, p) in namedTables(root["program"], kind: "program") {
            usedBy[name] = p
            if let spec = program(name: name, table: table, path: p, defaults: defaults) { programs.append(spec) }
        }
        var pools: [PoolSpec] = []
        for (name, table, p) in namedTables(root["pool"], kind: "pool") {
            if let other = usedBy[name] {
                let where_ = positions.line(of: other).map { " (line \($0))" } ?? ""
                report(p, "name \"\(name)\" is already used by [\(Self.keyText(other))]\(where_); programs and pools share one set of names")
            }
            if let spec = pool(name: name, table: table, path: p, defaults: defaults) { pools.append(spec) }
        }
        let ship = ship(root["ship"], path: ["ship"])
        if ship != nil, let p = usedBy[ShipSpec.programName] {
            report(p, "the name \"\(ShipSpec.programName)\" is histd's own shipper while [ship] is set; rename this program")
        }
        return HistConfig(path: path, contentHash: contentHash, supervisor: supervisor, programs: programs, pools: pools, ship: ship)
    }

    /// The `NAME` tables under `[program]` or `[pool]`, in file order, with bad names and non-tables reported.
    private func namedTables(_ value: (any TOMLValueConvertible)?, kind: String) -> [(String, TOMLTable, [String])] {
        guard let value else { return [] }
        guard let table = value.table else {
            let hint = value.type == .array ? " ([[\(kind)]] is not used; write [\(kind).NAME])" : ""
            wrongType([kind], expected: "a table of \(kind)s such as [\(kind).NAME]\(hint)", got: value)
            return []
        }
        var out: [(String, TOMLTable, [String])] = []
        for (name, v) in entries(table, path: [kind]) {
            let p = [kind, name]
            if let problem = Self.nameProblem(name) { report(p, problem); continue }
            guard let sub = v.table else {
                let known = kind == "pool" ? Self.programKeys + Self.poolKeys : Self.programKeys
                if known.contains(name) {
                    report(p, "\(kind) settings need a name: write [\(kind).NAME] and put \(name) under it")
                } else {
                    wrongType(p, expected: "a table [\(kind).\(Self.keyText([name]))]", got: v)
                }
                continue
            }
            out.append((name, sub, p))
        }
        return out
    }
}
