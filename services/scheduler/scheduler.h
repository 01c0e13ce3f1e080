/* escher-scheduler's process: one libevent loop that turns due schedules
 * into jobs (sched_batch.h) and otherwise sleeps.
 *
 * After each batch it either goes on at once (the batch was full: more may
 * be due) or sleeps until the earliest next fire (sched_batch_next_ms, one
 * indexed lookup: it never scans the schedules), at most max-sleep. A second
 * connection LISTENs on escher_schedules, which the schedules' trigger
 * notifies when the API creates or changes a schedule, so a schedule made
 * due now fires at once. When due schedules exist but the last lease found
 * none free (another replica holds them), it looks again shortly instead of
 * spinning.
 *
 * Batches run one per loop pass, so SIGTERM or SIGINT is handled between two
 * of them: the batch in progress commits, nothing new starts, and
 * scheduler_run returns. */
#ifndef ESCHER_SCHEDULER_SCHEDULER_H
#define ESCHER_SCHEDULER_SCHEDULER_H

#include "core/err.h"
#include "core/log.h"
#include "core/opts.h"

#include <stdbool.h>

#define SCHED_CHANNEL "escher_schedules"

typedef struct scheduler scheduler;

/* Connects to PostgreSQL (twice: statements as database-role, and LISTEN)
 * and builds the loop. o and log are borrowed and must outlive it. Fails with
 * the connection's error (password removed) or SET ROLE's. */
scheduler *scheduler_new(const opts *o, const logger *log, err *e);

/* Runs until SIGTERM or SIGINT. False with e when the loop itself failed. */
bool scheduler_run(scheduler *s, err *e);

/* NULL is accepted. */
void scheduler_free(scheduler *s);

#endif
