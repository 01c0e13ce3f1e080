/* One batch of due schedules turned into jobs. See sched_batch.h. */
#include "sched_batch.h"

#include "sched_plan.h"

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "cron/cron.h"
#include "db/db.h"
#include "queue/queue.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The due schedules, oldest fire first, locked for this transaction. Times
 * are whole seconds: floor() so that a next_fire_at written by hand with a
 * fraction is still at or before now. */
static const char lease_sql[] =
    "SELECT id, tenant_id, cron, time_zone, operation, params::text, target::text, dry_run,"
    "       missed_fire_policy, extract(epoch FROM missed_fire_window)::bigint, created_by,"
    "       floor(extract(epoch FROM next_fire_at))::bigint,"
    "       floor(extract(epoch FROM now()))::bigint"
    "  FROM schedules WHERE enabled AND next_fire_at <= now()"
    " ORDER BY next_fire_at LIMIT $1::int FOR UPDATE SKIP LOCKED";

enum {
    COL_ID,
    COL_TENANT,
    COL_CRON,
    COL_ZONE,
    COL_OPERATION,
    COL_PARAMS,
    COL_TARGET,
    COL_DRY_RUN,
    COL_POLICY,
    COL_WINDOW,
    COL_CREATED_BY,
    COL_DUE,
    COL_NOW,
};

/* One leased row; the strings point into the lease result. */
typedef struct due_row {
    const char *id, *tenant, *cron, *zone, *operation, *params, *target, *created_by, *policy;
    bool dry_run;
    int64_t window_s;
    time_t due, now;
} due_row;

static void read_row(PGresult *res, int i, due_row *r)
{
    r->id = PQgetvalue(res, i, COL_ID);
    r->tenant = PQgetvalue(res, i, COL_TENANT);
    r->cron = PQgetisnull(res, i, COL_CRON) ? NULL : PQgetvalue(res, i, COL_CRON);
    r->zone = PQgetvalue(res, i, COL_ZONE);
    r->operation = PQgetvalue(res, i, COL_OPERATION);
    r->params = PQgetvalue(res, i, COL_PARAMS);
    r->target = PQgetvalue(res, i, COL_TARGET);
    r->dry_run = PQgetvalue(res, i, COL_DRY_RUN)[0] == 't';
    r->policy = PQgetvalue(res, i, COL_POLICY);
    r->window_s = strtoll(PQgetvalue(res, i, COL_WINDOW), NULL, 10);
    r->created_by = PQgetvalue(res, i, COL_CREATED_BY);
    r->due = (time_t)strtoll(PQgetvalue(res, i, COL_DUE), NULL, 10);
    r->now = (time_t)strtoll(PQgetvalue(res, i, COL_NOW), NULL, 10);
}

/* The job's payload: what the operation needs, and which fire it is. */
static char *payload_of(const due_row *r, const char *fire_iso, err *e)
{
    json_error_t je;
    json_t *params = json_loads(r->params, 0, &je);
    json_t *target = params ? json_loads(r->target, 0, &je) : NULL;
    if (params == NULL || target == NULL) {
        json_decref(params);
        err_set(e, ERR_INTERNAL, "schedule %s: params or target is not JSON: %s", r->id, je.text);
        return NULL;
    }
    json_t *p = json_pack("{s:s, s:s, s:s, s:o, s:o, s:b}", "schedule", r->id, "fire_at", fire_iso,
                          "operation", r->operation, "params", params, "target", target, "dry_run",
                          r->dry_run);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (text == NULL)
        err_set(e, ERR_INTERNAL, "schedule %s: cannot build the job's payload", r->id);
    return text;
}

/* A PostgreSQL array literal built element by element, to pass a column of
 * the batch as one parameter: a batch costs a few statements whatever its
 * size, not a few per fire (PostgreSQL parsing, planning and running each
 * for one row was most of a fire's cost: docs/performance.md). */
typedef struct pgarr {
    strbuf sb;
    size_t n;
} pgarr;

static void arr_init(pgarr *a)
{
    strbuf_init(&a->sb);
    strbuf_putc(&a->sb, '{');
    a->n = 0;
}

/* NULL stays SQL NULL; anything else is double-quoted with " and \ escaped. */
static void arr_put(pgarr *a, const char *v)
{
    if (a->n++ > 0)
        strbuf_putc(&a->sb, ',');
    if (v == NULL) {
        strbuf_puts(&a->sb, "NULL");
        return;
    }
    strbuf_putc(&a->sb, '"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            strbuf_putc(&a->sb, '\\');
        strbuf_putc(&a->sb, *v);
    }
    strbuf_putc(&a->sb, '"');
}

