/* cron_next: fires in UTC, the day-of-month/day-of-week rule, the 5-year
 * horizon, and daylight saving in Europe/Berlin and America/New_York on both
 * change days of 2026 (plus the footer-rule era and a 30-minute shift),
 * cross-checked against a minute-by-minute reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timeutil.h"
#include "crontest.h"
#include "cron/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every fire in (from, to], at most max. */
static int fires(const char *text, const char *zone_name, time_t from, time_t to, time_t *out,
                 int max)
{
    cron_expr *c = crontest_expr(text);
    tz_zone *z = crontest_zone(zone_name);
    int n = 0;
    time_t t = from;
    err e;
    while (n < max) {
        time_t next;
        if (!cron_next(c, z, t, &next, &e))
            fail_msg("cron_next(%s): %s", text, e.message);
        if (next <= t)
            fail_msg("cron_next(%s) went backwards", text);
        if (next > to)
            break;
        out[n++] = t = next;
    }
    cron_free(c);
    tz_free(z);
    return n;
}

static void expect_fires(const char *text, const char *zone_name, const char *from, const char *to,
                         const char *const *want)
{
    time_t got[64];
    int n = fires(text, zone_name, crontest_iso(from), crontest_iso(to), got, 64), w = 0;
    for (; want[w]; w++) {
        char g[TIMEUTIL_ISO8601_LEN] = "(none)";
        if (w < n)
            timeutil_format_iso8601(got[w], g);
        if (w >= n || got[w] != crontest_iso(want[w]))
            fail_msg("'%s' in %s fire %d: got %s, want %s", text, zone_name, w, g, want[w]);
    }
    if (n != w) {
        char g[TIMEUTIL_ISO8601_LEN];
        timeutil_format_iso8601(got[w], g);
        fail_msg("'%s' in %s: %d fires, want %d (extra %s)", text, zone_name, n, w, g);
    }
}

static void local_is(const char *zone_name, time_t t, const char *want)
{
    tz_zone *z = crontest_zone(zone_name);
    struct tm tm;
    const char *abbr;
    tz_to_local(z, t, &tm, NULL, &abbr);
    char got[64];
    snprintf(got, sizeof(got), "%04d-%02d-%02d %02d:%02d %s", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, abbr);
    assert_string_equal(got, want);
    tz_free(z);
}

static void test_utc(void **state)
{
    (void)state;
    expect_fires("*/15 * * * *", "UTC", "2026-01-01T10:07:30Z", "2026-01-01T11:00:00Z",
                 (const char *const[]){"2026-01-01T10:15:00Z", "2026-01-01T10:30:00Z",
                                       "2026-01-01T10:45:00Z", "2026-01-01T11:00:00Z", NULL});
    /* Strictly after: a fire at `after` itself is not returned. */
    expect_fires("0 12 * * *", "UTC", "2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z",
                 (const char *const[]){"2026-01-02T12:00:00Z", NULL});
    expect_fires("0 12 * * *", "UTC", "2026-01-01T11:59:59Z", "2026-01-01T12:00:00Z",
                 (const char *const[]){"2026-01-01T12:00:00Z", NULL});
    /* Weekdays across a weekend (2026-01-02 is a Friday). */
    expect_fires("0 20 * * mon-fri", "UTC", "2026-01-02T00:00:00Z", "2026-01-07T00:00:00Z",
                 (const char *const[]){"2026-01-02T20:00:00Z", "2026-01-05T20:00:00Z",
                                       "2026-01-06T20:00:00Z", NULL});
    /* Month ends, leap days, year ends. */
    expect_fires("0 0 31 * *", "UTC", "2026-04-01T00:00:00Z", "2026-08-31T00:00:00Z",
                 (const char *const[]){"2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
                                       "2026-08-31T00:00:00Z", NULL});
    expect_fires("0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2033-01-01T00:00:00Z",
                 (const char *const[]){"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", NULL});
    expect_fires("59 23 31 12 *", "UTC", "2026-06-01T00:00:00Z", "2028-01-01T00:00:00Z",
                 (const char *const[]){"2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z", NULL});
    expect_fires("0 0 1 1 *", "UTC", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z",
                 (const char *const[]){"2027-01-01T00:00:00Z", NULL});
    expect_fires("* * * * *", "UTC", "2026-12-31T23:58:30Z", "2027-01-01T00:01:00Z",
                 (const char *const[]){"2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z",
                                       "2027-01-01T00:01:00Z", NULL});
    expect_fires("0 9 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-02T12:00:00Z",
                 (const char *const[]){"2026-01-01T03:30:00Z", "2026-01-02T03:30:00Z", NULL});
    /* Before 1970 works too. */
    expect_fires("0 0 1 1 *", "UTC", "1969-06-01T00:00:00Z", "1970-01-01T00:00:00Z",
                 (const char *const[]){"1970-01-01T00:00:00Z", NULL});
}

