/* The standard retry mode as pure functions: classification, backoff bounds
 * with pinned jitter, attempt limits, the quota, and clock-skew detection. */
#include "aws/retry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static err aws_err(int status, const char *code)
{
    err e;
    err_set_remote(&e, ERR_AWS, status, code, "rid", "%s (HTTP %d)", code, status);
    return e;
}

static void test_classify(void **state)
{
    (void)state;
    static const char *throttles[] = {"Throttling",
                                      "ThrottlingException",
                                      "ThrottledException",
                                      "RequestThrottledException",
                                      "TooManyRequestsException",
                                      "ProvisionedThroughputExceededException",
                                      "TransactionInProgressException",
                                      "RequestLimitExceeded",
                                      "BandwidthLimitExceeded",
                                      "LimitExceededException",
                                      "RequestThrottled",
                                      "SlowDown",
                                      "EC2ThrottledException"};
    for (size_t i = 0; i < sizeof throttles / sizeof throttles[0]; i++) {
        err e = aws_err(400, throttles[i]);
        assert_true(retry_is_throttling_code(throttles[i]));
        assert_int_equal(retry_classify("ec2", &e), RETRY_KIND_THROTTLE);
    }
    static const char *transient[] = {"RequestTimeout", "RequestTimeoutException",
                                      "PriorRequestNotComplete"};
    for (size_t i = 0; i < 3; i++) {
        err e = aws_err(400, transient[i]);
        assert_true(retry_is_transient_code(transient[i]));
        assert_int_not_equal(retry_classify("ec2", &e), RETRY_KIND_NONE);
    }
    static const int statuses[] = {500, 502, 503, 504};
    for (size_t i = 0; i < 4; i++) {
        err e = aws_err(statuses[i], "InternalError");
        assert_int_equal(retry_classify("ec2", &e), RETRY_KIND_TRANSIENT);
    }
    /* final: validation, auth, not found, 501, and 429 without a throttling
     * code (botocore's standard mode has no 429 status rule) */
    static const struct {
        int status;
        const char *code;
    } final[] = {{400, "ValidationError"},   {400, "InvalidParameterValue"},
                 {403, "AccessDenied"},      {403, "UnauthorizedOperation"},
                 {401, "AuthFailure"},       {404, "NoSuchEntity"},
                 {400, "ThrottlingSoon"},    {501, "NotImplemented"},
                 {429, "TooManyRequests"},   {400, "throttling"},
                 {409, "ConflictException"}, {400, ""}};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) {
        err e = aws_err(final[i].status, final[i].code);
        if (retry_classify("ec2", &e) != RETRY_KIND_NONE)
            fail_msg("%d %s retried", final[i].status, final[i].code);
    }
    /* transport */
    err e;
    err_set(&e, ERR_HTTP, "connection refused");
    assert_int_equal(retry_classify("ec2", &e), RETRY_KIND_TRANSIENT);
    err_set(&e, ERR_TIMEOUT, "timed out");
    assert_int_equal(retry_classify("ec2", &e), RETRY_KIND_TIMEOUT);
    err_set(&e, ERR_NO_CREDENTIALS, "none");
    assert_int_equal(retry_classify("ec2", &e), RETRY_KIND_NONE);
    err_set(&e, ERR_INVALID, "bad");
    assert_int_equal(retry_classify("ec2", &e), RETRY_KIND_NONE);
    assert_int_equal(retry_classify("ec2", NULL), RETRY_KIND_NONE);
    /* STS's IDPCommunicationError, only for STS */
    e = aws_err(400, "IDPCommunicationError");
    assert_int_equal(retry_classify("sts", &e), RETRY_KIND_TRANSIENT);
    assert_int_equal(retry_classify("iam", &e), RETRY_KIND_NONE);
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    /* r = 0 never waits; r just below 1 reaches the ceiling min(base * 2^(n-1), 20 s) */
    for (int n = 1; n <= 12; n++) {
        assert_int_equal(retry_backoff_ms(RETRY_KIND_TRANSIENT, n, 0.0), 0);
        assert_int_equal(retry_backoff_ms(RETRY_KIND_THROTTLE, n, 0.0), 0);
    }
    assert_int_equal(retry_backoff_ms(RETRY_KIND_TRANSIENT, 1, 0.999999), 99);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_TRANSIENT, 2, 0.999999), 199);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_TRANSIENT, 3, 0.999999), 399);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_TIMEOUT, 3, 0.999999), 399);
    /* throttling backs off from a five times longer base */
    assert_int_equal(retry_backoff_ms(RETRY_KIND_THROTTLE, 1, 0.999999), 499);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_THROTTLE, 2, 0.999999), 999);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_THROTTLE, 6, 0.999999), 15999);
    /* the 20 s cap applies to the ceiling, before the jitter */
    assert_int_equal(retry_backoff_ms(RETRY_KIND_THROTTLE, 7, 0.999999), 19999);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_THROTTLE, 7, 0.5), 10000);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_TRANSIENT, 9, 0.5), 10000);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_TRANSIENT, 1000, 0.999999), 19999);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_TRANSIENT, 2, 0.5), 100);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_THROTTLE, 3, 0.25), 500);
    /* out-of-range jitter is clamped rather than trusted */
    assert_true(retry_backoff_ms(RETRY_KIND_TRANSIENT, 1, 7.0) < 100);
    assert_int_equal(retry_backoff_ms(RETRY_KIND_TRANSIENT, 1, -3.0), 0);
    /* sweep: within [0, ceiling] for every attempt and kind */
    for (int n = 1; n <= 12; n++) {
        for (int k = 0; k < 2; k++) {
            retry_kind kind = k ? RETRY_KIND_THROTTLE : RETRY_KIND_TRANSIENT;
            long bound = (k ? RETRY_THROTTLE_BASE_MS : RETRY_BASE_MS) << (n - 1);
            if (bound > RETRY_MAX_BACKOFF_MS)
                bound = RETRY_MAX_BACKOFF_MS;
            for (double r = 0.0; r < 1.0; r += 0.01) {
                long d = retry_backoff_ms(kind, n, r);
                assert_true(d >= 0 && d <= bound);
            }
        }
    }
}

