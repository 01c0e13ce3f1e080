/* The shared AWS options reach aws_client_options with the program's own
 * environment prefix, from flags and environment alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/aws_opts.h"
#include "client_options.h"
#include "worker_options.h"

#include <stdlib.h>

static opts *load(const opts_program *prog, int argc, char *const *argv)
{
    err e;
    opts *o = opts_new(prog, &e);
    assert_non_null(o);
    opts_action action;
    if (!opts_load(o, argc, argv, &action, &e))
        fail_msg("opts_load: %s", e.message);
    return o;
}

static void test_defaults(void **state)
{
    (void)state;
    char *argv[] = {"escher-worker", NULL};
    opts *o = load(worker_options(), 1, argv);
    aws_client_options c;
    aws_opts_client_options(o, &c);
    assert_null(c.region);
    assert_null(c.endpoint_url);
    assert_int_equal(c.connect_timeout_ms, 3000);
    assert_int_equal(c.timeout_ms, 30000);
    assert_int_equal(c.max_attempts, 0);
    assert_null(c.ca_file);
    opts_free(o);
}

static void test_worker_env_and_flags(void **state)
{
    (void)state;
    setenv("ESCHER_WORKER_TIMEOUT", "45s", 1);
    setenv("ESCHER_WORKER_ENDPOINT_URL", "http://127.0.0.1:8900", 1);
    char *argv[] = {"escher-worker",     "--region", "eu-west-1", "--max-attempts=5",
                    "--connect-timeout", "250ms",    NULL};
    opts *o = load(worker_options(), 6, argv);
    aws_client_options c;
    aws_opts_client_options(o, &c);
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.endpoint_url, "http://127.0.0.1:8900");
    assert_int_equal(c.connect_timeout_ms, 250);
    assert_int_equal(c.timeout_ms, 45000);
    assert_int_equal(c.max_attempts, 5);
    opts_free(o);
    unsetenv("ESCHER_WORKER_TIMEOUT");
    unsetenv("ESCHER_WORKER_ENDPOINT_URL");
}

static void test_client_prefix(void **state)
{
    (void)state;
    /* The worker's variable must not leak into the client, which has its own prefix. */
    setenv("ESCHER_WORKER_CA_FILE", "/wrong.pem", 1);
    setenv("ESCHER_CA_FILE", "/etc/escher/ca.pem", 1);
    char *argv[] = {"escher", NULL};
    opts *o = load(client_options(), 1, argv);
    aws_client_options c;
    aws_opts_client_options(o, &c);
    assert_string_equal(c.ca_file, "/etc/escher/ca.pem");
    opts_free(o);
    unsetenv("ESCHER_WORKER_CA_FILE");
    unsetenv("ESCHER_CA_FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_worker_env_and_flags),
        cmocka_unit_test(test_client_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
