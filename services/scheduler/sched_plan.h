/* Which fires of one due schedule become jobs, and when it fires next: the
 * missed-fire policy as a pure function of the schedule's timing and the
 * time now, so it is tested without a database or a clock.
 *
 * A fire reached at most `threshold` late is on time (a scheduler is never
 * exactly punctual). A fire reached later was missed, because no scheduler
 * ran or all were far behind, and the schedule's policy decides:
 *   skip      no job for it;
 *   run_once  one job, for the latest fire due now, if that one is at most
 *             `window` late (a burst of missed fires is run once, not N times);
 *   run_each  one job per due fire at most `window` late.
 * Fires further back than the policy's horizon (threshold for skip, the
 * larger of window and threshold otherwise) are never looked at one by one:
 * after a week of downtime a per-minute schedule costs one cron_next, not
 * 10,000. The next fire is always the first one strictly after now. */
#ifndef ESCHER_SCHEDULER_SCHED_PLAN_H
#define ESCHER_SCHEDULER_SCHED_PLAN_H

#include "core/err.h"
#include "cron/cron.h"
#include "cron/tz.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef enum sched_policy {
    SCHED_SKIP,
    SCHED_RUN_ONCE,
    SCHED_RUN_EACH,
} sched_policy;

/* The stored names ("skip", "run_once", "run_each"); false for others. */
bool sched_policy_parse(const char *s, sched_policy *out);
const char *sched_policy_name(sched_policy p);

/* A due schedule's timing. Borrowed pointers. */
typedef struct sched_timing {
    const cron_expr *cron; /* NULL: a one-off schedule firing once at `due` */
    const tz_zone *zone;   /* the schedule's zone (cron schedules) */
    time_t due;            /* next_fire_at: a fire time, at most now */
    sched_policy policy;
    int64_t window_s;    /* missed_fire_window, >= 0 */
    int64_t threshold_s; /* the scheduler's misfire threshold, >= 0 */
} sched_timing;

typedef struct sched_plan {
    time_t *fires; /* to turn into jobs, oldest first (heap; sched_plan_clear) */
    size_t nfires;
    size_t missed; /* due fires within the horizon that make no job */
    bool older;    /* fires older than the horizon were passed over uncounted */
    bool has_next; /* false: a one-off, or no fire left within cron_next's reach */
    time_t next;   /* the new next_fire_at when has_next */
} sched_plan;

/* Plans t at now (seconds, UTC). Fails only when cron_next fails for a
 * reason other than "no fire left" (then has_next is false instead). out is
 * the caller's to sched_plan_clear, also after a failure. */
bool sched_plan_make(const sched_timing *t, time_t now, sched_plan *out, err *e);

void sched_plan_clear(sched_plan *p);

#endif
