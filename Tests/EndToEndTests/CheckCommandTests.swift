import Foundation
import Testing
import TestThreads

/// Runs the real `histd check` binary (built by `swift build`/`swift test`, since EndToEndTests depends on it).
@Suite(.serialized, .blocking) struct CheckCommandTests {
    /// The package root: walk up from this file until Package.swift.
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url = url.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    static var histd: String { E2E.histd }

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: histd)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // Read both pipes before waiting, so a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    @Test func demoConfigIsValid() throws {
        let demo = Self.packageRoot.appendingPathComponent("examples/demo.toml").path
        let r = try Self.run(["check", "--config", demo])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.hasPrefix("\(demo): ok — 4 programs, 0 pools"))
        for name in ["steady", "crasher", "oneshot", "stubborn"] { #expect(r.stdout.contains("program \(name)")) }
    }

    @Test func brokenConfigExitsTwoWithEveryProblemOnStderr() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("histd-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("broken.toml").path
        try """
        [program.web]
        command = ["/nonexistent/web"]
        restart = "sometimes"
        restart_dely = "1s"
        """.write(toFile: file, atomically: true, encoding: .utf8)

        let r = try Self.run(["check", "--config", file])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "stderr: \(r.stderr)")
        #expect(lines.contains { $0.hasPrefix("\(file):2: program.web.command: ") && $0.contains("not found") })
        #expect(lines.contains { $0.hasPrefix("\(file):3: program.web.restart: invalid value \"sometimes\"") })
        #expect(lines.contains { $0 == "\(file):4: program.web.restart_dely: unknown key; did you mean restart_delay?" })
        #expect(lines.last == "3 problems; nothing was started.")
    }

    @Test func missingFileExitsTwo() throws {
        let r = try Self.run(["check", "--config", "/nonexistent/histd.toml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("/nonexistent/histd.toml: no such file"))
    }

    @Test func helpTeachesTheFormat() throws {
        let r = try Self.run(["check", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("FILE:LINE: KEY: message"))
        #expect(r.stdout.contains("--config"))
    }
}