static void arr_put_int(pgarr *a, int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRId64, v);
    arr_put(a, s);
}

static const char *arr_end(pgarr *a)
{
    strbuf_putc(&a->sb, '}');
    return strbuf_str(&a->sb);
}

/* One leased schedule and what the batch does with it. */
typedef struct sched_row {
    due_row r;
    sched_plan pl;
    err why;      /* set (why.code != 0) when it cannot be evaluated: it stops */
    size_t fire0; /* index of its first fire in the batch's fire list */
} sched_row;

/* One fire of the batch. */
typedef struct fire_item {
    size_t row;
    time_t at;
    bool fresh;             /* recorded now (not by an earlier scheduler) */
    char job[QUEUE_ID_LEN]; /* the job, when fresh */
    char iso[TIMEUTIL_ISO8601_LEN];
} fire_item;

/* Plans one leased schedule: pl filled, or why set. */
static void plan_row(const sched_batch_env *env, sched_row *sr)
{
    const due_row *r = &sr->r;
    sched_timing t = {.due = r->due, .window_s = r->window_s, .threshold_s = env->threshold_s};
    cron_expr *c = NULL;
    if (!sched_policy_parse(r->policy, &t.policy)) {
        err_set(&sr->why, ERR_INVALID, "unknown missed-fire policy '%s'", r->policy);
        return;
    }
    if (r->cron) {
        t.zone = sched_zones_get(env->zones, r->zone, &sr->why);
        if (t.zone == NULL || !cron_parse(r->cron, &c, &sr->why))
            return;
        t.cron = c;
    }
    bool planned = sched_plan_make(&t, r->now, &sr->pl, &sr->why);
    cron_free(c);
    if (!planned) {
        sched_plan_clear(&sr->pl);
        return;
    }
    if (sr->pl.missed || sr->pl.older)
        log_warn(env->log, "missed fires", LOG_STR("schedule_id", r->id),
                 LOG_STR("tenant_id", r->tenant), LOG_STR("policy", r->policy),
                 LOG_INT("late_s", (int64_t)(r->now - r->due)), LOG_INT("run", sr->pl.nfires),
                 LOG_INT("not_run", sr->pl.missed), LOG_BOOL("older_not_run", sr->pl.older));
}

/* Records every fire of the batch in one statement, ON CONFLICT DO NOTHING:
 * marks the fires recorded now (fresh); the others were recorded before, by
 * another scheduler, and make no second job. */
static bool record_fires(const sched_batch_env *env, const sched_row *rows, fire_item *fires,
                         size_t nf, err *e)
{
    pgarr ids, ats, tenants;
    arr_init(&ids);
    arr_init(&ats);
    arr_init(&tenants);
    for (size_t k = 0; k < nf; k++) {
        arr_put(&ids, rows[fires[k].row].r.id);
        arr_put_int(&ats, (int64_t)fires[k].at);
        arr_put(&tenants, rows[fires[k].row].r.tenant);
    }
    const char *p[3] = {arr_end(&ids), arr_end(&ats), arr_end(&tenants)};
    PGresult *res = db_query(env->db,
                             "WITH src AS (SELECT s, to_timestamp(at) AS at, t, ord"
                             "               FROM unnest($1::uuid[], $2::bigint[], $3::uuid[])"
                             "                    WITH ORDINALITY AS u(s, at, t, ord)),"
                             " ins AS (INSERT INTO schedule_fires (schedule_id, fire_at, tenant_id)"
                             "         SELECT s, at, t FROM src"
                             "         ON CONFLICT (schedule_id, fire_at) DO NOTHING"
                             "         RETURNING schedule_id, fire_at)"
                             " SELECT src.ord FROM src JOIN ins ON ins.schedule_id = src.s"
                             "                                 AND ins.fire_at = src.at",
                             3, p, e);
    strbuf_free(&ids.sb);
    strbuf_free(&ats.sb);
    strbuf_free(&tenants.sb);
    if (res == NULL)
        return false;
    for (int i = 0; i < PQntuples(res); i++) {
        long ord = strtol(PQgetvalue(res, i, 0), NULL, 10);
        if (ord >= 1 && (size_t)ord <= nf)
            fires[ord - 1].fresh = true;
    }
    PQclear(res);
    return true;
}

static int by_tenant(const void *a, const void *b, void *rows)
{
    const fire_item *x = *(fire_item *const *)a, *y = *(fire_item *const *)b;
    const sched_row *r = rows;
    return strcmp(r[x->row].r.tenant, r[y->row].r.tenant);
}

