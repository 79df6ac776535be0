// sqlite3_db_config is variadic, which Swift cannot call; and a progress handler that enforces a
// deadline is cheapest as a C callback. Both for histctl's read-only connection to untrusted SQL.
#ifndef HISTD_CSQLITEGUARD_H
#define HISTD_CSQLITEGUARD_H

#include <stdint.h>

/// Hardens a connection (`sqlite3 *` as an opaque pointer) for statements from outside:
/// SQLITE_DBCONFIG_DEFENSIVE on, the two-argument fts3_tokenizer() off, load_extension() off. Returns 0, or the SQLite error code of the first setting that failed.
int histd_sqlite_harden(void *db);

/// 1 when SQLITE_DBCONFIG_DEFENSIVE is on for `db`, 0 when off, -1 on error.
int histd_sqlite_is_defensive(void *db);

/// Installs a progress handler that interrupts any statement once CLOCK_MONOTONIC passes
/// `*deadline_ns` (0 = no deadline). `deadline_ns` must stay valid while the connection is open.
void histd_sqlite_install_deadline(void *db, const uint64_t *deadline_ns);

/// CLOCK_MONOTONIC now, in nanoseconds.
uint64_t histd_sqlite_monotonic_ns(void);

#endif
