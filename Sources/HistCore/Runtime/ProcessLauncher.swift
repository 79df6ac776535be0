#if canImport(Glibc)
import Glibc
#endif
import CShim
import HistModel
import HistSys

/// A process that was spawned: its identity, a pidfd (or -1 on kernels without pidfd), and the
/// read ends of its stdout/stderr pipes (non-blocking).
struct LaunchedProcess {
    var pid: Int32
    var startTicks: UInt64
    var pidfd: Int32
    var stdoutFD: Int32
    var stderrFD: Int32
}

/// Why a spawn failed: the child's errno and the step ("execve", "chdir", "pipe2", ...).
struct LaunchFailure: Error {
    var errno: Int32
    var step: String
}

/// Starts processes with CShim's vfork+execve (`histd_spawn`): signal mask and dispositions reset,
/// own session (so the pgid is the pid and a stop reaches the whole tree), cgroups joined before exec.
enum ProcessLauncher {
    static func launch(argv: [String], environment: [String: String], cwd: String?,
                       cgroupProcs: [String], exec: ExecContext = ExecContext()) -> Result<LaunchedProcess, LaunchFailure> {
        guard let path = argv.first, !path.isEmpty else {
            return .failure(LaunchFailure(errno: ENOENT, step: "execve"))
        }
        guard let outPipe = Sys.makePipe() else { return .failure(LaunchFailure(errno: errno, step: "pipe2")) }
        guard let errPipe = Sys.makePipe() else {
            let e = errno
            Sys.close(outPipe.read); Sys.close(outPipe.write)
            return .failure(LaunchFailure(errno: e, step: "pipe2"))
        }
        let envStrings = environment.map { "\($0.key)=\($0.value)" }
        var childErrno: Int32 = 0
        var failedStep: UnsafePointer<CChar>? = nil

        // Numbers only: names were resolved when the config loaded (the vfork child cannot call NSS).
        let limits: [histd_rlimit] = exec.rlimits.compactMap { limit in
            let resource = histd_rlimit_resource(limit.name)
            return resource < 0 ? nil : histd_rlimit(resource: resource, value: limit.value ?? UInt64.max)
        }
        let groups: [gid_t] = exec.identity?.groups ?? []

        let pid: pid_t = withCStringArray(argv) { cArgv in
            withCStringArray(envStrings) { cEnv in
                withCStringArray(cgroupProcs) { cCgroups in
                    path.withCString { cPath in
                        withOptionalCString(cwd) { cCwd in
                            var opts = histd_spawn_opts()
                            opts.path = cPath
                            opts.argv = cArgv
                            opts.envp = cEnv
                            opts.cwd = cCwd
                            opts.stdin_fd = -1
                            opts.stdout_fd = outPipe.write
                            opts.stderr_fd = errPipe.write
                            opts.new_session = 1
                            opts.pdeathsig = 0
                            if let mask = exec.umask { opts.set_umask = 1; opts.umask_value = Int32(mask) }
                            opts.no_new_privs = exec.noNewPrivileges ? 1 : 0
                            if let id = exec.identity {
                                opts.set_groups = 1
                                opts.group_count = Int32(groups.count)
                                opts.set_gid = 1
                                opts.gid = id.gid
                                if let uid = id.uid { opts.set_uid = 1; opts.uid = uid }
                            }
                            return limits.withUnsafeBufferPointer { cLimits in
                                groups.withUnsafeBufferPointer { cGroups in
                                    opts.rlimits = cLimits.baseAddress
                                    opts.rlimit_count = Int32(cLimits.count)
                                    opts.groups = cGroups.baseAddress
                                    return cgroupProcs.isEmpty
                                        ? histd_spawn(&opts, &childErrno, &failedStep)
                                        : cCgroups.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: cgroupProcs.count + 1) {
                                            opts.cgroup_procs = $0
                                            return histd_spawn(&opts, &childErrno, &failedStep)
                                        }
                                }
                            }
                        }
                    }
                }
            }
        }
        Sys.close(outPipe.write)
        Sys.close(errPipe.write)
        guard pid > 0 else {
            Sys.close(outPipe.read)
            Sys.close(errPipe.read)
            let step = failedStep.map { String(cString: $0) } ?? "spawn"
            return .failure(LaunchFailure(errno: childErrno, step: step))
        }
        Sys.setNonBlocking(outPipe.read)
        Sys.setNonBlocking(errPipe.read)
        let pidfd = histd_pidfd_open(pid)
        if pidfd >= 0 { _ = fcntl(pidfd, F_SETFD, FD_CLOEXEC) }
        return .success(LaunchedProcess(pid: pid, startTicks: histd_proc_start_ticks(pid), pidfd: pidfd,
                                        stdoutFD: outPipe.read, stderrFD: errPipe.read))
    }

    /// Calls `body` with a NULL-terminated `char *const *` built from `strings`.
    private static func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private static func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let s else { return body(nil) }
        return s.withCString { body($0) }
    }
}
