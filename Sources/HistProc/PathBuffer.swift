/// A reused C path buffer holding the /proc root, so that building "/proc/1234/stat" costs no
/// allocation: the root is written once, then each call writes only the pid and the suffix.
struct PathBuffer: ~Copyable {
    private let storage: UnsafeMutablePointer<CChar>
    private let capacity = 4096
    private let rootLength: Int

    init(root: String) {
        storage = .allocate(capacity: capacity)
        var n = 0
        for byte in root.utf8 where n < capacity - 512 {
            storage[n] = CChar(bitPattern: byte)
            n += 1
        }
        // "/proc/" and "/proc" behave the same.
        while n > 1 && storage[n - 1] == 47 /* / */ { n -= 1 }
        rootLength = n
        storage[n] = 0
    }

    deinit { storage.deallocate() }

    /// "<root>/<pid><suffix>", e.g. path(12, "/stat") -> "/proc/12/stat". The pointer is valid until
    /// the next call.
    func path(_ pid: Int32, _ suffix: StaticString) -> UnsafePointer<CChar> {
        var n = rootLength
        storage[n] = 47; n += 1
        n = appendNumber(Int64(pid), at: n)
        n = append(suffix, at: n)
        storage[n] = 0
        return UnsafePointer(storage)
    }

    /// "<root>/<pid>/task/<tid><suffix>".
    func taskPath(_ pid: Int32, _ tid: Int32, _ suffix: StaticString) -> UnsafePointer<CChar> {
        var n = rootLength
        storage[n] = 47; n += 1
        n = appendNumber(Int64(pid), at: n)
        n = append("/task/", at: n)
        n = appendNumber(Int64(tid), at: n)
        n = append(suffix, at: n)
        storage[n] = 0
        return UnsafePointer(storage)
    }

    /// "<root><suffix>", e.g. "/proc" or "/proc/stat".
    func rootPath(_ suffix: StaticString) -> UnsafePointer<CChar> {
        let n = append(suffix, at: rootLength)
        storage[n] = 0
        return UnsafePointer(storage)
    }

    private func append(_ s: StaticString, at start: Int) -> Int {
        var n = start
        s.withUTF8Buffer { bytes in
            for b in bytes { storage[n] = CChar(bitPattern: b); n += 1 }
        }
        return n
    }

    private func appendNumber(_ value: Int64, at start: Int) -> Int {
        var n = start
        if value < 0 { storage[n] = 45; n += 1 }
        var v = value.magnitude
        var digits = 0
        var tmp = v
        repeat { digits += 1; tmp /= 10 } while tmp > 0
        var i = n + digits - 1
        repeat {
            storage[i] = CChar(48 + Int(v % 10))
            v /= 10
            i -= 1
        } while v > 0
        return n + digits
    }
}
