/* The durable job queue on PostgreSQL (tables jobs and job_steps, migration
 * 0002_jobs.sql).
 *
 * A job moves queued -> leased -> succeeded | failed | cancelled. A worker
 * leases a batch (FOR UPDATE SKIP LOCKED, so concurrent workers never get the
 * same job), heartbeats to keep its lease, then completes or fails each job.
 * A failed attempt goes back to the queue with exponential backoff until
 * max_attempts, then stays failed with its last error. A reaper returns jobs
 * whose lease expired (their worker died) to the queue, counting the attempt.
 * Idle workers LISTEN on channel "escher_jobs" and wake when a job is queued.
 *
 * Every function works on a caller's PGconn and makes each state change in
 * one transaction: its own when the connection is idle, or the caller's when
 * the connection is already inside one (so an API handler can enqueue
 * atomically with its own writes). Functions that take tenant_id set
 * escher.tenant_id for that transaction so row-level security admits the
 * row under the escher_api role; workers (escher_worker, BYPASSRLS) pass NULL
 * where it is optional. Errors quote the job id; database errors carry the
 * SQLSTATE in e->remote_code (lib/db's db_error). Not thread-safe beyond what
 * the PGconn is: one connection per thread.
 *
 * Each statement is prepared on a connection the first time the queue runs
 * it there (named "escher_queue_<n>"), and a transaction's statements go out
 * in one libpq pipeline: one round trip per call. A caller that runs
 * DEALLOCATE ALL or DISCARD ALL on a connection the queue uses must PQreset
 * it (the queue forgets its statements on a reset). */
#ifndef ESCHER_QUEUE_QUEUE_H
#define ESCHER_QUEUE_QUEUE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define QUEUE_ID_LEN    37 /* a uuid in text form plus NUL */
#define QUEUE_KIND_MAX  65 /* kinds match ^[a-z0-9_.:-]{1,64}$ */
#define QUEUE_CHANNEL   "escher_jobs"
#define QUEUE_BATCH_MAX 10000 /* jobs in one queue_enqueue_many or queue_complete_many */

/* What to enqueue. Zeroed fields take the defaults named. */
typedef struct queue_new_job {
    const char *tenant_id;       /* required: the tenant's uuid */
    const char *kind;            /* required: e.g. "account.verify" */
    const char *payload_json;    /* a JSON document; NULL means "{}" */
    int priority;                /* higher runs first; default 0 */
    int64_t delay_ms;            /* run_at = database now() + delay_ms; default 0 */
    int max_attempts;            /* 0 means 5 */
    const char *idempotency_key; /* NULL for none; unique per tenant */
    const char *created_by;      /* the user who caused the job; may be NULL */
    const char *account_id;      /* uuid of the aws_accounts row it concerns; may be NULL */
} queue_new_job;

/* A leased job. payload is heap-owned: release with queue_jobs_clear. */
typedef struct queue_job {
    char id[QUEUE_ID_LEN];
    char tenant_id[QUEUE_ID_LEN];
    char kind[QUEUE_KIND_MAX];
    char *payload;    /* JSON text */
    char *created_by; /* NULL when the job has none */
    int priority;
    int attempts; /* this lease is attempt number `attempts` (1-based) */
    int max_attempts;
} queue_job;

/* Retry backoff: the n-th failed attempt waits min(base_ms * 2^(n-1), cap_ms),
 * less up to half of it at random (jitter, so retries of many jobs spread). */
typedef struct queue_backoff {
    int64_t base_ms; /* 0 means 1000 */
    int64_t cap_ms;  /* 0 means 300000 */
} queue_backoff;

typedef enum queue_cancel_result {
    QUEUE_CANCELLED,        /* it was queued and is now cancelled */
    QUEUE_CANCEL_REQUESTED, /* it is leased; its worker sees the request on heartbeat */
    QUEUE_CANCEL_TOO_LATE,  /* it had already finished (succeeded, failed, cancelled) */
} queue_cancel_result;

typedef enum queue_step_result {
    QUEUE_STEP_RUN,  /* the step is begun: do it, then queue_step_done */
    QUEUE_STEP_SKIP, /* an earlier attempt already did it: skip it */
} queue_step_result;

/* Enqueues a job and writes its id into id_out. With an idempotency key that
 * the tenant already used, no job is added: id_out gets the existing job's id
 * and *duplicate is set true (duplicate may be NULL). Fails with ERR_INVALID
 * for a missing tenant or kind, ERR_IO when the database refuses. */
bool queue_enqueue(PGconn *conn, const queue_new_job *job, char id_out[QUEUE_ID_LEN],
                   bool *duplicate, err *e);

/* Enqueues jobs[0..n) (1..QUEUE_BATCH_MAX, all of one tenant) in one
 * transaction and one round trip: all of them or none. Each job is treated
 * as queue_enqueue treats it: ids_out[i] gets its id, or the existing job's
 * id when its idempotency key was used (also by an earlier job of the batch),
 * and then duplicate[i] (duplicate may be NULL) is true. Fails with
 * ERR_INVALID naming the first bad job or a second tenant, ERR_IO when the
 * database refuses. For producers that have several jobs at once: a batch
 * shares one commit (one WAL flush, one pass of the NOTIFY lock) instead of
 * paying one each. (Were a job holding one of the keys deleted between the
 * insert and the lookup of its id, the call would fail with ERR_INTERNAL
 * after the batch committed; jobs are not deleted today.) */
bool queue_enqueue_many(PGconn *conn, const queue_new_job *jobs, size_t n,
                        char (*ids_out)[QUEUE_ID_LEN], bool *duplicate, err *e);

