import HistCore
import HistModel

/// One client connection, owned by the server thread.
final class ControlConnection {
    let id: UInt64
    let fd: Int32
    let peer: PeerIdentity
    let role: ControlRole
    /// Bytes read but not yet parsed (at most `Limits.maxLine` without a newline).
    var input: [UInt8] = []
    /// Bytes to send; `outputStart` is how much of it is already sent.
    var output: [UInt8] = []
    var outputStart = 0
    /// The request being answered (one at a time per connection: the next line waits).
    var inFlight: InFlight?
    /// Close once the output is sent (after a refusal, an over-long line, shutdown).
    var closeAfterFlush = false
    /// The peer closed its side: answer what was read, then close.
    var readClosed = false
    /// Monotonic times: last byte read or written, first byte of the unfinished line.
    var lastActivity: Duration
    var partialSince: Duration?
    /// Whether epoll watches it for EPOLLOUT (pending output) and EPOLLIN (room to read).
    var interest: UInt32 = 0
    /// Added to the epoll set.
    var registered = false

    init(id: UInt64, fd: Int32, peer: PeerIdentity, role: ControlRole, now: Duration) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.role = role
        lastActivity = now
    }

    var pendingOutput: Int { output.count - outputStart }

    /// A request waiting for the engine's answers (or the reload hook's).
    struct InFlight {
        let request: ControlRequest
        let started: Duration
        let deadline: Duration
        let time: Timestamp
        let seq: UInt64
        var parts: [(name: String, reply: CommandReply)]
        /// For reload: the hook's answer once it came.
        var reloadAnswer: ControlReply?
    }
}
