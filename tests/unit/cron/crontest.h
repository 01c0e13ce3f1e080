/* Helpers shared by the lib/cron tests: each fails the current cmocka test
 * with the reason instead of returning an error. */
#ifndef ESCHER_TESTS_CRONTEST_H
#define ESCHER_TESTS_CRONTEST_H

#include "cron/cron.h"

#include <time.h>

/* "2026-03-29T01:00:00Z" -> time_t. */
time_t crontest_iso(const char *s);
tz_zone *crontest_zone(const char *name);
cron_expr *crontest_expr(const char *text);

#endif
