/* A running job: steps, audit rows and its end. See worker_job.h. */
#include "worker_job.h"

#include "audit/audit.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wjob *wjob_new(const wjob_env *env, queue_job *q, const job_kind *kind, const logger *parent)
{
    wjob *j = xcalloc(1, sizeof *j);
    j->q = *q;
    memset(q, 0, sizeof *q); /* the payload and created_by are ours now */
    j->kind = kind;
    j->env = env;
    j->refs = 1;
    j->started_ms = timeutil_mono_ms();
    j->log = log_child(parent, LOG_STR("job_id", j->q.id), LOG_STR("kind", j->q.kind),
                       LOG_INT("attempt", j->q.attempts));
    json_error_t je;
    j->payload = json_loads(j->q.payload ? j->q.payload : "{}", 0, &je);
    if (!json_is_object(j->payload)) {
        json_decref(j->payload);
        j->payload = json_object();
    }
    return j;
}

static void job_free(wjob *j)
{
    if (j->state && j->kind && j->kind->free_state)
        j->kind->free_state(j->state);
    json_decref(j->payload);
    log_free(j->log);
    queue_jobs_clear(&j->q, 1);
    free(j);
}

void wjob_hold(wjob *j)
{
    j->refs++;
}

void wjob_unref(wjob *j)
{
    if (--j->refs == 0)
        job_free(j);
}

bool wjob_resume(wjob *j)
{
    bool running = !j->ended;
    wjob_unref(j);
    return running;
}

bool wjob_last_attempt(const wjob *j)
{
    return j->q.attempts >= j->q.max_attempts;
}

/* Marks the end and tells the worker (which forgets the job and drops its
 * reference later, from the loop). */
static void end(wjob *j, const char *how)
{
    j->ended = true;
    log_info(j->log, "job ended", LOG_STR("outcome", how),
             LOG_INT("ms", (int64_t)(timeutil_mono_ms() - j->started_ms)));
    j->env->on_end(j, j->env->on_end_arg);
}

void wjob_lost(wjob *j, const err *why)
{
    if (j->ended)
        return;
    log_warn(j->log, "lease lost: leaving the job to whoever holds it now",
             LOG_STR("error", why ? why->message : NULL));
    end(j, "lost");
}

/* The database failed under a job: the lease may or may not still be ours.
 * A best-effort retryable failure; if even that fails, the lease runs out and
 * the reaper gives the job to another worker. */
static void db_trouble(wjob *j, const err *e)
{
    if (e->code == ERR_NOT_FOUND) {
        wjob_lost(j, e);
        return;
    }
    log_error(j->log, "database error while running the job", LOG_STR("error", e->message));
    err fe = {0};
    char msg[ERR_MESSAGE_MAX + 32];
    snprintf(msg, sizeof msg, "worker database error: %s", e->message);
    if (!queue_fail(j->env->db, j->q.id, j->env->worker_id, msg, true, NULL, NULL, &fe))
        log_error(j->log, "could not record the failure either; the lease will expire",
                  LOG_STR("error", fe.message));
    end(j, "database error");
}

static json_t *step_detail(wjob *j, const char *name)
{
    const char *p[2] = {j->q.id, name};
    err e = {0};
    PGresult *r = db_query(
        j->env->db, "SELECT detail FROM job_steps WHERE job_id = $1 AND name = $2", 2, p, &e);
    json_t *out = NULL;
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        out = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    return out;
}

bool wjob_step_begin(wjob *j, const char *name, bool *skip, json_t **prior)
{
    *skip = false;
    if (prior)
        *prior = NULL;
    if (j->ended)
        return false;
    if (j->cancel_requested) {
        wjob_fail(j, "cancelled by request", false, NULL, NULL);
        return false;
    }
    queue_step_result res;
    err e = {0};
    if (!queue_step_begin(j->env->db, j->q.id, j->env->worker_id, name, &res, &e)) {
        db_trouble(j, &e);
        return false;
    }
    if (res == QUEUE_STEP_SKIP) {
        *skip = true;
        if (prior)
            *prior = step_detail(j, name);
        log_info(j->log, "step done by an earlier attempt: skipped", LOG_STR("step", name));
    }
    return true;
}

/* Runs the statements of one transaction: body, then commit; rollback and
 * false (e set) on any failure. */
typedef bool (*tx_body_fn)(wjob *j, void *arg, err *e);

