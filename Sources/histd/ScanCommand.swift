import ArgumentParser

extension Histd {
    /// `histd scan --once`: one system-wide zombie/orphan scan, recorded (owned by the watching work).
    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Scan /proc once for zombies and orphans and record the result (for cron).")
        @Flag(help: "Run a single scan and exit.") var once = false
        @Option(help: "History database path.") var db: String?
        func run() async throws { throw ValidationError("histd scan is not built yet") }
    }
}
