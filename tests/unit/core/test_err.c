#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"

#include <string.h>

static void test_set_quotes_value(void **state)
{
    (void)state;
    err e;
    err_clear(&e);
    bool ok = err_set(&e, ERR_INVALID, "invalid cron field 'dom' in '%s': %d is out of range 1-31",
                      "0 20 32 * *", 32);
    assert_false(ok);
    assert_int_equal(e.code, ERR_INVALID);
    assert_string_equal(e.message,
                        "invalid cron field 'dom' in '0 20 32 * *': 32 is out of range 1-31");
    assert_string_equal(err_code_name(e.code), "invalid");
}

static void test_remote_and_prefix(void **state)
{
    (void)state;
    err e;
    err_set_remote(&e, ERR_AWS, 400, "Throttling", "req-1", "Rate exceeded");
    err_prefix(&e, "sts AssumeRole in %s", "us-east-1");
    assert_string_equal(e.message, "sts AssumeRole in us-east-1: Rate exceeded");
    assert_int_equal(e.http_status, 400);
    assert_string_equal(e.remote_code, "Throttling");
    assert_string_equal(e.request_id, "req-1");
    /* err_set clears remote fields left by an earlier error. */
    err_set(&e, ERR_IO, "x");
    assert_int_equal(e.http_status, 0);
    assert_string_equal(e.remote_code, "");
}

static void test_truncation_and_null(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    err e;
    err_set(&e, ERR_LIMIT, "%s", big);
    assert_int_equal(strlen(e.message), ERR_MESSAGE_MAX - 1);
    err_prefix(&e, "%s", big);
    assert_int_equal(strlen(e.message), ERR_MESSAGE_MAX - 1);
    assert_false(err_set(NULL, ERR_IO, "ignored"));
    assert_string_equal(err_code_name((err_code)999), "unknown");
    for (int c = 0; c < ERR_CODE_COUNT; c++)
        assert_string_not_equal(err_code_name((err_code)c), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_quotes_value),
        cmocka_unit_test(test_remote_and_prefix),
        cmocka_unit_test(test_truncation_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
