#include "CSQLiteGuard.h"

#include <sqlite3.h>
#include <time.h>

int histd_sqlite_harden(void *p) {
    sqlite3 *db = (sqlite3 *)p;
    int rc, on;
    if ((rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on)) != SQLITE_OK) return rc;
    if ((rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, &on)) != SQLITE_OK) return rc;
    /* trusted_schema stays on: histd's own views call json_extract(), which SQLite 3.40 does not mark
       innocuous, so trusted_schema = OFF makes them fail ("unsafe use of json_extract()"). The schema
       is histd's (a read-only connection cannot change it), and defensive mode guards the rest. */
    if ((rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &on)) != SQLITE_OK) return rc;
    return 0;
}

int histd_sqlite_is_defensive(void *p) {
    int on = -1;
    if (sqlite3_db_config((sqlite3 *)p, SQLITE_DBCONFIG_DEFENSIVE, -1, &on) != SQLITE_OK) return -1;
    return on ? 1 : 0;
}

uint64_t histd_sqlite_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int past_deadline(void *p) {
    uint64_t deadline = *(const uint64_t *)p;
    return deadline != 0 && histd_sqlite_monotonic_ns() > deadline;  // non-zero interrupts the statement
}

void histd_sqlite_install_deadline(void *p, const uint64_t *deadline_ns) {
    // Every 1000 VM instructions: microseconds apart, so the check costs nothing measurable.
    sqlite3_progress_handler((sqlite3 *)p, 1000, past_deadline, (void *)deadline_ns);
}
