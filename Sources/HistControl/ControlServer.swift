#if canImport(Glibc)
import Glibc
#endif
import CShim
import Foundation
import HistCore
import HistModel
import Logging
import Synchronization
import HistSys

/// The control socket's server: one thread with an epoll loop over the listening socket, the
/// client connections and an eventfd. It parses requests, checks who asks (SO_PEERCRED), posts
/// commands to the engine and answers when the engine's `CommandReply`s complete. The engine never
/// waits for it: posting is a queue append, and the engine completes a reply through a callback that
/// only queues and wakes this thread. Every buffer and wait is bounded (`Limits`), so a hostile
/// client can only hurt its own connection.
public final class ControlServer: @unchecked Sendable {
    // @unchecked: everything but `completions`, `wakeFD` and `stopped` is confined to the server thread.

    /// Answers `reload` requests (see docs/CONTROL.md). It runs on a thread of its own, never on the
    /// engine's or the server's, and its reply is sent as is (`result` "done" = reloaded or planned).
    public typealias ReloadHook = @Sendable (_ dryRun: Bool, _ requester: PeerIdentity) -> ControlReply

    /// The default hook, until histd wires one: answers that reload is not available.
    public static let reloadUnavailable: ReloadHook = { _, _ in
        ControlReply(id: nil, ok: false, result: "failed", message: "reload is not available in this histd")
    }

    public struct Limits: Sendable {
        /// Connections at once; one more is answered `busy` and closed.
        public var maxConnections = 512
        /// A request line without its newline after this many bytes is answered `line_too_long`, and closed.
        public var maxLine = 64 * 1024
        /// Reading stops while this much output waits for a client that does not read its replies.
        public var maxPendingOutput = 256 * 1024
        /// An unfinished line older than this closes the connection.
        public var partialLineTimeout: Duration = .seconds(10)
        /// A connection with nothing to do for this long is closed.
        public var idleTimeout: Duration = .seconds(300)
        /// Output waiting this long without the client reading any of it closes the connection.
        public var writeStallTimeout: Duration = .seconds(30)
        /// Lines answered per connection per loop turn (fairness between clients).
        public var linesPerTurn = 32
        public init() {}
    }

    let socket: ControlSocket
    let supervisor: Supervisor
    let sink: any HistorySink
    let access: ControlAccess
    let limits: Limits
    let reload: ReloadHook
    let logger: Logger

    private let epfd: Int32
    private let wakeFD: Int32
    private let completions = Mutex<[UInt64]>([])
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    private var connections: [Int32: ControlConnection] = [:]
    private var byID: [UInt64: Int32] = [:]
    private var nextConnectionID: UInt64 = 1
    private var nextSeq: UInt64 = 1
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    public init(socket: ControlSocket, supervisor: Supervisor, sink: any HistorySink, access: ControlAccess,
                limits: Limits = Limits(), logger: Logger, reload: @escaping ReloadHook = ControlServer.reloadUnavailable) throws(ControlError) {
        self.socket = socket
        self.supervisor = supervisor
        self.sink = sink
        self.access = access
        self.limits = limits
        self.reload = reload
        self.logger = logger
        epfd = histd_epoll_create()
        wakeFD = histd_eventfd_create()
        guard epfd >= 0, wakeFD >= 0 else { throw ControlError("control server setup: \(String(cString: strerror(errno)))") }
    }

    deinit { readBuffer.deallocate() }

    /// Starts the server thread.
    public func start() {
        _ = histd_epoll_add(epfd, socket.fd, UInt64(UInt32(bitPattern: socket.fd)))
        _ = histd_epoll_add(epfd, wakeFD, UInt64(UInt32(bitPattern: wakeFD)))
        let thread = Thread.named("histd-control") { [self] in
            run()
            finished.signal()
        }
        thread.start()
    }

    /// Stops the thread, closes every connection and the socket (removing its path), and returns.
    public func stop() {
        // wake() under the lock: `completed` (engine and reload threads) writes only while not stopped,
        // so nothing writes to the eventfd once it is closed below.
        stopped.withLock { s in
            s = true
            wake()
        }
        finished.wait()
        for c in connections.values { Glibc.close(c.fd) }
        connections.removeAll()
        socket.close()
        Glibc.close(epfd)
        Glibc.close(wakeFD)
    }