/* Leases up to `batch` runnable jobs (state queued, run_at <= now) of the
 * given kinds (kinds NULL or nkinds 0: any kind), highest priority first,
 * then oldest run_at, for lease_ms milliseconds, as worker_id. Counts the
 * attempt. Fills out[0..*n) (out has room for batch entries); the caller
 * owns the payloads (queue_jobs_clear). *n is 0 when nothing is runnable. */
bool queue_lease(PGconn *conn, const char *worker_id, const char *const *kinds, size_t nkinds,
                 size_t batch, int64_t lease_ms, queue_job *out, size_t *n, err *e);

/* Frees the heap fields of out[0..n) and zeroes them. */
void queue_jobs_clear(queue_job *out, size_t n);

/* Extends the lease of job_id to now + lease_ms if worker_id still holds it.
 * *cancel_requested (may be NULL) tells whether someone asked to cancel the
 * job: the worker should stop and call queue_fail, which then cancels it.
 * Fails with ERR_NOT_FOUND when the lease is no longer ours (reaped). */
bool queue_heartbeat(PGconn *conn, const char *job_id, const char *worker_id, int64_t lease_ms,
                     bool *cancel_requested, err *e);

/* Marks job_id succeeded. Fails with ERR_NOT_FOUND if worker_id no longer
 * holds its lease (the job was reaped and may run again elsewhere). */
bool queue_complete(PGconn *conn, const char *job_id, const char *worker_id, err *e);

/* Marks job_ids[0..n) (1..QUEUE_BATCH_MAX) succeeded in one statement, so one
 * transaction and one commit for the batch: for a worker whose jobs finish
 * close together. Each job is treated as queue_complete treats it: one that
 * worker_id no longer holds is left alone, lost[i] (lost may be NULL) says
 * so, and the call fails with ERR_NOT_FOUND naming the first such job; the
 * others still succeeded. Other failures (ERR_INVALID, ERR_IO) complete
 * none. */
bool queue_complete_many(PGconn *conn, const char *const *job_ids, size_t n, const char *worker_id,
                         bool *lost, err *e);

/* queue_complete that also stores result_json (a JSON document; NULL for
 * none) as the job's result, in the same statement. */
bool queue_complete_result(PGconn *conn, const char *job_id, const char *worker_id,
                           const char *result_json, err *e);

/* Hands job_id back to the queue without counting the attempt: a worker
 * shutting down (SIGTERM) that did not get to finish the job. It is runnable
 * again at once (another worker is woken), keeps its steps, and a pending
 * cancel request cancels it instead. Fails with ERR_NOT_FOUND when worker_id
 * no longer holds its lease. */
bool queue_release(PGconn *conn, const char *job_id, const char *worker_id, err *e);

/* Records a failed attempt of job_id with error_message (kept in last_error).
 * A retryable failure with attempts left requeues the job with backoff
 * (backoff NULL: the defaults); otherwise the job is failed for good. A job
 * whose cancel was requested is cancelled instead. *requeued (may be NULL)
 * tells which. Fails with ERR_NOT_FOUND if the lease is no longer ours. */
bool queue_fail(PGconn *conn, const char *job_id, const char *worker_id, const char *error_message,
                bool retryable, const queue_backoff *backoff, bool *requeued, err *e);

/* Cancels job_id of tenant_id (NULL under the worker role): a queued job is
 * cancelled at once, a leased one gets cancel_requested. *result says which.
 * Fails with ERR_NOT_FOUND when no such job is visible. */
bool queue_cancel(PGconn *conn, const char *tenant_id, const char *job_id,
                  queue_cancel_result *result, err *e);

/* Returns every job whose lease expired to the queue (attempt counted, last
 * error "lease expired"), or fails it when it has no attempts left, or
 * cancels it when a cancel was requested. *reaped (may be NULL) counts them. */
bool queue_reap(PGconn *conn, size_t *reaped, err *e);

/* Begins step `name` of job_id, which worker_id must hold leased. Returns
 * QUEUE_STEP_SKIP in *result when an earlier attempt finished that step, so
 * a retried job resumes where it failed. Fails with ERR_NOT_FOUND when the
 * lease is not ours. */
bool queue_step_begin(PGconn *conn, const char *job_id, const char *worker_id, const char *name,
                      queue_step_result *result, err *e);

/* Finishes step `name` of job_id as done (ok true) or failed, with an
 * optional JSON detail (NULL for none). Fails with ERR_NOT_FOUND when the
 * step is not begun or the lease is not ours. */
bool queue_step_finish(PGconn *conn, const char *job_id, const char *worker_id, const char *name,
                       bool ok, const char *detail_json, err *e);

/* LISTENs on QUEUE_CHANNEL. Use a connection dedicated to listening (or one
 * only used between waits): notifications arrive on its socket. */
bool queue_listen(PGconn *conn, err *e);

/* The connection's socket, for a libevent loop: on EV_READ call
 * queue_drain_notifies. -1 when the connection is bad. */
int queue_socket(PGconn *conn);

/* Reads what arrived on the socket without blocking and counts the
 * QUEUE_CHANNEL notifications among it (0: none). Fails with ERR_IO when the
 * connection broke. */
bool queue_drain_notifies(PGconn *conn, size_t *count, err *e);

/* Blocks up to timeout_ms for at least one notification (drains all that
 * arrived). *woken is false on timeout: the caller's slow poll. */
bool queue_wait(PGconn *conn, int timeout_ms, bool *woken, err *e);

#endif
