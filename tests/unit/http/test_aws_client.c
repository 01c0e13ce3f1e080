/* The AWS client against the local responder: signing and Host, retries
 * (which codes, how long, the quota), clock-skew correction, the
 * asynchronous path with its loop timers, and cancellation. */
#include "aws/aws_client.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "support/responder.h"

#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* A scripted server: answer i (0-based within the current test) comes from
 * plan[i], the last entry repeating. */
typedef struct answer {
    int status;
    const char *code; /* query-protocol error code, NULL for a success body */
    int date_offset;  /* nonzero: send a Date header this many seconds from now */
    int delay_ms;
} answer;

typedef struct server {
    pthread_mutex_t lock;
    answer plan[8];
    int plan_len;
    int base; /* responder_count at the test's start */
    int seen;
    char amz_date[32][32]; /* X-Amz-Date of each request in the test */
    char auth[512];
    char host[128];
    char sha256[128];
    char target[128];
    char uri[256];
} server;

static server SV;
static responder *R;

static void handler(const responder_req *req, responder_reply *reply, int n, void *arg)
{
    server *s = arg;
    pthread_mutex_lock(&s->lock);
    int i = n - s->base - 1;
    s->seen++;
    const char *h = req->header(req, "X-Amz-Date");
    if (i >= 0 && i < 32)
        snprintf(s->amz_date[i], sizeof s->amz_date[i], "%s", h ? h : "");
    h = req->header(req, "Authorization");
    snprintf(s->auth, sizeof s->auth, "%s", h ? h : "");
    h = req->header(req, "Host");
    snprintf(s->host, sizeof s->host, "%s", h ? h : "");
    h = req->header(req, "x-amz-content-sha256");
    snprintf(s->sha256, sizeof s->sha256, "%s", h ? h : "");
    h = req->header(req, "X-Amz-Target");
    snprintf(s->target, sizeof s->target, "%s", h ? h : "");
    snprintf(s->uri, sizeof s->uri, "%s", req->uri);
    answer a = {200, NULL, 0, 0};
    if (s->plan_len > 0)
        a = s->plan[i < 0 ? 0 : (i < s->plan_len ? i : s->plan_len - 1)];
    pthread_mutex_unlock(&s->lock);
    reply->status = a.status;
    reply->delay_ms = a.delay_ms;
    if (a.date_offset) {
        time_t t = time(NULL) + a.date_offset;
        struct tm tm;
        gmtime_r(&t, &tm);
        char buf[64];
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        snprintf(reply->headers, sizeof reply->headers, "Date: %s\n", buf);
    }
    if (a.code)
        reply->body = xasprintf("<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code>"
                                "<Message>scripted %s</Message></Error>"
                                "<RequestId>req-%d</RequestId></ErrorResponse>",
                                a.code, a.code, n);
    else
        reply->body = xasprintf("<Result><N>%d</N></Result>", n);
}

static void plan(int len, ...)
{
    va_list ap;
    va_start(ap, len);
    pthread_mutex_lock(&SV.lock);
    SV.plan_len = len;
    for (int i = 0; i < len; i++)
        SV.plan[i] = va_arg(ap, answer);
    SV.base = responder_count(R);
    SV.seen = 0;
    memset(SV.amz_date, 0, sizeof SV.amz_date);
    pthread_mutex_unlock(&SV.lock);
    va_end(ap);
}

static int seen(void)
{
    pthread_mutex_lock(&SV.lock);
    int n = SV.seen;
    pthread_mutex_unlock(&SV.lock);
    return n;
}

static credprov *CREDS;

static double zero_random(void *arg)
{
    (void)arg;
    return 0.0;
}

static double fixed_random(void *arg)
{
    return *(double *)arg;
}

static aws_client *client(int max_attempts, struct event_base *base, long timeout_ms)
{
    aws_client_options o = {
        .region = "eu-west-1",
        .endpoint_url = responder_url(R),
        .max_attempts = max_attempts,
        .timeout_ms = timeout_ms,
    };
    err e;
    aws_client *c = aws_client_new(&o, CREDS, base, &e);
    if (c == NULL)
        fail_msg("aws_client_new: %s", e.message);
    aws_client_set_retry_random(c, zero_random, NULL);
    return c;
}