static double fixed_random(void *arg)
{
    return *(double *)arg;
}

static void test_policy_attempts_and_delays(void **state)
{
    (void)state;
    double r = 0.75;
    retry_policy *p = retry_policy_new(3, fixed_random, &r);
    assert_int_equal(retry_policy_max_attempts(p), 3);
    retry_state s = {0};
    err e = aws_err(503, "ServiceUnavailable");
    long delay;
    const char *why;
    s.attempts = 1;
    assert_true(retry_policy_should_retry(p, &s, "ec2", &e, &delay, &why));
    assert_int_equal(delay, 75); /* 0.75 * 100 ms: transient */
    assert_int_equal(s.acquired, RETRY_COST);
    s.attempts = 2;
    assert_true(retry_policy_should_retry(p, &s, "ec2", &e, &delay, &why));
    assert_int_equal(delay, 150);
    /* the same attempt after throttling waits on the longer base */
    err th = aws_err(400, "Throttling");
    assert_true(retry_policy_should_retry(p, &s, "ec2", &th, &delay, &why));
    assert_int_equal(delay, 750); /* 0.75 * 500 ms * 2 */
    s.attempts = 3;
    assert_false(retry_policy_should_retry(p, &s, "ec2", &e, &delay, &why));
    assert_string_equal(why, "max attempts reached");
    assert_int_equal(retry_policy_quota(p), 500 - 3 * RETRY_COST);
    /* a final error costs nothing */
    err v = aws_err(400, "ValidationError");
    s.attempts = 1;
    assert_false(retry_policy_should_retry(p, &s, "ec2", &v, &delay, &why));
    assert_string_equal(why, "not retryable");
    assert_int_equal(retry_policy_quota(p), 485);
    /* success after a retry gives back that retry's cost */
    s.acquired = RETRY_COST;
    retry_policy_on_success(p, &s);
    assert_int_equal(retry_policy_quota(p), 490);
    /* success without retry gives back 1; never above 500 */
    retry_state clean = {1, 0};
    for (int i = 0; i < 10; i++)
        retry_policy_on_success(p, &clean);
    assert_int_equal(retry_policy_quota(p), 500);
    retry_policy_free(p);
}

static void test_quota_exhaustion(void **state)
{
    (void)state;
    double r = 0.0;
    retry_policy *p = retry_policy_new(3, fixed_random, &r);
    err e = aws_err(500, "InternalError");
    long delay;
    const char *why;
    /* 500 tokens pay for exactly 100 retries at 5 */
    for (int i = 0; i < 100; i++) {
        retry_state s = {1, 0};
        assert_true(retry_policy_should_retry(p, &s, "ec2", &e, &delay, &why));
    }
    assert_int_equal(retry_policy_quota(p), 0);
    retry_state s = {1, 0};
    assert_false(retry_policy_should_retry(p, &s, "ec2", &e, &delay, &why));
    assert_string_equal(why, "retry quota exhausted");
    /* timeouts cost 10: with 5 left, a 5xx can retry but a timeout cannot */
    retry_state ok = {1, 0};
    for (int i = 0; i < 5; i++)
        retry_policy_on_success(p, &ok);
    assert_int_equal(retry_policy_quota(p), 5);
    err t;
    err_set(&t, ERR_TIMEOUT, "timed out");
    assert_false(retry_policy_should_retry(p, &s, "ec2", &t, &delay, &why));
    assert_string_equal(why, "retry quota exhausted");
    assert_true(retry_policy_should_retry(p, &s, "ec2", &e, &delay, &why));
    assert_int_equal(retry_policy_quota(p), 0);
    /* a timeout retry records 10 and a later success returns 10 */
    for (int i = 0; i < 20; i++)
        retry_policy_on_success(p, &ok);
    retry_state ts = {1, 0};
    assert_true(retry_policy_should_retry(p, &ts, "ec2", &t, &delay, &why));
    assert_int_equal(ts.acquired, RETRY_TIMEOUT_COST);
    assert_int_equal(retry_policy_quota(p), 10);
    retry_policy_on_success(p, &ts);
    assert_int_equal(retry_policy_quota(p), 20);
    retry_policy_free(p);
}

