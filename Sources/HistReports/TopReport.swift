import Foundation
import HistModel

/// The sample nearest to a moment, and whether it is near enough to stand for that moment.
public struct NearestSample: Hashable, Sendable {
    /// When the sample was taken.
    public var time: Timestamp
    /// The recording interval around it (the shortest gap to its neighbours), nil when it is the only one.
    public var interval: Duration?
    /// How far from the moment a sample may be: max(3 x interval, 1 min).
    public var tolerance: Duration
    /// `time - at`: negative when the sample is before the moment.
    public var offset: Duration

    public init(time: Timestamp, interval: Duration?, at: Timestamp) {
        self.time = time
        self.interval = interval
        let three = (interval ?? .zero) * 3
        tolerance = max(three, .seconds(60))
        offset = .milliseconds(time.milliseconds - at.milliseconds)
    }

    /// Within the tolerance.
    public var isNear: Bool { abs(offset.milliseconds) <= tolerance.milliseconds }

    /// "12s after", "3m before", "at".
    public var relation: String {
        let ms = offset.milliseconds
        if ms == 0 { return "exactly at --at" }
        return HumanDuration.format(milliseconds: abs(ms)) + (ms > 0 ? " after" : " before")
    }
}

/// `histctl top`: the processes of the sweep nearest to `at` and the scan nearest to `at`, each only
/// when it is near enough (NearestSample.isNear); otherwise no rows, and the caller says why.
public struct TopReport: Hashable, Sendable {
    public var at: Timestamp
    /// The nearest sweep, nil when nothing was ever sampled.
    public var sweep: NearestSample?
    /// The nearest system scan, nil when there is none.
    public var scanSample: NearestSample?
    /// Empty when the nearest sweep is too far from `at`.
    public var processes: ReportResult
    /// Empty when the nearest scan is too far from `at`.
    public var scan: ReportResult

    /// Lines for people: which sample is shown and how far it is from `at`, or why nothing is shown.
    public func notes(zone: TimeZone) -> (processes: String, scan: String) {
        let atText = TimeText.local(at, in: zone)
        func note(_ s: NearestSample?, _ what: String) -> String {
            guard let s else { return "no \(what) recorded at all" }
            let when = TimeText.local(s.time, in: zone)
            if s.isNear { return "\(what) at \(when) (\(s.relation))" }
            return "no \(what) within \(HumanDuration.format(milliseconds: s.tolerance.milliseconds)) of \(atText); "
                + "the nearest is at \(when) (\(s.relation)), so nothing is shown"
        }
        return (note(sweep, "sampling sweep"), note(scanSample, "system scan"))
    }
}

extension Reports {
    /// The sweep nearest to `at`, sorted, and the scan nearest to `at`, each empty when too far from `at`.
    public static func top(_ db: ReportDatabase, at: Timestamp, sort: TopSort, limit: Int, programs: [String],
                           workerPools: [String: String] = [:]) throws(ReportError) -> TopReport {
        var args = ReportScope(since: at, until: at, programs: programs, now: at, workerPools: workerPools).arguments
        args["at"] = at.milliseconds
        args["sort"] = sort.rawValue
        args["limit"] = limit
        let near = try db.run(query: "top_nearest", arguments: args,
                              columns: [ReportColumn("source"), ReportColumn("time", .time), ReportColumn("interval_ms")])
        var sweep: NearestSample?, scanSample: NearestSample?
        for row in near.rows {
            guard case .time(let t) = row[1] else { continue }
            let interval: Duration? = if case .integer(let ms) = row[2] { .milliseconds(ms) } else { nil }
            let sample = NearestSample(time: t, interval: interval, at: at)
            if row[0] == .text("sweep") { sweep = sample } else { scanSample = sample }
        }
        let processes = sweep?.isNear == true
            ? try db.run(query: "top", arguments: args, columns: topColumns)
            : ReportResult(columns: topColumns, rows: [])
        let scan = scanSample?.isNear == true
            ? try db.run(query: "top_scan", arguments: args, columns: scanColumns)
            : ReportResult(columns: scanColumns, rows: [])
        return TopReport(at: at, sweep: sweep, scanSample: scanSample, processes: processes, scan: scan)
    }
}
