/* sched_plan: the missed-fire policy as a pure function (no database, no
 * clock). Times are fixed UTC instants; "now" is 2026-11-24 10:30:00Z. */
#include "sched_plan.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>

static tz_zone *utc;
static tz_zone *berlin;

static time_t at(const char *iso)
{
    time_t t = 0;
    err e = {0};
    if (!timeutil_parse_iso8601(iso, &t, &e))
        fail_msg("%s: %s", iso, e.message);
    return t;
}

static const char *text(time_t t)
{
    static char buf[8][TIMEUTIL_ISO8601_LEN];
    static int i;
    i = (i + 1) % 8;
    timeutil_format_iso8601(t, buf[i]);
    return buf[i];
}

/* Plans cron (NULL: a one-off at due) with policy, window and a 60 s
 * threshold at now. */
static sched_plan plan(const char *cron, const tz_zone *z, const char *due, sched_policy policy,
                       int64_t window_s, const char *now)
{
    cron_expr *c = NULL;
    err e = {0};
    if (cron && !cron_parse(cron, &c, &e))
        fail_msg("%s: %s", cron, e.message);
    sched_timing t = {.cron = c,
                      .zone = z,
                      .due = at(due),
                      .policy = policy,
                      .window_s = window_s,
                      .threshold_s = 60};
    sched_plan p;
    if (!sched_plan_make(&t, at(now), &p, &e))
        fail_msg("plan %s: %s", cron ? cron : "one-off", e.message);
    cron_free(c);
    return p;
}

static void want_fires(const sched_plan *p, const char *const *fires, size_t n)
{
    if (p->nfires != n) {
        for (size_t i = 0; i < p->nfires; i++)
            print_message("  fire %s\n", text(p->fires[i]));
        fail_msg("%zu fires, want %zu", p->nfires, n);
    }
    for (size_t i = 0; i < n; i++)
        assert_string_equal(text(p->fires[i]), fires[i]);
}

#define NOW "2026-11-24T10:30:00Z"

static void test_on_time(void **state)
{
    (void)state;
    /* Reached 2 s late: on time under every policy, next is the following fire. */
    for (int pol = SCHED_SKIP; pol <= SCHED_RUN_EACH; pol++) {
        sched_plan p = plan("30 10 * * *", utc, "2026-11-24T10:30:00Z", (sched_policy)pol, 3600,
                            "2026-11-24T10:30:02Z");
        static const char *const f[] = {"2026-11-24T10:30:00Z"};
        want_fires(&p, f, 1);
        assert_true(p.has_next);
        assert_string_equal(text(p.next), "2026-11-25T10:30:00Z");
        assert_int_equal(p.missed, 0);
        assert_false(p.older);
        sched_plan_clear(&p);
    }
    /* 59 s late is still on time for skip (threshold 60 s). */
    sched_plan p =
        plan("*/5 * * * *", utc, "2026-11-24T10:25:00Z", SCHED_SKIP, 0, "2026-11-24T10:25:59Z");
    assert_int_equal(p.nfires, 1);
    sched_plan_clear(&p);
}

static void test_skip(void **state)
{
    (void)state;
    /* Down from 07:00 to 10:30 with an hourly schedule: nothing runs, next 11:00. */
    sched_plan p = plan("0 * * * *", utc, "2026-11-24T07:00:00Z", SCHED_SKIP, 3600, NOW);
    want_fires(&p, NULL, 0);
    assert_true(p.older);
    assert_string_equal(text(p.next), "2026-11-24T11:00:00Z");
    sched_plan_clear(&p);
    /* A per-minute schedule down 3 hours: only the fires within the threshold run. */
    p = plan("* * * * *", utc, "2026-11-24T07:30:00Z", SCHED_SKIP, 3600, NOW);
    static const char *const f[] = {"2026-11-24T10:29:00Z", "2026-11-24T10:30:00Z"};
    want_fires(&p, f, 2);
    assert_string_equal(text(p.next), "2026-11-24T10:31:00Z");
    sched_plan_clear(&p);
}

static void test_run_once(void **state)
{
    (void)state;
    /* The latest missed fire (10:00, 30 min late) runs once. */
    sched_plan p = plan("0 * * * *", utc, "2026-11-24T07:00:00Z", SCHED_RUN_ONCE, 3600, NOW);
    static const char *const f[] = {"2026-11-24T10:00:00Z"};
    want_fires(&p, f, 1);
    assert_string_equal(text(p.next), "2026-11-24T11:00:00Z");
    sched_plan_clear(&p);
    /* The same with a 3 h window: still once, the others counted as missed. */
    p = plan("0 * * * *", utc, "2026-11-24T08:00:00Z", SCHED_RUN_ONCE, 3 * 3600, NOW);
    want_fires(&p, f, 1);
    assert_int_equal(p.missed, 2);
    assert_false(p.older);
    sched_plan_clear(&p);
    /* The latest is 10.5 h late, beyond the window: nothing runs. */
    p = plan("0 0 * * *", utc, "2026-11-22T00:00:00Z", SCHED_RUN_ONCE, 3600, NOW);
    want_fires(&p, NULL, 0);
    assert_true(p.older);
    assert_string_equal(text(p.next), "2026-11-25T00:00:00Z");
    sched_plan_clear(&p);
    /* Window 0: only on-time fires run (the threshold still applies). */
    p = plan("0 * * * *", utc, "2026-11-24T10:00:00Z", SCHED_RUN_ONCE, 0, NOW);
    want_fires(&p, NULL, 0);
    sched_plan_clear(&p);
}