static void test_max_attempts_config(void **state)
{
    (void)state;
    int n;
    err e;
    assert_true(retry_max_attempts(0, NULL, &n, &e));
    assert_int_equal(n, 3);
    assert_true(retry_max_attempts(0, "", &n, &e));
    assert_int_equal(n, 3);
    assert_true(retry_max_attempts(0, "5", &n, &e));
    assert_int_equal(n, 5);
    assert_true(retry_max_attempts(2, "5", &n, &e)); /* the option wins */
    assert_int_equal(n, 2);
    assert_true(retry_max_attempts(0, "1", &n, &e));
    assert_int_equal(n, 1);
    static const char *bad[] = {"0", "-1", "abc", "3x", "51", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(retry_max_attempts(0, bad[i], &n, &e));
        assert_int_equal(e.code, ERR_CONFIG);
        assert_non_null(strstr(e.message, bad[i]));
    }
    /* one attempt means no retry at all */
    retry_policy *p = retry_policy_new(1, NULL, NULL);
    retry_state s = {1, 0};
    err t = aws_err(503, "ServiceUnavailable");
    long delay;
    assert_false(retry_policy_should_retry(p, &s, "ec2", &t, &delay, NULL));
    retry_policy_free(p);
}

static void test_default_random_in_range(void **state)
{
    (void)state;
    retry_policy *p = retry_policy_new(50, NULL, NULL);
    err e = aws_err(503, "ServiceUnavailable");
    long lo = 1 << 30, hi = -1;
    for (int i = 0; i < 90; i++) {
        retry_state s = {1, 0};
        long delay;
        assert_true(retry_policy_should_retry(p, &s, "ec2", &e, &delay, NULL));
        assert_true(delay >= 0 && delay < RETRY_BASE_MS);
        lo = delay < lo ? delay : lo;
        hi = delay > hi ? delay : hi;
    }
    /* jitter, not a constant: 90 draws do not all land in one 10 ms band */
    assert_true(hi - lo > 10);
    retry_policy_free(p);
}

static void test_clock_skew(void **state)
{
    (void)state;
    time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
    long offset = 0;
    err e = aws_err(403, "RequestTimeTooSkewed");
    /* the server is one hour ahead */
    assert_true(retry_clock_skewed(&e, "Tue, 14 Nov 2023 23:13:20 GMT", now, &offset));
    assert_int_equal(offset, 3600);
    /* already corrected: the same answer is no longer a skew */
    assert_false(retry_clock_skewed(&e, "Tue, 14 Nov 2023 23:13:20 GMT", now, &offset));
    assert_int_equal(offset, 3600);
    /* server behind */
    offset = 0;
    e = aws_err(401, "AuthFailure");
    assert_true(retry_clock_skewed(&e, "Tue, 14 Nov 2023 22:00:00 GMT", now, &offset));
    assert_int_equal(offset, -800);
    /* within 4 minutes: a real auth failure, not skew */
    offset = 0;
    assert_false(retry_clock_skewed(&e, "Tue, 14 Nov 2023 22:16:00 GMT", now, &offset));
    assert_int_equal(offset, 0);
    /* not a skew code, however far the clock */
    e = aws_err(403, "AccessDenied");
    assert_false(retry_clock_skewed(&e, "Tue, 14 Nov 2023 23:13:20 GMT", now, &offset));
    /* missing or broken Date */
    static const char *codes[] = {"RequestTimeTooSkewed",  "RequestExpired",
                                  "RequestInTheFuture",    "InvalidSignatureException",
                                  "SignatureDoesNotMatch", "AuthFailure"};
    for (size_t i = 0; i < 6; i++) {
        e = aws_err(403, codes[i]);
        assert_true(retry_is_skew_code(codes[i]));
        assert_false(retry_clock_skewed(&e, NULL, now, &offset));
        assert_false(retry_clock_skewed(&e, "yesterday", now, &offset));
        offset = 0;
        assert_true(retry_clock_skewed(&e, "Wed, 15 Nov 2023 22:13:20 GMT", now, &offset));
        assert_int_equal(offset, 86400);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_policy_attempts_and_delays),
        cmocka_unit_test(test_quota_exhaustion),
        cmocka_unit_test(test_max_attempts_config),
        cmocka_unit_test(test_default_random_in_range),
        cmocka_unit_test(test_clock_skew),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