    private func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(wakeFD, $0.baseAddress, 8) }
    }

    /// epoll(7) event bits (Glibc's Swift module does not export them).
    static let epollIn: UInt32 = 0x001, epollOut: UInt32 = 0x004
    /// EPOLLIN | EPOLLERR | EPOLLHUP.
    static let epollReadable: UInt32 = 0x001 | 0x008 | 0x010

    static func now() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
    }

    // MARK: - Loop

    private func run() {
        var tags = [UInt64](repeating: 0, count: 64)
        var masks = [UInt32](repeating: 0, count: 64)
        while !stopped.withLock({ $0 }) {
            let busy = connections.values.contains { $0.inFlight == nil && !$0.closeAfterFlush && $0.input.contains(10) }
            // With no connection there is nothing to expire: sleep until the socket, a completion or stop()
            // (both write the eventfd) wakes the thread, instead of five wake-ups a second in an idle histd
            // (about 0.04 % of a core of the 0.07 % an idle histd with recording off spent; BENCHMARKS.md).
            let timeout: Int32 = busy ? 0 : connections.isEmpty ? -1 : 200
            let n = Sys.retrying { histd_epoll_wait(epfd, &tags, &masks, 64, timeout) }
            if n < 0 { logger.error("control: epoll_wait: \(String(cString: strerror(errno)))"); break }
            for i in 0..<max(0, Int(n)) {
                let fd = Int32(truncatingIfNeeded: tags[i])
                if fd == socket.fd { acceptAll(); continue }
                if fd == wakeFD {
                    var buf: UInt64 = 0
                    _ = Glibc.read(wakeFD, &buf, 8)
                    continue
                }
                guard let c = connections[fd] else { continue }
                if masks[i] & Self.epollOut != 0 { flush(c) }
                if masks[i] & Self.epollReadable != 0, connections[fd] != nil {
                    readFrom(c)
                }
            }
            for id in completions.withLock({ q in defer { q.removeAll() }; return q }) {
                if let fd = byID[id], let c = connections[fd] { settle(c) }
            }
            let now = Self.now()
            for c in Array(connections.values) {
                if c.inFlight != nil { settle(c, now: now) }
                if c.inFlight == nil { answerLines(c) }
                expire(c, now: now)
            }
        }
    }

    private func acceptAll() {
        while true {
            let fd = Sys.retrying { accept(socket.fd, nil, nil) }
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
            if fd < 0 {
                if errno != EAGAIN && errno != EWOULDBLOCK { logger.warning("control: accept: \(String(cString: strerror(errno)))") }
                return
            }
            guard connections.count < limits.maxConnections else {
                let busy = ControlReply.error(id: nil, "busy", "too many control connections (\(limits.maxConnections)); try again").line
                _ = busy.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                Glibc.close(fd)
                continue
            }
            guard let peer = PeerIdentity.of(socket: fd) else { Glibc.close(fd); continue }
            let c = ControlConnection(id: nextConnectionID, fd: fd, peer: peer, role: access.role(of: peer), now: Self.now())
            nextConnectionID += 1
            connections[fd] = c
            byID[c.id] = fd
            setInterest(c)
        }
    }

    private func setInterest(_ c: ControlConnection) {
        var want: UInt32 = 0
        if !c.readClosed && !c.closeAfterFlush && c.pendingOutput < limits.maxPendingOutput && c.input.count <= limits.maxLine {
            want |= Self.epollIn
        }
        if c.pendingOutput > 0 { want |= Self.epollOut }
        guard want != c.interest else { return }
        let tag = UInt64(UInt32(bitPattern: c.fd))
        if c.interest == 0 && !c.registered {
            _ = histd_epoll_add(epfd, c.fd, tag)
            c.registered = true
            _ = histd_epoll_modify(epfd, c.fd, tag, want)
        } else {
            _ = histd_epoll_modify(epfd, c.fd, tag, want)
        }
        c.interest = want
    }

    private func drop(_ c: ControlConnection) {
        _ = histd_epoll_del(epfd, c.fd)
        Glibc.close(c.fd)
        connections[c.fd] = nil
        byID[c.id] = nil
        // A request still waiting on the engine: the action goes on, and is recorded now with what is known.
        if let f = c.inFlight {
            c.inFlight = nil
            pendingReloads[c.id] = nil
            for p in f.parts { p.reply.answer(.timedOut("the client went away before the action took effect")) }
            let reply = f.request.verb == .reload
                ? ControlReply.error(id: f.request.id, "timeout", "the client went away before reload answered")
                : ControlAnswer.reply(for: f.request, parts: f.parts.map { ($0.name, $0.reply.outcome ?? .shuttingDown) })
            record(f.request, c, reply, seq: f.seq, time: f.time)
        }
    }

    // MARK: - Reading and writing

    private func readFrom(_ c: ControlConnection) {
        var budget = 64 * 1024
        while budget > 0, c.input.count <= limits.maxLine {
            let n = Sys.retrying { Glibc.read(c.fd, readBuffer.baseAddress, min(readBuffer.count, budget)) }
            if n > 0 {
                c.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
                budget -= n
                c.lastActivity = Self.now()
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            c.readClosed = true  // EOF or error: answer what is complete, then close
            break
        }
        if c.inFlight == nil { answerLines(c) }
        if connections[c.fd] == nil { return }
        if c.readClosed && c.inFlight == nil && !c.input.contains(10) && c.pendingOutput == 0 { return drop(c) }
        setInterest(c)
    }

    private func enqueue(_ c: ControlConnection, _ reply: ControlReply) {
        c.output.append(contentsOf: reply.line)
        flush(c)
    }

    private func flush(_ c: ControlConnection) {
        while c.pendingOutput > 0 {
            let n = Sys.retrying { c.output[c.outputStart...].withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) } }
            if n > 0 {
                c.outputStart += n
                c.lastActivity = Self.now()
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            return drop(c)  // the peer is gone
        }
        if c.outputStart > 0 && c.outputStart == c.output.count {
            c.output.removeAll(keepingCapacity: c.output.capacity <= 1 << 20)
            c.outputStart = 0
        }
        if c.pendingOutput == 0 && (c.closeAfterFlush || (c.readClosed && c.inFlight == nil && !c.input.contains(10))) {
            return drop(c)
        }
        setInterest(c)
    }

    private func expire(_ c: ControlConnection, now: Duration) {
        guard connections[c.fd] != nil else { return }
        if c.pendingOutput > 0 {
            if now - c.lastActivity > limits.writeStallTimeout { drop(c) }
            return
        }
        if c.inFlight != nil { return }
        if !c.input.isEmpty {
            if c.partialSince == nil { c.partialSince = now }
            if let since = c.partialSince, now - since > limits.partialLineTimeout {
                c.input.removeAll()
                c.closeAfterFlush = true
                enqueue(c, .error(id: nil, "timeout", "unfinished request line for \(HistDuration.format(limits.partialLineTimeout)); closing"))
            }
            return
        }
        c.partialSince = nil
        if now - c.lastActivity > limits.idleTimeout { drop(c) }
    }

    // MARK: - Requests

    /// Answers the complete lines in the input, one request at a time, up to `linesPerTurn`.
    private func answerLines(_ c: ControlConnection) {
        var answered = 0
        while connections[c.fd] != nil, c.inFlight == nil, !c.closeAfterFlush, answered < limits.linesPerTurn,
              c.pendingOutput < limits.maxPendingOutput {
            guard let nl = c.input.firstIndex(of: 10) else {
                if c.input.count > limits.maxLine {
                    c.input.removeAll()
                    c.closeAfterFlush = true
                    enqueue(c, .error(id: nil, "line_too_long", "request line longer than \(limits.maxLine) bytes; closing"))
                }
                break
            }
            guard nl <= limits.maxLine else {
                c.input.removeAll()
                c.closeAfterFlush = true
                enqueue(c, .error(id: nil, "line_too_long", "request line longer than \(limits.maxLine) bytes; closing"))
                break
            }
            let line = c.input[..<nl]
            defer { answered += 1 }
            let trimmed = line.last == 13 ? line.dropLast() : line
            let parsed = trimmed.allSatisfy({ $0 == 32 || $0 == 9 }) ? nil : Optional(ControlRequest.parse(trimmed))
            c.input.removeSubrange(...nl)
            c.partialSince = nil
            switch parsed {
            case nil: continue  // blank line
            case .failure(let reply)?: enqueue(c, reply)
            case .success(let request)?: begin(request, on: c)
            }
        }
        if connections[c.fd] != nil { setInterest(c) }
    }

    private func begin(_ request: ControlRequest, on c: ControlConnection) {
        let needed: ControlRole = request.verb.acts ? .control : .read
        guard c.role >= needed else {
            let what = c.role == .read ? "may only read (read_group)" : "is not root, histd's user, or in control_group/read_group"
            let reply = ControlReply.error(id: request.id, "refused", "refused: \(c.peer.user) (uid \(c.peer.uid)) \(what)")
            record(request, c, reply, seq: takeSeq(), time: .now())
            c.closeAfterFlush = true
            enqueue(c, reply)
            return
        }
        switch request.verb {
        case .status: enqueue(c, status(request))
        case .reload: beginReload(request, c)
        default: beginCommand(request, c)
        }
    }

    private func takeSeq() -> UInt64 {
        defer { nextSeq += 1 }
        return nextSeq
    }

    private func beginCommand(_ request: ControlRequest, _ c: ControlConnection) {
        let seq = takeSeq(), time = Timestamp.now()
        // Names first: an unknown name changes nothing at all.
        let known = supervisor.unitNames()
        let knownSet = Set(known)
        for name in request.names where !knownSet.contains(name) {
            let hint = NameSuggestion.closest(to: name, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            let reply = ControlReply.error(id: request.id, "no_such_unit", "no such program \"\(name)\"\(hint)")
            record(request, c, reply, seq: seq, time: time)
            return enqueue(c, reply)
        }
        var commands: [(String, SupervisorCommand)] = []
        switch request.verb {
        case .start: commands = request.names.map { ($0, .start(program: $0)) }
        case .stop: commands = request.names.map { ($0, .stop(program: $0)) }
        case .restart: commands = request.names.map { ($0, .restart(program: $0)) }
        case .signal:
            guard let sig = ControlSignals.number(request.signal ?? "", force: request.force) else {
                let name = (request.signal ?? "").uppercased()
                let why = name.hasSuffix("KILL") ? "KILL needs force (histctl signal --force KILL)"
                    : "signal \"\(request.signal ?? "")\" is not one of HUP INT QUIT USR1 USR2 TERM WINCH CONT (KILL with force)"
                let reply = ControlReply.error(id: request.id, "bad_request", why)
                record(request, c, reply, seq: seq, time: time)
                return enqueue(c, reply)
            }
            commands = request.names.map { ($0, .signal(program: $0, signal: sig)) }
        case .scale: commands = [(request.names[0], .scale(pool: request.names[0], count: request.count ?? 0))]
        case .status, .reload: return
        }
        let options = CommandOptions(wait: request.wait, operatorAction: seq)
        let id = c.id
        var parts: [(name: String, reply: CommandReply)] = []
        for (name, command) in commands {
            let reply = supervisor.post(command, options: options)
            reply.onComplete { [weak self] _ in self?.completed(id) }
            parts.append((name, reply))
        }
        let now = Self.now()
        c.inFlight = ControlConnection.InFlight(request: request, started: now, deadline: now + request.timeout, time: time,
                                                seq: seq, parts: parts, reloadAnswer: nil)
        settle(c, now: now)
    }

    private func beginReload(_ request: ControlRequest, _ c: ControlConnection) {
        let seq = takeSeq(), now = Self.now()
        c.inFlight = ControlConnection.InFlight(request: request, started: now, deadline: now + request.timeout, time: .now(),
                                                seq: seq, parts: [], reloadAnswer: nil)
        let hook = reload, peer = c.peer, id = c.id, box = ReloadBox()
        pendingReloads[id] = box
        let thread = Thread.named("histd-reload") { [weak self] in
            box.answer.withLock { $0 = hook(request.dryRun, peer) }
            self?.completed(id)
        }
        thread.start()
    }

    final class ReloadBox: Sendable { let answer = Mutex<ControlReply?>(nil) }
    private var pendingReloads: [UInt64: ReloadBox] = [:]

    /// Called on the engine's (or the reload) thread when a reply completes: queue and wake, nothing more.
    private func completed(_ connection: UInt64) {
        completions.withLock { $0.append(connection) }
        stopped.withLock { if !$0 { wake() } }
    }

    /// Answers the connection's request if every part is complete, or its deadline passed.
    private func settle(_ c: ControlConnection, now: Duration = ControlServer.now()) {
        guard var f = c.inFlight else { return }
        if f.request.verb == .reload {
            if let box = pendingReloads[c.id], let answer = box.answer.withLock({ $0 }) { f.reloadAnswer = answer }
            if f.reloadAnswer == nil && now < f.deadline { return }
            pendingReloads[c.id] = nil
            var reply = f.reloadAnswer ?? .error(id: nil, "timeout", "reload did not answer within \(HistDuration.format(f.request.timeout))")
            reply.id = f.request.id
            c.inFlight = nil
            record(f.request, c, reply, seq: f.seq, time: f.time, argument: f.request.dryRun ? "dry_run" : nil)
            enqueue(c, reply)
            return
        }
        if now >= f.deadline {
            for p in f.parts where !p.reply.isComplete {
                p.reply.answer(.timedOut("not done within \(HistDuration.format(f.request.timeout)) (the action goes on)"))
            }
        }
        guard f.parts.allSatisfy({ $0.reply.isComplete }) else { return }
        c.inFlight = nil
        let reply = ControlAnswer.reply(for: f.request, parts: f.parts.map { ($0.name, $0.reply.outcome ?? .shuttingDown) })
        var argument: String?
        if f.request.verb == .signal { argument = f.request.signal?.uppercased() }
        if f.request.verb == .scale { argument = f.request.count.map(String.init) }
        record(f.request, c, reply, seq: f.seq, time: f.time, argument: argument)
        enqueue(c, reply)
    }

    /// Records the operator action (through the writer; never waits).
    private func record(_ request: ControlRequest, _ c: ControlConnection, _ reply: ControlReply, seq: UInt64, time: Timestamp,
                        argument: String? = nil) {
        let p = c.peer
        let action = OperatorAction(seq: seq, action: request.verb.rawValue, programs: request.names, result: reply.result,
                                    message: reply.message, uid: p.uid, gid: p.gid, user: p.user, pid: p.pid, comm: p.comm,
                                    argument: argument)
        // The program column only for one known program or pool, so a mistyped name never becomes a program row.
        var program = ""
        if request.names.count == 1, reply.result != "no_such_unit", supervisor.status().contains(where: { $0.unit.program == request.names[0] }) {
            program = request.names[0]
        }
        sink.record(HistEvent(time: time, program: program, payload: .operatorAction(action)))
        logger.notice("control: \(p.user) (uid \(p.uid), pid \(p.pid), \(p.comm)) \(request.verb.rawValue) \(request.names.joined(separator: " ")): \(reply.result)")
    }

    // MARK: - Status

    private func status(_ request: ControlRequest) -> ControlReply {
        let all = supervisor.status()
        var chosen = all
        if !request.names.isEmpty {
            let known = Array(Set(all.map(\.unit.program) + all.map(\.unit.description))).sorted()
            for name in request.names where !known.contains(name) {
                let hint = NameSuggestion.closest(to: name, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
                return .error(id: request.id, "no_such_unit", "no such program \"\(name)\"\(hint)")
            }
            let names = Set(request.names)
            chosen = all.filter { names.contains($0.unit.program) || names.contains($0.unit.description) }
        }
        let now = Timestamp.now().milliseconds
        var units = "["
        for (i, u) in chosen.enumerated() {
            if i > 0 { units += "," }
            units += "{\"name\":\(QuotedJSON.quote(u.unit.description)),\"program\":\(QuotedJSON.quote(u.unit.program))"
            units += ",\"worker\":\(u.unit.workerIndex.map(String.init) ?? "null"),\"state\":\"\(u.state.rawValue)\""
            if let i = u.instance {
                units += ",\"pid\":\(i.identity.pid),\"uptime_ms\":\(max(0, now - i.startedAt.milliseconds))"
            } else {
                units += ",\"pid\":null,\"uptime_ms\":null"
            }
            let backoff = u.backoffRemaining.map { String($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) } ?? "null"
            units += ",\"backoff_remaining_ms\":\(backoff),\"restarts\":\(u.restarts)}"
        }
        units += "]"
        return ControlReply(id: request.id, ok: true, result: "done", message: "\(chosen.count) unit(s), live from histd pid \(getpid())",
                            members: [("live", "true"), ("histd_pid", "\(getpid())"), ("units", units)])
    }
}
