/* lib/aws talks to escher-sandbox for every API Escher uses, through both
 * the blocking and the asynchronous call. One sandbox serves the whole
 * program; the last test stops it and checks it exited cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sbx_fixture.h"
#include "sbx_tests.h"

#include <stdio.h>
#include <stdlib.h>

static sbx the_sandbox;
static sbx_mode blocking = SBX_BLOCKING;
static sbx_mode async = SBX_ASYNC;

static int group_setup(void **state)
{
    (void)state;
    err e = {0};
    if (!sbx_start(&the_sandbox, &e)) {
        print_error("cannot start escher-sandbox: %s\n", e.message);
        sbx_stop(&the_sandbox, NULL);
        return -1;
    }
    g_sbx = &the_sandbox;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_sbx)
        sbx_stop(g_sbx, NULL); /* only when a test failed before test_sandbox_stops */
    g_sbx = NULL;
    return 0;
}

/* The sandbox ends with status 0 on SIGTERM, its log free of sanitizer reports. */
static void test_sandbox_stops(void **state)
{
    (void)state;
    assert_non_null(g_sbx);
    err e = {0};
    bool ok = sbx_stop(g_sbx, &e);
    g_sbx = NULL;
    if (!ok)
        fail_msg("%s", e.message);
}

#define BOTH(fn) cmocka_unit_test_prestate(fn, &blocking), cmocka_unit_test_prestate(fn, &async)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),
        BOTH(test_caller_identity),
        BOTH(test_assume_role),
        BOTH(test_readonly),
        cmocka_unit_test(test_blocking_wrappers),
        BOTH(test_paging),
        BOTH(test_errors),
        cmocka_unit_test(test_endpoint_from_environment),
        BOTH(test_ec2_lifecycle),
        BOTH(test_ec2_tags),
        BOTH(test_ebs),
        BOTH(test_rds),
        BOTH(test_iam_credential_report),
        BOTH(test_autoscaling_update),
        cmocka_unit_test(test_sandbox_stops),
    };
    return cmocka_run_group_tests_name("libaws_sandbox", tests, group_setup, group_teardown);
}
