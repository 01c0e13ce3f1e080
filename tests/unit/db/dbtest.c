#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dbtest.h"

#include "core/xmalloc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PGconn *dbtest_open(pgtest *t, const char *prefix)
{
    if (pgtest_create(t, prefix) != 0) {
        print_message("ESCHER_TEST_PG_URL is unset: skipping (run through tests/run.sh)\n");
        return NULL;
    }
    return pgtest_connect(t);
}

void dbtest_close(pgtest *t, PGconn *conn)
{
    PQfinish(conn);
    pgtest_drop(t);
}

char *dbtest_mkdir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *tmpl = xasprintf("%s/escher-migrate-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(tmpl) == NULL)
        fail_msg("mkdtemp %s failed", tmpl);
    return tmpl;
}

void dbtest_write(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
    free(path);
}

void dbtest_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", dir, de->d_name);
        unlink(path);
        free(path);
    }
    closedir(d);
    rmdir(dir);
}

char *dbtest_migrations_dir(void)
{
    const char *src = getenv("ESCHER_SOURCE_DIR");
    if (src == NULL || *src == '\0')
        fail_msg("ESCHER_SOURCE_DIR is unset (run through ctest)");
    return xasprintf("%s/migrations", src);
}

void dbtest_copy_migration(const char *dir, const char *name)
{
    char *src_dir = dbtest_migrations_dir();
    char *src = xasprintf("%s/%s", src_dir, name);
    FILE *f = fopen(src, "rb");
    if (f == NULL)
        fail_msg("cannot read %s", src);
    char *path = xasprintf("%s/%s", dir, name);
    FILE *o = fopen(path, "wb");
    if (o == NULL)
        fail_msg("cannot write %s", path);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, o);
    fclose(f);
    fclose(o);
    free(path);
    free(src);
    free(src_dir);
}

void dbtest_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

const char *dbtest_state(PGconn *c, const char *sql, char out[6])
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    out[0] = '\0';
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(out, 6, "%s", st ? st : "?????");
    }
    PQclear(r);
    return out;
}

long dbtest_long(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}
