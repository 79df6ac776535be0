import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where histbench finds the checkout (bench/*.c, the built histd/histctl) and keeps its scratch files.
struct Workspace: Sendable {
    /// The checkout root: the folder holding Package.swift and bench/.
    var repo: String
    /// Scratch folder: compiled helpers, configs, stamp files, databases, the cached fixture.
    var scratch: String
    /// The histd binary under test.
    var histd: String

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// The checkout this binary was compiled from (three levels above this source file), unless
    /// `--repo` says otherwise. Good enough for `swift run histbench` in a checkout.
    static func defaultRepo() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    init(repo: String?, scratch: String, histd: String?) throws {
        self.repo = repo ?? Workspace.defaultRepo()
        self.scratch = scratch
        if let histd {
            self.histd = histd
        } else {
            let release = self.repo + "/.build/release/histd"
            let debug = self.repo + "/.build/debug/histd"
            self.histd = FileManager.default.isExecutableFile(atPath: release) ? release : debug
        }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    /// Compiles bench/NAME.c into the scratch folder (static, -O2) unless an up-to-date binary is there.
    func helper(_ name: String) throws -> String {
        let source = repo + "/bench/\(name).c"
        let binary = scratch + "/bin/\(name)"
        let fm = FileManager.default
        guard fm.fileExists(atPath: source) else { throw Failure(description: "helper source missing: \(source)") }
        if let b = try? fm.attributesOfItem(atPath: binary)[.modificationDate] as? Date,
           let s = try? fm.attributesOfItem(atPath: source)[.modificationDate] as? Date, b >= s {
            return binary
        }
        try fm.createDirectory(atPath: scratch + "/bin", withIntermediateDirectories: true)
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gcc.arguments = ["gcc", "-O2", "-static", "-o", binary, source]
        try gcc.run()
        gcc.waitUntilExit()
        guard gcc.terminationStatus == 0 else { throw Failure(description: "gcc failed on \(source) (status \(gcc.terminationStatus))") }
        return binary
    }

    /// A fresh, empty folder for one run of a scenario.
    func runDirectory(_ label: String) throws -> String {
        let dir = scratch + "/runs/\(label)-\(getpid())-\(monoNow() % 1_000_000_000)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func requireHistd() throws {
        guard FileManager.default.isExecutableFile(atPath: histd) else {
            throw Failure(description: "no histd binary at \(histd): run `swift build -c release` first, or pass --histd PATH")
        }
    }
}

/// Lines "S|E id pid mono_ns" that stampchild appends.
struct Stamp: Sendable, Equatable {
    var kind: Character
    var id: Int
    var pid: Int32
    var ns: Int64
}

/// Reads a stamp file incrementally (only complete lines).
final class StampReader {
    let path: String
    private var offset: UInt64 = 0
    private var partial = ""
    private(set) var stamps: [Stamp] = []

    init(path: String) { self.path = path }

    /// Appends any new complete lines to `stamps`; returns how many were added.
    @discardableResult
    func poll() -> Int {
        guard let fh = FileHandle(forReadingAtPath: path) else { return 0 }
        defer { try? fh.close() }
        try? fh.seek(toOffset: offset)
        let data = fh.readDataToEndOfFile()
        offset += UInt64(data.count)
        var text = partial + String(decoding: data, as: UTF8.self)
        partial = ""
        if !text.hasSuffix("\n"), let cut = text.lastIndex(of: "\n") {
            partial = String(text[text.index(after: cut)...])
            text = String(text[...cut])
        } else if !text.hasSuffix("\n") {
            partial = text
            return 0
        }
        var added = 0
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 4, let k = f[0].first, let id = Int(f[1]), let pid = Int32(f[2]), let ns = Int64(f[3]) else { continue }
            stamps.append(Stamp(kind: k, id: id, pid: pid, ns: ns))
            added += 1
        }
        return added
    }
}
