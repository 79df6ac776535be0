import ArgumentParser
import HistReports

extension Histctl {
    struct Breaches: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Which programs crossed a limit (memory, cgroup OOM, tasks), by how much, and what histd did?",
            discussion: """
            Columns: time, program, pid, limit, value (observed), threshold, action. Memory values are bytes.

            Example: histctl breaches --since 1d --program worker --format csv
            """)

        @OptionGroup var options: CommonOptions

        func run() throws {
            try Failure.report {
                let db = try options.open()
                try options.emit(try Reports.breaches(db, options.scope()))
            }
        }
    }
}
