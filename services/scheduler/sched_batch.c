/* One batch of due schedules turned into jobs. See sched_batch.h. */
#include "sched_batch.h"

#include "sched_plan.h"

#include "core/strbuf.h"
#include "core/timeutil.h"
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

/* Records the fire and queues its job, unless the fire was recorded
 * already (then *job is ""). */
static bool fire(const sched_batch_env *env, const due_row *r, time_t at, char job[QUEUE_ID_LEN],
                 err *e)
{
    job[0] = '\0';
    char at_s[24], iso[TIMEUTIL_ISO8601_LEN];
    snprintf(at_s, sizeof at_s, "%" PRId64, (int64_t)at);
    timeutil_format_iso8601(at, iso);
    const char *p[3] = {r->id, at_s, r->tenant};
    PGresult *res = db_query(env->db,
                             "INSERT INTO schedule_fires (schedule_id, fire_at, tenant_id)"
                             " VALUES ($1::uuid, to_timestamp($2::bigint), $3::uuid)"
                             " ON CONFLICT (schedule_id, fire_at) DO NOTHING RETURNING 1",
                             3, p, e);
    if (res == NULL)
        return false;
    bool fresh = PQntuples(res) == 1;
    PQclear(res);
    if (!fresh) {
        log_info(env->log, "fire already recorded: no second job", LOG_STR("schedule_id", r->id),
                 LOG_STR("fire_at", iso));
        return true;
    }
    char *payload = payload_of(r, iso, e);
    if (payload == NULL)
        return false;
    char key[QUEUE_ID_LEN + 40];
    snprintf(key, sizeof key, "schedule:%s:%s", r->id, iso);
    queue_new_job nj = {.tenant_id = r->tenant,
                        .kind = SCHED_JOB_KIND,
                        .payload_json = payload,
                        .idempotency_key = key,
                        .created_by = r->created_by};
    bool duplicate = false;
    bool ok = queue_enqueue(env->db, &nj, job, &duplicate, e);
    free(payload);
    if (!ok)
        return err_prefix(e, "schedule %s fire %s", r->id, iso);
    log_debug(env->log, "schedule fired", LOG_STR("schedule_id", r->id),
              LOG_STR("tenant_id", r->tenant), LOG_STR("fire_at", iso), LOG_STR("job_id", job),
              LOG_BOOL("duplicate", duplicate));
    return true;
}

/* Moves the schedule on: next fire (or none), the latest fire that ran,
 * last_error, and the job of each fire recorded in this batch. */
static bool advance(const sched_batch_env *env, const due_row *r, const sched_plan *pl,
                    const char (*jobs)[QUEUE_ID_LEN], const char *error)
{
    char next[24], last[24];
    snprintf(next, sizeof next, "%" PRId64, (int64_t)pl->next);
    snprintf(last, sizeof last, "%" PRId64, pl->nfires ? (int64_t)pl->fires[pl->nfires - 1] : 0);
    strbuf ats = STRBUF_INIT, ids = STRBUF_INIT;
    strbuf_putc(&ats, '{');
    strbuf_putc(&ids, '{');
    size_t n = 0;
    for (size_t i = 0; i < pl->nfires; i++) {
        if (!jobs[i][0])
            continue;
        strbuf_printf(&ats, "%s%" PRId64, n ? "," : "", (int64_t)pl->fires[i]);
        strbuf_printf(&ids, "%s%s", n ? "," : "", jobs[i]);
        n++;
    }
    strbuf_putc(&ats, '}');
    strbuf_putc(&ids, '}');
    const char *p[6] = {r->id, pl->has_next ? next : NULL, pl->nfires ? last : NULL,
                        error, strbuf_str(&ats),           strbuf_str(&ids)};
    err e = {0};
    bool ok = db_exec(env->db,
                      "WITH fired AS ("
                      "  UPDATE schedule_fires f SET job_id = j.job"
                      "    FROM unnest($5::bigint[], $6::uuid[]) AS j(at, job)"
                      "   WHERE f.schedule_id = $1::uuid AND f.fire_at = to_timestamp(j.at))"
                      " UPDATE schedules SET next_fire_at = to_timestamp($2::bigint),"
                      "        last_fire_at = COALESCE(to_timestamp($3::bigint), last_fire_at),"
                      "        last_error = $4"
                      "  WHERE id = $1::uuid",
                      6, p, NULL, &e);
    strbuf_free(&ats);
    strbuf_free(&ids);
    if (!ok)
        log_error(env->log, "cannot advance a schedule", LOG_STR("schedule_id", r->id),
                  LOG_STR("error", e.message));
    return ok;
}

