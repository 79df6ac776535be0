import ArgumentParser
import HistReports

extension Histctl {
    struct Breaches: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "breaches",
            abstract: "Which programs crossed a limit (memory, cgroup OOM, tasks), by how much, and what histd did?",
            discussion: """
            Columns: time, program, pid, limit, value (observed), threshold, action, refused. Memory values are bytes in \
            JSON and CSV and MiB in tables (the unit of max_memory_mb). For tasks_max, value is the tasks in the cgroup \
            when histd polled and refused the forks the kernel refused since the previous poll (pids.events "max"). \
            Tables show the newest 50 (-n/--limit N, --all).

            With --db postgres://... (a fleet database, docs/FLEET.md): the same rows per host across the fleet, a host \
            column first; --host NAME (repeatable) keeps those hosts.

            Example: histctl breaches --since 1d --program worker --format csv
            Example: histctl breaches --db postgres://histd@db.example/fleet --since 1d --host web1
            """)

        @OptionGroup var options: CommonOptions

        func run() throws {
            try Failure.report {
                if options.isFleet {
                    let scope = try options.fleetScope()
                    let result = try options.fleetReport(.breaches(scope), checking: scope)
                    try options.emit(result, keep: .newest, table: BreachTable.forTable)
                    return
                }
                let db = try options.open()
                try options.emit(try Reports.breaches(db, options.scope(db)), keep: .newest, table: BreachTable.forTable)
            }
        }
    }
}
