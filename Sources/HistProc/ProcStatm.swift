/// `/proc/PID/statm`: memory sizes in pages.
public struct ProcStatm: Hashable, Sendable {
    /// Total program size (VSZ), pages.
    public var sizePages: UInt64
    /// Resident set size, pages.
    public var residentPages: UInt64
    /// Resident shared pages (file-backed + shmem).
    public var sharedPages: UInt64

    public init(sizePages: UInt64, residentPages: UInt64, sharedPages: UInt64) {
        self.sizePages = sizePages
        self.residentPages = residentPages
        self.sharedPages = sharedPages
    }

    /// Parses "size resident shared text lib data dt". Needs the first three; nil otherwise.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> ProcStatm? {
        var values: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var index = 0
        var p = 0
        let n = bytes.count
        while index < 3 {
            while p < n && bytes[p] == 32 { p += 1 }
            var value: UInt64 = 0
            var digits = 0
            while p < n, bytes[p] >= 48, bytes[p] <= 57 {
                value = value &* 10 &+ UInt64(bytes[p] - 48)
                digits += 1
                p += 1
            }
            guard digits > 0 else { return nil }
            // A number cut off by the end of a truncated file is not trusted.
            guard p < n, bytes[p] == 32 || bytes[p] == 10 else { return nil }
            switch index {
            case 0: values.0 = value
            case 1: values.1 = value
            default: values.2 = value
            }
            index += 1
        }
        return ProcStatm(sizePages: values.0, residentPages: values.1, sharedPages: values.2)
    }
}

/// The fields of `/proc/PID/status` histd uses.
public struct ProcStatus: Hashable, Sendable {
    /// Real user id ("Uid:" first column).
    public var uid: UInt32
    /// Effective user id ("Uid:" second column).
    public var euid: UInt32
    /// "Threads:".
    public var threads: Int32

    public init(uid: UInt32, euid: UInt32, threads: Int32) {
        self.uid = uid
        self.euid = euid
        self.threads = threads
    }

    /// Parses the "Uid:" and "Threads:" lines; nil if either is missing (truncated file).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> ProcStatus? {
        var uid: UInt32?
        var euid: UInt32 = 0
        var threads: Int32?
        var lineStart = 0
        let n = bytes.count
        while lineStart < n {
            var lineEnd = lineStart
            while lineEnd < n && bytes[lineEnd] != 10 { lineEnd += 1 }
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
            if hasPrefix(line, "Uid:") {
                let numbers = numbersAfterColon(line)
                if numbers.count >= 2 {
                    uid = UInt32(truncatingIfNeeded: numbers[0])
                    euid = UInt32(truncatingIfNeeded: numbers[1])
                }
            } else if hasPrefix(line, "Threads:") {
                if let first = numbersAfterColon(line).first { threads = Int32(truncatingIfNeeded: first) }
            }
            if uid != nil && threads != nil { break }
            lineStart = lineEnd + 1
        }
        guard let uid, let threads else { return nil }
        return ProcStatus(uid: uid, euid: euid, threads: threads)
    }

    private static func hasPrefix(_ line: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        prefix.withUTF8Buffer { p in
            guard line.count >= p.count else { return false }
            for i in 0..<p.count where line[i] != p[i] { return false }
            return true
        }
    }

    private static func numbersAfterColon(_ line: UnsafeRawBufferPointer) -> [UInt64] {
        var out: [UInt64] = []
        var p = 0
        while p < line.count && line[p] != 58 /* : */ { p += 1 }
        p += 1
        while p < line.count {
            while p < line.count && (line[p] == 32 || line[p] == 9) { p += 1 }
            var value: UInt64 = 0
            var digits = 0
            while p < line.count, line[p] >= 48, line[p] <= 57 {
                value = value &* 10 &+ UInt64(line[p] - 48)
                digits += 1
                p += 1
            }
            if digits == 0 { break }
            out.append(value)
        }
        return out
    }
}
