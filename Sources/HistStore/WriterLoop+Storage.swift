import HistModel

/// The writer's storage-fault path: the file identity timer, the state reported once per change, and the
/// outage it records (StorageHealth). Kept apart from the batching in WriterLoop.swift.
extension WriterLoop {
    static func earlier(_ a: Duration?, _ b: Duration?) -> Duration? {
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }

    /// How long an idle writer may sleep before its next check of the file. While `DatabaseFileWatch`
    /// reports the folder's changes, only the backstop: a change wakes the writer through the queue.
    func untilNextFileCheck() -> Duration? {
        guard options.fileCheckEvery > .zero else { return nil }
        let now = MonotonicInstant.now()
        let every = fileWatch?.isActive == true ? max(options.fileCheckEvery, DatabaseFileWatch.backstop) : options.fileCheckEvery
        let due = lastFileCheck.adding(every)
        return due > now ? due.since(now) : .zero
    }

    /// On a timer (`fileCheckEvery`, not per batch) while writing, at once when `DatabaseFileWatch` saw
    /// the name change: is the file histd has open still the one at its path? A deleted or replaced
    /// database is closed here, and the next write recreates it and records the run again, so the rest of
    /// this run is not written into an unlinked inode that nobody can read.
    mutating func checkFileIfDue() {
        guard options.fileCheckEvery > .zero else { return }
        let now = MonotonicInstant.now()
        let changedAtMs = queue.takeFileCheckRequest()
        guard changedAtMs != nil || now >= lastFileCheck.adding(options.fileCheckEvery) else { return }
        lastFileCheck = now
        guard let found = slot.checkFile() else {
            if slot.isOpen { fileSeenMs = Timestamp.now().milliseconds }
            return
        }
        // The watch knows when the name first changed since the last check; without it, the last check
        // or commit is the last time the file was known to be in place.
        let lastSeenMs = changedAtMs ?? fileSeenMs
        let written = queue.stats.written
        let change = found.change
        let notice = health.fileChanged(change, stillLinked: found.stillLinked, movedTo: found.movedTo,
                                        lostSinceMs: fileSinceMs, lastSeenMs: lastSeenMs,
                                        lostWritten: written &- writtenAtOpen,
                                        dropped: queue.droppedTotal, setAside: found.setAside)
        writtenAtOpen = written
        fileSinceMs = lastSeenMs
        report(notice)
        // The new file knows nothing of this run: record it again first (the writer's first item, as at
        // start); instance rows and program ids are the new file's. A writer without a run of its own
        // (tools, tests) writes the rest without a run id rather than pointing at a run that is not there.
        session = WriteSession(runID: nil)
        if let runRequest { pendingRun = runRequest }
        failure = notice.state.rawValue
    }

    mutating func noteFailure(_ reason: String, _ message: String) {
        failure = reason
        if let n = health.failed(reason: reason, message: message, nowMs: Timestamp.now().milliseconds,
                                 dropped: queue.droppedTotal, held: retained.count) {
            report(n)
        }
    }

    mutating func noteDropping() {
        health.held(retained.count)
        // Only while drops are not yet recorded, and cheap: one counter read under the queue's lock.
        let dropped = queue.droppedTotal
        guard dropped > 0, let n = health.dropping(dropped: dropped, held: retained.count) else { return }
        report(n)
    }

    mutating func noteCommitted(gapWritten: Bool) {
        if let n = health.committed(nowMs: Timestamp.now().milliseconds, dropped: queue.droppedTotal, gapWritten: gapWritten) {
            report(n)
        }
        fileSeenMs = Timestamp.now().milliseconds
    }

    func report(_ notice: StorageNotice) {
        options.onStorageState?(notice)
    }
}
