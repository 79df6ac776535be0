import ArgumentParser

extension Histd {
    /// `histd check`: validate a config without starting anything (owned by the config work).
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a config file without starting anything.")
        @Option(help: "The TOML config file.") var config: String
        func run() async throws { throw ValidationError("histd check is not built yet") }
    }
}
