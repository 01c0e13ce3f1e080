/* Cron expressions: parsing, canonical text and the next fire time in a time
 * zone. A parsed expression is immutable and may be shared between threads. */
#ifndef ESCHER_CRON_CRON_H
#define ESCHER_CRON_CRON_H

#include "core/err.h"
#include "cron/tz.h"

#include <stdbool.h>
#include <time.h>

typedef struct cron_expr cron_expr;

/* 5 fields (minute hour day-of-month month day-of-week) with lists, ranges,
 * steps (*\/15, 1-30/5), names (jan-dec, sun-sat, case-insensitive), 7 =
 * Sunday, and @hourly @daily @midnight @weekly @monthly @yearly @annually.
 * Vixie semantics: when both day-of-month and day-of-week are restricted, a
 * day matches if either does. Errors: ERR_INVALID, with a message exactly like
 * "invalid cron field 'day-of-month' in '0 20 32 * *': 32 is out of range
 * 1-31". On success *out is the caller's, freed with cron_free. */
bool cron_parse(const char *text, cron_expr **out, err *e);
void cron_free(cron_expr *c);

/* The first fire strictly after `after` (UTC) in zone z. DST: a local time
 * skipped by spring-forward fires once at the first valid instant after the
 * gap (the gap's end); a local time repeated by fall-back fires once, at its
 * first occurrence -- except when the minute or hour field starts with '*'
 * ("*\/15 * * * *", "0 * * * *"): such periodic schedules fire in both passes,
 * as in Vixie cron, so they keep their rhythm in real time with no hole.
 * ERR_NOT_FOUND when no fire exists within 5 years (e.g. "0 0 30 2 *"). */
bool cron_next(const cron_expr *c, const tz_zone *z, time_t after, time_t *next, err *e);

/* Canonical text of the expression (for display and storage), e.g. "0 20 * *
 * 1-5". Parsing it again gives an equal expression. Caller frees. */
char *cron_text(const cron_expr *c);

#endif
