/// Problems about keys of a file that loaded, located the way the loader locates its own
/// (for a reload that is refused because of a key: `FILE:LINE: supervisor.db: message`).
public enum ConfigLocator {
    /// A problem about `path` in the config file `file` whose text is `text`: its line is the key's
    /// line, or its table's when the key is not in the file (it was removed).
    public static func problem(file: String, text: String, path: [String], message: String) -> ConfigProblem {
        let positions = KeyPositions(text: text)
        return ConfigProblem(file: file, line: positions.line(of: path), key: ConfigValidator.keyText(path), message: message)
    }
}
