/* What confirms a plan, by risk (services/client/client_confirm.h): the
 * table of rules the chat's pseudo-terminal tests exercise end to end, here
 * with every risk and the answers people actually type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client_confirm.h"

#include <string.h>

static void test_need_by_risk(void **state)
{
    (void)state;
    assert_int_equal(client_confirm_need_for(OPS_RISK_READ), CLIENT_CONFIRM_Y);
    assert_int_equal(client_confirm_need_for(OPS_RISK_LOW), CLIENT_CONFIRM_Y);
    assert_int_equal(client_confirm_need_for(OPS_RISK_MEDIUM), CLIENT_CONFIRM_Y);
    assert_int_equal(client_confirm_need_for(OPS_RISK_HIGH), CLIENT_CONFIRM_COUNT);
    assert_int_equal(client_confirm_need_for(OPS_RISK_CRITICAL), CLIENT_CONFIRM_REFUSED);
}

static void test_y_answers(void **state)
{
    (void)state;
    const char *yes[] = {"y", "Y", "yes", "YES", " y ", "y\n", "\tyes\r\n"};
    const char *no[] = {"", "n", "no", "yy", "ye", "sure", "1", "y es", "yes please"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(client_confirm_accepts(OPS_RISK_MEDIUM, 3, yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_false(client_confirm_accepts(OPS_RISK_LOW, 3, no[i]));
    assert_false(client_confirm_accepts(OPS_RISK_LOW, 3, NULL));
}

static void test_count_answers(void **state)
{
    (void)state;
    assert_true(client_confirm_accepts(OPS_RISK_HIGH, 12, "12"));
    assert_true(client_confirm_accepts(OPS_RISK_HIGH, 12, " 12\n"));
    assert_false(client_confirm_accepts(OPS_RISK_HIGH, 12, "y"));
    assert_false(client_confirm_accepts(OPS_RISK_HIGH, 12, "yes"));
    assert_false(client_confirm_accepts(OPS_RISK_HIGH, 12, "11"));
    assert_false(client_confirm_accepts(OPS_RISK_HIGH, 12, "012"));
    assert_false(client_confirm_accepts(OPS_RISK_HIGH, 12, "12 instances"));
    assert_false(client_confirm_accepts(OPS_RISK_HIGH, 0, "0"));
    char big[64];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(client_confirm_accepts(OPS_RISK_HIGH, 11, big));
}

static void test_critical_never(void **state)
{
    (void)state;
    const char *any[] = {"y", "yes", "1", "delete", ""};
    for (size_t i = 0; i < sizeof any / sizeof *any; i++)
        assert_false(client_confirm_accepts(OPS_RISK_CRITICAL, 1, any[i]));
    assert_false(client_confirm_yes_allowed(OPS_RISK_CRITICAL));
    assert_true(client_confirm_yes_allowed(OPS_RISK_HIGH));
    assert_true(client_confirm_yes_allowed(OPS_RISK_LOW));
}

static void test_questions(void **state)
{
    (void)state;
    char q[200];
    client_confirm_question(OPS_RISK_MEDIUM, 5, q, sizeof q);
    assert_string_equal(q, "Go ahead? [y/N] ");
    client_confirm_question(OPS_RISK_HIGH, 5, q, sizeof q);
    assert_string_equal(q, "This is high risk. Type 5 (the number of resources) to go ahead: ");
    client_confirm_question(OPS_RISK_CRITICAL, 5, q, sizeof q);
    assert_string_equal(q, "critical operations do not run from chat");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_need_by_risk),  cmocka_unit_test(test_y_answers),
        cmocka_unit_test(test_count_answers), cmocka_unit_test(test_critical_never),
        cmocka_unit_test(test_questions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
