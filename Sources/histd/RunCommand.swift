import ArgumentParser

extension Histd {
    /// `histd run`: supervise the programs of a config file (owned by the engine work).
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Supervise the programs of a config file until SIGTERM/SIGINT.")
        @Option(help: "The TOML config file.") var config: String
        @Option(help: "History database path (overrides $HISTD_DB and the config's db).") var db: String?
        func run() async throws { throw ValidationError("histd run is not built yet") }
    }
}