/* A schedule that cannot be evaluated stops firing with the reason shown.
 * False (e set) when even that cannot be written. */
static bool stop_schedule(const sched_batch_env *env, const due_row *r, const err *why, err *e)
{
    log_error(env->log, "schedule cannot be evaluated: it stops firing",
              LOG_STR("schedule_id", r->id), LOG_STR("tenant_id", r->tenant),
              LOG_STR("error", why->message));
    sched_plan none = {0};
    if (!advance(env, r, &none, NULL, why->message))
        return err_set(e, ERR_IO, "stopping schedule %s", r->id);
    return true;
}

/* Plans and fires one leased schedule. False only for a database failure
 * (the batch is then rolled back); *e says why. */
static bool run_schedule(const sched_batch_env *env, const due_row *r, sched_batch_result *out,
                         err *e)
{
    sched_timing t = {.due = r->due, .window_s = r->window_s, .threshold_s = env->threshold_s};
    err why = {0};
    cron_expr *c = NULL;
    if (!sched_policy_parse(r->policy, &t.policy)) {
        err_set(&why, ERR_INVALID, "unknown missed-fire policy '%s'", r->policy);
        return stop_schedule(env, r, &why, e);
    }
    if (r->cron) {
        t.zone = sched_zones_get(env->zones, r->zone, &why);
        if (t.zone == NULL || !cron_parse(r->cron, &c, &why))
            return stop_schedule(env, r, &why, e);
        t.cron = c;
    }
    sched_plan pl;
    bool planned = sched_plan_make(&t, r->now, &pl, &why);
    cron_free(c);
    if (!planned) {
        sched_plan_clear(&pl);
        return stop_schedule(env, r, &why, e);
    }
    if (pl.missed || pl.older)
        log_warn(env->log, "missed fires", LOG_STR("schedule_id", r->id),
                 LOG_STR("tenant_id", r->tenant), LOG_STR("policy", r->policy),
                 LOG_INT("late_s", (int64_t)(r->now - r->due)), LOG_INT("run", pl.nfires),
                 LOG_INT("not_run", pl.missed), LOG_BOOL("older_not_run", pl.older));
    char(*jobs)[QUEUE_ID_LEN] = calloc(pl.nfires ? pl.nfires : 1, sizeof *jobs);
    bool ok = jobs != NULL;
    for (size_t i = 0; ok && i < pl.nfires; i++) {
        ok = fire(env, r, pl.fires[i], jobs[i], e);
        if (ok && jobs[i][0])
            out->jobs++;
    }
    /* cron_next looks 5 years ahead; an expression with nothing there ends. */
    const char *ended =
        r->cron && !pl.has_next ? "the expression has no fire in the next 5 years" : NULL;
    if (ok && !advance(env, r, &pl, (const char(*)[QUEUE_ID_LEN])jobs, ended))
        ok = err_set(e, ERR_IO, "advancing schedule %s", r->id);
    if (ok && pl.nfires) {
        int64_t lag = timeutil_now_ms() - (int64_t)pl.fires[pl.nfires - 1] * 1000;
        if (lag > out->max_lag_ms)
            out->max_lag_ms = lag;
    }
    out->missed += pl.missed;
    free(jobs);
    sched_plan_clear(&pl);
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
    int n = ok ? PQntuples(res) : 0;
    for (int i = 0; ok && i < n; i++) {
        due_row r;
        read_row(res, i, &r);
        ok = run_schedule(env, &r, out, e);
    }
    PQclear(res);
    if (ok && !db_commit(env->db, e))
        ok = false;
    if (!ok) {
        err ignored = {0};
        db_rollback(env->db, &ignored);
        memset(out, 0, sizeof *out);
        return false;
    }
    out->schedules = (size_t)n;
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
