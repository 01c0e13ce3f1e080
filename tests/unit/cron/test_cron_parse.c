/* cron_parse and cron_text: every field form and every error, with the exact
 * messages users see (the API returns them unchanged). */
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

/* Parses text and checks that its canonical text is `want`, and that the
 * canonical text is a fixed point (parses to the same text again). */
static void check_text(const char *text, const char *want)
{
    cron_expr *c = NULL;
    err e;
    if (!cron_parse(text, &c, &e))
        fail_msg("cron_parse('%s'): %s", text, e.message);
    char *got = cron_text(c);
    if (strcmp(got, want) != 0)
        fail_msg("cron_text('%s') = '%s', want '%s'", text, got, want);
    cron_expr *again = NULL;
    assert_true(cron_parse(got, &again, &e));
    char *got2 = cron_text(again);
    assert_string_equal(got2, want);
    free(got);
    free(got2);
    cron_free(c);
    cron_free(again);
}

static void check_error(const char *text, const char *want)
{
    cron_expr *c = (cron_expr *)&c; /* must be reset to NULL */
    err e;
    if (cron_parse(text, &c, &e))
        fail_msg("cron_parse('%s') succeeded, want error \"%s\"", text, want);
    assert_null(c);
    assert_int_equal(e.code, ERR_INVALID);
    if (strcmp(e.message, want) != 0)
        fail_msg("cron_parse('%s'):\n got: %s\nwant: %s", text, e.message, want);
}

static void test_single_list_range(void **state)
{
    (void)state;
    check_text("0 0 * * *", "0 0 * * *");
    check_text("5 4 * * *", "5 4 * * *");
    check_text("59 23 31 12 6", "59 23 31 12 6");
    check_text("00 09 01 02 *", "0 9 1 2 *");
    check_text("0,15,30,45 * * * *", "0,15,30,45 * * * *");
    check_text("45,0,30,15,30 * * * *", "0,15,30,45 * * * *"); /* order and repeats */
    check_text("1,2 * * * *", "1,2 * * * *");
    check_text("1-5 * * * *", "1-5 * * * *");
    check_text("1-3,7,9-10 * * * *", "1-3,7,9,10 * * * *");
    check_text("0 9-17 * * *", "0 9-17 * * *");
    check_text("0 0 1,15 * *", "0 0 1,15 * *");
    check_text("0 0 10-20 * *", "0 0 10-20 * *");
    check_text("0 0 * 6-8 *", "0 0 * 6-8 *");
    check_text("0-59 * * * *", "0-59 * * * *"); /* all values, but not '*' */
    check_text("5-5 * * * *", "5 * * * *");
}

static void test_steps(void **state)
{
    (void)state;
    check_text("*/15 * * * *", "*/15 * * * *");
    check_text("*/1 * * * *", "* * * * *");
    check_text("*/60 * * * *", "*/60 * * * *"); /* only minute 0 */
    check_text("0 */6 * * *", "0 */6 * * *");
    check_text("0 0 */10 * *", "0 0 */10 * *");
    check_text("0 0 * */3 *", "0 0 * */3 *");
    check_text("0 0 * * */2", "0 0 * * */2");
    check_text("1-30/5 * * * *", "1,6,11,16,21,26 * * * *");
    check_text("10-20/10 * * * *", "10,20 * * * *");
    check_text("5/20 * * * *", "5,25,45 * * * *"); /* n/step = n-max/step */
    check_text("0 0 * feb-apr/2 *", "0 0 * 2,4 *");
    check_text("0 0 * * mon-fri/2", "0 0 * * 1,3,5");
    check_text("*/20,5 * * * *", "*/20,5 * * * *");
    check_text("*/20,20-22 * * * *", "*/20,21,22 * * * *");
}

static void test_names(void **state)
{
    (void)state;
    check_text("0 0 * jan,Jul,DEC *", "0 0 * 1,7,12 *");
    check_text("0 0 * JAN-mar *", "0 0 * 1-3 *");
    check_text("0 0 * fEb,aPr,jun,AUG,sep,OCT,nov,may *", "0 0 * 2,4-6,8-11 *");
    check_text("0 0 * * MON-fri", "0 0 * * 1-5");
    check_text("0 0 * * Sun", "0 0 * * 0");
    check_text("0 0 * * sun,MON,tue,Wed,thU,FRI,sat", "0 0 * * 0-6");
    check_text("0 0 * jan-dec sun-sat", "0 0 * 1-12 0-6");
    check_text("0 0 * 1-jun tue-4", "0 0 * 1-6 2-4");
}

