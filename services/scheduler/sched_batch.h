/* One batch of the scheduler's work, and how long it may then sleep.
 *
 * A batch is one transaction: up to `batch` due schedules (enabled,
 * next_fire_at <= now) are locked with FOR UPDATE SKIP LOCKED, so replicas
 * pass over each other's rows instead of waiting; for each, sched_plan says
 * which fires make jobs; each such fire is inserted into schedule_fires ON
 * CONFLICT DO NOTHING (its primary key is the fire: a fire already recorded
 * makes no second job) and queued as an ops.run job (lib/queue, joining the
 * transaction; idempotency key "schedule:<id>:<fire time>", created_by the
 * schedule's author); then next_fire_at moves on. Each of those steps is one
 * statement for the whole batch (arrays unnested), not one per fire: a
 * per-fire statement cost PostgreSQL more than the row it wrote. The
 * transaction sets
 * escher.scheduler so the schedules' NOTIFY trigger does not wake the
 * schedulers for these advances.
 *
 * A schedule whose expression or zone cannot be evaluated (a tzdata upgrade
 * removed its zone) stops firing: next_fire_at NULL and the reason in
 * last_error, shown by the API. */
#ifndef ESCHER_SCHEDULER_SCHED_BATCH_H
#define ESCHER_SCHEDULER_SCHED_BATCH_H

#include "sched_zones.h"

#include "core/err.h"
#include "core/log.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_JOB_KIND "ops.run"

typedef struct sched_batch_env {
    PGconn *db;          /* statements; idle (no open transaction) between calls */
    sched_zones *zones;  /* borrowed */
    const logger *log;   /* borrowed */
    int64_t threshold_s; /* misfire threshold (sched_plan.h) */
} sched_batch_env;

typedef struct sched_batch_result {
    size_t schedules;   /* due schedules taken */
    size_t jobs;        /* jobs queued */
    size_t missed;      /* due fires that made no job (missed-fire policy) */
    int64_t max_lag_ms; /* the latest job's lateness: enqueue time - fire time */
} sched_batch_result;

/* Runs one batch of at most batch (1..10000) schedules. On failure the
 * transaction is rolled back (no job, no advance) and e says why; the
 * schedules stay due for the next try. */
bool sched_batch_run(const sched_batch_env *env, int batch, sched_batch_result *out, err *e);

/* Milliseconds from now until the earliest next fire of any enabled
 * schedule (<= 0: one is due now), from the partial index schedules_due in
 * one indexed lookup; *none is true when no schedule will fire. */
bool sched_batch_next_ms(PGconn *db, int64_t *ms, bool *none, err *e);

#endif
