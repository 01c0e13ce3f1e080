/* The escher-scheduler integration fixture: a migrated private database
 * (tests/support/pgtest.h) with a login role that is only a member of
 * escher_worker (the scheduler takes the role itself), two tenants, the real
 * escher-scheduler binary spawned with its log in a file, and SQL helpers.
 *
 * Every helper asserts with cmocka. */
#ifndef ESCHER_TESTS_SCHEDULER_STEST_H
#define ESCHER_TESTS_SCHEDULER_STEST_H

#include "support/pgtest.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct stest {
    bool ready; /* false: no test database, every test skips */
    pgtest db;
    PGconn *conn;  /* the test program's own (superuser) connection */
    char url[600]; /* the test database as db.role (a member of escher_worker) */
    char tmpdir[256];
    char tenant_a[40], tenant_b[40];
    int nlogs;
    pid_t live[8]; /* schedulers started and not yet stopped */
} stest;

extern stest S;

/* cmocka group setup/teardown; per-test setup kills any scheduler a failed
 * test left running and empties schedules and jobs. */
int st_setup(void **state);
int st_teardown(void **state);
int st_each(void **state);
/* Skips the test (from its body) when there is no database. */
void st_need(void);

/* ---- schedulers ---- */

typedef struct st_proc {
    pid_t pid;
    char log[320];
} st_proc;

/* Spawns escher-scheduler on the test database (--log-level debug) with the
 * extra arguments (NULL-terminated, may be NULL); waits for "scheduler
 * started" in its log. */
void st_start(st_proc *p, const char *const *extra);
/* SIGTERM, then asserts: exit 0 within 10 s, "scheduler stopped" logged, no
 * sanitizer report. */
void st_stop(st_proc *p);
/* The number of times what occurs in p's log so far. */
int st_log_count(const st_proc *p, const char *what);
/* Waits up to timeout_ms until what occurs in p's log at least n times. */
void st_wait_log(const st_proc *p, const char *what, int n, int timeout_ms);

/* ---- SQL ---- */

void st_exec(const char *sql);
/* First column of the first row ("" for NULL or none) of sql with params. */
void st_query1(const char *sql, int nparams, const char *const *params, char *out, size_t n);
long st_long(const char *sql, const char *param);
/* Rows of sql (caller PQclears). */
PGresult *st_rows(const char *sql, int nparams, const char *const *params);
/* Polls sql (one number, param may be NULL) every 10 ms until it reaches
 * at least want or timeout_ms passes; returns the last value. */
long st_wait_count(const char *sql, const char *param, long want, int timeout_ms);

void st_sleep_ms(long ms);
uint64_t st_now_ms(void);

#endif
