/* The missed-fire policy. See sched_plan.h. */
#include "sched_plan.h"

#include "core/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* More due fires than any window admits (7 days of minutes is 10,080): a
 * guard against an expression that cron_next walks in tiny steps. */
#define PLAN_MAX_FIRES 20000

static const char *const policy_names[] = {"skip", "run_once", "run_each"};

bool sched_policy_parse(const char *s, sched_policy *out)
{
    for (size_t i = 0; i < sizeof policy_names / sizeof policy_names[0]; i++) {
        if (strcmp(s, policy_names[i]) == 0) {
            *out = (sched_policy)i;
            return true;
        }
    }
    return false;
}

const char *sched_policy_name(sched_policy p)
{
    return (size_t)p < sizeof policy_names / sizeof policy_names[0] ? policy_names[p] : "?";
}

static void plan_add(sched_plan *p, size_t *cap, time_t f)
{
    if (p->nfires == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        p->fires = xreallocarray(p->fires, *cap, sizeof *p->fires);
    }
    p->fires[p->nfires++] = f;
}

/* cron_next that turns "no fire left" into *found false. */
static bool next_fire(const sched_timing *t, time_t after, time_t *next, bool *found, err *e)
{
    err ne = {0};
    *found = cron_next(t->cron, t->zone, after, next, &ne);
    if (*found || ne.code == ERR_NOT_FOUND)
        return true;
    *e = ne;
    return false;
}

bool sched_plan_make(const sched_timing *t, time_t now, sched_plan *out, err *e)
{
    memset(out, 0, sizeof *out);
    int64_t threshold = t->threshold_s > 0 ? t->threshold_s : 0;
    int64_t window = t->window_s > 0 ? t->window_s : 0;
    int64_t horizon =
        t->policy == SCHED_SKIP ? threshold : (window > threshold ? window : threshold);
    time_t oldest = (time_t)(now - horizon); /* fires before this are past the horizon */
    size_t cap = 0;

    /* out->fires gets every due fire within the horizon, oldest first. */
    if (t->cron == NULL) {
        if (t->due >= oldest)
            plan_add(out, &cap, t->due);
        else
            out->older = true;
    } else {
        time_t f = t->due;
        bool found = true;
        if (f < oldest) {
            /* Step over everything older in one call: the first fire at or
             * after the horizon's start. */
            out->older = true;
            if (!next_fire(t, oldest - 1, &f, &found, e))
                return false;
        }
        while (found && f <= now) {
            if (out->nfires == PLAN_MAX_FIRES)
                return err_set(e, ERR_INTERNAL,
                               "more than %d fires due at once: the expression fires too often",
                               PLAN_MAX_FIRES);
            plan_add(out, &cap, f);
            if (!next_fire(t, f, &f, &found, e))
                return false;
        }
        out->has_next = found;
        out->next = found ? f : 0;
    }

    /* All of them run, except that run_once keeps only the latest. On-time
     * fires are within every horizon, so they always run; a lagging
     * scheduler's backlog under run_once is collapsed like downtime's. */
    if (t->policy == SCHED_RUN_ONCE && out->nfires > 1) {
        out->fires[0] = out->fires[out->nfires - 1];
        out->missed = out->nfires - 1;
        out->nfires = 1;
    }
    return true;
}

void sched_plan_clear(sched_plan *p)
{
    free(p->fires);
    memset(p, 0, sizeof *p);
}
