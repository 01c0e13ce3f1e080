/* A private database per test program on the PostgreSQL that tests/run.sh
 * started (ESCHER_TEST_PG_URL): created fresh, dropped after, so test
 * programs running in parallel never see each other's rows. */
#ifndef ESCHER_TESTS_PGTEST_H
#define ESCHER_TESTS_PGTEST_H

#include <libpq-fe.h>

typedef struct pgtest {
    char name[64];   /* database name, "escher_t_<prefix>_<pid>" */
    char url[512];   /* connection URL of that database */
    char admin[512]; /* URL of the server's maintenance database */
} pgtest;

/* Creates the database. Returns 0 on success, -1 when ESCHER_TEST_PG_URL is
 * unset (the caller skips), and aborts with a message when the server is set
 * but refuses. */
int pgtest_create(pgtest *t, const char *prefix);
/* A new connection to the test database; aborts on failure. Caller PQfinish-es. */
PGconn *pgtest_connect(const pgtest *t);
/* Drops the database (terminating leftover connections). */
void pgtest_drop(pgtest *t);

#endif
