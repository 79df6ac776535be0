/// A span of time for people: "36s", "1m30s", "2h5m", "3d4h", "450ms". Used by the postmortem
/// (bucket sizes, uptimes in hover titles).
enum SpanText {
    static func text(milliseconds ms: Int64) -> String {
        if ms < 1000 { return "\(max(0, ms))ms" }
        let s = ms / 1000
        if s < 60 { return ms % 1000 == 0 || s >= 10 ? "\(s)s" : String(format: "%.1fs", Double(ms) / 1000) }
        let m = s / 60, h = m / 60, d = h / 24
        if d > 0 { return h % 24 == 0 ? "\(d)d" : "\(d)d\(h % 24)h" }
        if h > 0 { return m % 60 == 0 ? "\(h)h" : "\(h)h\(m % 60)m" }
        return s % 60 == 0 ? "\(m)m" : "\(m)m\(s % 60)s"
    }
}
