/* A private database per test program on the PostgreSQL that tests/run.sh
 * started (ESCHER_TEST_PG_URL): created fresh, dropped after, so test
 * programs running in parallel never see each other's rows. */
#ifndef ESCHER_TESTS_PGTEST_H
#define ESCHER_TESTS_PGTEST_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct pgtest {
    char name[64];   /* database name, "escher_t_<prefix>_<pid>" */
    char url[512];   /* connection URL of that database */
    char admin[512]; /* URL of the server's maintenance database */
    char role[64];   /* the login role pgtest_login_role made, "" when none */
} pgtest;

/* Creates the database. Returns 0 on success, -1 when ESCHER_TEST_PG_URL is
 * unset (the caller skips), and aborts with a message when the server is set
 * but refuses. */
int pgtest_create(pgtest *t, const char *prefix);
/* A new connection to the test database; aborts on failure. Caller PQfinish-es. */
PGconn *pgtest_connect(const pgtest *t);
/* A connection to the test database with Escher's migrations applied
 * (from $ESCHER_SOURCE_DIR/migrations), the server's notices silenced
 * ("role ... does not exist, skipping"); aborts on failure. Caller
 * PQfinish-es. */
PGconn *pgtest_migrated(const pgtest *t);
/* Creates the login role "<prefix>_<pid>", a member of member_of only and
 * no superuser, as the services log in in production, and writes the test
 * database's URL with that user into url. pgtest_drop drops it. Aborts on
 * failure. */
void pgtest_login_role(pgtest *t, PGconn *c, const char *prefix, const char *member_of, char *url,
                       size_t n);
/* Drops the database (terminating leftover connections) and the login role. */
void pgtest_drop(pgtest *t);

#endif
