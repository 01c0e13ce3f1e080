#include "queue/queue.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "db/db.h"

#define DEFAULT_MAX_ATTEMPTS 5
#define DEFAULT_BASE_MS      1000
#define DEFAULT_CAP_MS       300000
/* The reaper works in slices so one pass never holds thousands of row locks. */
#define REAP_SLICE 500

/* ---- small helpers ------------------------------------------------------ */

static bool is_uuid(const char *s)
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

static bool is_kind(const char *s)
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

static bool check_job_id(const char *job_id, err *e)
{
    if (!is_uuid(job_id))
        return err_set(e, ERR_INVALID, "job id '%.64s' is not a uuid", job_id ? job_id : "(null)");
    return true;
}

static bool check_worker(const char *worker_id, err *e)
{
    if (worker_id == NULL || *worker_id == '\0' || strlen(worker_id) > 200)
        return err_set(e, ERR_INVALID, "worker id '%.64s' must be 1 to 200 characters",
                       worker_id ? worker_id : "(null)");
    return true;
}

/* The database's message without its trailing newline. */
static const char *pg_message(PGconn *conn)
{
    static _Thread_local char buf[512];
    snprintf(buf, sizeof buf, "%s", PQerrorMessage(conn));
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

/* Runs one parameterized statement; NULL (with *e set, naming `what`) unless
 * it returned `want`. */
static PGresult *run(PGconn *conn, const char *sql, int nparams, const char *const *params,
                     ExecStatusType want, const char *what, err *e)
{
    PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != want) {
        db_error(e, conn, r, what); /* keeps the SQLSTATE in e->remote_code */
        PQclear(r);
        return NULL;
    }
    return r;
}

static bool exec_simple(PGconn *conn, const char *sql, const char *what, err *e)
{
    PGresult *r = run(conn, sql, 0, NULL, PGRES_COMMAND_OK, what, e);
    PQclear(r);
    return r != NULL;
}

/* Opens a transaction unless the caller has one open: *own says whether we
 * did, so tx_end commits only what it began. */
static bool tx_begin(PGconn *conn, bool *own, const char *what, err *e)
{
    switch (PQtransactionStatus(conn)) {
    case PQTRANS_IDLE:
        *own = true;
        return exec_simple(conn, "BEGIN", what, e);
    case PQTRANS_INTRANS:
        *own = false;
        return true;
    case PQTRANS_INERROR:
        return err_set(e, ERR_INVALID, "%s: the connection's transaction has already failed", what);
    default:
        return err_set(e, ERR_IO, "%s: the connection is busy or broken: %s", what,
                       pg_message(conn));
    }
}

/* Commits (ok) or rolls back our own transaction; returns ok && committed. */
static bool tx_end(PGconn *conn, bool own, bool ok, const char *what, err *e)
{
    if (!own)
        return ok;
    if (!ok) {
        PGresult *r = PQexec(conn, "ROLLBACK");
        PQclear(r);
        return false;
    }
    return exec_simple(conn, "COMMIT", what, e);
}

static bool set_tenant(PGconn *conn, const char *tenant_id, const char *what, err *e)
{
    if (!db_set_tenant(conn, tenant_id, e))
        return err_prefix(e, "%s", what);
    return true;
}

