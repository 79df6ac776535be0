import Foundation
import Testing
@testable import HistControl

#if canImport(Glibc)
import Glibc
#endif

/// The control socket is created safely: what is at its path decides whether histd may take it.
@Suite struct ControlSocketTests {
    func tempDir() -> String {
        let d = NSTemporaryDirectory() + "histcontrol-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func createsTheFolderWithMode0750AndTheSocketWith0660AndRemovesItAtClose() throws {
        let d = tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let path = d + "/run/control.sock"
        let socket = try ControlSocket(path: path, group: nil)
        var st = stat()
        #expect(stat(d + "/run", &st) == 0 && st.st_mode & 0o7777 == 0o750)
        #expect(lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK && st.st_mode & 0o777 == 0o660)
        socket.close()
        #expect(lstat(path, &st) != 0)
    }

    @Test func aLiveSocketIsRefusedAndAStaleOneIsReplaced() throws {
        let d = tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let path = d + "/control.sock"
        let first = try ControlSocket(path: path, group: nil)
        #expect(throws: ControlError.self) { try ControlSocket(path: path, group: nil) }
        // Stale: the listener is gone, the file is left (as after kill -9).
        Glibc.close(first.fd)
        let second = try ControlSocket(path: path, group: nil)
        second.close()
    }

    @Test("anything else at the path is never removed", arguments: ["file", "symlink", "dangling symlink"])
    func notASocket(kind: String) throws {
        let d = tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let path = d + "/control.sock"
        let target = d + "/precious"
        try "keep me".write(toFile: target, atomically: true, encoding: .utf8)
        switch kind {
        case "file": try "keep me".write(toFile: path, atomically: true, encoding: .utf8)
        case "symlink": symlink(target, path)
        default: symlink(d + "/nothing-here", path)
        }
        #expect(throws: ControlError.self) { try ControlSocket(path: path, group: nil) }
        var st = stat()
        #expect(lstat(path, &st) == 0, "the path was removed")
        #expect((try? String(contentsOfFile: target, encoding: .utf8)) == "keep me")
    }

    @Test func aFolderAnyoneMayWriteIsRefused() throws {
        let d = tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        chmod(d, 0o777)
        #expect(throws: ControlError.self) { try ControlSocket(path: d + "/control.sock", group: nil) }
        chmod(d, 0o1777)
        let ok = try ControlSocket(path: d + "/control.sock", group: nil)
        ok.close()
    }

    @Test("signal names", arguments: [("HUP", false, SIGHUP), ("sigterm", false, SIGTERM), ("KILL", false, nil),
                                      ("KILL", true, SIGKILL), ("STOP", true, nil), ("USR2", false, SIGUSR2)] as [(String, Bool, Int32?)])
    func signals(name: String, force: Bool, expected: Int32?) {
        #expect(ControlSignals.number(name, force: force) == expected)
    }
}
