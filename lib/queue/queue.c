/* The job queue's life cycle: enqueue, lease, heartbeat, complete, release,
 * fail with backoff, cancel and reap. See queue.h; the SQL helpers are in
 * queue_sql.c, steps in queue_steps.c, LISTEN/NOTIFY in queue_notify.c. */
#include "queue/queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "db/db.h"
#include "queue/queue_sql.h"

#define DEFAULT_MAX_ATTEMPTS 5
#define DEFAULT_BASE_MS      1000
#define DEFAULT_CAP_MS       300000
/* The reaper works in slices so one pass never holds thousands of row locks. */
#define REAP_SLICE 500

/* ---- enqueue and lease -------------------------------------------------- */

static bool check_new_job(const queue_new_job *job, err *e)
{
    if (job == NULL || !queue_sql_is_uuid(job->tenant_id))
        return err_set(e, ERR_INVALID, "enqueue: tenant id '%.64s' is not a uuid",
                       job && job->tenant_id ? job->tenant_id : "(null)");
    if (!queue_sql_is_kind(job->kind))
        return err_set(e, ERR_INVALID, "enqueue: job kind '%.80s' must match [a-z0-9_.:-]{1,64}",
                       job->kind ? job->kind : "(null)");
    if (job->max_attempts < 0 || job->max_attempts > 1000)
        return err_set(e, ERR_INVALID, "enqueue: max_attempts %d is outside 1..1000",
                       job->max_attempts);
    if (job->delay_ms < 0)
        return err_set(e, ERR_INVALID, "enqueue: delay_ms %" PRId64 " is negative", job->delay_ms);
    return true;
}

/* A PostgreSQL array literal built element by element, to pass a column of
 * a batch as one text parameter. */
typedef struct pgarray {
    strbuf sb;
    size_t n;
} pgarray;

static void pgarray_init(pgarray *a)
{
    strbuf_init(&a->sb);
    strbuf_putc(&a->sb, '{');
    a->n = 0;
}

/* NULL stays SQL NULL; anything else is double-quoted with " and \ escaped,
 * so any text survives. */
static void pgarray_put(pgarray *a, const char *s)
{
    if (a->n++ > 0)
        strbuf_putc(&a->sb, ',');
    if (s == NULL) {
        strbuf_puts(&a->sb, "NULL");
        return;
    }
    strbuf_putc(&a->sb, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            strbuf_putc(&a->sb, '\\');
        strbuf_putc(&a->sb, *s);
    }
    strbuf_putc(&a->sb, '"');
}

static const char *pgarray_end(pgarray *a)
{
    strbuf_putc(&a->sb, '}');
    return strbuf_str(&a->sb);
}

/* The columns of an enqueued batch, one array parameter each ($2..$9). */
enum {
    COL_KIND,
    COL_PAYLOAD,
    COL_PRIORITY,
    COL_DELAY,
    COL_MAX,
    COL_KEY,
    COL_BY,
    COL_ACCOUNT,
    NCOLS
};

/* Enqueues jobs[0..n), all of one tenant (already checked), in one
 * transaction and one round trip: one INSERT (of one row, or of the batch's
 * columns unnested), and in the same pipeline a lookup of the jobs that hold
 * the idempotency keys given, for the ones whose key was taken. */
