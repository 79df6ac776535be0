import Testing

/// The randomized rollup and reader equivalence suites, one at a time.
///
/// Why: each compares a rollup (or the one-pass usage reader) with raw rows on several seeded writer
/// histories, seconds of synchronous SQLite work per case. Swift Testing runs tests as tasks on the
/// cooperative pool, which has one thread per core: with these suites' cases in parallel, a 2-core box
/// had both threads busy for ~65 s, and tests elsewhere whose waits have deadlines (a reload's worker
/// replacement, 20 s) starved. Serialized, they hold at most one thread.
@Suite(.serialized) enum RandomizedHistories {}
