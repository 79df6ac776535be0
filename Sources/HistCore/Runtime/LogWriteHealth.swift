#if canImport(Glibc)
import Glibc
#endif
import HistModel
import HistSys

/// Whether a program's log file can be written, reported on stderr once when writing starts failing
/// (disk full, folder removed) and once when it works again, with the bytes lost between. Never once per
/// failed write: a chatty program on a full disk would otherwise flood histd's own log. The program is
/// never held up: its pipe is still drained and the bytes that cannot be written are dropped and counted.
struct LogWriteHealth {
    private(set) var failing = false
    private(set) var lostBytes = 0
    private var since = Timestamp(milliseconds: 0)

    mutating func failed(path: String, bytes: Int, errno err: Int32, problem: FileProblem?) {
        lostBytes += bytes
        guard !failing else { return }
        failing = true
        since = .now()
        let why = err != 0 ? String(cString: strerror(err)) : problem.map { "\($0)" } ?? "cannot open"
        Self.say("log file \(path) cannot be written (\(why)); the program keeps running, its output is dropped "
            + "and counted until writing works again (reported once)")
    }

    mutating func succeeded(path: String) {
        guard failing else { return }
        let tenths = max(0, Timestamp.now().milliseconds - since.milliseconds) / 100
        Self.say("log file \(path) is written again after \(tenths / 10).\(tenths % 10) s; \(lostBytes) bytes of output were lost")
        failing = false
        lostBytes = 0
    }

    /// One line on stderr with a plain write(2) (the engine thread holds no logger here; the line is short).
    static func say(_ text: String) {
        var line = "histd: " + text + "\n"
        line.withUTF8 { _ = Sys.writeAll(2, UnsafeRawBufferPointer($0)) }
    }
}