static void test_run_each(void **state)
{
    (void)state;
    /* Every quarter hour within the hour before now, oldest first (10:30 - 1 h
     * = 09:30 is in). */
    sched_plan p = plan("*/15 * * * *", utc, "2026-11-24T06:00:00Z", SCHED_RUN_EACH, 3600, NOW);
    static const char *const f[] = {"2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z",
                                    "2026-11-24T10:00:00Z", "2026-11-24T10:15:00Z",
                                    "2026-11-24T10:30:00Z"};
    want_fires(&p, f, 5);
    assert_true(p.older);
    assert_string_equal(text(p.next), "2026-11-24T10:45:00Z");
    sched_plan_clear(&p);
    /* Downtime shorter than the window: every missed fire runs. */
    p = plan("0 * * * *", utc, "2026-11-24T08:00:00Z", SCHED_RUN_EACH, 4 * 3600, NOW);
    static const char *const g[] = {"2026-11-24T08:00:00Z", "2026-11-24T09:00:00Z",
                                    "2026-11-24T10:00:00Z"};
    want_fires(&p, g, 3);
    assert_false(p.older);
    sched_plan_clear(&p);
    /* A week of per-minute fires: each one within a 7-day window, stepped over
     * from a month of downtime in one call. */
    p = plan("* * * * *", utc, "2026-10-24T10:30:00Z", SCHED_RUN_EACH, 604800, NOW);
    assert_int_equal(p.nfires, 10081);
    assert_string_equal(text(p.fires[0]), "2026-11-17T10:30:00Z");
    assert_string_equal(text(p.fires[10080]), NOW);
    sched_plan_clear(&p);
}

static void test_one_off(void **state)
{
    (void)state;
    sched_plan p = plan(NULL, utc, "2026-11-24T10:29:58Z", SCHED_SKIP, 0, NOW);
    static const char *const f[] = {"2026-11-24T10:29:58Z"};
    want_fires(&p, f, 1);
    assert_false(p.has_next);
    sched_plan_clear(&p);
    /* Missed by 20 min: run_once/run_each within 1 h run it, skip does not. */
    static const char *const g[] = {"2026-11-24T10:10:00Z"};
    p = plan(NULL, utc, "2026-11-24T10:10:00Z", SCHED_RUN_ONCE, 3600, NOW);
    want_fires(&p, g, 1);
    sched_plan_clear(&p);
    p = plan(NULL, utc, "2026-11-24T10:10:00Z", SCHED_RUN_EACH, 3600, NOW);
    want_fires(&p, g, 1);
    sched_plan_clear(&p);
    p = plan(NULL, utc, "2026-11-24T10:10:00Z", SCHED_SKIP, 3600, NOW);
    want_fires(&p, NULL, 0);
    assert_true(p.older);
    assert_false(p.has_next);
    sched_plan_clear(&p);
    /* Missed by 2 h with a 1 h window: gone. */
    p = plan(NULL, utc, "2026-11-24T08:30:00Z", SCHED_RUN_ONCE, 3600, NOW);
    want_fires(&p, NULL, 0);
    sched_plan_clear(&p);
}

static void test_no_fire_left(void **state)
{
    (void)state;
    /* Never after now: the due fire runs and the schedule ends. */
    sched_plan p = plan("0 0 30 2 *", utc, "2026-11-24T10:30:00Z", SCHED_RUN_ONCE, 3600, NOW);
    assert_int_equal(p.nfires, 1);
    assert_false(p.has_next);
    sched_plan_clear(&p);
}

static void test_zone(void **state)
{
    (void)state;
    /* 20:00 Berlin is 19:00Z in winter; missed by 30 min under run_once. */
    sched_plan p = plan("0 20 * * 1-5", berlin, "2026-11-23T19:00:00Z", SCHED_RUN_ONCE, 3600,
                        "2026-11-24T19:30:00Z");
    static const char *const f[] = {"2026-11-24T19:00:00Z"};
    want_fires(&p, f, 1);
    assert_string_equal(text(p.next), "2026-11-25T19:00:00Z");
    sched_plan_clear(&p);
}

static void test_policy_names(void **state)
{
    (void)state;
    sched_policy pol;
    assert_true(sched_policy_parse("run_each", &pol));
    assert_int_equal(pol, SCHED_RUN_EACH);
    assert_string_equal(sched_policy_name(SCHED_RUN_ONCE), "run_once");
    assert_false(sched_policy_parse("RUN_EACH", &pol));
    assert_false(sched_policy_parse("", &pol));
}

static int setup(void **state)
{
    (void)state;
    err e = {0};
    utc = tz_load("UTC", &e);
    berlin = tz_load("Europe/Berlin", &e);
    if (!utc || !berlin)
        fprintf(stderr, "tz_load: %s\n", e.message);
    return utc && berlin ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tz_free(utc);
    tz_free(berlin);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_on_time),  cmocka_unit_test(test_skip),
        cmocka_unit_test(test_run_once), cmocka_unit_test(test_run_each),
        cmocka_unit_test(test_one_off),  cmocka_unit_test(test_no_fire_left),
        cmocka_unit_test(test_zone),     cmocka_unit_test(test_policy_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
