#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crontest.h"

#include "core/timeutil.h"

time_t crontest_iso(const char *s)
{
    time_t t;
    if (!timeutil_parse_iso8601(s, &t, NULL))
        fail_msg("bad time in test: %s", s);
    return t;
}

tz_zone *crontest_zone(const char *name)
{
    err e;
    tz_zone *z = tz_load(name, &e);
    if (!z)
        fail_msg("tz_load(%s): %s", name, e.message);
    return z;
}

cron_expr *crontest_expr(const char *text)
{
    cron_expr *c;
    err e;
    if (!cron_parse(text, &c, &e))
        fail_msg("cron_parse(%s): %s", text, e.message);
    return c;
}