static bool enqueue_jobs(PGconn *conn, const queue_new_job *jobs, size_t n,
                         char (*ids)[QUEUE_ID_LEN], bool *duplicate, err *e)
{
    pgarray col[NCOLS], keys;
    for (int c = 0; c < NCOLS; c++)
        pgarray_init(&col[c]);
    pgarray_init(&keys);
    char prio[16], delay[24], maxa[16];
    for (size_t i = 0; i < n; i++) {
        const queue_new_job *j = &jobs[i];
        snprintf(prio, sizeof prio, "%d", j->priority);
        snprintf(delay, sizeof delay, "%" PRId64, j->delay_ms);
        snprintf(maxa, sizeof maxa, "%d", j->max_attempts ? j->max_attempts : DEFAULT_MAX_ATTEMPTS);
        pgarray_put(&col[COL_KIND], j->kind);
        pgarray_put(&col[COL_PAYLOAD], j->payload_json ? j->payload_json : "{}");
        pgarray_put(&col[COL_PRIORITY], prio);
        pgarray_put(&col[COL_DELAY], delay);
        pgarray_put(&col[COL_MAX], maxa);
        pgarray_put(&col[COL_KEY], j->idempotency_key);
        pgarray_put(&col[COL_BY], j->created_by);
        pgarray_put(&col[COL_ACCOUNT], j->account_id);
        if (j->idempotency_key)
            pgarray_put(&keys, j->idempotency_key);
        if (duplicate)
            duplicate[i] = false;
    }
    /* One job passes its fields as they are (the last ones formatted above),
     * a batch its columns as arrays: both come back as (id, inserted) rows. */
    const char *one[1 + NCOLS] = {jobs[0].tenant_id,
                                  jobs[0].kind,
                                  jobs[0].payload_json ? jobs[0].payload_json : "{}",
                                  prio,
                                  delay,
                                  maxa,
                                  jobs[0].idempotency_key,
                                  jobs[0].created_by,
                                  jobs[0].account_id};
    const char *many[1 + NCOLS] = {jobs[0].tenant_id};
    for (int c = 0; c < NCOLS; c++)
        many[1 + c] = pgarray_end(&col[c]);
    const char *q[2] = {jobs[0].tenant_id, pgarray_end(&keys)};
    db_stmt s[3] = {
        {"SELECT set_config('escher.tenant_id', $1, true)", NULL, 1, one},
        {"INSERT INTO jobs (tenant_id, kind, payload, priority, run_at, max_attempts, "
         "                  idempotency_key, created_by, account_id) "
         "VALUES ($1, $2, $3::jsonb, $4::int, now() + $5::bigint * interval '1 millisecond', "
         "        $6::int, $7, $8, $9::uuid) "
         "ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL "
         "DO NOTHING RETURNING id, true",
         NULL, 1 + NCOLS, one},
        /* A later statement has a new snapshot: it sees the job that a
         * concurrent transaction committed with the key, and ours. */
        {"SELECT idempotency_key, id FROM jobs"
         " WHERE tenant_id = $1 AND idempotency_key = ANY ($2::text[])",
         NULL, 2, q},
    };
    if (n > 1)
        /* The ids are drawn before the insert so that each input row can be
         * told inserted (its id came back) from skipped (its key was taken). */
        s[1] = (db_stmt){
            "WITH src AS MATERIALIZED ("
            "  SELECT s.ord, gen_random_uuid() AS id, s.kind, s.payload, s.priority, s.delay_ms,"
            "         s.max_attempts, s.idempotency_key, s.created_by, s.account_id"
            "    FROM unnest($2::text[], $3::jsonb[], $4::int[], $5::bigint[], $6::int[],"
            "                $7::text[], $8::text[], $9::uuid[])"
            "         WITH ORDINALITY AS s(kind, payload, priority, delay_ms, max_attempts,"
            "                              idempotency_key, created_by, account_id, ord)),"
            " ins AS ("
            "  INSERT INTO jobs (id, tenant_id, kind, payload, priority, run_at, max_attempts,"
            "                    idempotency_key, created_by, account_id)"
            "  SELECT id, $1::uuid, kind, payload, priority,"
            "         now() + delay_ms * interval '1 millisecond', max_attempts,"
            "         idempotency_key, created_by, account_id"
            "    FROM src ORDER BY ord"
            "  ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL"
            "  DO NOTHING RETURNING id)"
            " SELECT src.id, ins.id IS NOT NULL FROM src LEFT JOIN ins ON ins.id = src.id"
            "  ORDER BY src.ord",
            NULL, 1 + NCOLS, many};
    PGresult *r[3] = {NULL, NULL, NULL};
    bool ok = queue_sql_pipeline_tx(conn, s, keys.n > 0 ? 3 : 2, r, "enqueue", e);
    /* Row i answers job i; for one job, no row means its key was taken. */
    if (ok && n > 1 && (size_t)PQntuples(r[1]) != n)
        ok =
            err_set(e, ERR_INTERNAL, "enqueue: %d rows came back for %zu jobs", PQntuples(r[1]), n);
    for (size_t i = 0; ok && i < n; i++) {
        if ((size_t)PQntuples(r[1]) > i && PQgetvalue(r[1], (int)i, 1)[0] == 't') {
            queue_sql_copy_field(ids[i], QUEUE_ID_LEN, r[1], (int)i, 0);
            continue;
        }
        const char *key = jobs[i].idempotency_key;
        int row = -1;
        for (int k = 0; key && keys.n > 0 && k < PQntuples(r[2]) && row < 0; k++)
            if (strcmp(PQgetvalue(r[2], k, 0), key) == 0)
                row = k;
        if (row < 0)
            ok = err_set(e, ERR_INTERNAL,
                         "enqueue: idempotency key '%.100s' conflicted but no job has it",
                         key ? key : "");
        else
            queue_sql_copy_field(ids[i], QUEUE_ID_LEN, r[2], row, 1);
        if (ok && duplicate)
            duplicate[i] = true;
    }
    for (int i = 0; i < 3; i++)
        PQclear(r[i]); /* NULL (nothing to free) where the pipeline failed */
    for (int c = 0; c < NCOLS; c++)
        strbuf_free(&col[c].sb);
    strbuf_free(&keys.sb);
    return ok;
}

