import Testing
@testable import HistModel

@Suite struct LogMarkerTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(1_764_618_916_123), "2025-12-01T19:55:16.123Z"),
        (Int64(951_782_400_000), "2000-02-29T00:00:00.000Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
    ])
    func isoUTC(ms: Int64, text: String) {
        #expect(LogMarker.isoUTC(milliseconds: ms) == text)
    }

    @Test func markerRoundTripsAndProgramTextStripsStampsAndMarkers() {
        let line = LogMarker.startLine(unit: "jobs.0", pid: 4711, instance: 9, time: Timestamp(milliseconds: 1_764_618_916_123))
        #expect(line == "### histd: start jobs.0 pid=4711 instance=9 2025-12-01T19:55:16.123Z")
        let m = LogMarker.parse(Substring(line))
        #expect(m == LogMarker.Start(unit: "jobs.0", pid: 4711, time: "2025-12-01T19:55:16.123Z"))
        #expect(LogMarker.parse("### histd: start x pid=oops instance=1 t") == nil)
        #expect(LogMarker.parse("hello") == nil)
        let spaced = LogMarker.startLine(unit: "we\"ird 'name' x", pid: 1, instance: 2, time: Timestamp(milliseconds: 0))
        #expect(LogMarker.parse(Substring(spaced))?.unit == "we\"ird 'name' x")
        let file = line + "\n2025-12-01T19:55:16.200Z hello\n2025-12-01T19:55:16.300Z  two spaces\nno stamp\npartial"
        #expect(LogMarker.programText(file) == "hello\n two spaces\nno stamp\npartial")
        #expect(LogMarker.hasTimestamp("2025-12-01T19:55:16.200Z x"))
        #expect(!LogMarker.hasTimestamp("2025-12-01 19:55:16.200Z x"))
    }
}
