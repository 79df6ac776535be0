/// One problem in a config file.
public struct ConfigProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    /// 1-based line, nil when the problem is about the whole file.
    public var line: Int?
    /// 1-based column, set only for TOML syntax errors (the only place TOMLKit knows one).
    public var column: Int?
    /// Dotted key path, e.g. "program.web.restart_delay" (names that are not bare keys are quoted:
    /// `program."my app".command`).
    public var key: String?
    public var message: String

    public init(file: String, line: Int?, column: Int? = nil, key: String?, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    /// `FILE:LINE: KEY: MESSAGE` (`FILE:LINE:COL: MESSAGE` for syntax errors, `FILE: MESSAGE` for whole-file problems).
    public var description: String {
        var s = file
        if let line {
            s += ":\(line)"
            if let column { s += ":\(column)" }
        }
        s += ": "
        if let key { s += "\(key): " }
        return s + message
    }
}

/// Every problem found in one config file, in line order.
public struct ConfigErrors: Error, Hashable, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]
    public init(problems: [ConfigProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
