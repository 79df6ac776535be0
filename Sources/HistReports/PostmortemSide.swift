import Foundation
import HistModel
import HistSys

/// The postmortem's queries that run beside the others: on a second read-only connection (WAL readers
/// never wait for each other) and its own thread, so that on a machine with two cores the report is
/// gathered in about the time of the longer half. These are the memory and CPU series (the snapshot
/// scan), the limits and the crash clusters: about half of the work, and none of them needs another
/// query's result.
///
/// Consistency is unchanged: every query of the report always ran in its own read transaction, so rows
/// committed by a running histd between two queries may already differ between sections.
final class PostmortemSide: @unchecked Sendable {
    struct Answer: Sendable {
        var series: [UsageSeries]
        var limits: ReportResult
        var clusters: ReportResult
    }

    private let done = DispatchSemaphore(value: 0)
    /// Written by the side thread before it signals `done`, read only after waiting for it.
    private var result: Result<Answer, ReportError>?

    /// Starts the side queries on their own thread and connection to `path`.
    static func start(path: String, scope: ReportScope, clusterWindow: Duration, phases: PostmortemPhases?) -> PostmortemSide {
        let side = PostmortemSide()
        let thread = Thread.named("histctl-postmortem") {
            side.result = Result { () throws(ReportError) in try Self.run(path: path, scope: scope, clusterWindow: clusterWindow, phases: phases) }
            side.done.signal()
        }
        thread.start()
        return side
    }

    /// Waits for the side queries; their error, if any, is the build's.
    func wait() throws(ReportError) -> Answer {
        done.wait()
        guard let result else { throw ReportError(.queryFailed, "postmortem: the side queries gave no answer") }
        return try result.get()
    }

    private static func run(path: String, scope: ReportScope, clusterWindow: Duration, phases: PostmortemPhases?) throws(ReportError) -> Answer {
        let db = try phases.step("open (second connection)") { () throws(ReportError) in try ReportDatabase(path: path) }
        return try run(db, scope: scope, clusterWindow: clusterWindow, phases: phases)
    }

    /// The side queries on `db`, on the calling thread.
    static func run(_ db: ReportDatabase, scope: ReportScope, clusterWindow: Duration, phases: PostmortemPhases?) throws(ReportError) -> Answer {
        let series = try phases.step("usage") { () throws(ReportError) in
            try db.read { try UsageReader.series($0, since: scope.since.milliseconds, until: scope.until.milliseconds,
                                                 buckets: Postmortem.seriesBuckets, programs: scope.programs) }
        }
        let limits = try phases.step("limits") { () throws(ReportError) in
            try db.run(query: "limits", arguments: scope.arguments, columns: Reports.limitColumns)
        }
        let clusters = try phases.step("loops") { () throws(ReportError) in
            try Reports.loops(db, scope, window: clusterWindow, minCrashes: 2)
        }
        return Answer(series: series, limits: limits, clusters: clusters)
    }
}
