/* Helpers shared by the lib/db tests: a private database per test case,
 * temporary migration directories, and one-line SQL assertions. */
#ifndef ESCHER_TESTS_DBTEST_H
#define ESCHER_TESTS_DBTEST_H

#include "support/pgtest.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* Creates database "escher_t_<prefix>_<pid>" and returns a connection to it,
 * or NULL (after printing why) when ESCHER_TEST_PG_URL is unset: the caller
 * then calls skip(). */
PGconn *dbtest_open(pgtest *t, const char *prefix);
/* Closes conn and drops the database. */
void dbtest_close(pgtest *t, PGconn *conn);

/* mkdtemp under TMPDIR; the caller frees the string after dbtest_rmdir. */
char *dbtest_mkdir(void);
void dbtest_write(const char *dir, const char *name, const char *text);
/* Removes every file in dir, then dir. */
void dbtest_rmdir(const char *dir);
/* Copies <ESCHER_SOURCE_DIR>/migrations/<name> into dir. */
void dbtest_copy_migration(const char *dir, const char *name);
/* <ESCHER_SOURCE_DIR>/migrations (caller frees). */
char *dbtest_migrations_dir(void);

/* Runs sql (no parameters); fails the test with the server's message. */
void dbtest_exec(PGconn *c, const char *sql);
/* Runs sql and returns its SQLSTATE ("" on success). */
const char *dbtest_state(PGconn *c, const char *sql, char out[6]);
/* First column of the first row as a long; fails the test on error. */
long dbtest_long(PGconn *c, const char *sql);

#endif
