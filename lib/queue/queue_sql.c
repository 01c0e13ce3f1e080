/* The queue's SQL helpers. See queue_sql.h. */
#include "queue/queue_sql.h"

#include "queue/queue.h"

#include "core/xmalloc.h"

#include <libpq-events.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

bool queue_sql_is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

bool queue_sql_is_kind(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= QUEUE_KIND_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '-'))
            return false;
    }
    return true;
}

bool queue_sql_check_job_id(const char *job_id, err *e)
{
    if (!queue_sql_is_uuid(job_id))
        return err_set(e, ERR_INVALID, "job id '%.64s' is not a uuid", job_id ? job_id : "(null)");
    return true;
}

bool queue_sql_check_worker(const char *worker_id, err *e)
{
    if (worker_id == NULL || *worker_id == '\0' || strlen(worker_id) > 200)
        return err_set(e, ERR_INVALID, "worker id '%.64s' must be 1 to 200 characters",
                       worker_id ? worker_id : "(null)");
    return true;
}

/* The database's message without its trailing newline. */
const char *queue_sql_pg_message(PGconn *conn)
{
    static _Thread_local char buf[512];
    snprintf(buf, sizeof buf, "%s", PQerrorMessage(conn));
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

/* ---- prepared statements ---------------------------------------------- */

/* Each statement the queue runs is parsed and planned once per connection
 * and run by name after that: for statements this short, parse and plan cost
 * about as much as running them (measured in docs/performance.md). Which
 * statements a connection has is kept on the connection itself, as libpq
 * instance data of prep_events, so it is forgotten when the connection is
 * reset (the server session, and its statements, are new) or finished.
 * Statements are known by the address of their SQL text: each is a literal
 * used in one place. A caller that runs DEALLOCATE ALL or DISCARD ALL on a
 * connection the queue uses must reset it (PQreset). */
#define PREP_MAX 32

typedef struct prep {
    const char *sql[PREP_MAX];
    int n;
} prep;

static int prep_events(PGEventId id, void *info, void *pass)
{
    (void)pass;
    switch (id) {
    case PGEVT_REGISTER: {
        PGconn *conn = ((PGEventRegister *)info)->conn;
        return PQsetInstanceData(conn, prep_events, xcalloc(1, sizeof(prep)));
    }
    case PGEVT_CONNRESET: {
        prep *st = PQinstanceData(((PGEventConnReset *)info)->conn, prep_events);
        if (st)
            st->n = 0;
        return 1;
    }
    case PGEVT_CONNDESTROY:
        free(PQinstanceData(((PGEventConnDestroy *)info)->conn, prep_events));
        return 1;
    default:
        return 1;
    }
}

/* Writes into name the name under which sql is prepared on conn, preparing
 * it first if this connection has not yet (one round trip, once). Leaves
 * name empty when the connection already holds PREP_MAX statements: the
 * caller then sends sql unnamed. */
bool queue_sql_prepared(PGconn *conn, const char *sql, int nparams, char name[24], const char *what,
                        err *e)
{
    name[0] = '\0';
    prep *st = PQinstanceData(conn, prep_events);
    if (st == NULL) {
        if (!PQregisterEventProc(conn, prep_events, "escher queue", NULL))
            return true; /* no bookkeeping: run unnamed */
        st = PQinstanceData(conn, prep_events);
        if (st == NULL)
            return true;
    }
    for (int i = 0; i < st->n; i++)
        if (st->sql[i] == sql) {
            snprintf(name, 24, "escher_queue_%d", i);
            return true;
        }
    if (st->n == PREP_MAX)
        return true;
    snprintf(name, 24, "escher_queue_%d", st->n);
    PGresult *r = PQprepare(conn, name, sql, nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        name[0] = '\0';
        db_error(e, conn, r, what);
        PQclear(r);
        return false;
    }
    PQclear(r);
    st->sql[st->n++] = sql;
    return true;
}

/* Runs one parameterized statement (prepared, see above); NULL (with *e set,
 * naming `what`) unless it returned `want`. */
PGresult *queue_sql_run(PGconn *conn, const char *sql, int nparams, const char *const *params,
                        ExecStatusType want, const char *what, err *e)
{
    char name[24];
    if (!queue_sql_prepared(conn, sql, nparams, name, what, e))
        return NULL;
    PGresult *r = name[0] ? PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0)
                          : PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != want) {
        db_error(e, conn, r, what); /* keeps the SQLSTATE in e->remote_code */
        PQclear(r);
        return NULL;
    }
    return r;
}

