/* The time zones the scheduler has met, each loaded (lib/cron's tz_load reads
 * a TZif file) once and kept for the life of the process: a busy minute
 * evaluates thousands of schedules in a handful of zones. A tzdata upgrade
 * takes effect when the scheduler restarts. */
#ifndef ESCHER_SCHEDULER_SCHED_ZONES_H
#define ESCHER_SCHEDULER_SCHED_ZONES_H

#include "core/err.h"
#include "cron/tz.h"

typedef struct sched_zones sched_zones;

sched_zones *sched_zones_new(void);
/* Frees every zone it handed out. NULL is accepted. */
void sched_zones_free(sched_zones *zs);

/* The zone called name, loaded on first use; borrowed until
 * sched_zones_free. Fails like tz_load (a failure is not remembered, so a
 * zone file that appears later is found). */
const tz_zone *sched_zones_get(sched_zones *zs, const char *name, err *e);

#endif
