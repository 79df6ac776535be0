/// The last bytes of a process's stderr, kept in memory for the crash record.
struct StderrTail {
    let capacity: Int
    let maxLines: Int
    private var bytes: [UInt8] = []
    /// True once bytes were dropped from the front (the first kept line may be partial).
    private var truncated = false

    init(capacity: Int, maxLines: Int = 20) {
        self.capacity = max(0, capacity)
        self.maxLines = maxLines
    }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        guard capacity > 0, chunk.count > 0 else { return }
        // Reserved at the first output, not at init: a program that never writes to stderr (most idle
        // ones) holds no buffer. Reserved at init, 500 units' 8 KiB each touched ~2 MiB of heap.
        if bytes.capacity == 0 { bytes.reserveCapacity(min(capacity * 2, 1 << 16)) }
        if chunk.count >= capacity {
            bytes = Array(chunk[(chunk.count - capacity)...])
            truncated = true
            return
        }
        bytes.append(contentsOf: chunk)
        // Trim in batches (amortized O(1) per byte).
        if bytes.count > capacity * 2 {
            bytes.removeFirst(bytes.count - capacity)
            truncated = true
        }
    }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        truncated = false
    }

    /// At most `capacity` bytes and `maxLines` whole lines, UTF-8 with invalid bytes replaced.
    var text: String {
        var view = bytes[...]
        if view.count > capacity {
            view = view.suffix(capacity)
            if let nl = view.firstIndex(of: 10) { view = view[(nl + 1)...] }
        } else if truncated, let nl = view.firstIndex(of: 10) {
            view = view[(nl + 1)...]
        }
        // Drop the trailing newline, then keep the last `maxLines` lines.
        if view.last == 10 { view = view.dropLast() }
        var lines = 0
        var start = view.endIndex
        while start > view.startIndex {
            let i = view.index(before: start)
            if view[i] == 10 {
                lines += 1
                if lines == maxLines { break }
            }
            start = i
        }
        return String(decoding: view[start...], as: UTF8.self)
    }
}