static bool in_transaction(wjob *j, tx_body_fn body, void *arg, err *e)
{
    PGconn *db = j->env->db;
    if (!db_begin(db, e))
        return false;
    if (!body(j, arg, e) || !db_commit(db, e)) {
        err ignored;
        db_rollback(db, &ignored);
        return false;
    }
    return true;
}

typedef struct step_end {
    const char *name;
    bool ok;
    const json_t *detail;
    wjob_tx_fn extra;
    void *extra_arg;
} step_end;

static bool step_end_body(wjob *j, void *arg, err *e)
{
    step_end *s = arg;
    char *detail = s->detail ? json_dumps(s->detail, JSON_COMPACT) : NULL;
    bool ok = queue_step_finish(j->env->db, j->q.id, j->env->worker_id, s->name, s->ok, detail, e);
    free(detail);
    if (ok && s->extra)
        ok = s->extra(j->env->db, s->extra_arg, e);
    if (ok) {
        json_t *audit = json_pack("{s:s, s:s, s:b, s:i}", "kind", j->q.kind, "step", s->name, "ok",
                                  s->ok, "attempt", j->q.attempts);
        if (s->detail)
            json_object_set(audit, "detail", (json_t *)s->detail);
        char target[QUEUE_ID_LEN + 8];
        snprintf(target, sizeof target, "job:%s", j->q.id);
        ok = audit_append(j->env->db, j->q.tenant_id, j->env->actor, "job.step", target, audit,
                          NULL, e);
        json_decref(audit);
    }
    return ok;
}

bool wjob_step_finish(wjob *j, const char *name, bool ok, const json_t *detail, wjob_tx_fn extra,
                      void *extra_arg)
{
    if (j->ended)
        return false;
    step_end s = {name, ok, detail, extra, extra_arg};
    err e = {0};
    if (!in_transaction(j, step_end_body, &s, &e)) {
        db_trouble(j, &e);
        return false;
    }
    log_info(j->log, "step finished", LOG_STR("step", name), LOG_BOOL("ok", ok));
    return true;
}

typedef struct job_end {
    const json_t *result;
    const char *message;
    bool retryable;
    bool requeued;
    wjob_tx_fn extra;
    void *extra_arg;
} job_end;

static bool complete_body(wjob *j, void *arg, err *e)
{
    job_end *x = arg;
    if (x->extra && !x->extra(j->env->db, x->extra_arg, e))
        return false;
    char *result = x->result ? json_dumps(x->result, JSON_COMPACT) : NULL;
    bool ok = queue_complete_result(j->env->db, j->q.id, j->env->worker_id, result, e);
    free(result);
    return ok;
}

void wjob_complete(wjob *j, const json_t *result, wjob_tx_fn extra, void *extra_arg)
{
    if (j->ended)
        return;
    job_end x = {.result = result, .extra = extra, .extra_arg = extra_arg};
    err e = {0};
    if (!in_transaction(j, complete_body, &x, &e)) {
        db_trouble(j, &e);
        return;
    }
    end(j, "succeeded");
}

static bool fail_body(wjob *j, void *arg, err *e)
{
    job_end *x = arg;
    if (x->extra && !x->extra(j->env->db, x->extra_arg, e))
        return false;
    return queue_fail(j->env->db, j->q.id, j->env->worker_id, x->message, x->retryable, NULL,
                      &x->requeued, e);
}

void wjob_fail(wjob *j, const char *message, bool retryable, wjob_tx_fn extra, void *extra_arg)
{
    if (j->ended)
        return;
    job_end x = {
        .message = message, .retryable = retryable, .extra = extra, .extra_arg = extra_arg};
    err e = {0};
    if (!in_transaction(j, fail_body, &x, &e)) {
        db_trouble(j, &e);
        return;
    }
    log_warn(j->log, "job attempt failed", LOG_STR("error", message),
             LOG_BOOL("retryable", retryable), LOG_BOOL("requeued", x.requeued));
    end(j, j->cancel_requested ? "cancelled" : x.requeued ? "requeued" : "failed");
}

void wjob_release(wjob *j)
{
    if (j->ended)
        return;
    err e = {0};
    if (!queue_release(j->env->db, j->q.id, j->env->worker_id, &e)) {
        db_trouble(j, &e);
        return;
    }
    log_info(j->log, "job handed back to the queue (attempt not counted)");
    end(j, "released");
}
