#if canImport(Glibc)
import Glibc
#endif
import CShim
import Testing
import TestThreads

/// histd_spawn clones the child with a shared fd table and gives it a private one of only the fds below
/// its three reserved slots (close_range with CLOSE_RANGE_UNSHARE). These tests pin what that must keep:
/// the child's stdio, EOF on its pipes once it exits, and histd's own fds untouched.
@Suite("histd_spawn through its fd slots", .serialized, .blocking)
struct SpawnSlotTests {
    /// Spawns argv with stdout (and stderr) on a fresh pipe; returns the pid and the read end.
    static func spawnPiped(_ argv: [String]) throws -> (pid: pid_t, read: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw TestProc.SpawnError(step: "pipe", errno: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var childErrno: Int32 = 0
        var step: UnsafePointer<CChar>?
        let pid = cArgs.withUnsafeMutableBufferPointer { args in
            var opts = histd_spawn_opts()
            opts.path = UnsafePointer(args[0])
            opts.argv = UnsafePointer(args.baseAddress!)
            opts.envp = UnsafePointer(environ)
            opts.stdin_fd = -1
            opts.stdout_fd = fds[1]
            opts.stderr_fd = fds[1]
            opts.new_session = 1
            return histd_spawn(&opts, &childErrno, &step)
        }
        close(fds[1])
        guard pid > 0 else {
            close(fds[0])
            throw TestProc.SpawnError(step: step.map { String(cString: $0) } ?? "?", errno: childErrno)
        }
        return (pid, fds[0])
    }

    /// Reads `fd` until EOF, or nil when no EOF came within `seconds` (someone still holds the write end).
    static func readToEOF(_ fd: Int32, seconds: Int32 = 10) -> String? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, seconds * 1000) > 0 else { return nil }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return String(decoding: out, as: UTF8.self) }
            out += buffer[0..<n]
        }
    }

    @Test("the child's output arrives and its pipe reaches EOF at exit: no slot keeps the write end")
    func pipeEOF() throws {
        for round in 0..<3 {
            let (pid, fd) = try Self.spawnPiped(["/bin/sh", "-c", "echo out \(round); echo err \(round) >&2"])
            defer { close(fd); TestProc.killAndReap(pid) }
            let text = try #require(Self.readToEOF(fd))
            #expect(text == "out \(round)\nerr \(round)\n")
        }
        #expect(histd_spawn_slots_top() > 3)
    }

    @Test("with thousands of fds open the child inherits none of those above its slots")
    func manyFDs() throws {
        // The fds are opened WITHOUT O_CLOEXEC after the slots are reserved, so they all sit above the
        // slots' top: a plain vfork + exec would hand every one of them to the child; close_range must not.
        // (fds below the top belong to the test process and to tests running beside this one; they are
        // not histd_spawn's to close, so they are not judged here.)
        #expect(histd_spawn_reserve_slots() == 0)
        let top = histd_spawn_slots_top()
        #expect(top > 3)
        var opened: [Int32] = []
        defer { for fd in opened { close(fd) } }
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let room = Int(min(limit.rlim_cur, 65_536)) - 256
        for _ in 0..<min(3000, max(0, room)) {
            let fd = open("/dev/null", O_RDONLY)
            if fd < 0 { break }
            opened.append(fd)
        }
        // A test beside this one may free a low fd meanwhile, so judge only the ones above the top.
        let ours = Set(opened.filter { $0 >= top })
        #expect(ours.count >= 500)
        let (pid, fd) = try Self.spawnPiped(["/bin/sh", "-c", "cd /proc/self/fd && echo *"])
        defer { close(fd); TestProc.killAndReap(pid) }
        let text = try #require(Self.readToEOF(fd))
        let listed = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int32($0) }
        #expect(listed.contains(0) && listed.contains(1) && listed.contains(2))
        // The shell's glob reads its directory with one fd of its own, which may take a free number
        // that was one of ours in the parent: at most one match.
        let inherited = listed.filter { ours.contains($0) }
        #expect(inherited.count <= 1, "the child inherited \(inherited.count) of the \(ours.count) fds above the slots: \(inherited.prefix(10))")
    }

    @Test("histd's own stdio fds are not touched by a spawn")
    func parentStdioUntouched() throws {
        func identity(_ fd: Int32) -> (UInt, UInt)? {
            var st = stat()
            return fstat(fd, &st) == 0 ? (UInt(st.st_dev), UInt(st.st_ino)) : nil
        }
        let before = (0...2).map { identity(Int32($0)) }
        let (pid, fd) = try Self.spawnPiped(["/bin/true"])
        defer { close(fd); TestProc.killAndReap(pid) }
        _ = Self.readToEOF(fd)
        let after = (0...2).map { identity(Int32($0)) }
        for i in 0...2 {
            #expect(before[i]?.0 == after[i]?.0 && before[i]?.1 == after[i]?.1, "fd \(i) changed")
        }
    }
}
