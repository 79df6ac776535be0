/// Where a unit's stdout/stderr go: two rotating files, and the stderr tail of the current process.
/// Shared by the pipes of successive instances (a grandchild may keep an old pipe open).
final class UnitOutput {
    let out: RotatingLogFile
    let err: RotatingLogFile
    var tail: StderrTail

    init(logDir: String, baseName: String, maxBytes: Int, keep: Int, tailBytes: Int, group: UInt32? = nil) {
        out = RotatingLogFile(path: "\(logDir)/\(baseName).out", maxBytes: maxBytes, keep: keep, group: group)
        err = RotatingLogFile(path: "\(logDir)/\(baseName).err", maxBytes: maxBytes, keep: keep, group: group)
        tail = StderrTail(capacity: tailBytes)
    }

    func write(_ bytes: UnsafeRawBufferPointer, stderr: Bool) {
        if stderr {
            err.write(bytes)
            tail.append(bytes)
        } else {
            out.write(bytes)
        }
    }
}
