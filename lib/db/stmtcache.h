/* Prepared statements by SQL text, one cache per connection: the first use
 * of a statement prepares it (one extra round trip), every later use skips
 * PostgreSQL's parse and plan, which cost more than running the short
 * statements a request makes (measured on GET /v1/accounts, see
 * docs/performance.md).
 *
 * The cache does not own the connection. After the connection is reset or
 * replaced, call stmtcache_reset: the server forgot the statements. */
#ifndef ESCHER_DB_STMTCACHE_H
#define ESCHER_DB_STMTCACHE_H

#include "core/err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct stmtcache stmtcache;

/* A cache of at most max statements (past that, statements run unprepared).
 * Caller frees. Aborts on allocation failure. */
stmtcache *stmtcache_new(size_t max);
void stmtcache_free(stmtcache *c);
void stmtcache_reset(stmtcache *c);

/* The prepared statement name for sql on conn, preparing it on first use,
 * in *name (owned by the cache; NULL when the cache is full: run sql
 * unprepared). Fails with the server's error when preparing fails (the SQL
 * is wrong: running it unprepared would fail the same way). Must not be
 * called inside pipeline mode. */
bool stmtcache_name(stmtcache *c, PGconn *conn, const char *sql, int nparams, const char **name,
                    err *e);

#endif
