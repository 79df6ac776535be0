import HistModel

/// Loads and validates a histd TOML config. (Stub signature; the config work fills it in.)
public enum ConfigLoader {
    /// Reads, parses and validates `path`. Throws `ConfigErrors` listing every problem found,
    /// each with file, line and key.
    public static func load(path: String) throws(ConfigErrors) -> HistConfig {
        throw ConfigErrors(problems: [ConfigProblem(file: path, line: nil, key: nil, message: "config loading is not built yet")])
    }
}

/// One problem in a config file.
public struct ConfigProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    /// 1-based line, nil when the problem is about the whole file.
    public var line: Int?
    /// Dotted key path, e.g. "program.web.restart_delay".
    public var key: String?
    public var message: String

    public init(file: String, line: Int?, key: String?, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// `FILE:LINE: KEY: MESSAGE`
    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if let key { s += "\(key): " }
        return s + message
    }
}

/// Every problem found in one config file.
public struct ConfigErrors: Error, Hashable, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]
    public init(problems: [ConfigProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
