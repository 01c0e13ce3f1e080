#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timeutil.h"

#include <string.h>

static void test_format(void **state)
{
    (void)state;
    char iso[TIMEUTIL_ISO8601_LEN], amz[TIMEUTIL_AMZ_LEN], log[25];
    timeutil_format_iso8601(1440938160, iso);
    timeutil_format_amz(1440938160, amz);
    timeutil_format_log(1440938160123, log);
    assert_string_equal(iso, "2015-08-30T12:36:00Z");
    assert_string_equal(amz, "20150830T123600Z");
    assert_string_equal(log, "2015-08-30T12:36:00.123Z");
}

static void test_parse_iso8601(void **state)
{
    (void)state;
    time_t t;
    err e;
    assert_true(timeutil_parse_iso8601("2015-08-30T12:36:00Z", &t, &e));
    assert_int_equal(t, 1440938160);
    assert_true(timeutil_parse_iso8601("2015-08-30T12:36:00.512Z", &t, &e));
    assert_int_equal(t, 1440938160);
    assert_true(timeutil_parse_iso8601("2015-08-30T14:36:00+02:00", &t, &e));
    assert_int_equal(t, 1440938160);
    assert_true(timeutil_parse_iso8601("2015-08-30T07:36:00-0500", &t, &e));
    assert_int_equal(t, 1440938160);
    assert_true(timeutil_parse_iso8601("20150830T123600Z", &t, &e));
    assert_int_equal(t, 1440938160);

    assert_false(timeutil_parse_iso8601("2015-13-30T12:36:00Z", &t, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "'2015-13-30T12:36:00Z'"));
    assert_false(timeutil_parse_iso8601("2015-08-30T12:36:00", &t, &e));
    assert_non_null(strstr(e.message, "missing zone"));
    assert_false(timeutil_parse_iso8601("yesterday", &t, &e));
    assert_false(timeutil_parse_iso8601("2015-08-30T12:36:00Zjunk", &t, &e));
}

static void test_parse_http_date(void **state)
{
    (void)state;
    time_t t;
    err e;
    assert_true(timeutil_parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT", &t, &e));
    assert_int_equal(t, 1440938160);
    assert_false(timeutil_parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT", &t, &e));
    assert_non_null(strstr(e.message, "Foo"));
    assert_false(timeutil_parse_http_date("Sun, 30 Aug 2015 12:36:00 PST", &t, &e));
}

static void test_civil_matches_gmtime(void **state)
{
    (void)state;
    /* Every day boundary and odd second over 1900-2200, plus extremes. */
    for (int64_t t = -2208988800LL; t < 7258118400LL; t += 86400 * 7 + 3607) {
        struct tm tm;
        time_t tt = (time_t)t;
        gmtime_r(&tt, &tm);
        timeutil_civil c;
        timeutil_civil_from_time(tt, &c);
        assert_int_equal(c.year, tm.tm_year + 1900);
        assert_int_equal(c.month, tm.tm_mon + 1);
        assert_int_equal(c.day, tm.tm_mday);
        assert_int_equal(c.hour, tm.tm_hour);
        assert_int_equal(c.min, tm.tm_min);
        assert_int_equal(c.sec, tm.tm_sec);
        int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
        assert_int_equal(timeutil_days_from_civil(c.year, c.month, c.day), days);
    }
    timeutil_civil c;
    timeutil_civil_from_time(-1, &c); /* 1969-12-31T23:59:59 */
    assert_int_equal(c.year, 1969);
    assert_int_equal(c.day, 31);
    assert_int_equal(c.sec, 59);
    assert_int_equal(timeutil_days_from_civil(2000, 3, 1), 11017);
}

static void test_clocks(void **state)
{
    (void)state;
    uint64_t a = timeutil_mono_ns(), b = timeutil_mono_ns();
    assert_true(b >= a);
    assert_true(timeutil_now() > 1700000000);
    int64_t ms = timeutil_now_ms();
    assert_true(ms / 1000 - timeutil_now() <= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),          cmocka_unit_test(test_parse_iso8601),
        cmocka_unit_test(test_parse_http_date), cmocka_unit_test(test_civil_matches_gmtime),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