static void copy_field(char *dst, size_t n, const PGresult *r, int row, int col)
{
    snprintf(dst, n, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* ---- enqueue and lease -------------------------------------------------- */

bool queue_enqueue(PGconn *conn, const queue_new_job *job, char id_out[QUEUE_ID_LEN],
                   bool *duplicate, err *e)
{
    if (duplicate)
        *duplicate = false;
    if (job == NULL || !is_uuid(job->tenant_id))
        return err_set(e, ERR_INVALID, "enqueue: tenant id '%.64s' is not a uuid",
                       job && job->tenant_id ? job->tenant_id : "(null)");
    if (!is_kind(job->kind))
        return err_set(e, ERR_INVALID, "enqueue: job kind '%.80s' must match [a-z0-9_.:-]{1,64}",
                       job->kind ? job->kind : "(null)");
    if (job->max_attempts < 0 || job->max_attempts > 1000)
        return err_set(e, ERR_INVALID, "enqueue: max_attempts %d is outside 1..1000",
                       job->max_attempts);
    if (job->delay_ms < 0)
        return err_set(e, ERR_INVALID, "enqueue: delay_ms %" PRId64 " is negative", job->delay_ms);

    char prio[16], delay[24], maxa[16];
    snprintf(prio, sizeof prio, "%d", job->priority);
    snprintf(delay, sizeof delay, "%" PRId64, job->delay_ms);
    snprintf(maxa, sizeof maxa, "%d", job->max_attempts ? job->max_attempts : DEFAULT_MAX_ATTEMPTS);
    const char *p[9] = {job->tenant_id,
                        job->kind,
                        job->payload_json ? job->payload_json : "{}",
                        prio,
                        delay,
                        maxa,
                        job->idempotency_key,
                        job->created_by,
                        job->account_id};
    const char *what = "enqueue";
    bool own;
    if (!tx_begin(conn, &own, what, e))
        return false;
    bool ok = set_tenant(conn, job->tenant_id, what, e);
    PGresult *r = NULL;
    if (ok) {
        r = run(
            conn,
            "INSERT INTO jobs (tenant_id, kind, payload, priority, run_at, max_attempts, "
            "                  idempotency_key, created_by, account_id) "
            "VALUES ($1, $2, $3::jsonb, $4::int, now() + $5::bigint * interval '1 millisecond', "
            "        $6::int, $7, $8, $9::uuid) "
            "ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL "
            "DO NOTHING RETURNING id",
            9, p, PGRES_TUPLES_OK, what, e);
        ok = r != NULL;
    }
    if (ok && PQntuples(r) == 0) {
        /* The key was taken: a new statement (new snapshot) sees the row the
         * conflicting transaction committed. */
        PQclear(r);
        const char *q[2] = {job->tenant_id, job->idempotency_key};
        r = run(conn, "SELECT id FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2", 2, q,
                PGRES_TUPLES_OK, what, e);
        ok = r != NULL;
        if (ok && PQntuples(r) != 1)
            ok = err_set(e, ERR_INTERNAL,
                         "enqueue: idempotency key '%.100s' conflicted but no job has it",
                         job->idempotency_key ? job->idempotency_key : "");
        if (ok && duplicate)
            *duplicate = true;
    }
    if (ok)
        copy_field(id_out, QUEUE_ID_LEN, r, 0, 0);
    PQclear(r);
    ok = tx_end(conn, own, ok, what, e);
    if (!ok)
        err_prefix(e, "kind '%s' for tenant %s", job->kind, job->tenant_id);
    return ok;
}

bool queue_lease(PGconn *conn, const char *worker_id, const char *const *kinds, size_t nkinds,
                 size_t batch, int64_t lease_ms, queue_job *out, size_t *n, err *e)
{
    *n = 0;
    if (!check_worker(worker_id, e))
        return false;
    if (batch == 0 || batch > 10000)
        return err_set(e, ERR_INVALID, "lease: batch %zu is outside 1..10000", batch);
    if (lease_ms <= 0)
        return err_set(e, ERR_INVALID, "lease: lease_ms %" PRId64 " must be positive", lease_ms);
    strbuf arr;
    strbuf_init(&arr);
    if (kinds != NULL && nkinds > 0) {
        strbuf_putc(&arr, '{');
        for (size_t i = 0; i < nkinds; i++) {
            /* Kinds are validated to a quote-free alphabet, so the array
             * literal needs no escaping. */
            if (!is_kind(kinds[i])) {
                strbuf_free(&arr);
                return err_set(e, ERR_INVALID,
                               "lease: job kind '%.80s' must match [a-z0-9_.:-]{1,64}",
                               kinds[i] ? kinds[i] : "(null)");
            }
            if (i)
                strbuf_putc(&arr, ',');
            strbuf_printf(&arr, "\"%s\"", kinds[i]);
        }
        strbuf_putc(&arr, '}');
    }
    char nbatch[24], ms[24];
    snprintf(nbatch, sizeof nbatch, "%zu", batch);
    snprintf(ms, sizeof ms, "%" PRId64, lease_ms);
    const char *p[4] = {worker_id, (kinds && nkinds) ? strbuf_str(&arr) : NULL, nbatch, ms};
    /* One statement is one transaction: pick with SKIP LOCKED so concurrent
     * workers pass over each other's rows instead of waiting on them. */
    PGresult *r =
        run(conn,
            "WITH picked AS ("
            "  SELECT id FROM jobs"
            "   WHERE state = 'queued' AND run_at <= now()"
            "     AND ($2::text[] IS NULL OR kind = ANY ($2::text[]))"
            "   ORDER BY priority DESC, run_at, created_at"
            "   LIMIT $3::int FOR UPDATE SKIP LOCKED),"
            " leased AS ("
            "  UPDATE jobs j SET state = 'leased', leased_by = $1,"
            "         lease_expires_at = now() + $4::bigint * interval '1 millisecond',"
            "         attempts = j.attempts + 1, updated_at = now()"
            "    FROM picked WHERE j.id = picked.id"
            "  RETURNING j.id, j.tenant_id, j.kind, j.payload::text AS payload, j.priority,"
            "            j.attempts, j.max_attempts, j.created_by, j.run_at, j.created_at)"
            " SELECT id, tenant_id, kind, payload, priority, attempts, max_attempts, created_by"
            "   FROM leased ORDER BY priority DESC, run_at, created_at",
            4, p, PGRES_TUPLES_OK, "lease", e);
    strbuf_free(&arr);
    if (r == NULL)
        return err_prefix(e, "worker '%s'", worker_id);
    int rows = PQntuples(r);
    for (int i = 0; i < rows && (size_t)i < batch; i++) {
        queue_job *j = &out[i];
        memset(j, 0, sizeof *j);
        copy_field(j->id, sizeof j->id, r, i, 0);
        copy_field(j->tenant_id, sizeof j->tenant_id, r, i, 1);
        copy_field(j->kind, sizeof j->kind, r, i, 2);
        j->payload = xstrdup(PQgetvalue(r, i, 3));
        j->priority = atoi(PQgetvalue(r, i, 4));
        j->attempts = atoi(PQgetvalue(r, i, 5));
        j->max_attempts = atoi(PQgetvalue(r, i, 6));
        j->created_by = PQgetisnull(r, i, 7) ? NULL : xstrdup(PQgetvalue(r, i, 7));
        (*n)++;
    }
    PQclear(r);
    return true;
}

void queue_jobs_clear(queue_job *out, size_t n)
{
    for (size_t i = 0; out != NULL && i < n; i++) {
        free(out[i].payload);
        free(out[i].created_by);
        memset(&out[i], 0, sizeof out[i]);
    }
}

/* ---- the lease holder's calls ------------------------------------------- */

/* Runs `sql`, an UPDATE that touches the job only while worker_id (param $2)
 * holds its lease and RETURNs one column, and copies that value into value.
 * Heartbeat, complete and fail differ only in what they change: the lease
 * check and its error live here once. ERR_NOT_FOUND when the job is no
 * longer ours (reaped, cancelled, finished). */
static bool update_leased(PGconn *conn, const char *sql, int nparams, const char *const *params,
                          const char *what, char *value, size_t vlen, err *e)
{
    const char *job_id = params[0], *worker_id = params[1];
    PGresult *r = run(conn, sql, nparams, params, PGRES_TUPLES_OK, what, e);
    if (r == NULL)
        return err_prefix(e, "job %s", job_id);
    bool found = PQntuples(r) == 1;
    if (found)
        snprintf(value, vlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!found)
        return err_set(e, ERR_NOT_FOUND, "%s: job %s is no longer leased by worker '%s'", what,
                       job_id, worker_id);
    return true;
}

bool queue_heartbeat(PGconn *conn, const char *job_id, const char *worker_id, int64_t lease_ms,
                     bool *cancel_requested, err *e)
{
    if (!check_job_id(job_id, e) || !check_worker(worker_id, e))
        return false;
    if (lease_ms <= 0)
        return err_set(e, ERR_INVALID, "heartbeat of job %s: lease_ms %" PRId64 " must be positive",
                       job_id, lease_ms);
    char ms[24];
    snprintf(ms, sizeof ms, "%" PRId64, lease_ms);
    const char *p[3] = {job_id, worker_id, ms};
    char cancel[8];
    if (!update_leased(conn,
                       "UPDATE jobs SET updated_at = now(),"
                       "       lease_expires_at = now() + $3::bigint * interval '1 millisecond'"
                       " WHERE id = $1 AND state = 'leased' AND leased_by = $2"
                       " RETURNING cancel_requested",
                       3, p, "heartbeat", cancel, sizeof cancel, e))
        return false;
    if (cancel_requested)
        *cancel_requested = cancel[0] == 't';
    return true;
}

bool queue_complete(PGconn *conn, const char *job_id, const char *worker_id, err *e)
{
    return queue_complete_result(conn, job_id, worker_id, NULL, e);
}

bool queue_complete_result(PGconn *conn, const char *job_id, const char *worker_id,
                           const char *result_json, err *e)
{
    if (!check_job_id(job_id, e) || !check_worker(worker_id, e))
        return false;
    const char *p[3] = {job_id, worker_id, result_json};
    char state[16];
    return update_leased(conn,
                         "UPDATE jobs SET state = 'succeeded', leased_by = NULL,"
                         "       lease_expires_at = NULL, finished_at = now(), updated_at = now(),"
                         "       result = coalesce($3::jsonb, result)"
                         " WHERE id = $1 AND state = 'leased' AND leased_by = $2"
                         " RETURNING state",
                         3, p, "complete", state, sizeof state, e);
}

bool queue_release(PGconn *conn, const char *job_id, const char *worker_id, err *e)
{
    if (!check_job_id(job_id, e) || !check_worker(worker_id, e))
        return false;
    const char *p[2] = {job_id, worker_id};
    char state[16];
    /* attempts - 1: the lease counted an attempt that never got to run to its end. */
    return update_leased(conn,
                         "UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'cancelled'"
                         "                             ELSE 'queued' END,"
                         "       finished_at = CASE WHEN cancel_requested THEN now() END,"
                         "       attempts = greatest(attempts - 1, 0), run_at = now(),"
                         "       leased_by = NULL, lease_expires_at = NULL, updated_at = now()"
                         " WHERE id = $1 AND state = 'leased' AND leased_by = $2"
                         " RETURNING state",
                         2, p, "release", state, sizeof state, e);
}

bool queue_fail(PGconn *conn, const char *job_id, const char *worker_id, const char *error_message,
                bool retryable, const queue_backoff *backoff, bool *requeued, err *e)
{
    if (requeued)
        *requeued = false;
    if (!check_job_id(job_id, e) || !check_worker(worker_id, e))
        return false;
    int64_t base = backoff && backoff->base_ms > 0 ? backoff->base_ms : DEFAULT_BASE_MS;
    int64_t cap = backoff && backoff->cap_ms > 0 ? backoff->cap_ms : DEFAULT_CAP_MS;
    char sbase[24], scap[24];
    snprintf(sbase, sizeof sbase, "%" PRId64, base);
    snprintf(scap, sizeof scap, "%" PRId64, cap);
    const char *p[6] = {job_id,
                        worker_id,
                        error_message ? error_message : "(no message)",
                        retryable ? "true" : "false",
                        sbase,
                        scap};
    /* One UPDATE decides and applies the next state, so no other transaction
     * can slip between reading attempts and writing run_at. */
    char state[16];
    if (!update_leased(
            conn,
            "WITH next AS ("
            "  SELECT id, CASE WHEN cancel_requested THEN 'cancelled'"
            "                  WHEN $4::bool AND attempts < max_attempts THEN 'queued'"
            "                  ELSE 'failed' END AS state,"
            "         least($5::float8 * power(2::float8, attempts - 1), $6::float8)"
            "           * (1 - random() / 2) AS delay_ms"
            "    FROM jobs WHERE id = $1 AND state = 'leased' AND leased_by = $2 FOR UPDATE)"
            " UPDATE jobs j SET state = next.state, last_error = $3,"
            "        run_at = CASE WHEN next.state = 'queued'"
            "                      THEN now() + next.delay_ms * interval '1 millisecond'"
            "                      ELSE j.run_at END,"
            "        finished_at = CASE WHEN next.state = 'queued' THEN NULL ELSE now() END,"
            "        leased_by = NULL, lease_expires_at = NULL, updated_at = now()"
            "   FROM next WHERE j.id = next.id RETURNING j.state",
            6, p, "fail", state, sizeof state, e))
        return false;
    if (requeued)
        *requeued = strcmp(state, "queued") == 0;
    return true;
}

/* ---- cancel and reap ---------------------------------------------------- */

bool queue_cancel(PGconn *conn, const char *tenant_id, const char *job_id,
                  queue_cancel_result *result, err *e)
{
    if (!check_job_id(job_id, e))
        return false;
    if (tenant_id != NULL && !is_uuid(tenant_id))
        return err_set(e, ERR_INVALID, "cancel of job %s: tenant id '%.64s' is not a uuid", job_id,
                       tenant_id);
    const char *what = "cancel";
    bool own;
    if (!tx_begin(conn, &own, what, e))
        return false;
    bool ok = tenant_id == NULL || set_tenant(conn, tenant_id, what, e);
    PGresult *r = NULL;
    char state[16] = "";
    if (ok) {
        const char *p[1] = {job_id};
        r = run(conn, "SELECT state FROM jobs WHERE id = $1 FOR UPDATE", 1, p, PGRES_TUPLES_OK,
                what, e);
        ok = r != NULL;
        if (ok && PQntuples(r) == 0)
            ok = err_set(e, ERR_NOT_FOUND, "cancel: no job %s%s%s", job_id,
                         tenant_id ? " in tenant " : "", tenant_id ? tenant_id : "");
        if (ok)
            copy_field(state, sizeof state, r, 0, 0);
        PQclear(r);
    }
    if (ok) {
        const char *sql = NULL;
        if (strcmp(state, "queued") == 0) {
            sql = "UPDATE jobs SET state = 'cancelled', finished_at = now(), updated_at = now()"
                  " WHERE id = $1";
            *result = QUEUE_CANCELLED;
        } else if (strcmp(state, "leased") == 0) {
            sql = "UPDATE jobs SET cancel_requested = true, updated_at = now() WHERE id = $1";
            *result = QUEUE_CANCEL_REQUESTED;
        } else {
            *result = QUEUE_CANCEL_TOO_LATE;
        }
        if (sql) {
            const char *p[1] = {job_id};
            r = run(conn, sql, 1, p, PGRES_COMMAND_OK, what, e);
            ok = r != NULL;
            PQclear(r);
        }
    }
    ok = tx_end(conn, own, ok, what, e);
    if (!ok && e && e->code != ERR_NOT_FOUND)
        err_prefix(e, "job %s", job_id);
    return ok;
}

bool queue_reap(PGconn *conn, size_t *reaped, err *e)
{
    size_t total = 0;
    char slice[16];
    snprintf(slice, sizeof slice, "%d", REAP_SLICE);
    const char *p[1] = {slice};
    for (;;) {
        /* Each slice is one statement, so one transaction. SKIP LOCKED: a
         * row locked by a worker that is completing it right now is not
         * waited for; if its lease really lapsed the next pass gets it. */
        PGresult *r =
            run(conn,
                "WITH expired AS ("
                "  SELECT id, CASE WHEN cancel_requested THEN 'cancelled'"
                "                  WHEN attempts < max_attempts THEN 'queued'"
                "                  ELSE 'failed' END AS state"
                "    FROM jobs WHERE state = 'leased' AND lease_expires_at < now()"
                "   ORDER BY lease_expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED)"
                " UPDATE jobs j SET state = expired.state,"
                "        last_error = 'lease expired (worker ' || j.leased_by || ', attempt '"
                "                     || j.attempts || ')',"
                "        run_at = CASE WHEN expired.state = 'queued' THEN now() ELSE j.run_at END,"
                "        finished_at = CASE WHEN expired.state = 'queued' THEN NULL ELSE now() END,"
                "        leased_by = NULL, lease_expires_at = NULL, updated_at = now()"
                "   FROM expired WHERE j.id = expired.id",
                1, p, PGRES_COMMAND_OK, "reap", e);
        if (r == NULL) {
            if (reaped)
                *reaped = total;
            return false;
        }
        size_t n = (size_t)strtoul(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        total += n;
        if (n < REAP_SLICE)
            break;
    }
    if (reaped)
        *reaped = total;
    return true;
}

/* ---- steps -------------------------------------------------------------- */

/* Locks job_id's row if worker_id holds its lease, so the reaper cannot hand
 * the job on while we write its steps. */
static bool hold_lease(PGconn *conn, const char *job_id, const char *worker_id, const char *what,
                       err *e)
{
    const char *p[2] = {job_id, worker_id};
    PGresult *r = run(conn,
                      "SELECT 1 FROM jobs WHERE id = $1 AND state = 'leased' AND leased_by = $2"
                      " FOR NO KEY UPDATE",
                      2, p, PGRES_TUPLES_OK, what, e);
    if (r == NULL)
        return false;
    bool found = PQntuples(r) == 1;
    PQclear(r);
    if (!found)
        return err_set(e, ERR_NOT_FOUND, "%s: job %s is not leased by worker '%s'", what, job_id,
                       worker_id);
    return true;
}

static bool check_step(const char *job_id, const char *name, const char *what, err *e)
{
    if (name == NULL || *name == '\0' || strlen(name) > 200)
        return err_set(e, ERR_INVALID,
                       "%s of job %s: step name '%.64s' must be 1 to 200 characters", what, job_id,
                       name ? name : "(null)");
    return true;
}

bool queue_step_begin(PGconn *conn, const char *job_id, const char *worker_id, const char *name,
                      queue_step_result *result, err *e)
{
    const char *what = "step begin";
    if (!check_job_id(job_id, e) || !check_worker(worker_id, e) ||
        !check_step(job_id, name, what, e))
        return false;
    bool own;
    if (!tx_begin(conn, &own, what, e))
        return false;
    bool ok = hold_lease(conn, job_id, worker_id, what, e);
    if (ok) {
        const char *p[2] = {job_id, name};
        /* A step done by an earlier attempt is left alone (DO UPDATE ... WHERE
         * matches nothing, so no row comes back): that is the skip. */
        PGresult *r =
            run(conn,
                "INSERT INTO job_steps (job_id, tenant_id, seq, name, state)"
                " SELECT j.id, j.tenant_id,"
                "        coalesce((SELECT max(seq) FROM job_steps WHERE job_id = j.id), 0) + 1,"
                "        $2, 'begun' FROM jobs j WHERE j.id = $1"
                " ON CONFLICT (job_id, name) DO UPDATE"
                "   SET state = 'begun', started_at = now(), finished_at = NULL, detail = NULL"
                " WHERE job_steps.state <> 'done'"
                " RETURNING seq",
                2, p, PGRES_TUPLES_OK, what, e);
        ok = r != NULL;
        if (ok)
            *result = PQntuples(r) == 1 ? QUEUE_STEP_RUN : QUEUE_STEP_SKIP;
        PQclear(r);
    }
    ok = tx_end(conn, own, ok, what, e);
    if (!ok && e && e->code == ERR_IO)
        err_prefix(e, "job %s step '%s'", job_id, name);
    return ok;
}

bool queue_step_finish(PGconn *conn, const char *job_id, const char *worker_id, const char *name,
                       bool ok_step, const char *detail_json, err *e)
{
    const char *what = "step finish";
    if (!check_job_id(job_id, e) || !check_worker(worker_id, e) ||
        !check_step(job_id, name, what, e))
        return false;
    bool own;
    if (!tx_begin(conn, &own, what, e))
        return false;
    bool ok = hold_lease(conn, job_id, worker_id, what, e);
    if (ok) {
        const char *p[4] = {job_id, name, ok_step ? "done" : "failed", detail_json};
        PGresult *r = run(conn,
                          "UPDATE job_steps SET state = $3, detail = $4::jsonb, finished_at = now()"
                          " WHERE job_id = $1 AND name = $2 AND state = 'begun'",
                          4, p, PGRES_COMMAND_OK, what, e);
        ok = r != NULL;
        if (ok && strcmp(PQcmdTuples(r), "1") != 0)
            ok = err_set(e, ERR_NOT_FOUND, "%s: job %s has no begun step '%.200s'", what, job_id,
                         name);
        PQclear(r);
    }
    ok = tx_end(conn, own, ok, what, e);
    if (!ok && e && e->code == ERR_IO)
        err_prefix(e, "job %s step '%s'", job_id, name);
    return ok;
}

/* ---- LISTEN/NOTIFY ------------------------------------------------------ */

bool queue_listen(PGconn *conn, err *e)
{
    return exec_simple(conn, "LISTEN " QUEUE_CHANNEL, "listen on " QUEUE_CHANNEL, e);
}

int queue_socket(PGconn *conn)
{
    return PQsocket(conn);
}

bool queue_drain_notifies(PGconn *conn, size_t *count, err *e)
{
    *count = 0;
    if (!PQconsumeInput(conn))
        return err_set(e, ERR_IO, "reading notifications on " QUEUE_CHANNEL ": %s",
                       pg_message(conn));
    PGnotify *n;
    while ((n = PQnotifies(conn)) != NULL) {
        if (strcmp(n->relname, QUEUE_CHANNEL) == 0)
            (*count)++;
        PQfreemem(n);
    }
    return true;
}

bool queue_wait(PGconn *conn, int timeout_ms, bool *woken, err *e)
{
    *woken = false;
    size_t count;
    if (!queue_drain_notifies(conn, &count, e))
        return false;
    uint64_t deadline = timeutil_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    while (count == 0) {
        uint64_t now = timeutil_mono_ms();
        if (now >= deadline)
            return true;
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        if (pfd.fd < 0)
            return err_set(e, ERR_IO, "waiting on " QUEUE_CHANNEL ": the connection is closed");
        int rc = poll(&pfd, 1, (int)(deadline - now));
        if (rc < 0 && errno != EINTR)
            return err_set(e, ERR_IO, "waiting on " QUEUE_CHANNEL ": poll: %s", strerror(errno));
        if (rc > 0 && !queue_drain_notifies(conn, &count, e))
            return false;
    }
    *woken = true;
    return true;
}