static void sts_request(aws_request *r)
{
    aws_request_init(r, "sts", "GetCallerIdentity", AWS_PROTO_QUERY, "POST", "/");
    http_headers_add(&r->headers, "Content-Type",
                     "application/x-www-form-urlencoded; charset=utf-8");
    strbuf_puts(&r->body, "Action=GetCallerIdentity&Version=2011-06-15");
}

static const answer OK = {200, NULL, 0, 0};

/* ---- blocking ---- */

static void test_signed_call(void **state)
{
    (void)state;
    plan(1, OK);
    aws_client *c = client(3, NULL, 0);
    aws_request r;
    sts_request(&r);
    http_response resp;
    err e;
    assert_true(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(strbuf_str(&resp.body), "<N>"));
    pthread_mutex_lock(&SV.lock);
    assert_non_null(strstr(SV.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    /* overridden endpoints sign for the caller's region */
    assert_non_null(strstr(SV.auth, "/eu-west-1/sts/aws4_request"));
    assert_non_null(strstr(SV.auth, "SignedHeaders="));
    assert_non_null(strstr(SV.auth, "host"));
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", responder_port(R));
    assert_string_equal(SV.host, host);
    assert_int_equal(strlen(SV.amz_date[0]), 16);
    assert_string_equal(SV.sha256, ""); /* only S3 gets the header */
    pthread_mutex_unlock(&SV.lock);
    http_response_free(&resp);
    aws_request_free(&r);
    aws_client_free(c);
}

static void test_unsigned_and_s3(void **state)
{
    (void)state;
    plan(1, OK);
    aws_client_options o = {.region = "eu-west-1", .endpoint_url = responder_url(R)};
    aws_client *anon = aws_client_new(&o, NULL, NULL, NULL);
    assert_non_null(anon);
    aws_request r;
    sts_request(&r);
    http_response resp;
    assert_true(aws_client_call(anon, &r, &resp, NULL));
    pthread_mutex_lock(&SV.lock);
    assert_string_equal(SV.auth, "");
    pthread_mutex_unlock(&SV.lock);
    http_response_free(&resp);
    aws_request_free(&r);
    aws_client_free(anon);

    aws_client *c = client(3, NULL, 0);
    aws_request s3;
    aws_request_init(&s3, "s3", "GetObject", AWS_PROTO_REST_XML, "GET", "/bucket/a%20b//c");
    s3.query = "versionId=1";
    s3.region = "us-west-2";
    assert_true(aws_client_call(c, &s3, &resp, NULL));
    pthread_mutex_lock(&SV.lock);
    /* empty-body SHA-256 */
    assert_string_equal(SV.sha256,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_non_null(strstr(SV.auth, "/us-west-2/s3/aws4_request"));
    assert_string_equal(SV.uri, "/bucket/a%20b//c?versionId=1");
    pthread_mutex_unlock(&SV.lock);
    http_response_free(&resp);
    aws_request_free(&s3);
    aws_client_free(c);
}

static void test_retry_then_success(void **state)
{
    (void)state;
    plan(3, (answer){503, "ServiceUnavailable", 0, 0}, (answer){400, "Throttling", 0, 0}, OK);
    aws_client *c = client(3, NULL, 0);
    aws_request r;
    sts_request(&r);
    http_response resp;
    err e;
    assert_true(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(seen(), 3);
    /* two retries took 10, the success after a retry gives back 5 */
    assert_int_equal(aws_client_retry_quota(c), 495);
    http_response_free(&resp);
    aws_request_free(&r);
    aws_client_free(c);
}

static void test_final_errors(void **state)
{
    (void)state;
    aws_client *c = client(3, NULL, 0);
    aws_request r;
    sts_request(&r);
    http_response resp;
    err e;
    /* throttled throughout: 3 attempts, then the last error with context */
    plan(1, (answer){400, "Throttling", 0, 0});
    assert_false(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(seen(), 3);
    assert_int_equal(e.code, ERR_AWS);
    assert_int_equal(e.http_status, 400);
    assert_string_equal(e.remote_code, "Throttling");
    assert_non_null(strstr(e.message, "sts GetCallerIdentity"));
    assert_non_null(strstr(e.message, "eu-west-1"));
    assert_non_null(strstr(e.message, responder_url(R)));
    assert_non_null(strstr(e.message, "3 attempts"));
    assert_non_null(strstr(e.message, "max attempts reached"));
    assert_int_equal(resp.status, 0); /* nothing handed out on failure */
    http_response_free(&resp);
    /* not retryable: one attempt */
    static const char *final[] = {"ValidationError", "AccessDenied", "InvalidClientTokenId",
                                  "ExpiredToken"};
    for (size_t i = 0; i < 4; i++) {
        plan(1, (answer){i == 1 ? 403 : 400, final[i], 0, 0});
        assert_false(aws_client_call(c, &r, &resp, &e));
        assert_int_equal(seen(), 1);
        assert_string_equal(e.remote_code, final[i]);
        assert_non_null(strstr(e.message, "sts GetCallerIdentity"));
        http_response_free(&resp);
    }
    /* a skew-type code without a skewed Date is final too */
    plan(1, (answer){403, "SignatureDoesNotMatch", 0, 0});
    assert_false(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(seen(), 1);
    assert_int_equal(aws_client_clock_offset(c), 0);
    aws_request_free(&r);
    aws_client_free(c);
}

static void test_backoff_timing(void **state)
{
    (void)state;
    plan(1, (answer){500, "InternalFailure", 0, 0});
    aws_client *c = client(3, NULL, 0);
    double r = 0.9; /* transient: 90 ms after the 1st attempt, 180 ms after the 2nd */
    aws_client_set_retry_random(c, fixed_random, &r);
    aws_request req;
    sts_request(&req);
    http_response resp;
    uint64_t t0 = timeutil_mono_ms();
    assert_false(aws_client_call(c, &req, &resp, NULL));
    uint64_t took = timeutil_mono_ms() - t0;
    assert_int_equal(seen(), 3);
    assert_true(took >= 270 && took < 3000);
    aws_request_free(&req);
    aws_client_free(c);
}

static void test_transport_errors_retry(void **state)
{
    (void)state;
    /* a timeout on the first attempt, then an answer */
    plan(2, (answer){200, NULL, 0, 1500}, OK);
    aws_client *c = client(3, NULL, 300);
    aws_request r;
    sts_request(&r);
    http_response resp;
    err e;
    assert_true(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(seen(), 2);
    http_response_free(&resp);
    aws_client_free(c);

    /* nothing listening: three connection errors */
    aws_client_options o = {
        .region = "eu-west-1", .endpoint_url = "http://127.0.0.1:1", .max_attempts = 3};
    c = aws_client_new(&o, CREDS, NULL, &e);
    aws_client_set_retry_random(c, zero_random, NULL);
    assert_false(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(e.code, ERR_HTTP);
    assert_non_null(strstr(e.message, "http://127.0.0.1:1"));
    assert_non_null(strstr(e.message, "3 attempts"));
    assert_int_equal(aws_client_retry_quota(c), 490);
    aws_request_free(&r);
    aws_client_free(c);
}

static void test_quota_exhaustion(void **state)
{
    (void)state;
    plan(1, (answer){500, "InternalFailure", 0, 0});
    aws_client *c = client(2, NULL, 0);
    aws_request r;
    sts_request(&r);
    http_response resp;
    err e;
    for (int i = 0; i < 100; i++)
        assert_false(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(seen(), 200);
    assert_int_equal(aws_client_retry_quota(c), 0);
    plan(1, (answer){500, "InternalFailure", 0, 0});
    assert_false(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(seen(), 1); /* no retry left to pay for */
    assert_non_null(strstr(e.message, "InternalFailure"));
    /* successes refill one token each */
    plan(1, OK);
    for (int i = 0; i < 5; i++) {
        assert_true(aws_client_call(c, &r, &resp, &e));
        http_response_free(&resp);
    }
    assert_int_equal(aws_client_retry_quota(c), 5);
    plan(2, (answer){500, "InternalFailure", 0, 0}, OK);
    assert_true(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(seen(), 2);
    http_response_free(&resp);
    aws_request_free(&r);
    aws_client_free(c);
}

/* The server's clock is two hours ahead: the first answer says so, and the
 * retry must be signed with the server's time. */
static void test_clock_skew_correction(void **state)
{
    (void)state;
    plan(2, (answer){403, "RequestTimeTooSkewed", 7200, 0}, OK);
    aws_client *c = client(3, NULL, 0);
    aws_request r;
    sts_request(&r);
    http_response resp;
    err e;
    assert_true(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(seen(), 2);
    long off = aws_client_clock_offset(c);
    assert_true(off > 7200 - 60 && off < 7200 + 60);
    pthread_mutex_lock(&SV.lock);
    time_t first, second;
    assert_true(timeutil_parse_iso8601(SV.amz_date[0], &first, NULL));
    assert_true(timeutil_parse_iso8601(SV.amz_date[1], &second, NULL));
    pthread_mutex_unlock(&SV.lock);
    assert_true(labs((long)(first - time(NULL))) < 60);
    assert_true(labs((long)(second - (time(NULL) + 7200))) < 60);
    /* a skew retry does not touch the quota; the success refills 1 (capped) */
    assert_int_equal(aws_client_retry_quota(c), 500);
    http_response_free(&resp);
    /* the offset sticks: the next call is signed with it at once */
    plan(1, OK);
    assert_true(aws_client_call(c, &r, &resp, &e));
    pthread_mutex_lock(&SV.lock);
    time_t third;
    assert_true(timeutil_parse_iso8601(SV.amz_date[0], &third, NULL));
    pthread_mutex_unlock(&SV.lock);
    assert_true(labs((long)(third - (time(NULL) + 7200))) < 60);
    http_response_free(&resp);
    aws_request_free(&r);
    aws_client_free(c);
}

static void test_new_validates(void **state)
{
    (void)state;
    err e;
    aws_client_options bad_region = {.region = "Mars Base 1"};
    assert_null(aws_client_new(&bad_region, NULL, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "Mars Base 1"));
    aws_client_options bad_url = {.endpoint_url = "localhost:4566"};
    assert_null(aws_client_new(&bad_url, NULL, NULL, &e));
    assert_non_null(strstr(e.message, "localhost:4566"));
    aws_client_options bad_attempts = {.max_attempts = 1000};
    assert_null(aws_client_new(&bad_attempts, NULL, NULL, &e));
    assert_int_equal(e.code, ERR_CONFIG);
    /* a request naming a bad region fails before sending */
    aws_client *c = client(3, NULL, 0);
    aws_request r;
    sts_request(&r);
    r.region = "../../etc";
    http_response resp;
    assert_false(aws_client_call(c, &r, &resp, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "../../etc"));
    aws_request_free(&r);
    aws_client_free(c);
}

/* ---- asynchronous ---- */

typedef struct actx {
    int done;
    int ok;
    err last;
    long status;
    int ticks; /* a loop timer's ticks while we wait: the loop never blocks */
    struct event_base *base;
    int want;
} actx;

static void on_done(const http_response *resp, const err *e, void *arg)
{
    actx *a = arg;
    a->done++;
    if (resp) {
        a->ok++;
        a->status = resp->status;
    } else {
        a->last = *e;
    }
    if (a->done >= a->want)
        event_base_loopbreak(a->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ((actx *)arg)->ticks++;
}

static void run(actx *a, int limit_ms)
{
    struct event *tick = event_new(a->base, -1, EV_PERSIST, on_tick, a);
    struct timeval tv = {0, 20 * 1000};
    event_add(tick, &tv);
    uint64_t end = timeutil_mono_ms() + (uint64_t)limit_ms;
    while (a->done < a->want && timeutil_mono_ms() < end) {
        struct timeval step = {0, 100 * 1000};
        event_base_loopexit(a->base, &step);
        event_base_dispatch(a->base);
    }
    event_free(tick);
}

static void test_async_retries_on_timers(void **state)
{
    (void)state;
    plan(3, (answer){503, "ServiceUnavailable", 0, 0}, (answer){400, "ThrottlingException", 0, 0},
         OK);
    struct event_base *base = event_base_new();
    aws_client *c = client(3, base, 0);
    double rnd = 0.9; /* transient 90 ms, then throttled 0.9 * 500 ms * 2 = 900 ms */
    aws_client_set_retry_random(c, fixed_random, &rnd);
    actx a = {.base = base, .want = 1};
    aws_request r;
    sts_request(&r);
    uint64_t t0 = timeutil_mono_ms();
    assert_true(aws_client_call_async(c, &r, on_done, &a, NULL));
    aws_request_free(&r); /* copied */
    assert_int_equal(a.done, 0);
    run(&a, 10000);
    uint64_t took = timeutil_mono_ms() - t0;
    assert_int_equal(a.ok, 1);
    assert_int_equal(a.status, 200);
    assert_int_equal(seen(), 3);
    /* libevent may read a coarse monotonic clock (1 ms resolution, lagging),
     * so timers can fire a few ms early: allow for it */
    if (took < 970 || took >= 5000)
        fail_msg("took %llu ms for 990 ms of backoff", (unsigned long long)took);
    /* 990 ms of backoff spent on timers: the 20 ms tick kept running */
    assert_true(a.ticks >= 20);
    aws_client_free(c);
    event_base_free(base);
}

static void test_async_final_error_and_skew(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    aws_client *c = client(3, base, 0);
    aws_request r;
    sts_request(&r);
    plan(1, (answer){400, "ValidationError", 0, 0});
    actx a = {.base = base, .want = 1};
    assert_true(aws_client_call_async(c, &r, on_done, &a, NULL));
    run(&a, 5000);
    assert_int_equal(a.done, 1);
    assert_int_equal(a.last.code, ERR_AWS);
    assert_string_equal(a.last.remote_code, "ValidationError");
    assert_non_null(strstr(a.last.message, "sts GetCallerIdentity"));
    assert_int_equal(seen(), 1);

    plan(2, (answer){401, "AuthFailure", -3600, 0}, OK);
    actx b = {.base = base, .want = 1};
    assert_true(aws_client_call_async(c, &r, on_done, &b, NULL));
    run(&b, 5000);
    assert_int_equal(b.ok, 1);
    assert_int_equal(seen(), 2);
    long off = aws_client_clock_offset(c);
    assert_true(off > -3600 - 60 && off < -3600 + 60);
    pthread_mutex_lock(&SV.lock);
    time_t second;
    assert_true(timeutil_parse_iso8601(SV.amz_date[1], &second, NULL));
    pthread_mutex_unlock(&SV.lock);
    assert_true(labs((long)(second - (time(NULL) - 3600))) < 60);

    /* many at once */
    plan(1, OK);
    actx m = {.base = base, .want = 200};
    for (int i = 0; i < 200; i++)
        assert_true(aws_client_call_async(c, &r, on_done, &m, NULL));
    run(&m, 20000);
    assert_int_equal(m.ok, 200);
    aws_request_free(&r);
    aws_client_free(c);
    event_base_free(base);
}

static void test_async_free_cancels(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    aws_client *c = client(3, base, 0);
    double rnd = 0.9;
    aws_client_set_retry_random(c, fixed_random, &rnd);
    aws_request r;
    sts_request(&r);
    /* one call waits on a retry timer, three are held by a slow server */
    plan(1, (answer){400, "ThrottlingException", 0, 0});
    actx a = {.base = base, .want = 1000};
    assert_true(aws_client_call_async(c, &r, on_done, &a, NULL));
    run(&a, 200); /* first attempt answered; now sleeping 450 ms on a timer */
    assert_int_equal(a.done, 0);
    plan(1, (answer){200, NULL, 0, 5000});
    for (int i = 0; i < 3; i++)
        assert_true(aws_client_call_async(c, &r, on_done, &a, NULL));
    run(&a, 150); /* 350 ms in: the retry timer (450 ms) has not fired */
    assert_int_equal(a.done, 0);
    aws_client_free(c);
    assert_int_equal(a.done, 4);
    assert_int_equal(a.ok, 0);
    assert_non_null(strstr(a.last.message, "cancelled"));
    aws_request_free(&r);
    event_base_free(base);
}

int main(void)
{
    pthread_mutex_init(&SV.lock, NULL);
    /* AWS_* settings of whoever runs the tests must not steer them */
    unsetenv("AWS_MAX_ATTEMPTS");
    aws_creds *cr =
        creds_new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL, 0, "test");
    CREDS = credprov_static(cr);
    creds_free(cr);
    R = responder_start(handler, &SV);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_call),
        cmocka_unit_test(test_unsigned_and_s3),
        cmocka_unit_test(test_retry_then_success),
        cmocka_unit_test(test_final_errors),
        cmocka_unit_test(test_backoff_timing),
        cmocka_unit_test(test_transport_errors_retry),
        cmocka_unit_test(test_quota_exhaustion),
        cmocka_unit_test(test_clock_skew_correction),
        cmocka_unit_test(test_new_validates),
        cmocka_unit_test(test_async_retries_on_timers),
        cmocka_unit_test(test_async_final_error_and_skew),
        cmocka_unit_test(test_async_free_cancels),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    responder_stop(R);
    credprov_free(CREDS);
    pthread_mutex_destroy(&SV.lock);
    return rc;
}
