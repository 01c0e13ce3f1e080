#include "support/pgtest.h"

#include "db/migrate.h"

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

static void exec_or_abort(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "pgtest: %s: %s", sql, PQerrorMessage(c));
        abort();
    }
    PQclear(r);
}

static void run_admin(const pgtest *t, const char *sql)
{
    PGconn *c = PQconnectdb(t->admin);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgtest: cannot connect to %s: %s", t->admin, PQerrorMessage(c));
        abort();
    }
    exec_or_abort(c, sql);
    PQfinish(c);
}

int pgtest_create(pgtest *t, const char *prefix)
{
    const char *base = getenv("ESCHER_TEST_PG_URL");
    if (base == NULL || *base == '\0')
        return -1;
    snprintf(t->name, sizeof t->name, "escher_t_%.30s_%ld", prefix, (long)getpid());
    t->role[0] = '\0';
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

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *pgtest_migrated(const pgtest *t)
{
    PGconn *c = pgtest_connect(t);
    PQsetNoticeProcessor(c, quiet, NULL);
    const char *src = getenv("ESCHER_SOURCE_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/migrations", src ? src : ".");
    err e = {0};
    if (!migrate_apply(c, dir, NULL, &e)) {
        fprintf(stderr, "pgtest: migrate_apply %s: %s\n", dir, e.message);
        abort();
    }
    return c;
}

void pgtest_login_role(pgtest *t, PGconn *c, const char *prefix, const char *member_of, char *url,
                       size_t n)
{
    snprintf(t->role, sizeof t->role, "%.40s_%ld", prefix, (long)getpid());
    char sql[256];
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", t->role);
    exec_or_abort(c, sql);
    snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE %s", t->role,
             member_of);
    exec_or_abort(c, sql);
    /* The URL with its user replaced by the role. */
    const char *scheme = strstr(t->url, "://");
    const char *host = scheme ? scheme + 3 : t->url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (at && (slash == NULL || at < slash))
        host = at + 1;
    snprintf(url, n, "%.*s%s@%s", (int)(scheme ? scheme + 3 - t->url : 0), t->url, t->role, host);
}

void pgtest_drop(pgtest *t)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
    run_admin(t, sql);
    if (t->role[0]) {
        snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", t->role);
        run_admin(t, sql);
        t->role[0] = '\0';
    }
}
