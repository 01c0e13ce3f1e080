/* The broker offline: session names, the session policy (deterministic,
 * sorted, de-duplicated, size-limited) and request validation, all of
 * which must fail before any call to STS (the client here has no endpoint
 * worth calling). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/broker.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLE "arn:aws:iam::123456789012:role/EscherOperator"

static void test_session_name(void **state)
{
    (void)state;
    char name[BROKER_SESSION_NAME_MAX + 1];
    err e = {0};
    assert_true(broker_session_name("6f1c2a9e-0d4b-4c55-9f0e-1a2b3c4d5e6f", name, &e));
    assert_string_equal(name, "escher-6f1c2a9e-0d4b-4c55-9f0e-1a2b3c4d5e6f");
    assert_true(broker_session_name("a_b+c=d,e.f@g-h", name, &e));

    /* 57 characters fit exactly (7 + 57 = 64); 58 do not. */
    char id[80];
    memset(id, 'x', 57);
    id[57] = '\0';
    assert_true(broker_session_name(id, name, &e));
    assert_int_equal(strlen(name), 64);
    id[57] = 'y';
    id[58] = '\0';
    assert_false(broker_session_name(id, name, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, id));

    const char *bad[] = {"job 1", "job/1", "job:1", "jöb", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&e);
        assert_false(broker_session_name(bad[i], name, &e));
        assert_int_equal(e.code, ERR_INVALID);
        if (bad[i][0])
            assert_non_null(strstr(e.message, bad[i]));
    }
    assert_false(broker_session_name(NULL, name, &e));
    assert_int_equal(e.code, ERR_INVALID);
}

static void test_policy_deterministic(void **state)
{
    (void)state;
    const char *a1[] = {"ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeInstances",
                        "cloudwatch:GetMetricData"};
    const char *a2[] = {"cloudwatch:GetMetricData", "ec2:DescribeVolumes", "ec2:DescribeInstances"};
    broker_request r1 = {.job_id = "j1", .actions = a1, .nactions = 4};
    broker_request r2 = {.job_id = "j2", .actions = a2, .nactions = 3};
    err e = {0};
    char *p1 = broker_policy(&r1, &e);
    assert_non_null(p1);
    char *p2 = broker_policy(&r2, &e);
    assert_non_null(p2);
    assert_string_equal(p1, p2);
    assert_string_equal(
        p1, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
            "\"cloudwatch:GetMetricData\",\"ec2:DescribeInstances\",\"ec2:DescribeVolumes\"],"
            "\"Resource\":\"*\"}]}");
    free(p1);
    free(p2);

    /* Resources, when given, are sorted and de-duplicated too. */
    const char *res[] = {"arn:aws:ec2:*:*:instance/i-2", "arn:aws:ec2:*:*:instance/i-1",
                         "arn:aws:ec2:*:*:instance/i-2"};
    broker_request r3 = {
        .job_id = "j3", .actions = a2, .nactions = 1, .resources = res, .nresources = 3};
    char *p3 = broker_policy(&r3, &e);
    assert_non_null(p3);
    json_t *doc = json_loads(p3, 0, NULL);
    assert_non_null(doc);
    json_t *rs = json_object_get(json_array_get(json_object_get(doc, "Statement"), 0), "Resource");
    assert_int_equal(json_array_size(rs), 2);
    assert_string_equal(json_string_value(json_array_get(rs, 0)), "arn:aws:ec2:*:*:instance/i-1");
    json_decref(doc);
    free(p3);
}

static void test_policy_invalid(void **state)
{
    (void)state;
    err e = {0};
    broker_request r = {.job_id = "job-7"};
    assert_null(broker_policy(&r, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "job-7"));

    const char *bad[] = {
        "DescribeInstances",      "ec2:",           ":Describe", "EC2:DescribeInstances",
        "ec2:Describe Instances", "ec2:Describe\"x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *one[] = {"ec2:DescribeInstances", bad[i]};
        broker_request rb = {.job_id = "job-7", .actions = one, .nactions = 2};
        err_clear(&e);
        assert_null(broker_policy(&rb, &e));
        assert_int_equal(e.code, ERR_INVALID);
        assert_non_null(strstr(e.message, bad[i]));
    }
}