bool queue_enqueue(PGconn *conn, const queue_new_job *job, char id_out[QUEUE_ID_LEN],
                   bool *duplicate, err *e)
{
    if (duplicate)
        *duplicate = false;
    if (!check_new_job(job, e))
        return false;
    if (!enqueue_jobs(conn, job, 1, (char(*)[QUEUE_ID_LEN])id_out, duplicate, e))
        return err_prefix(e, "kind '%s' for tenant %s", job->kind, job->tenant_id);
    return true;
}

bool queue_enqueue_many(PGconn *conn, const queue_new_job *jobs, size_t n,
                        char (*ids_out)[QUEUE_ID_LEN], bool *duplicate, err *e)
{
    if (n == 0 || n > QUEUE_BATCH_MAX)
        return err_set(e, ERR_INVALID, "enqueue: batch of %zu jobs is outside 1..%d", n,
                       QUEUE_BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!check_new_job(&jobs[i], e))
            return err_prefix(e, "job %zu of %zu", i + 1, n);
        if (strcmp(jobs[i].tenant_id, jobs[0].tenant_id) != 0)
            return err_set(e, ERR_INVALID,
                           "enqueue: job %zu of %zu is for tenant %s, job 1 for tenant %s: a "
                           "batch is one tenant's",
                           i + 1, n, jobs[i].tenant_id, jobs[0].tenant_id);
    }
    if (!enqueue_jobs(conn, jobs, n, ids_out, duplicate, e))
        return err_prefix(e, "%zu jobs for tenant %s", n, jobs[0].tenant_id);
    return true;
}

