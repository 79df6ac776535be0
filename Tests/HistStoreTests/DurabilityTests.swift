import Foundation
import GRDB
import HistModel
import Testing
import TestThreads
@testable import HistStore

/// kill -9 of a writing process, repeatedly, on the same database: every event the writer reported
/// committed is still there, and the database is intact.
@Suite(.serialized, .blocking) struct DurabilityTests {
    /// Reads newline-separated integers from `fd` until `want` have arrived or `timeout` passes.
    func readIDs(_ fd: Int32, want: Int, timeout: Double, into ids: inout [Int64], buffer: inout String) {
        let deadline = Date().addingTimeInterval(timeout)
        var got = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        while got < want, Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n <= 0 { break }
            buffer += String(decoding: chunk[0..<n], as: UTF8.self)
            while let nl = buffer.firstIndex(of: "\n") {
                if let id = Int64(buffer[..<nl]) { ids.append(id); got += 1 }
                buffer.removeSubrange(...nl)
            }
        }
    }

    @Test func committedEventsSurviveRepeatedSigkill() throws {
        let dir = TempDir()
        let path = dir.file("h.db")
        let probe = buildProductsDir() + "/histstore-probe"
        try #require(FileManager.default.isExecutableFile(atPath: probe), "missing \(probe)")
        var reported: [Int64] = []
        for round in 0..<6 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: probe)
            process.arguments = [path]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let pid = process.processIdentifier
            defer {
                if process.isRunning { kill(pid, SIGKILL) }
                process.waitUntilExit()
            }
            var ids: [Int64] = []
            var buffer = ""
            // Wait for a few commits, then a random extra moment so the kill lands mid-transaction sometimes.
            readIDs(out.fileHandleForReading.fileDescriptor, want: 3 + round, timeout: 20, into: &ids, buffer: &buffer)
            usleep(UInt32.random(in: 0...30_000))
            #expect(kill(pid, SIGKILL) == 0)
            process.waitUntilExit()
            // Whatever it printed before dying counts as "reported committed" too.
            readIDs(out.fileHandleForReading.fileDescriptor, want: .max, timeout: 0.3, into: &ids, buffer: &buffer)
            #expect(ids.count >= 3, "round \(round): the probe reported no commits")
            #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)
            reported += ids
        }
        let r = try reader(path)
        #expect(try r.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        let maxID = try r.read { try Int64.fetchOne($0, sql: "SELECT max(id) FROM events") } ?? 0
        #expect(maxID >= reported.max() ?? 0)
        var missing: [Int64] = []
        try r.read { db in
            let stmt = try db.makeStatement(sql: "SELECT count(*) FROM events WHERE id = ?")
            for id in Set(reported) where try Int.fetchOne(stmt, arguments: [id]) != 1 { missing.append(id) }
        }
        #expect(missing.isEmpty, "committed event ids missing after kill -9: \(missing.prefix(10))")
        // Each start closed the previous (killed) run as unclean; the last one is still open.
        #expect(try count(r, "SELECT count(*) FROM runs") == 6)
        #expect(try count(r, "SELECT count(*) FROM runs WHERE stop_reason = 'unclean'") == 5)
        #expect(try count(r, "SELECT count(*) FROM runs WHERE stopped_at IS NULL") == 1)
    }
}
