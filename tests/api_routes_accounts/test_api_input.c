/* The pure shape checks of api_input.h: role ARNs, account ids, region codes
 * and role path/names, at their edges (the HTTP test covers the messages). */
#include "api_input.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_role_arn_accepts(void **state)
{
    (void)state;
    api_role_arn a;
    assert_true(api_input_parse_role_arn("arn:aws:iam::123456789012:role/EscherOperator", &a));
    assert_string_equal(a.partition, "aws");
    assert_string_equal(a.account_id, "123456789012");
    assert_string_equal(a.name, "EscherOperator");
    assert_true(api_input_parse_role_arn("arn:aws-cn:iam::000000000000:role/a/b/c+=,.@_-", &a));
    assert_string_equal(a.partition, "aws-cn");
    assert_string_equal(a.name, "c+=,.@_-");
    assert_true(api_input_parse_role_arn("arn:aws-us-gov:iam::123456789012:role/x", &a));
    assert_string_equal(a.partition, "aws-us-gov");
    char longest[128] = "arn:aws:iam::123456789012:role/";
    memset(longest + strlen(longest), 'n', 64);
    assert_true(api_input_parse_role_arn(longest, NULL));
    strcat(longest, "n");
    assert_false(api_input_parse_role_arn(longest, NULL));
}

static void test_role_arn_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "arn:",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role",
        "arn:aws:iam::12345678901:role/x",
        "arn:aws:iam::1234567890123:role/x",
        "arn:aws:iam::12345678901a:role/x",
        "arn:aws:iam::123456789012:user/x",
        "arn:aws:sts::123456789012:assumed-role/x/y",
        "arn:aws-iso:iam::123456789012:role/x",
        "arn:awscn:iam::123456789012:role/x",
        "arn:aws:iam:us-east-1:123456789012:role/x",
        "arn:aws:iam::123456789012:role//x",
        "arn:aws:iam::123456789012:role/x/",
        "arn:aws:iam::123456789012:role/x y",
        "arn:aws:iam::123456789012:role/x\n",
        "arn:aws:iam::123456789012:role/x'--",
        "arn:aws:iam::123456789012:role/caf\xc3\xa9",
        " arn:aws:iam::123456789012:role/x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (api_input_parse_role_arn(bad[i], NULL))
            fail_msg("accepted '%s'", bad[i]);
    }
}

static void test_account_id(void **state)
{
    (void)state;
    assert_true(api_input_is_account_id("000000000000"));
    assert_true(api_input_is_account_id("123456789012"));
    assert_false(api_input_is_account_id(""));
    assert_false(api_input_is_account_id("12345678901"));
    assert_false(api_input_is_account_id("1234567890123"));
    assert_false(api_input_is_account_id("12345678901x"));
    assert_false(api_input_is_account_id("-12345678901"));
}

static void test_region(void **state)
{
    (void)state;
    static const char *const good[] = {"us-east-1",    "eu-central-2",   "us-gov-west-1",
                                       "cn-north-1",   "ap-southeast-4", "us-isob-east-1",
                                       "il-central-1", "mx-central-1",   "ap-northeast-12"};
    static const char *const bad[] = {"",           "us",         "us-east",     "us-east-",
                                      "US-EAST-1",  "us-east-1a", "us_east_1",   "useast1",
                                      "us-east1",   "-us-east-1", "us-east-123", "u-east-1",
                                      "use-east-1", "us-a-b-c-1", "us--east-1",  "us-east-1 "};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!api_input_is_region(good[i]))
            fail_msg("refused '%s'", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (api_input_is_region(bad[i]))
            fail_msg("accepted '%s'", bad[i]);
}

static void test_role_path_name(void **state)
{
    (void)state;
    assert_true(api_input_is_role_path_name("EscherOperator"));
    assert_true(api_input_is_role_path_name("escher/ops/EscherOperator"));
    assert_false(api_input_is_role_path_name(""));
    assert_false(api_input_is_role_path_name("/EscherOperator"));
    assert_false(api_input_is_role_path_name("Escher{account_id}"));
    char path[700];
    memset(path, 'p', 511);
    strcpy(path + 511, "/name");
    assert_true(api_input_is_role_path_name(path));
    memset(path, 'p', 512);
    strcpy(path + 512, "/name");
    assert_false(api_input_is_role_path_name(path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_arn_accepts), cmocka_unit_test(test_role_arn_refuses),
        cmocka_unit_test(test_account_id),       cmocka_unit_test(test_region),
        cmocka_unit_test(test_role_path_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