static void test_policy_limit(void **state)
{
    (void)state;
    enum { N = 120 };
    char names[N][48];
    const char *acts[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "ec2:DescribeSomethingNumber%03d", i);
        acts[i] = names[i];
    }
    /* Find the largest count that fits, then prove one more is refused. */
    err e = {0};
    size_t fit = 0;
    for (size_t n = 1; n <= N; n++) {
        broker_request r = {.job_id = "big-job", .actions = acts, .nactions = n};
        char *p = broker_policy(&r, &e);
        if (p == NULL) {
            assert_int_equal(e.code, ERR_LIMIT);
            assert_non_null(strstr(e.message, "big-job"));
            assert_non_null(strstr(e.message, "2048"));
            break;
        }
        assert_true(strlen(p) <= BROKER_POLICY_MAX);
        fit = n;
        free(p);
    }
    assert_true(fit > 10 && fit < N);
}

/* Every malformed request fails with ERR_INVALID quoting the offending
 * value, before any network call (assume count stays 0). */
static void test_request_validation(void **state)
{
    (void)state;
    err e = {0};
    aws_client_options o = {0};
    o.endpoint_url = "http://127.0.0.1:9"; /* never reached */
    aws_client *c = aws_client_new(&o, NULL, NULL, &e);
    assert_non_null(c);
    assert_null(broker_new(NULL, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    broker_options bo = {.refresh_margin_seconds = 900};
    assert_null(broker_new(c, &bo, &e));
    assert_int_equal(e.code, ERR_INVALID);
    broker *b = broker_new(c, NULL, &e);
    assert_non_null(b);

    const char *acts[] = {"ec2:DescribeInstances"};
    broker_request good = {.role_arn = ROLE,
                           .external_id = "ext-id-0001",
                           .job_id = "job-1",
                           .source_identity = "user-1",
                           .actions = acts,
                           .nactions = 1};
    struct {
        broker_request r;
        const char *quoted; /* must appear in the message; NULL: nothing to quote */
    } cases[] = {
        {good, NULL}, {good, NULL}, {good, NULL}, {good, NULL},
        {good, NULL}, {good, NULL}, {good, NULL}, {good, NULL},
    };
    cases[0].r.role_arn = "arn:aws:iam::12345:role/X";
    cases[0].quoted = "arn:aws:iam::12345:role/X";
    cases[1].r.role_arn = "arn:aws:iam::123456789012:user/X";
    cases[1].quoted = "arn:aws:iam::123456789012:user/X";
    cases[2].r.role_arn = "arn:aws:iam::123456789012:role/";
    cases[2].quoted = "arn:aws:iam::123456789012:role/";
    cases[3].r.job_id = "job with spaces";
    cases[3].quoted = "job with spaces";
    cases[4].r.external_id = NULL;
    cases[4].quoted = ROLE;
    cases[5].r.source_identity = "user name";
    cases[5].quoted = "user name";
    cases[6].r.duration_seconds = 899;
    cases[6].quoted = "899";
    cases[7].r.duration_seconds = 43201;
    cases[7].quoted = "43201";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aws_creds *cr = (aws_creds *)1;
        err_clear(&e);
        assert_false(broker_get(b, &cases[i].r, &cr, &e));
        assert_null(cr);
        assert_int_equal(e.code, ERR_INVALID);
        if (strstr(e.message, cases[i].quoted) == NULL)
            fail_msg("case %zu: \"%s\" does not quote \"%s\"", i, e.message, cases[i].quoted);
    }
    /* The external id itself is never quoted. */
    broker_request bad_ext = good;
    bad_ext.external_id = "ext id with spaces";
    assert_false(broker_get(b, &bad_ext, &(aws_creds *){NULL}, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_null(strstr(e.message, "ext id with spaces"));
    /* Without a loop, the asynchronous get refuses. */
    assert_false(broker_get_async(b, &good, NULL, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_int_equal(broker_assume_count(b), 0);
    assert_int_equal(broker_cache_size(b), 0);
    broker_free(b);
    aws_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_name),       cmocka_unit_test(test_policy_deterministic),
        cmocka_unit_test(test_policy_invalid),     cmocka_unit_test(test_policy_limit),
        cmocka_unit_test(test_request_validation),
    };
    return cmocka_run_group_tests_name("broker_policy", tests, NULL, NULL);
}