/* Queues the fresh fires' jobs: one queue_enqueue_many per tenant of the
 * batch (joining the transaction), not one queue_enqueue per fire. */
static bool enqueue_jobs(const sched_batch_env *env, sched_row *rows, fire_item *fires, size_t nf,
                         err *e)
{
    fire_item **fresh = xcalloc(nf ? nf : 1, sizeof *fresh);
    size_t n = 0;
    for (size_t k = 0; k < nf; k++) {
        if (fires[k].fresh) {
            fresh[n++] = &fires[k];
            continue;
        }
        log_info(env->log, "fire already recorded: no second job",
                 LOG_STR("schedule_id", rows[fires[k].row].r.id), LOG_STR("fire_at", fires[k].iso));
    }
    qsort_r(fresh, n, sizeof *fresh, by_tenant, rows);
    queue_new_job *jobs = xcalloc(n ? n : 1, sizeof *jobs);
    char **payloads = xcalloc(n ? n : 1, sizeof *payloads);
    char(*keys)[QUEUE_ID_LEN + 40] = xcalloc(n ? n : 1, sizeof *keys);
    char(*ids)[QUEUE_ID_LEN] = xcalloc(n ? n : 1, sizeof *ids);
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const due_row *r = &rows[fresh[i]->row].r;
        payloads[i] = payload_of(r, fresh[i]->iso, e);
        ok = payloads[i] != NULL;
        snprintf(keys[i], sizeof keys[i], "schedule:%s:%s", r->id, fresh[i]->iso);
        jobs[i] = (queue_new_job){.tenant_id = r->tenant,
                                  .kind = SCHED_JOB_KIND,
                                  .payload_json = payloads[i],
                                  .idempotency_key = keys[i],
                                  .created_by = r->created_by};
    }
    for (size_t i = 0; ok && i < n;) {
        size_t j = i + 1;
        while (j < n && j - i < QUEUE_BATCH_MAX &&
               strcmp(jobs[j].tenant_id, jobs[i].tenant_id) == 0)
            j++;
        ok = queue_enqueue_many(env->db, jobs + i, j - i, ids + i, NULL, e);
        if (!ok)
            err_prefix(e, "queueing %zu fires of tenant %s", j - i, jobs[i].tenant_id);
        for (size_t k = i; ok && k < j; k++) {
            memcpy(fresh[k]->job, ids[k], QUEUE_ID_LEN);
            log_debug(env->log, "schedule fired", LOG_STR("schedule_id", rows[fresh[k]->row].r.id),
                      LOG_STR("tenant_id", jobs[k].tenant_id), LOG_STR("fire_at", fresh[k]->iso),
                      LOG_STR("job_id", fresh[k]->job));
        }
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        free(payloads[i]);
    free(payloads);
    free(keys);
    free(ids);
    free(jobs);
    free(fresh);
    return ok;
}

/* Moves every schedule of the batch on in one statement: next fire (or
 * none), the latest fire that ran, last_error, and each fresh fire's job. */
static bool advance_all(const sched_batch_env *env, const sched_row *rows, size_t n,
                        const fire_item *fires, size_t nf, err *e)
{
    pgarr ids, next, last, error, fs, fat, fjob;
    pgarr *all[] = {&ids, &next, &last, &error, &fs, &fat, &fjob};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        arr_init(all[i]);
    for (size_t i = 0; i < n; i++) {
        const sched_row *sr = &rows[i];
        arr_put(&ids, sr->r.id);
        if (sr->why.code) {
            arr_put(&next, NULL);
            arr_put(&last, NULL);
            arr_put(&error, sr->why.message);
            continue;
        }
        const sched_plan *pl = &sr->pl;
        if (pl->has_next)
            arr_put_int(&next, (int64_t)pl->next);
        else
            arr_put(&next, NULL);
        if (pl->nfires)
            arr_put_int(&last, (int64_t)pl->fires[pl->nfires - 1]);
        else
            arr_put(&last, NULL);
        /* cron_next looks 5 years ahead; an expression with nothing there ends. */
        arr_put(&error, sr->r.cron && !pl->has_next
                            ? "the expression has no fire in the next 5 years"
                            : NULL);
    }
    for (size_t k = 0; k < nf; k++) {
        if (!fires[k].fresh)
            continue;
        arr_put(&fs, rows[fires[k].row].r.id);
        arr_put_int(&fat, (int64_t)fires[k].at);
        arr_put(&fjob, fires[k].job);
    }
    const char *p[7];
    for (size_t i = 0; i < 7; i++)
        p[i] = arr_end(all[i]);
    bool ok = db_exec(env->db,
                      "WITH fired AS ("
                      "  UPDATE schedule_fires f SET job_id = j.job"
                      "    FROM unnest($5::uuid[], $6::bigint[], $7::uuid[]) AS j(s, at, job)"
                      "   WHERE f.schedule_id = j.s AND f.fire_at = to_timestamp(j.at))"
                      " UPDATE schedules s SET next_fire_at = to_timestamp(a.next),"
                      "        last_fire_at = COALESCE(to_timestamp(a.last), s.last_fire_at),"
                      "        last_error = a.error"
                      "   FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[])"
                      "        AS a(id, next, last, error)"
                      "  WHERE s.id = a.id",
                      7, p, NULL, e);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        strbuf_free(&all[i]->sb);
    if (!ok)
        err_prefix(e, "advancing %zu schedules", n);
    return ok;
}

