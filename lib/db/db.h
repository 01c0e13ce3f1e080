/* PostgreSQL access: connect, run parameterized statements, transactions, and
 * the per-transaction tenant setting that row-level security keys on.
 *
 * The handle is libpq's own PGconn (already opaque): callers that need
 * LISTEN/NOTIFY or asynchronous queries use libpq directly on it, and these
 * helpers only add Escher's error convention. Every failure from the server
 * fills err with the SQLSTATE in e->remote_code (e.g. "23505") and a message
 * quoting the first words of the statement, so callers can branch on the state
 * and logs say which statement failed without printing its parameters. */
#ifndef ESCHER_DB_DB_H
#define ESCHER_DB_DB_H

#include "core/err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Opens a connection from a libpq URL or keyword/value string. Returns the
 * connection (caller PQfinish-es it) or NULL with ERR_IO; the message names the
 * URL with any password removed and never contains the password. */
PGconn *db_connect(const char *url, err *e);

/* Writes url into out (n bytes, always NUL-terminated) with the password
 * removed: the ":secret" of "scheme://user:secret@host", a "password=" query
 * parameter, or a "password=" keyword. For logs and error messages. */
void db_redact_url(const char *url, char *out, size_t n);

/* Runs one statement with text parameters ($1..$n; a NULL entry is SQL NULL)
 * and discards any rows. If affected is not NULL it receives the row count of
 * INSERT/UPDATE/DELETE (0 for other commands). Fails with the server's error
 * (see the header comment for the error's shape). */
bool db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, long *affected,
             err *e);

/* Like db_exec but returns the result (caller PQclear-s it), or NULL on failure. */
PGresult *db_query(PGconn *conn, const char *sql, int nparams, const char *const *params, err *e);

/* BEGIN / COMMIT / ROLLBACK. db_commit fails (and the transaction is gone) if
 * the server refuses the commit, e.g. a deferred constraint or a transaction
 * already in error. db_rollback is safe to call when no transaction is open. */
bool db_begin(PGconn *conn, err *e);
bool db_commit(PGconn *conn, err *e);
bool db_rollback(PGconn *conn, err *e);

/* Sets escher.tenant_id for the current transaction only, so a pooled
 * connection can never carry one tenant's setting into another's request.
 * tenant_id must be a UUID in canonical text form (ERR_INVALID quoting it
 * otherwise) and a transaction must be open (ERR_INVALID otherwise). */
bool db_set_tenant(PGconn *conn, const char *tenant_id, err *e);

/* SET ROLE role for the session (e.g. "escher_api", under which row-level
 * security applies); NULL resets to the login role. Inside a transaction that
 * later rolls back, the change is undone with it. The login role must be a
 * member of role (ERR_AUTH otherwise). */
bool db_set_role(PGconn *conn, const char *role, err *e);

/* One statement of a pipeline: text sql, or the prepared statement named
 * prepared (then sql only names it in errors), with text parameters. */
typedef struct db_stmt {
    const char *sql;
    const char *prepared;
    int nparams;
    const char *const *params;
} db_stmt;

/* Sends n statements in one pipeline (one network round trip) and stores
 * each one's result in results[i] (caller PQclear-s every entry; a statement
 * skipped because an earlier one failed gets NULL). Returns true when every
 * statement succeeded; otherwise fills e from the first failure (its SQLSTATE
 * in remote_code). As with separate statements, the first failure inside an
 * explicit transaction leaves it aborted: the caller rolls back. */
bool db_pipeline(PGconn *conn, const db_stmt *stmts, size_t n, PGresult **results, err *e);

/* Fills e from a failed result: SQLSTATE in remote_code, message
 * "<what>: <server message> (SQLSTATE xxxxx)". For code that runs libpq
 * directly. res may be NULL (connection-level failure). Returns false. */
bool db_error(err *e, PGconn *conn, const PGresult *res, const char *what);

#endif
