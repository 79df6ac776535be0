import Foundation
import HistModel
import Testing

/// The spec JSON the history keeps (programs.config) never holds env_file values.
@Suite struct ExecContextTests {
    @Test func envFileValuesAreNotEncoded() throws {
        let exec = ExecContext(umask: 0o027, clearEnv: true, envFile: ["DB_PASSWORD": "hunter2", "A": "1"],
                               rlimits: [ResourceLimit(name: "nofile", value: 1024)], noNewPrivileges: true)
        let spec = ProgramSpec(name: "web", command: ["/bin/true"], exec: exec)
        let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        #expect(!json.contains("hunter2"))
        #expect(json.contains("DB_PASSWORD"))
        let back = try JSONDecoder().decode(ProgramSpec.self, from: Data(json.utf8))
        #expect(back.exec.envFile == ["DB_PASSWORD": "", "A": ""])
        #expect(back.exec.umask == 0o027 && back.exec.clearEnv && back.exec.noNewPrivileges)
        #expect(back.exec.rlimits == exec.rlimits)
    }
}
