/* One leased job while a worker runs it: its queue record, its kind, a
 * logger whose every line carries the job id, and the steps, audit rows and
 * end of the job in the database.
 *
 * Life. The worker makes a wjob for each job it leases and calls the kind's
 * start. The job then ends exactly once: wjob_complete or wjob_fail from the
 * kind, wjob_release from the worker at shutdown, or wjob_lost when the lease
 * turned out to be someone else's. After the end no database write is made
 * for it; the worker is told (env.on_end) so the slot is free again.
 *
 * Asynchronous operations (AWS calls) may still be in flight at the end, so
 * the memory lives on: every operation holds a reference taken with
 * wjob_hold, and its callback first calls wjob_resume, which gives the
 * reference back and says whether the job is still running. When the last
 * reference goes, the kind's state and the job are freed.
 *
 * Database work is synchronous on the worker's connection: short statements,
 * each state change one transaction. */
#ifndef ESCHER_WORKER_JOB_H
#define ESCHER_WORKER_JOB_H

#include "core/err.h"
#include "core/log.h"
#include "core/seal.h"
#include "job_kinds.h"
#include "queue/queue.h"
#include "worker_aws.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct wjob wjob;

/* What every job of one worker shares (borrowed from the worker). */
typedef struct wjob_env {
    PGconn *db;
    waws *aws;
    const char *worker_id;
    const char *actor;    /* "worker:<worker id>" in audit rows */
    int session_duration; /* DurationSeconds for role sessions */
    /* Plain HTTP(S) on the loop for jobs that call no AWS (notifications). */
    struct http_async *http;
    const seal_key *master_key; /* option master-key; NULL when unset */
    struct event_base *base;    /* the worker's loop, for a job's own timers */
    /* Called once when a job ends, whatever the way. */
    void (*on_end)(wjob *j, void *arg);
    void *on_end_arg;
} wjob_env;

struct wjob {
    queue_job q; /* id, tenant, kind, payload text, created_by, attempts */
    const job_kind *kind;
    const wjob_env *env;
    logger *log;     /* job_id, kind and attempt on every line */
    json_t *payload; /* parsed payload; an object (empty when it was not one) */
    void *state;     /* the kind's, freed by kind->free_state */
    bool cancel_requested;
    bool ended;
    int refs;
    uint64_t started_ms;
    wjob *prev, *next; /* the worker's list of running jobs */
};

/* Makes the job from a leased record, taking q's heap fields (q is zeroed).
 * parent and env are borrowed and must outlive the job. Never fails. */
wjob *wjob_new(const wjob_env *env, queue_job *q, const job_kind *kind, const logger *parent);

/* Takes a reference for an asynchronous operation. */
void wjob_hold(wjob *j);

/* Gives back an operation's reference. True when the job is still running
 * and the callback should go on; false when it has ended (j may then be
 * freed: do not touch it). */
bool wjob_resume(wjob *j);

/* True when this lease is the job's last allowed attempt. */
bool wjob_last_attempt(const wjob *j);

/* A statement run inside the transaction that ends a step or the job (the
 * account row's status with the job's end, so both or neither happen). */
typedef bool (*wjob_tx_fn)(PGconn *db, void *arg, err *e);

/* Begins step `name`. Returns true with *skip false: do the step, then
 * wjob_step_finish. True with *skip true: an earlier attempt finished it;
 * *prior (may be NULL) gets that attempt's detail (caller decrefs; NULL when
 * none). False when the job cannot go on (a cancel request, a lost lease, a
 * database failure): the job has then been ended here and the caller
 * just returns. */
bool wjob_step_begin(wjob *j, const char *name, bool *skip, json_t **prior);

/* Finishes step `name` (ok or failed) with detail (borrowed; no secrets),
 * runs extra (may be NULL) and appends the audit row {"kind", "step", "ok",
 * "detail"} as "worker:<id>" "job.step" "job:<id>", in one transaction.
 * False when that failed: the job has been ended here. */
bool wjob_step_finish(wjob *j, const char *name, bool ok, const json_t *detail, wjob_tx_fn extra,
                      void *extra_arg);

/* Ends the job as succeeded with result (borrowed; NULL for none), running
 * extra in the same transaction. */
void wjob_complete(wjob *j, const json_t *result, wjob_tx_fn extra, void *extra_arg);

/* Ends the attempt as failed with message (kept as the job's last_error):
 * retried later when retryable and attempts remain, else failed for good;
 * cancelled instead when a cancel was requested. extra runs in the same
 * transaction. */
void wjob_fail(wjob *j, const char *message, bool retryable, wjob_tx_fn extra, void *extra_arg);

/* Hands the job back to the queue without counting the attempt (shutdown). */
void wjob_release(wjob *j);

/* Ends the job without writing anything: its lease is no longer ours. */
void wjob_lost(wjob *j, const err *why);

/* Drops the worker's own reference (taken by wjob_new) once the job has
 * ended and the worker has forgotten it. */
void wjob_unref(wjob *j);

#endif
