import Foundation
import Testing
import TestThreads

#if canImport(Glibc)
import Glibc
#endif

/// The parent of every end-to-end suite that runs the real `histd`: `.serialized` applies to the
/// nested suites too, so no two of them compete for the 2 cores (several measure timing).
@Suite(.serialized, .blocking) struct EndToEnd {}

/// Paths of the package and of the built binaries.
enum E2E {
    static let root: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path), dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        return dir
    }()
    /// The build directory of the running test bundle: SwiftPM puts the test runner
    /// (histdPackageTests.xctest) next to the executables it built for it, so this is where the
    /// histd and histctl of the same `swift test` invocation are, whatever `--build-path`, `-c` or
    /// triple was used. Never a hard-coded `.build/debug`, which could hold stale binaries.
    static let buildDirectory: URL = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).resolvingSymlinksInPath().deletingLastPathComponent()
    }()
    static var histd: String { built("histd") }
    static var histctl: String { built("histctl") }

    /// A product of this build (the test targets depend on histd and histctl, so they are built with them).
    static func built(_ name: String) -> String { buildDirectory.appendingPathComponent(name).path }

    static var isRoot: Bool { getuid() == 0 }

    /// Whether `python3` runs here (the leak and OOM workloads use it).
    static let hasPython: Bool = {
        guard let r = try? run("/usr/bin/env", ["python3", "-c", "print(1)"], timeout: 20) else { return false }
        return r.status == 0
    }()

    /// A C compiler: `cc`, else the clang that ships with the Swift toolchain.
    static let cCompiler: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            for name in ["cc", "clang", "gcc"] where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        }
        return nil
    }()

    /// Compiles a one-file C helper into `dir` and returns its path.
    static func compileC(_ source: String, name: String, in dir: String) throws -> String {
        guard let cc = cCompiler else { throw E2EError("no C compiler (cc/clang/gcc) on PATH") }
        let src = "\(dir)/\(name).c", out = "\(dir)/\(name)"
        try source.write(toFile: src, atomically: true, encoding: .utf8)
        let r = try run(cc, ["-O2", "-o", out, src], timeout: 60)
        guard r.status == 0 else { throw E2EError("cc failed: \(r.stderr)") }
        return out
    }

    struct Output {
        var status: Int32
        /// True when the process ended by a signal (status is then the signal number).
        var signaled: Bool
        var stdout: String
        var stderr: String
        var stdoutData: Data
    }

    /// Runs a binary to completion with pipes, killing it (by pid) after `timeout` seconds.
    static func run(_ path: String, _ args: [String], cwd: String? = nil, env extra: [String: String] = [:],
                    removeEnv: [String] = [], timeout: Double = 60) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        var env = ProcessInfo.processInfo.environment
        env["TZ"] = "UTC"
        for k in removeEnv { env.removeValue(forKey: k) }
        for (k, v) in extra { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let pid = p.processIdentifier
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            if done.wait(timeout: .now() + timeout) == .timedOut { kill(pid, SIGKILL) }
        }
        defer { done.signal() }
        // Read both pipes concurrently, so a chatty stderr cannot block the child on a full pipe.
        let errBox = DataBox()
        let errDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errBox.set(err.fileHandleForReading.readDataToEndOfFile())
            errDone.signal()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        p.waitUntilExit()
        let e = errBox.get()
        return Output(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self), stdoutData: o)
    }

    /// Polls `condition` every `poll` seconds until it holds or `timeout` seconds pass.
    @discardableResult
    static func waitUntil(_ timeout: Double, poll: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if try condition() { return true }
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: poll)
        }
    }

    static func nowMS() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

struct E2EError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