/* Plans, records, queues and advances the leased rows. False only for a
 * database failure (the batch is then rolled back); *e says why. */
static bool run_rows(const sched_batch_env *env, sched_row *rows, size_t n, sched_batch_result *out,
                     err *e)
{
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        plan_row(env, &rows[i]);
        if (rows[i].why.code) {
            log_error(env->log, "schedule cannot be evaluated: it stops firing",
                      LOG_STR("schedule_id", rows[i].r.id), LOG_STR("tenant_id", rows[i].r.tenant),
                      LOG_STR("error", rows[i].why.message));
            continue;
        }
        rows[i].fire0 = nf;
        nf += rows[i].pl.nfires;
        out->missed += rows[i].pl.missed;
    }
    fire_item *fires = xcalloc(nf ? nf : 1, sizeof *fires);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].why.code)
            continue;
        for (size_t j = 0; j < rows[i].pl.nfires; j++) {
            fire_item *f = &fires[rows[i].fire0 + j];
            f->row = i;
            f->at = rows[i].pl.fires[j];
            timeutil_format_iso8601(f->at, f->iso);
        }
    }
    bool ok = (nf == 0 ||
               (record_fires(env, rows, fires, nf, e) && enqueue_jobs(env, rows, fires, nf, e))) &&
              advance_all(env, rows, n, fires, nf, e);
    if (ok) {
        for (size_t k = 0; k < nf; k++)
            out->jobs += fires[k].fresh;
        /* Each schedule's latest fire: how late its schedule now runs. */
        int64_t now_ms = timeutil_now_ms();
        for (size_t i = 0; i < n; i++) {
            if (rows[i].why.code || rows[i].pl.nfires == 0)
                continue;
            int64_t lag = now_ms - (int64_t)rows[i].pl.fires[rows[i].pl.nfires - 1] * 1000;
            if (lag > out->max_lag_ms)
                out->max_lag_ms = lag;
        }
    }
    free(fires);
    return ok;
}

bool sched_batch_run(const sched_batch_env *env, int batch, sched_batch_result *out, err *e)
{
    memset(out, 0, sizeof *out);
    if (batch < 1 || batch > 10000)
        return err_set(e, ERR_INVALID, "batch %d is outside 1..10000", batch);
    if (!db_begin(env->db, e))
        return false;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", batch);
    const char *p[1] = {limit};
    PGresult *res = NULL;
    bool ok =
        db_exec(env->db, "SELECT set_config('escher.scheduler', 'on', true)", 0, NULL, NULL, e) &&
        (res = db_query(env->db, lease_sql, 1, p, e)) != NULL;
    size_t n = ok ? (size_t)PQntuples(res) : 0;
    sched_row *rows = xcalloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; i < n; i++)
        read_row(res, (int)i, &rows[i].r);
    if (ok && n > 0)
        ok = run_rows(env, rows, n, out, e);
    for (size_t i = 0; i < n; i++)
        sched_plan_clear(&rows[i].pl);
    free(rows);
    PQclear(res);
    if (ok && !db_commit(env->db, e))
        ok = false;
    if (!ok) {
        err ignored = {0};
        db_rollback(env->db, &ignored);
        memset(out, 0, sizeof *out);
        return false;
    }
    out->schedules = n;
    return true;
}

bool sched_batch_next_ms(PGconn *db, int64_t *ms, bool *none, err *e)
{
    *ms = 0;
    *none = true;
    PGresult *res =
        db_query(db,
                 "SELECT ceil(extract(epoch FROM min(next_fire_at) - clock_timestamp()) * 1000)"
                 "::bigint FROM schedules WHERE enabled AND next_fire_at IS NOT NULL",
                 0, NULL, e);
    if (res == NULL)
        return false;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        *none = false;
        *ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return true;
}
