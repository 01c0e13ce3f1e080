/* The queue's private SQL helpers (lib/queue only; not part of queue.h):
 * argument checks, prepared statements per connection, transactions that
 * nest in the caller's, and lib/db pipelines on prepared statements. */
#ifndef ESCHER_QUEUE_QUEUE_SQL_H
#define ESCHER_QUEUE_QUEUE_SQL_H

#include "core/err.h"
#include "db/db.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define QUEUE_SQL_PIPELINE_MAX 8

bool queue_sql_is_uuid(const char *s);
/* A job kind: [a-z0-9_.:-], 1 to QUEUE_KIND_MAX - 1 characters. */
bool queue_sql_is_kind(const char *s);
/* ERR_INVALID naming the value unless job_id is a uuid. */
bool queue_sql_check_job_id(const char *job_id, err *e);
/* ERR_INVALID naming the value unless worker_id is 1 to 200 characters. */
bool queue_sql_check_worker(const char *worker_id, err *e);

/* The connection's last error message without its trailing newline, in a
 * thread-local buffer valid until the next call. */
const char *queue_sql_pg_message(PGconn *conn);

/* Writes into name the name under which sql is prepared on conn, preparing
 * it first if this connection has not yet (one round trip, once). Leaves
 * name empty when the connection already holds the most statements it
 * keeps: the caller then sends sql unnamed. Statements are known by the
 * address of their SQL text (each a literal used in one place). */
bool queue_sql_prepared(PGconn *conn, const char *sql, int nparams, char name[24], const char *what,
                        err *e);

/* Runs one parameterized statement (prepared); NULL (with *e set, naming
 * `what`, the SQLSTATE in e->remote_code) unless it returned `want`. Caller
 * PQclears the result. */
PGresult *queue_sql_run(PGconn *conn, const char *sql, int nparams, const char *const *params,
                        ExecStatusType want, const char *what, err *e);

/* Runs a statement without parameters that returns no rows. */
bool queue_sql_exec_simple(PGconn *conn, const char *sql, const char *what, err *e);

/* Opens a transaction unless the caller has one open: *own says whether we
 * did, so queue_sql_tx_end commits only what it began. */
bool queue_sql_tx_begin(PGconn *conn, bool *own, const char *what, err *e);

/* Commits (ok) or rolls back our own transaction; returns ok && committed. */
bool queue_sql_tx_end(PGconn *conn, bool own, bool ok, const char *what, err *e);

/* db_set_tenant, the error prefixed with what. */
bool queue_sql_set_tenant(PGconn *conn, const char *tenant_id, const char *what, err *e);

/* Copies a field ("" when NULL) into dst of n bytes. */
void queue_sql_copy_field(char *dst, size_t n, const PGresult *r, int row, int col);

/* lib/db's db_pipeline (one round trip for s[0..n)) on prepared statements.
 * With out (n entries) non-NULL, out[i] gets s[i]'s result for the caller to
 * PQclear; on failure every out[i] is NULL and *e is prefixed with what. */
bool queue_sql_pipeline(PGconn *conn, const db_stmt *s, size_t n, PGresult **out, const char *what,
                        err *e);

/* Runs s[0..n) (n <= QUEUE_SQL_PIPELINE_MAX) as one transaction in one
 * round trip: between a BEGIN and a COMMIT in the same pipeline when the
 * connection is idle, inside the caller's transaction otherwise. out as for
 * queue_sql_pipeline. */
bool queue_sql_pipeline_tx(PGconn *conn, const db_stmt *s, size_t n, PGresult **out,
                           const char *what, err *e);

#endif
