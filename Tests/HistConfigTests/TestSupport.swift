import Foundation
import Testing
@testable import HistConfig
import HistModel

/// A fresh temporary folder holding a config file and whatever scripts it refers to; removed on deinit.
final class ConfigDir {
    let path: String

    init() {
        let template = NSTemporaryDirectory() + "histd-config-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: made!)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` and returns its absolute path.
    @discardableResult
    func write(_ name: String, _ text: String, executable: Bool = false) -> String {
        let file = path + "/" + name
        try? FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        if executable { chmod(file, 0o755) }
        return file
    }

    func mkdir(_ name: String) {
        try? FileManager.default.createDirectory(atPath: path + "/" + name, withIntermediateDirectories: true)
    }

    /// Writes `histd.toml` and loads it.
    func load(_ toml: String, name: String = "histd.toml") throws(ConfigErrors) -> HistConfig {
        let file = write(name, toml)
        return try ConfigLoader.load(path: file)
    }

    /// Writes `histd.toml`, loads it, and returns the problems (none when it loaded).
    func problems(_ toml: String, name: String = "histd.toml") -> [ConfigProblem] {
        do {
            _ = try load(toml, name: name)
            return []
        } catch {
            return error.problems
        }
    }
}

/// Asserts there is a problem at `line` about `key` whose message contains `message`.
func expectProblem(_ problems: [ConfigProblem], line: Int?, key: String?, contains message: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    let match = problems.first { $0.line == line && $0.key == key && $0.message.contains(message) }
    #expect(match != nil, "no problem at line \(line.map(String.init) ?? "-") key \(key ?? "-") containing \"\(message)\"; got:\n\(problems.map(\.description).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
}
