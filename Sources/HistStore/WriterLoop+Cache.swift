import GRDB

/// The write connection's page cache and checkpoint interval: SQLite's defaults (about 2 MB of cache, a
/// checkpoint every 1,000 WAL pages) while the writer keeps up, larger while a backlog of more than
/// `maxBatchSize` items waits (a crash storm), and the defaults again as soon as the writer finds the
/// queue empty.
///
/// Why (measured with `histbench record`, BENCHMARKS.md "Crash-loop writes"): a crash loop over many
/// programs writes the instances indexes that lead with `program_id` or `pid` at as many places as there
/// are programs, so each transaction touches far more pages than the default cache holds (every page
/// evicted is read back with pread by the next transaction), and it rewrites the same pages transaction
/// after transaction, while a checkpoint copies (and fsyncs) each page once however many times the WAL
/// holds it. Kept for good, the cache would cost its megabytes in every idle histd, and a long checkpoint
/// interval makes each checkpoint a longer pause in commits under light load (p99 record -> commit
/// 4.6 -> 18 ms at 1,000 events/s); the backlog is when both pay. Lowering `cache_size` makes SQLite free
/// the pages above the new limit at once. Neither PRAGMA is transactional or changes a row: what is
/// recorded is the same either way.
extension WriterLoop {
    struct CacheSetting: Equatable {
        /// `PRAGMA cache_size = -kib`.
        var kib: Int
        /// `PRAGMA wal_autocheckpoint`, in pages.
        var checkpointPages: Int
        /// SQLite's own defaults (`SQLITE_DEFAULT_CACHE_SIZE`, `SQLITE_DEFAULT_WAL_AUTOCHECKPOINT`).
        static let idle = CacheSetting(kib: 2000, checkpointPages: 1000)
        /// 16 MiB of cache; a checkpoint every 32 MiB of WAL (half of `journal_size_limit`).
        static let backlog = CacheSetting(kib: 16384, checkpointPages: 8192)
    }

    mutating func useBurstCache() {
        if apply(.backlog) { burstCache = true }
    }

    mutating func releaseBurstCache() {
        // Cleared even when the PRAGMAs fail (the connection was lost: a new one starts at the defaults).
        _ = apply(.idle)
        burstCache = false
    }

    /// False when there is no open connection or a PRAGMA fails (a storage fault, which the next write
    /// reports; the cache does not matter then).
    private func apply(_ setting: CacheSetting) -> Bool {
        guard slot.isOpen else { return false }
        do {
            try slot.openIfNeeded().inDatabase { db in
                try db.execute(sql: "PRAGMA cache_size = -\(setting.kib)")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(setting.checkpointPages)")
            }
            return true
        } catch {
            return false
        }
    }
}