static void test_day_rule(void **state)
{
    (void)state;
    /* Both restricted: either matches (Friday or the 13th). 2026-01-02 is a Friday. */
    expect_fires("0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", "2026-01-17T00:00:00Z",
                 (const char *const[]){"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z",
                                       "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z", NULL});
    /* A field starting with '*' is not a restriction for this rule (Vixie):
     * odd days that are Fridays. */
    expect_fires("0 0 */2 * 5", "UTC", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z",
                 (const char *const[]){"2026-01-09T00:00:00Z", "2026-01-23T00:00:00Z", NULL});
    expect_fires("0 0 13 * *", "UTC", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z",
                 (const char *const[]){"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z", NULL});
    /* 1-7 covers every day but is a restriction, so every day matches. */
    expect_fires("0 0 13 * 1-7", "UTC", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z",
                 (const char *const[]){"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", NULL});
}

static void test_horizon(void **state)
{
    (void)state;
    tz_zone *z = crontest_zone("Europe/Berlin");
    err e;
    time_t next = 0;
    cron_expr *c = crontest_expr("0 0 30 2 *");
    assert_false(cron_next(c, z, crontest_iso("2026-01-01T00:00:00Z"), &next, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_string_equal(e.message, "cron expression '0 0 30 2 *' has no fire time in "
                                   "Europe/Berlin within 5 years after 2026-01-01T00:00:00Z");
    cron_free(c);
    c = crontest_expr("0 0 31 4,6,9,11 *");
    assert_false(cron_next(c, z, crontest_iso("2026-01-01T00:00:00Z"), &next, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    cron_free(c);
    /* 2096-02-29 is the last leap day before 2104 (2100 is not leap): more
     * than 5 years ahead from 2097. */
    c = crontest_expr("0 0 29 2 *");
    assert_false(cron_next(c, z, crontest_iso("2097-01-01T00:00:00Z"), &next, &e));
    assert_true(cron_next(c, z, crontest_iso("2099-06-01T00:00:00Z"), &next, &e));
    assert_int_equal(next, crontest_iso("2104-02-28T23:00:00Z"));
    cron_free(c);
    tz_free(z);
}

/* A local time skipped by spring-forward fires once, at the gap's end. */
static void test_dst_spring_forward(void **state)
{
    (void)state;
    expect_fires("30 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z",
                 (const char *const[]){"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z",
                                       "2026-03-30T00:30:00Z", NULL});
    local_is("Europe/Berlin", crontest_iso("2026-03-29T01:00:00Z"), "2026-03-29 03:00 CEST");
    expect_fires("30 2 * * *", "America/New_York", "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z",
                 (const char *const[]){"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z",
                                       "2026-03-09T06:30:00Z", NULL});
    local_is("America/New_York", crontest_iso("2026-03-08T07:00:00Z"), "2026-03-08 03:00 EDT");
    /* 02:00 and 02:59 are skipped too; 03:00 itself is not doubled. */
    expect_fires("0 2 * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-29T23:00:00Z",
                 (const char *const[]){"2026-03-29T01:00:00Z", NULL});
    expect_fires("59 2 * * *", "America/New_York", "2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z",
                 (const char *const[]){"2026-03-08T07:00:00Z", NULL});
    expect_fires("0 3 * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z",
                 (const char *const[]){"2026-03-29T01:00:00Z", NULL});
    /* Several fixed times in the gap fire once together; 03:00 is the same instant. */
    expect_fires("0,30 1-3 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-29T02:00:00Z",
                 (const char *const[]){"2026-03-29T00:00:00Z", "2026-03-29T00:30:00Z",
                                       "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", NULL});
}

/* A local time repeated by fall-back fires once, at its first occurrence. */
static void test_dst_fall_back(void **state)
{
    (void)state;
    expect_fires("30 2 * * *", "Europe/Berlin", "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z",
                 (const char *const[]){"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z",
                                       "2026-10-26T01:30:00Z", NULL});
    local_is("Europe/Berlin", crontest_iso("2026-10-25T00:30:00Z"), "2026-10-25 02:30 CEST");
    expect_fires("30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z",
                 (const char *const[]){"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z",
                                       "2026-11-02T06:30:00Z", NULL});
    local_is("America/New_York", crontest_iso("2026-11-01T05:30:00Z"), "2026-11-01 01:30 EDT");
    /* Asked from inside the second pass, the repeated time does not fire again. */
    expect_fires("30 2 * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", "2026-10-26T12:00:00Z",
                 (const char *const[]){"2026-10-26T01:30:00Z", NULL});
    expect_fires("0,30 1-3 * * *", "Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25T03:00:00Z",
                 (const char *const[]){"2026-10-24T23:00:00Z", "2026-10-24T23:30:00Z",
                                       "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z",
                                       "2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z", NULL});
    /* Hourly schedules keep firing every real hour through the repeat. */
    expect_fires("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", "2026-11-01T08:00:00Z",
                 (const char *const[]){"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z",
                                       "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z", NULL});
}

/* "*\/15 * * * *" through a whole local day: every real quarter hour exactly
 * once, 92 of them on a 23-hour day and 100 on a 25-hour day. */
static void quarter_hours(const char *zone_name, int year, int mon, int day, int want)
{
    tz_zone *z = crontest_zone(zone_name);
    struct tm a = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day};
    struct tm b = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day + 1};
    time_t start[2], end[2];
    assert_int_equal(tz_from_local(z, &a, start), 1);
    assert_int_equal(tz_from_local(z, &b, end), 1);
    tz_free(z);
    time_t got[128];
    int n = fires("*/15 * * * *", zone_name, start[0] - 1, end[0] - 1, got, 128);
    if (n != want)
        fail_msg("%s %d-%02d-%02d: %d quarter hours, want %d", zone_name, year, mon, day, n, want);
    assert_int_equal(got[0], start[0]);
    for (int i = 1; i < n; i++)
        if (got[i] - got[i - 1] != 900)
            fail_msg("%s: fire %d is %lld s after the one before", zone_name, i,
                     (long long)(got[i] - got[i - 1]));
    assert_int_equal(got[n - 1], end[0] - 900);
}

static void test_dst_quarter_hours(void **state)
{
    (void)state;
    quarter_hours("Europe/Berlin", 2026, 3, 29, 92);
    quarter_hours("Europe/Berlin", 2026, 10, 25, 100);
    quarter_hours("America/New_York", 2026, 3, 8, 92);
    quarter_hours("America/New_York", 2026, 11, 1, 100);
    quarter_hours("Europe/Berlin", 2026, 7, 1, 96);
    quarter_hours("Europe/Berlin", 2050, 3, 27, 92);    /* footer rule era */
    quarter_hours("Australia/Sydney", 2026, 10, 4, 92); /* southern spring */
    quarter_hours("Australia/Sydney", 2026, 4, 5, 100);
    quarter_hours("Australia/Lord_Howe", 2026, 10, 4, 94); /* a 30-minute shift */
    quarter_hours("Australia/Lord_Howe", 2026, 4, 5, 98);
}

static void test_dst_footer_era(void **state)
{
    (void)state;
    expect_fires("30 2 * * *", "Europe/Berlin", "2050-03-26T12:00:00Z", "2050-03-28T12:00:00Z",
                 (const char *const[]){"2050-03-27T01:00:00Z", "2050-03-28T00:30:00Z", NULL});
    expect_fires("30 1 * * *", "America/New_York", "2045-11-04T12:00:00Z", "2045-11-06T12:00:00Z",
                 (const char *const[]){"2045-11-05T05:30:00Z", "2045-11-06T06:30:00Z", NULL});
    expect_fires("30 2 * * *", "Australia/Sydney", "2045-09-30T00:00:00Z", "2045-10-02T00:00:00Z",
                 (const char *const[]){"2045-09-30T16:00:00Z", "2045-10-01T15:30:00Z", NULL});
    /* Lord Howe skips 02:00-02:29 in spring. */
    expect_fires("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z",
                 "2026-10-05T00:00:00Z",
                 (const char *const[]){"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z", NULL});
}

/* ---- cross-check against a minute-by-minute reference ---- */

typedef bool (*matcher)(const struct tm *tm);

static bool m_q15(const struct tm *tm)
{
    return tm->tm_min % 15 == 0;
}
static bool m_0230(const struct tm *tm)
{
    return tm->tm_hour == 2 && tm->tm_min == 30;
}
static bool m_0130(const struct tm *tm)
{
    return tm->tm_hour == 1 && tm->tm_min == 30;
}
static bool m_h1_3(const struct tm *tm)
{
    return tm->tm_hour >= 1 && tm->tm_hour <= 3 && tm->tm_min % 30 == 0;
}
static bool m_7_in_2(const struct tm *tm)
{
    return tm->tm_hour == 2 && tm->tm_min % 7 == 0;
}
static bool m_hourly_20(const struct tm *tm)
{
    return tm->tm_min == 20;
}
static bool m_sunday_2(const struct tm *tm)
{
    return tm->tm_wday == 0 && tm->tm_hour == 2 && tm->tm_min == 10;
}
static bool m_every(const struct tm *tm)
{
    (void)tm;
    return true;
}

static const struct {
    const char *text;
    matcher match;
    bool periodic; /* minute or hour starts with '*' */
} cases[] = {
    {"*/15 * * * *", m_q15, true},       {"30 2 * * *", m_0230, false},
    {"30 1 * * *", m_0130, false},       {"0,30 1-3 * * *", m_h1_3, false},
    {"*/7 2 * * *", m_7_in_2, true},     {"20 * * * *", m_hourly_20, true},
    {"10 2 * * sun", m_sunday_2, false}, {"* * * * *", m_every, true},
};

/* A local wall time given as seconds since 1970 as if the zone were UTC. */
static struct tm local_fields(int64_t l)
{
    timeutil_civil c;
    timeutil_civil_from_time((time_t)l, &c);
    int64_t days = timeutil_days_from_civil(c.year, c.month, c.day);
    return (struct tm){.tm_year = (int)(c.year - 1900),
                       .tm_mon = c.month - 1,
                       .tm_mday = c.day,
                       .tm_hour = c.hour,
                       .tm_min = c.min,
                       .tm_wday = (int)(((days + 4) % 7 + 7) % 7)};
}

static struct tm local_tm(const tz_zone *z, time_t t)
{
    struct tm tm;
    tz_to_local(z, t, &tm, NULL, NULL);
    return tm;
}

/* The rule stated plainly, one real minute at a time (zones whose offsets are
 * whole minutes): at an instant where the clock jumps forward, fire if any
 * skipped local minute matches; otherwise fire when the local time matches,
 * unless it is the second pass of a repeated time and the schedule is not
 * periodic. */
static time_t reference_next(int k, const tz_zone *z, time_t after)
{
    time_t t = after - (after % 60 + 60) % 60 + 60;
    for (;; t += 60) {
        int off_before = tz_offset(z, t - 1, NULL), off = tz_offset(z, t, NULL);
        if (off > off_before) {
            for (time_t l = t + off_before; l < t + off; l += 60) {
                struct tm tm = local_fields(l);
                if (cases[k].match(&tm))
                    return t;
            }
        }
        struct tm tm = local_tm(z, t);
        if (!cases[k].match(&tm))
            continue;
        time_t inst[2];
        int n = tz_from_local(z, &tm, inst);
        if (n == 2 && inst[1] == t && !cases[k].periodic)
            continue;
        return t;
    }
}

static void cross_check(const char *zone_name, const char *from, const char *to)
{
    tz_zone *z = crontest_zone(zone_name);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        cron_expr *c = crontest_expr(cases[k].text);
        time_t t = crontest_iso(from), end = crontest_iso(to), got;
        err e;
        int count = 0;
        while (t < end) {
            assert_true(cron_next(c, z, t, &got, &e));
            time_t want = reference_next((int)k, z, t);
            if (got != want) {
                char a[TIMEUTIL_ISO8601_LEN], g[TIMEUTIL_ISO8601_LEN], w[TIMEUTIL_ISO8601_LEN];
                timeutil_format_iso8601(t, a);
                timeutil_format_iso8601(got, g);
                timeutil_format_iso8601(want, w);
                fail_msg("'%s' in %s after %s: got %s, reference %s", cases[k].text, zone_name, a,
                         g, w);
            }
            /* Step from every fire and also from odd instants in between. */
            t = count++ % 3 == 2 ? t + 1234 : got;
        }
        cron_free(c);
    }
    tz_free(z);
}

static void test_cross_check(void **state)
{
    (void)state;
    cross_check("Europe/Berlin", "2026-03-28T00:00:00Z", "2026-03-30T06:00:00Z");
    cross_check("Europe/Berlin", "2026-10-24T00:00:00Z", "2026-10-26T06:00:00Z");
    cross_check("America/New_York", "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z");
    cross_check("America/New_York", "2026-10-31T00:00:00Z", "2026-11-02T12:00:00Z");
    cross_check("Australia/Lord_Howe", "2026-10-02T12:00:00Z", "2026-10-04T18:00:00Z");
    cross_check("Australia/Lord_Howe", "2026-04-03T12:00:00Z", "2026-04-05T18:00:00Z");
    cross_check("Europe/Berlin", "2050-10-29T00:00:00Z", "2050-10-31T00:00:00Z");
}

/* 100,000 schedules' next fires: the scheduler computes one per fire, so this
 * must stay cheap (it walks fields, not minutes). */
static void test_many(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "*/5 * * * *", "0 20 * * mon-fri", "30 7 * * 1-5",  "0 0 1 * *", "15 3 * * sun",
        "0 0 29 2 *",  "0 */2 * * *",      "45 23 31 12 *", "@hourly",   "0 9-17 * * 1-5"};
    enum { K = sizeof(texts) / sizeof(texts[0]) };
    cron_expr *c[K];
    for (int i = 0; i < K; i++)
        c[i] = crontest_expr(texts[i]);
    tz_zone *z = crontest_zone("Europe/Berlin");
    uint64_t t0 = timeutil_mono_ns();
    time_t base = crontest_iso("2026-01-01T00:00:00Z"), next;
    err e;
    for (int i = 0; i < 100000; i++)
        assert_true(cron_next(c[i % K], z, base + (time_t)i * 317, &next, &e));
    double ms = (double)(timeutil_mono_ns() - t0) / 1e6;
    print_message("100000 cron_next in Europe/Berlin: %.1f ms\n", ms);
    assert_true(ms < 20000);
    for (int i = 0; i < K; i++)
        cron_free(c[i]);
    tz_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc),
        cmocka_unit_test(test_day_rule),
        cmocka_unit_test(test_horizon),
        cmocka_unit_test(test_dst_spring_forward),
        cmocka_unit_test(test_dst_fall_back),
        cmocka_unit_test(test_dst_quarter_hours),
        cmocka_unit_test(test_dst_footer_era),
        cmocka_unit_test(test_cross_check),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
