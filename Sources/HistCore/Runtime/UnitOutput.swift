#if canImport(Glibc)
import Glibc
#endif
import HistModel

/// Where a unit's stdout/stderr go: two rotating files, and the stderr tail of the current process.
/// Shared by the pipes of successive instances (a grandchild may keep an old pipe open).
///
/// With `log_timestamps` each line starts with its UTC time (`2026-12-01T19:55:16.123Z `). Every
/// instance's start is marked in both files by one line `### histd: start NAME pid=PID instance=ID TIME`
/// (see `LogMarker`), which is how `histctl logs --previous` finds instance boundaries across rotations.
final class UnitOutput {
    let out: RotatingLogFile
    let err: RotatingLogFile
    var tail: StderrTail
    let timestamps: Bool
    private let maxBytes: Int, keep: Int, tailBytes: Int
    private var outAtLineStart = true
    private var errAtLineStart = true
    /// One reusable buffer for stamped output, so the engine's output path allocates nothing per read.
    private var scratch: [UInt8] = []
    private var clock = LogClock()

    /// Start markers waiting for files that are not open yet (`deferOpen`), in order; nil once open.
    private var pendingMarkers: [String]?

    /// - Parameter deferOpen: leave both files unopened until `openDeferred()` (or the first output,
    ///   whichever comes first); start markers wait in memory and are written first, so a file
    ///   always holds an instance's marker before its output.
    init(logDir: String, baseName: String, spec: ProgramSpec, timestamps: Bool, group: UInt32? = nil,
         deferOpen: Bool = false) {
        maxBytes = spec.logMaxBytes
        keep = spec.logKeep
        tailBytes = spec.stderrTailBytes
        out = RotatingLogFile(path: "\(logDir)/\(baseName).out", maxBytes: maxBytes, keep: keep, group: group, openNow: !deferOpen)
        err = RotatingLogFile(path: "\(logDir)/\(baseName).err", maxBytes: maxBytes, keep: keep, group: group, openNow: !deferOpen)
        pendingMarkers = deferOpen ? [] : nil
        tail = StderrTail(capacity: tailBytes)
        self.timestamps = timestamps
        // No reserveCapacity here: with 500 units that would be 36 MB before any output; the buffer grows
        // on first use and keeps its capacity after that.
    }

    /// Whether this output was built with `spec`'s log settings (a reload may have changed them).
    func matches(_ spec: ProgramSpec) -> Bool {
        spec.logMaxBytes == maxBytes && spec.logKeep == keep && spec.stderrTailBytes == tailBytes
    }

    /// Whether `openDeferred()` still has work to do.
    var isDeferred: Bool { pendingMarkers != nil }

    /// Why either file could not be opened the last time it was tried (empty when both are open).
    var openProblems: [FileProblem] { [out.openProblem, err.openProblem].compactMap { $0 } }

    /// Opens deferred files and writes the start markers that waited for them. Returns why a file
    /// could not be opened (the caller logs it); empty when both opened or nothing was deferred.
    @discardableResult
    func openDeferred() -> [FileProblem] {
        guard let markers = pendingMarkers else { return [] }
        pendingMarkers = nil
        out.openIfNeeded()
        err.openIfNeeded()
        for line in markers { writeMarker(line) }
        return openProblems
    }

    /// SIGUSR1: reopen both files by name (after logrotate moved them away).
    func reopen() {
        openDeferred()
        out.reopen()
        err.reopen()
    }

    func write(_ bytes: UnsafeRawBufferPointer, stderr: Bool) {
        if pendingMarkers != nil { openDeferred() }
        if stderr { tail.append(bytes) }
        let file = stderr ? err : out
        guard timestamps else {
            file.write(bytes)
            return
        }
        var atLineStart = stderr ? errAtLineStart : outAtLineStart
        scratch.removeAll(keepingCapacity: true)
        let stamp = clock.stamp()
        var i = 0
        let n = bytes.count
        while i < n {
            if atLineStart { scratch.append(contentsOf: stamp) }
            // The rest of this line (through its newline, if it has one in this chunk).
            var j = n
            if let nl = memchr(bytes.baseAddress! + i, 10, n - i) {
                j = bytes.baseAddress!.distance(to: UnsafeRawPointer(nl)) + 1
                atLineStart = true
            } else {
                atLineStart = false
            }
            scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
            i = j
        }
        if stderr { errAtLineStart = atLineStart } else { outAtLineStart = atLineStart }
        scratch.withUnsafeBytes { file.write($0) }
    }

    /// Marks the start of an instance in both files (after ending a partial line of the previous one).
    func markStart(_ info: InstanceInfo, unit: String) {
        let line = LogMarker.startLine(unit: unit, pid: info.identity.pid, instance: info.id, time: info.startedAt)
        if pendingMarkers != nil {
            pendingMarkers!.append(line)
            return
        }
        writeMarker(line)
    }

    private func writeMarker(_ line: String) {
        for (file, isErr) in [(out, false), (err, true)] {
            var text = ""
            if !(isErr ? errAtLineStart : outAtLineStart) { text += "\n" }
            text += line + "\n"
            var copy = text
            copy.withUTF8 { file.write(UnsafeRawBufferPointer($0)) }
        }
        outAtLineStart = true
        errAtLineStart = true
    }
}

/// The `YYYY-MM-DDTHH:MM:SS.mmmZ ` prefix of log lines, reformatted in full only when the second changes.
struct LogClock {
    private var second: Int = -1
    private var prefix: [UInt8] = Array(repeating: 0, count: 25)

    mutating func stamp() -> [UInt8] {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let sec = ts.tv_sec
        if sec != second {
            second = sec
            var t = time_t(sec)
            var parts = tm()
            gmtime_r(&t, &parts)
            let s = LogMarker.iso(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                                  hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec), millis: 0)
            prefix = Array(s.utf8) + [32]
        }
        let ms = ts.tv_nsec / 1_000_000
        prefix[20] = UInt8(48 + ms / 100)
        prefix[21] = UInt8(48 + ms / 10 % 10)
        prefix[22] = UInt8(48 + ms % 10)
        return prefix
    }
}