static void test_sunday_seven(void **state)
{
    (void)state;
    check_text("0 0 * * 7", "0 0 * * 0");
    check_text("0 0 * * 0,7", "0 0 * * 0");
    check_text("0 0 * * 5-7", "0 0 * * 0,5,6");
    check_text("0 0 * * 0-7", "0 0 * * 0-6");
    check_text("0 0 * * 1-7", "0 0 * * 0-6");
    check_text("0 0 * * sat-7", "0 0 * * 0,6");
}

static void test_macros_and_space(void **state)
{
    (void)state;
    check_text("@yearly", "0 0 1 1 *");
    check_text("@annually", "0 0 1 1 *");
    check_text("@monthly", "0 0 1 * *");
    check_text("@weekly", "0 0 * * 0");
    check_text("@daily", "0 0 * * *");
    check_text("@midnight", "0 0 * * *");
    check_text("@hourly", "0 * * * *");
    check_text("@Daily", "0 0 * * *");
    check_text("  @HOURLY\n", "0 * * * *");
    check_text("  0   0\t* *  *  \n", "0 0 * * *");
    check_text("0 0 * * *\r\n", "0 0 * * *");
}

/* The parsed values, seen through cron_next in UTC: these pin what each
 * canonical text means, not just how it is written. */
static time_t next_utc(const char *text, const char *after_iso)
{
    cron_expr *c;
    err e;
    time_t after, next;
    assert_true(cron_parse(text, &c, &e));
    assert_true(timeutil_parse_iso8601(after_iso, &after, &e));
    tz_zone *z = tz_load("UTC", &e);
    assert_non_null(z);
    if (!cron_next(c, z, after, &next, &e))
        fail_msg("cron_next('%s', %s): %s", text, after_iso, e.message);
    cron_free(c);
    tz_free(z);
    return next;
}

static void test_values_mean_what_they_say(void **state)
{
    (void)state;
    /* 2026-01-01 is a Thursday. */
    assert_int_equal(next_utc("0 0 * * 7", "2026-01-01T00:00:00Z"),
                     crontest_iso("2026-01-04T00:00:00Z"));
    assert_int_equal(next_utc("0 0 * * SUN", "2026-01-01T00:00:00Z"),
                     crontest_iso("2026-01-04T00:00:00Z"));
    assert_int_equal(next_utc("0 0 * * sat", "2026-01-01T00:00:00Z"),
                     crontest_iso("2026-01-03T00:00:00Z"));
    assert_int_equal(next_utc("0 0 1 mar *", "2026-01-01T00:00:00Z"),
                     crontest_iso("2026-03-01T00:00:00Z"));
    assert_int_equal(next_utc("1-30/5 * * * *", "2026-01-01T00:12:00Z"),
                     crontest_iso("2026-01-01T00:16:00Z"));
    assert_int_equal(next_utc("1-30/5 * * * *", "2026-01-01T00:26:00Z"),
                     crontest_iso("2026-01-01T01:01:00Z"));
    assert_int_equal(next_utc("5/20 * * * *", "2026-01-01T00:26:00Z"),
                     crontest_iso("2026-01-01T00:45:00Z"));
    assert_int_equal(next_utc("0 */6 * * *", "2026-01-01T06:00:00Z"),
                     crontest_iso("2026-01-01T12:00:00Z"));
    assert_int_equal(next_utc("0 0 * */3 *", "2026-02-01T00:00:00Z"),
                     crontest_iso("2026-04-01T00:00:00Z"));
    assert_int_equal(next_utc("@weekly", "2026-01-07T12:00:00Z"),
                     crontest_iso("2026-01-11T00:00:00Z"));
    assert_int_equal(next_utc("@yearly", "2026-01-01T00:00:00Z"),
                     crontest_iso("2027-01-01T00:00:00Z"));
    assert_int_equal(next_utc("@monthly", "2026-01-31T23:59:59Z"),
                     crontest_iso("2026-02-01T00:00:00Z"));
    assert_int_equal(next_utc("@hourly", "2026-01-01T10:59:59Z"),
                     crontest_iso("2026-01-01T11:00:00Z"));
}

