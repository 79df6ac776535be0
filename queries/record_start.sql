-- record_start: where this database's record of events begins, for the postmortem: a window that starts
-- earlier is incomplete before it (retention pruned older events, or the file did not exist yet: a new
-- host, or a file recreated after it was deleted).
-- Parameters: none.
-- Columns:
--   ts   the time of the oldest stored event (ms UTC); no row when there is no event at all
-- Plan: the first row in primary-key order, one seek (min(ts) would read every event: no index starts
-- with ts). Ids grow with insertion, and a fact is inserted at most a few seconds after its time (facts
-- held through a storage outage: its length), so this is the oldest event to within that.
SELECT ts FROM events ORDER BY id LIMIT 1;
