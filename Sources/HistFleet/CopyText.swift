import NIOCore

/// Rows in PostgreSQL's COPY text format, encoded as they are added: one line per row, values separated
/// by tabs, backslash, tab, newline and carriage return escaped, NULL as `\N`.
///
/// Why encode at once rather than keep the values: histd-ship reads a batch (and the next one, ahead)
/// before it sends it. Held as arrays of values (GRDB's, then the PostgreSQL ones), batches of 20,000
/// peaked at 94-97 MB RSS in histbench's crash-loop backlog; as text, at 60-61 MB (idle: 37 MB).
public struct CopyText: Sendable {
    var buffer = ByteBuffer()
    /// How many rows were added.
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// Adds one row.
    public mutating func append(_ row: some Sequence<FleetValue>) {
        var first = true
        for v in row {
            if !first { buffer.writeInteger(UInt8(ascii: "\t")) }
            first = false
            FleetDatabase.writeCopyText(v, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
        count += 1
    }
}
