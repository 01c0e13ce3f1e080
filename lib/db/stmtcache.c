/* Prepared statements by SQL text (see stmtcache.h). A linear scan over a
 * few dozen entries, comparing a hash first, costs far less than a parse. */
#include "stmtcache.h"

#include "db.h"

#include "core/xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint64_t hash;
    char *sql;
    char name[24];
} entry;

struct stmtcache {
    size_t max, n;
    unsigned long serial; /* names stay unique across resets */
    entry *entries;
};

stmtcache *stmtcache_new(size_t max)
{
    stmtcache *c = xcalloc(1, sizeof *c);
    c->max = max;
    c->entries = xcalloc(max ? max : 1, sizeof *c->entries);
    return c;
}

void stmtcache_reset(stmtcache *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->entries[i].sql);
    c->n = 0;
}

void stmtcache_free(stmtcache *c)
{
    if (c == NULL)
        return;
    stmtcache_reset(c);
    free(c->entries);
    free(c);
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

bool stmtcache_name(stmtcache *c, PGconn *conn, const char *sql, int nparams, const char **name,
                    err *e)
{
    *name = NULL;
    uint64_t h = fnv1a64(sql);
    for (size_t i = 0; i < c->n; i++)
        if (c->entries[i].hash == h && strcmp(c->entries[i].sql, sql) == 0) {
            *name = c->entries[i].name;
            return true;
        }
    if (c->n == c->max)
        return true;
    entry *en = &c->entries[c->n];
    snprintf(en->name, sizeof en->name, "escher_s%lu", ++c->serial);
    PGresult *res = PQprepare(conn, en->name, sql, nparams, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || db_error(e, conn, res, "preparing");
    PQclear(res);
    if (!ok)
        return false;
    en->hash = h;
    en->sql = xstrdup(sql);
    c->n++;
    *name = en->name;
    return true;
}