bool queue_lease(PGconn *conn, const char *worker_id, const char *const *kinds, size_t nkinds,
                 size_t batch, int64_t lease_ms, queue_job *out, size_t *n, err *e)
{
    *n = 0;
    if (!queue_sql_check_worker(worker_id, e))
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
            if (!queue_sql_is_kind(kinds[i])) {
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
    PGresult *r = queue_sql_run(
        conn,
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
        queue_sql_copy_field(j->id, sizeof j->id, r, i, 0);
        queue_sql_copy_field(j->tenant_id, sizeof j->tenant_id, r, i, 1);
        queue_sql_copy_field(j->kind, sizeof j->kind, r, i, 2);
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
    PGresult *r = queue_sql_run(conn, sql, nparams, params, PGRES_TUPLES_OK, what, e);
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
    if (!queue_sql_check_job_id(job_id, e) || !queue_sql_check_worker(worker_id, e))
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
    if (!queue_sql_check_job_id(job_id, e) || !queue_sql_check_worker(worker_id, e))
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

bool queue_complete_many(PGconn *conn, const char *const *job_ids, size_t n, const char *worker_id,
                         bool *lost, err *e)
{
    if (n == 0 || n > QUEUE_BATCH_MAX)
        return err_set(e, ERR_INVALID, "complete: batch of %zu jobs is outside 1..%d", n,
                       QUEUE_BATCH_MAX);
    if (!queue_sql_check_worker(worker_id, e))
        return false;
    pgarray ids;
    pgarray_init(&ids);
    for (size_t i = 0; i < n; i++) {
        if (!queue_sql_check_job_id(job_ids[i], e)) {
            strbuf_free(&ids.sb);
            return err_prefix(e, "complete: job %zu of %zu", i + 1, n);
        }
        pgarray_put(&ids, job_ids[i]);
    }
    const char *p[2] = {pgarray_end(&ids), worker_id};
    /* One statement, so one transaction: the jobs still ours all succeed at
     * once, and a lost one (reaped, cancelled) is left as it is. */
    PGresult *r =
        queue_sql_run(conn,
                      "UPDATE jobs SET state = 'succeeded', leased_by = NULL,"
                      "       lease_expires_at = NULL, finished_at = now(), updated_at = now()"
                      " WHERE id = ANY ($1::uuid[]) AND state = 'leased' AND leased_by = $2"
                      " RETURNING id",
                      2, p, PGRES_TUPLES_OK, "complete", e);
    strbuf_free(&ids.sb);
    if (r == NULL)
        return err_prefix(e, "%zu jobs of worker '%s'", n, worker_id);
    size_t nlost = 0;
    const char *first_lost = NULL;
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        /* uuid output is lower case; the caller's text may not be. */
        for (int k = 0; k < PQntuples(r) && !found; k++)
            found = strcasecmp(PQgetvalue(r, k, 0), job_ids[i]) == 0;
        if (lost)
            lost[i] = !found;
        if (!found && nlost++ == 0)
            first_lost = job_ids[i];
    }
    PQclear(r);
    if (nlost > 0)
        return err_set(e, ERR_NOT_FOUND,
                       "complete: %zu of %zu jobs (first %s) are no longer leased by worker "
                       "'%s'; the other %zu succeeded",
                       nlost, n, first_lost, worker_id, n - nlost);
    return true;
}

bool queue_release(PGconn *conn, const char *job_id, const char *worker_id, err *e)
{
    if (!queue_sql_check_job_id(job_id, e) || !queue_sql_check_worker(worker_id, e))
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
    if (!queue_sql_check_job_id(job_id, e) || !queue_sql_check_worker(worker_id, e))
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
    if (!queue_sql_check_job_id(job_id, e))
        return false;
    if (tenant_id != NULL && !queue_sql_is_uuid(tenant_id))
        return err_set(e, ERR_INVALID, "cancel of job %s: tenant id '%.64s' is not a uuid", job_id,
                       tenant_id);
    const char *what = "cancel";
    bool own;
    if (!queue_sql_tx_begin(conn, &own, what, e))
        return false;
    bool ok = tenant_id == NULL || queue_sql_set_tenant(conn, tenant_id, what, e);
    PGresult *r = NULL;
    char state[16] = "";
    if (ok) {
        const char *p[1] = {job_id};
        r = queue_sql_run(conn, "SELECT state FROM jobs WHERE id = $1 FOR UPDATE", 1, p,
                          PGRES_TUPLES_OK, what, e);
        ok = r != NULL;
        if (ok && PQntuples(r) == 0)
            ok = err_set(e, ERR_NOT_FOUND, "cancel: no job %s%s%s", job_id,
                         tenant_id ? " in tenant " : "", tenant_id ? tenant_id : "");
        if (ok)
            queue_sql_copy_field(state, sizeof state, r, 0, 0);
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
            r = queue_sql_run(conn, sql, 1, p, PGRES_COMMAND_OK, what, e);
            ok = r != NULL;
            PQclear(r);
        }
    }
    ok = queue_sql_tx_end(conn, own, ok, what, e);
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
        PGresult *r = queue_sql_run(
            conn,
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