static void test_field_errors(void **state)
{
    (void)state;
    check_error("0 20 32 * *",
                "invalid cron field 'day-of-month' in '0 20 32 * *': 32 is out of range 1-31");
    check_error("60 * * * *",
                "invalid cron field 'minute' in '60 * * * *': 60 is out of range 0-59");
    check_error("0 24 * * *", "invalid cron field 'hour' in '0 24 * * *': 24 is out of range 0-23");
    check_error("0 0 0 * *",
                "invalid cron field 'day-of-month' in '0 0 0 * *': 0 is out of range 1-31");
    check_error("0 0 * 13 *",
                "invalid cron field 'month' in '0 0 * 13 *': 13 is out of range 1-12");
    check_error("0 0 * 0 *", "invalid cron field 'month' in '0 0 * 0 *': 0 is out of range 1-12");
    check_error("0 0 * * 8",
                "invalid cron field 'day-of-week' in '0 0 * * 8': 8 is out of range 0-7");
    check_error("1-60 * * * *",
                "invalid cron field 'minute' in '1-60 * * * *': 60 is out of range 0-59");
    check_error("99999999999 * * * *", "invalid cron field 'minute' in '99999999999 * * * *': "
                                       "99999999999 is out of range 0-59");
    check_error("0 0,25 * * *",
                "invalid cron field 'hour' in '0 0,25 * * *': 25 is out of range 0-23");
}

static void test_step_and_range_errors(void **state)
{
    (void)state;
    check_error("*/0 * * * *",
                "invalid cron field 'minute' in '*/0 * * * *': step 0 is out of range 1-60");
    check_error("0 1-10/0 * * *",
                "invalid cron field 'hour' in '0 1-10/0 * * *': step 0 is out of range 1-24");
    check_error("0 0 * * */8",
                "invalid cron field 'day-of-week' in '0 0 * * */8': step 8 is out of range 1-7");
    check_error(
        "0 0 */32 * *",
        "invalid cron field 'day-of-month' in '0 0 */32 * *': step 32 is out of range 1-31");
    check_error("0 0 * */13 *",
                "invalid cron field 'month' in '0 0 * */13 *': step 13 is out of range 1-12");
    check_error("30-10 * * * *",
                "invalid cron field 'minute' in '30-10 * * * *': range 30-10 is reversed (30 is "
                "after 10)");
    check_error("0 0 * * fri-mon", "invalid cron field 'day-of-week' in '0 0 * * fri-mon': range "
                                   "fri-mon is reversed (5 is after 1)");
    check_error("0 0 * dec-jan *",
                "invalid cron field 'month' in '0 0 * dec-jan *': range dec-jan is reversed (12 is "
                "after 1)");
    check_error("0 0 20-10 * *", "invalid cron field 'day-of-month' in '0 0 20-10 * *': range "
                                 "20-10 is reversed (20 is after 10)");
}

static void test_name_errors(void **state)
{
    (void)state;
    check_error("0 0 * foo *",
                "invalid cron field 'month' in '0 0 * foo *': unknown name 'foo' (want jan-dec)");
    check_error("0 0 * january *", "invalid cron field 'month' in '0 0 * january *': unknown name "
                                   "'january' (want jan-dec)");
    check_error("0 0 * * sunday", "invalid cron field 'day-of-week' in '0 0 * * sunday': unknown "
                                  "name 'sunday' (want sun-sat)");
    check_error("0 0 * * mon-xyz", "invalid cron field 'day-of-week' in '0 0 * * mon-xyz': "
                                   "unknown name 'xyz' (want sun-sat)");
    check_error("0 0 * mon *",
                "invalid cron field 'month' in '0 0 * mon *': unknown name 'mon' (want jan-dec)");
    check_error("0 0 * * jan", "invalid cron field 'day-of-week' in '0 0 * * jan': unknown name "
                               "'jan' (want sun-sat)");
    check_error("abc * * * *",
                "invalid cron field 'minute' in 'abc * * * *': 'abc' is not a number");
    check_error("0 noon * * *",
                "invalid cron field 'hour' in '0 noon * * *': 'noon' is not a number");
    check_error("0 0 L * *",
                "invalid cron field 'day-of-month' in '0 0 L * *': 'L' is not a number");
}