bool queue_sql_exec_simple(PGconn *conn, const char *sql, const char *what, err *e)
{
    PGresult *r = PQexec(conn, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        db_error(e, conn, r, what);
    PQclear(r);
    return ok;
}

/* Opens a transaction unless the caller has one open: *own says whether we
 * did, so tx_end commits only what it began. */
bool queue_sql_tx_begin(PGconn *conn, bool *own, const char *what, err *e)
{
    switch (PQtransactionStatus(conn)) {
    case PQTRANS_IDLE:
        *own = true;
        return queue_sql_exec_simple(conn, "BEGIN", what, e);
    case PQTRANS_INTRANS:
        *own = false;
        return true;
    case PQTRANS_INERROR:
        return err_set(e, ERR_INVALID, "%s: the connection's transaction has already failed", what);
    default:
        return err_set(e, ERR_IO, "%s: the connection is busy or broken: %s", what,
                       queue_sql_pg_message(conn));
    }
}

/* Commits (ok) or rolls back our own transaction; returns ok && committed. */
bool queue_sql_tx_end(PGconn *conn, bool own, bool ok, const char *what, err *e)
{
    if (!own)
        return ok;
    if (!ok) {
        PGresult *r = PQexec(conn, "ROLLBACK");
        PQclear(r);
        return false;
    }
    return queue_sql_exec_simple(conn, "COMMIT", what, e);
}

bool queue_sql_set_tenant(PGconn *conn, const char *tenant_id, const char *what, err *e)
{
    if (!db_set_tenant(conn, tenant_id, e))
        return err_prefix(e, "%s", what);
    return true;
}

void queue_sql_copy_field(char *dst, size_t n, const PGresult *r, int row, int col)
{
    snprintf(dst, n, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* ---- pipelines ---------------------------------------------------------- */

/* lib/db's db_pipeline (one round trip for s[0..n)) on the queue's prepared
 * statements: fills in each one's name, preparing it first where this
 * connection has not. With out (n entries) non-NULL, out[i] gets s[i]'s
 * result for the caller to PQclear; on failure every out[i] is NULL and *e
 * is prefixed with `what`. */
bool queue_sql_pipeline(PGconn *conn, const db_stmt *s, size_t n, PGresult **out, const char *what,
                        err *e)
{
    db_stmt named[QUEUE_SQL_PIPELINE_MAX + 2];
    char names[QUEUE_SQL_PIPELINE_MAX + 2][24];
    PGresult *res[QUEUE_SQL_PIPELINE_MAX + 2];
    if (n > QUEUE_SQL_PIPELINE_MAX + 2)
        return err_set(e, ERR_INTERNAL, "%s: %zu statements in one pipeline", what, n);
    for (size_t i = 0; i < n; i++) {
        if (!queue_sql_prepared(conn, s[i].sql, s[i].nparams, names[i], what, e))
            return false;
        named[i] = s[i];
        named[i].prepared = names[i][0] ? names[i] : NULL;
    }
    bool ok = db_pipeline(conn, named, n, res, e);
    for (size_t i = 0; i < n; i++) {
        if (ok && out) {
            out[i] = res[i];
            continue;
        }
        PQclear(res[i]);
        if (out)
            out[i] = NULL;
    }
    return ok || err_prefix(e, "%s", what);
}

/* Runs s[0..n) as one transaction in one round trip: between a BEGIN and a
 * COMMIT sent in the same pipeline when the connection is idle, inside the
 * caller's transaction otherwise (what tx_begin/tx_end do, without their two
 * extra round trips). out as for pipeline. */
bool queue_sql_pipeline_tx(PGconn *conn, const db_stmt *s, size_t n, PGresult **out,
                           const char *what, err *e)
{
    if (n > QUEUE_SQL_PIPELINE_MAX)
        return err_set(e, ERR_INTERNAL, "%s: %zu statements in one pipeline", what, n);
    switch (PQtransactionStatus(conn)) {
    case PQTRANS_IDLE:
        break;
    case PQTRANS_INTRANS:
        return queue_sql_pipeline(conn, s, n, out, what, e);
    case PQTRANS_INERROR:
        return err_set(e, ERR_INVALID, "%s: the connection's transaction has already failed", what);
    default:
        return err_set(e, ERR_IO, "%s: the connection is busy or broken: %s", what,
                       queue_sql_pg_message(conn));
    }
    db_stmt all[QUEUE_SQL_PIPELINE_MAX + 2];
    PGresult *res[QUEUE_SQL_PIPELINE_MAX + 2];
    all[0] = (db_stmt){.sql = "BEGIN"};
    memcpy(&all[1], s, n * sizeof *s);
    all[n + 1] = (db_stmt){.sql = "COMMIT"};
    bool ok = queue_sql_pipeline(conn, all, n + 2, res, what, e);
    if (ok) {
        PQclear(res[0]);
        PQclear(res[n + 1]);
        for (size_t i = 0; i < n; i++) {
            if (out)
                out[i] = res[i + 1];
            else
                PQclear(res[i + 1]);
        }
    } else {
        for (size_t i = 0; out && i < n; i++)
            out[i] = NULL;
        /* A failure inside BEGIN leaves the transaction open and aborted. */
        if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
            PGresult *r = PQexec(conn, "ROLLBACK");
            PQclear(r);
        }
    }
    return ok;
}
