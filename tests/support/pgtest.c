#include "support/pgtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Replaces the database part of url ("...:5432/escher") with db. */
static void with_database(char *out, size_t n, const char *url, const char *db)
{
    const char *slash = strrchr(url, '/');
    const char *scheme_end = strstr(url, "://");
    size_t keep =
        (slash && scheme_end && slash > scheme_end + 2) ? (size_t)(slash - url) : strlen(url);
    snprintf(out, n, "%.*s/%s", (int)keep, url, db);
}

static void run_admin(const pgtest *t, const char *sql)
{
    PGconn *c = PQconnectdb(t->admin);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgtest: cannot connect to %s: %s", t->admin, PQerrorMessage(c));
        abort();
    }
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "pgtest: %s: %s", sql, PQerrorMessage(c));
        abort();
    }
    PQclear(r);
    PQfinish(c);
}

int pgtest_create(pgtest *t, const char *prefix)
{
    const char *base = getenv("ESCHER_TEST_PG_URL");
    if (base == NULL || *base == '\0')
        return -1;
    snprintf(t->name, sizeof t->name, "escher_t_%.30s_%ld", prefix, (long)getpid());
    with_database(t->admin, sizeof t->admin, base, "postgres");
    with_database(t->url, sizeof t->url, base, t->name);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", t->name);
    run_admin(t, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", t->name);
    run_admin(t, sql);
    return 0;
}

PGconn *pgtest_connect(const pgtest *t)
{
    PGconn *c = PQconnectdb(t->url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgtest: cannot connect to %s: %s", t->url, PQerrorMessage(c));
        abort();
    }
    return c;
}

void pgtest_drop(pgtest *t)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
    run_admin(t, sql);
}
