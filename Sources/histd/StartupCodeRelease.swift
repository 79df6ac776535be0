import CShim
import Foundation
import Logging
import HistSys
#if canImport(Glibc)
import Glibc
#endif

/// Hands back to the kernel the pages of machine code that histd mapped but no longer runs.
///
/// Why: an idle histd with 500 programs had 15 MiB of its own 28 MiB of code resident, half its PSS,
/// yet a running histd uses a few MiB of it (the engine loop, the sampler, the writer, the scan).
/// Start-up touches much more (argument parsing, TOML, migrations, the Swift runtime's first lookups),
/// and the kernel maps 64 KiB around every page fault of a file mapping ("fault-around"), so those
/// pages stayed mapped for histd's whole life. `MADV_PAGEOUT` on the read-only file mappings drops them;
/// what histd still runs faults back in (minor faults: the file stays in the page cache unless nothing
/// else maps it). Done once start-up is over, then every 10 minutes, so code that runs rarely (an hourly
/// prune, a reload) is not kept mapped either (BENCHMARKS.md: PSS 31.3 → 19.4 MiB in shared/bench).
///
/// Only mappings that are read-only, private and file-backed (`r-xp`, `r--p` with a path): their clean
/// pages are the file's, and `MADV_PAGEOUT` never discards data (a page written since the mapping, such
/// as relocated RELRO, is anonymous and stays without swap), and it skips any page another process also
/// maps (libc's, a second histd's), so no one else pays. A kernel without `MADV_PAGEOUT` (< 5.4) answers
/// EINVAL and nothing changes.
enum StartupCodeRelease {
    /// `MADV_PAGEOUT` (linux/mman.h); Swift's Glibc module may predate it.
    static let pageout: Int32 = 21

    /// The first release, 3 s after the services started. The initial spawns and their log opens are done
    /// before the services start, and the first sweep and the first scan come 1 s after them (Watcher).
    /// This used to be 30 s, a margin with no reason behind it. That kept start-up's pages mapped 27 s
    /// longer, and it put the release into the first minute in which an idle histd is measured. The
    /// release costs 11–13 ms of CPU once, the kernel's reclaim of ~15 MiB (BENCHMARKS.md, "Recording off").
    static let first: Duration = .seconds(3)
    /// Then again at this interval, for the rarely run code since.
    static let every: Duration = .seconds(600)

    /// Starts the thread that releases at `first`, then at each `every`, for the process's life (it
    /// sleeps between releases and holds nothing; histd's exit ends it).
    static func schedule(logger: Logger) {
        Thread.named("histd-trim") {
            var wait = first
            while true {
                Thread.sleep(forTimeInterval: Double(wait.components.seconds))
                let released = release()
                // And the heap freed since (start-up's config, the program configs' JSON): glibc keeps
                // freed pages of its arenas mapped until told.
                _ = histd_malloc_trim(0)
                logger.trace("advised \(released / 1024) KiB of read-only file mappings out (MADV_PAGEOUT)")
                wait = every
            }
        }.start()
    }

    /// Advises every read-only file mapping of this process out; returns their total size in bytes.
    @discardableResult
    static func release() -> Int {
        // Not Foundation's String(contentsOfFile:): it takes one read(2) of a procfs file, the first ~4 KiB
        // of /proc/self/maps, so only the first dozen of histd's ~55 mappings were advised (PSS 19 -> 30 MiB
        // in shared/bench when the libraries' lines moved past that page). Sys.readText reads to the end.
        guard let maps = Sys.readText("/proc/self/maps", limit: 16 << 20) else { return 0 }
        var total = 0
        for range in readOnlyFileRanges(maps) {
            let length = Int(range.upperBound - range.lowerBound)
            if madvise(UnsafeMutableRawPointer(bitPattern: UInt(range.lowerBound)), length, pageout) == 0 { total += length }
        }
        return total
    }

    /// The address ranges of the `r-xp` and `r--p` mappings backed by a file, from /proc/PID/maps text.
    static func readOnlyFileRanges(_ maps: String) -> [Range<UInt64>] {
        maps.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "r-xp" || fields[1] == "r--p", fields[5].hasPrefix("/") else { return nil }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let lo = UInt64(bounds[0], radix: 16), let hi = UInt64(bounds[1], radix: 16), hi > lo else { return nil }
            return lo..<hi
        }
    }
}