static void test_list_and_junk_errors(void **state)
{
    (void)state;
    check_error("1,,2 * * * *",
                "invalid cron field 'minute' in '1,,2 * * * *': empty item in list '1,,2'");
    check_error(",1 * * * *",
                "invalid cron field 'minute' in ',1 * * * *': empty item in list ',1'");
    check_error("0 1, * * *", "invalid cron field 'hour' in '0 1, * * *': empty item in list '1,'");
    check_error("0 0 * * ,", "invalid cron field 'day-of-week' in '0 0 * * ,': empty item in list "
                             "','");
    check_error("5#2 * * * *",
                "invalid cron field 'minute' in '5#2 * * * *': unexpected character '#' in '5#2'");
    check_error(
        "0 0 ? * *",
        "invalid cron field 'day-of-month' in '0 0 ? * *': unexpected character '?' in '?'");
    check_error("0 0 * * 1#3", "invalid cron field 'day-of-week' in '0 0 * * 1#3': unexpected "
                               "character '#' in '1#3'");
    check_error("1/2/3 * * * *",
                "invalid cron field 'minute' in '1/2/3 * * * *': unexpected character '/' in "
                "'1/2/3'");
    check_error("1-2-3 * * * *",
                "invalid cron field 'minute' in '1-2-3 * * * *': unexpected character '-' in "
                "'1-2-3'");
    check_error("** * * * *",
                "invalid cron field 'minute' in '** * * * *': unexpected character '*' in '**'");
    check_error("-5 * * * *",
                "invalid cron field 'minute' in '-5 * * * *': unexpected character '-' in '-5'");
    check_error("1- * * * *", "invalid cron field 'minute' in '1- * * * *': '1-' is incomplete");
    check_error("*/ * * * *", "invalid cron field 'minute' in '*/ * * * *': '*/' is incomplete");
    check_error("0 */x * * *",
                "invalid cron field 'hour' in '0 */x * * *': unexpected character 'x' in '*/x'");
    check_error("0 0 * * *\x01", "invalid cron field 'day-of-week' in '0 0 * * *?': unexpected "
                                 "byte 0x01 in '*?'");
    check_error("0 0 * * 1\xc3\xa9", "invalid cron field 'day-of-week' in '0 0 * * 1?\?': "
                                     "unexpected byte 0xc3 in '1?\?'");
    check_error("0 0 * * mon\xc3\xa9", "invalid cron field 'day-of-week' in '0 0 * * mon?\?': "
                                       "unexpected byte 0xc3 in 'mon?\?'");
    check_error("0 0 * * *\n5", "invalid cron field 'day-of-week' in '0 0 * * *?5': unexpected "
                                "byte 0x0a in '*?5'");
}

static void test_expression_errors(void **state)
{
    (void)state;
    check_error("0 0 * *", "invalid cron expression '0 0 * *': want 5 fields (minute hour "
                           "day-of-month month day-of-week) or a macro such as @daily, got 4");
    check_error("0 0 * * * *", "invalid cron expression '0 0 * * * *': want 5 fields (minute hour "
                               "day-of-month month day-of-week) or a macro such as @daily, got 6");
    check_error("", "invalid cron expression '': want 5 fields (minute hour day-of-month month "
                    "day-of-week) or a macro such as @daily, got 0");
    check_error("   \t ", "invalid cron expression '   ? ': want 5 fields (minute hour "
                          "day-of-month month day-of-week) or a macro such as @daily, got 0");
    check_error("0 0\n* * *", "invalid cron expression '0 0?* * *': want 5 fields (minute hour "
                              "day-of-month month day-of-week) or a macro such as @daily, got 4");
    check_error("@fortnightly", "invalid cron expression '@fortnightly': unknown macro (known: "
                                "@yearly @annually @monthly @weekly @daily @midnight @hourly)");
    check_error("@daily 5", "invalid cron expression '@daily 5': unknown macro (known: @yearly "
                            "@annually @monthly @weekly @daily @midnight @hourly)");
    check_error("@", "invalid cron expression '@': unknown macro (known: @yearly @annually "
                     "@monthly @weekly @daily @midnight @hourly)");
    check_error("@reboot", "invalid cron expression '@reboot': @reboot is not supported "
                           "(schedules fire at times, not at start-up)");

    char long_text[400];
    memset(long_text, '1', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    check_error(long_text, "invalid cron expression '11111111111111111111111111111111...': too "
                           "long (more than 256 characters)");
    /* 256 characters is still fine. */
    char ok[257];
    int n = snprintf(ok, sizeof(ok), "0 0 * * ");
    while (n + 2 <= 256)
        n += snprintf(ok + n, sizeof(ok) - (size_t)n, "0,");
    ok[n - 1] = '\0';
    while (strlen(ok) < 256)
        strcat(ok, " ");
    assert_int_equal(strlen(ok), 256);
    check_text(ok, "0 0 * * 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_list_range),
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_sunday_seven),
        cmocka_unit_test(test_macros_and_space),
        cmocka_unit_test(test_values_mean_what_they_say),
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_step_and_range_errors),
        cmocka_unit_test(test_name_errors),
        cmocka_unit_test(test_list_and_junk_errors),
        cmocka_unit_test(test_expression_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
