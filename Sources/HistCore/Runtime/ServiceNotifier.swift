#if canImport(Glibc)
import Glibc
#endif

/// sd_notify(3) without libsystemd: one datagram of `KEY=VALUE` lines to the AF_UNIX socket named by
/// `$NOTIFY_SOCKET` (a path, or an abstract name written with a leading "@"). histd sends `READY=1` once
/// every autostart program has been started and `STOPPING=1` when its shutdown begins, so a
/// `Type=notify` unit is "active" only when its programs are up. Sending never blocks (MSG_DONTWAIT):
/// the engine thread calls it.
struct ServiceNotifier {
    /// The socket address from `$NOTIFY_SOCKET`; nil = not under a service manager, sending does nothing.
    let address: String?

    init(environment: [String: String]) {
        let value = environment["NOTIFY_SOCKET"] ?? ""
        address = value.isEmpty ? nil : value
    }

    /// Sends `state` ("READY=1", "STOPPING=1", "STATUS=..."). Returns false when there is no socket or
    /// the send failed; a failure is never fatal (histd supervises the same with or without systemd).
    @discardableResult
    func send(_ state: String) -> Bool {
        guard let address else { return false }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }  // Linux abstract namespace: a leading NUL, no terminator
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        let length = socklen_t(pathOffset + bytes.count + (abstract ? 0 : 1))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let message = Array(state.utf8)
        let sent = message.withUnsafeBytes { buf in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buf.baseAddress, buf.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent == message.count
    }
}
