import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Thread {
    /// A thread (not started) that runs `body` under `name`, and whose name the kernel knows too, so
    /// `top -H`, `ps -L`, `perf` and gdb tell histd's threads apart during an incident.
    ///
    /// Why not `Thread.name` alone: on Linux, Foundation keeps it to itself here, and every histd thread
    /// showed the name of the dispatch worker it was created from ("oot.default-qos", the 15-byte tail of
    /// libdispatch's root queue label). The kernel takes at most 15 bytes, so the name is cut at a
    /// character boundary: "histd-metrics-textfile" shows as "histd-metrics-t".
    package static func named(_ name: String, _ body: @escaping @Sendable () -> Void) -> Thread {
        let kernelName = Self.kernelName(name)
        let thread = Thread {
            setKernelName(kernelName)
            body()
        }
        thread.name = name
        return thread
    }

    /// Names the calling thread for the kernel. Through /proc/thread-self/comm (proc(5)) because Swift's
    /// Glibc module does not export `pthread_setname_np` and `prctl` is variadic. Without /proc it stays
    /// unnamed, which changes nothing else.
    private static func setKernelName(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        var bytes = Array(name.utf8)
        _ = Sys.retrying { write(fd, &bytes, bytes.count) }
        close(fd)
    }

    /// `name` cut to the 15 bytes a kernel thread name holds, never inside a character.
    package static func kernelName(_ name: String) -> String {
        var out = ""
        for c in name {
            guard out.utf8.count + String(c).utf8.count <= 15 else { break }
            out.append(c)
        }
        return out
    }
}
