/* The broker against escher-sandbox: the hub profile is the server's
 * identity, a member account's EscherOperator (trusting the hub with the
 * sandbox's external id) the tenant's role. The sandbox's call log proves
 * what each AssumeRole carried and which calls made one; the member's EC2
 * proves the session policy narrows the role. The broker's clock is the
 * sandbox clock, so advancing it ages the cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sbx_fixture.h"

#include "broker/broker.h"
#include "core/secure.h"
#include "core/xmalloc.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sbx the_sandbox;
static time_t g_clock;

/* Every secret the broker handed out and every error message it produced;
 * the last test checks no message contains a secret. */
#define MAX_SEEN 256
static char *g_secrets[MAX_SEEN];
static size_t g_nsecrets;
static char *g_messages[MAX_SEEN];
static size_t g_nmessages;

static time_t sandbox_clock(void *arg)
{
    (void)arg;
    return g_clock;
}

static void sync_clock(void)
{
    g_clock = sbx_now(g_sbx);
}

static void saw_creds(const aws_creds *c)
{
    assert_true(g_nsecrets + 2 <= MAX_SEEN);
    g_secrets[g_nsecrets++] = xstrdup(c->secret_access_key);
    g_secrets[g_nsecrets++] = xstrdup(c->session_token);
}

static void saw_error(const err *e)
{
    assert_true(g_nmessages < MAX_SEEN);
    g_messages[g_nmessages++] = xstrdup(e->message);
}

static void role_of(char *out, size_t n, size_t member)
{
    snprintf(out, n, "arn:aws:iam::%s:role/EscherOperator", g_sbx->member_ids[member]);
}

static broker *new_broker(void)
{
    broker_options o = {0};
    o.now = sandbox_clock;
    o.base = g_sbx->base;
    err e = {0};
    broker *b = broker_new(sbx_client_profile(g_sbx, "hub")->aws, &o, &e);
    if (b == NULL)
        fail_msg("broker_new: %s", e.message);
    sync_clock();
    return b;
}

/* AssumeRole entries of the call log (new reference), newest last. */
static json_t *assume_calls(void)
{
    json_t *log = sbx_admin(g_sbx, "GET", "/calls?since=0", NULL);
    json_t *out = json_array();
    json_t *calls = json_object_get(log, "calls");
    for (size_t i = 0; i < json_array_size(calls); i++) {
        json_t *c = json_array_get(calls, i);
        const char *a = json_string_value(json_object_get(c, "action"));
        if (a && strcmp(a, "AssumeRole") == 0)
            json_array_append(out, c);
    }
    json_decref(log);
    return out;
}

static size_t assume_count(void)
{
    json_t *a = assume_calls();
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

static const char *param(json_t *entry, const char *name)
{
    const char *v = json_string_value(json_object_get(json_object_get(entry, "params"), name));
    if (v == NULL)
        fail_msg("call log entry has no parameter %s: %s", name,
                 json_dumps(entry, JSON_COMPACT)); /* leaks only on failure */
    return v;
}

/* The entry's session policy allows exactly want (sorted), on "*". */
static void assert_policy_actions(const char *policy, const char *const *want, size_t n)
{
    json_error_t je;
    json_t *doc = json_loads(policy, 0, &je);
    if (doc == NULL)
        fail_msg("session policy is not JSON: %s (%s)", policy, je.text);
    json_t *stmts = json_object_get(doc, "Statement");
    assert_int_equal(json_array_size(stmts), 1);
    json_t *st = json_array_get(stmts, 0);
    assert_string_equal(json_string_value(json_object_get(st, "Effect")), "Allow");
    assert_string_equal(json_string_value(json_object_get(st, "Resource")), "*");
    json_t *acts = json_object_get(st, "Action");
    if (json_array_size(acts) != n)
        fail_msg("session policy %s: want %zu actions", policy, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(acts, i)), want[i]);
    json_decref(doc);
}

static char *body_request_id(const http_response *resp)
{
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    const char *id = xml_find_text(root, "requestId");
    assert_non_null(id);
    char *out = xstrdup(id);
    xml_free(doc);
    return out;
}

/* One EC2 call on creds; returns the answer or fills e. */
static bool ec2_call(const aws_creds *creds, const char *op, http_response *resp, err *e)
{
    static int n;
    char label[32];
    snprintf(label, sizeof label, "broker-%d", n++);
    sbx_client *c = sbx_client_static(g_sbx, label, creds);
    query_params q;
    query_init(&q, op, "2016-11-15");
    aws_request req;
    sbx_query_request(&q, "ec2", op, AWS_PROTO_EC2, SBX_REGION1, &req);
    bool ok = sbx_call(c, SBX_BLOCKING, &req, resp, e);
    aws_request_free(&req);
    return ok;
}

static broker_request request(const char *role, const char *job, const char *user,
                              const char *const *actions, size_t n)
{
    broker_request r = {0};
    r.role_arn = role;
    r.external_id = SBX_EXTERNAL_ID;
    r.job_id = job;
    r.source_identity = user;
    r.actions = actions;
    r.nactions = n;
    return r;
}

static bool get(broker *b, const broker_request *r, aws_creds **out, err *e)
{
    bool ok = broker_get(b, r, out, e);
    if (ok)
        saw_creds(*out);
    else
        saw_error(e);
    return ok;
}

/* ---- tests ---- */

/* The AssumeRole carries the job's session name, the user, 900 s, the
 * external id and a policy of exactly the job's actions; the session can do
 * those and nothing else the role allows. */
static void test_assume_role_logged(void **state)
{
    (void)state;
    char role[128];
    role_of(role, sizeof role, 0);
    broker *b = new_broker();
    const char *acts[] = {"sts:GetCallerIdentity", "ec2:DescribeInstances",
                          "ec2:DescribeInstances"};
    broker_request r = request(role, "job-0001", "user-alice", acts, 3);
    size_t before = assume_count();
    aws_creds *cr = NULL;
    err e = {0};
    bool ok = get(b, &r, &cr, &e);
    SBX_ASSERT_OK(ok, e);
    assert_memory_equal(cr->access_key_id, "ASIA", 4);
    assert_true(cr->expiration >= g_clock + 900 - 30 && cr->expiration <= g_clock + 900 + 30);

    json_t *calls = assume_calls();
    assert_int_equal(json_array_size(calls), before + 1);
    json_t *ar = json_array_get(calls, before);
    assert_int_equal(json_integer_value(json_object_get(ar, "status")), 200);
    assert_string_equal(param(ar, "RoleArn"), role);
    assert_string_equal(param(ar, "RoleSessionName"), "escher-job-0001");
    assert_string_equal(param(ar, "SourceIdentity"), "user-alice");
    assert_string_equal(param(ar, "DurationSeconds"), "900");
    assert_string_equal(param(ar, "ExternalId"), SBX_EXTERNAL_ID);
    const char *want[] = {"ec2:DescribeInstances", "sts:GetCallerIdentity"};
    assert_policy_actions(param(ar, "Policy"), want, 2);
    json_decref(calls);

    /* Allowed by the session policy: works, and is the job's session. */
    http_response resp = HTTP_RESPONSE_INIT;
    ok = ec2_call(cr, "DescribeInstances", &resp, &e);
    SBX_ASSERT_OK(ok, e);
    char *rid = body_request_id(&resp);
    json_t *entry = sbx_call_log_entry(g_sbx, rid);
    assert_non_null(entry);
    assert_string_equal(json_string_value(json_object_get(entry, "account")), g_sbx->member_ids[0]);
    assert_string_equal(json_string_value(json_object_get(entry, "session_name")),
                        "escher-job-0001");
    assert_string_equal(json_string_value(json_object_get(entry, "source_identity")), "user-alice");
    assert_policy_actions(json_string_value(json_object_get(entry, "session_policy")), want, 2);
    json_decref(entry);
    free(rid);
    http_response_free(&resp);

    /* The role may describe volumes, the session may not. */
    ok = ec2_call(cr, "DescribeVolumes", &resp, &e);
    sbx_assert_aws_error(g_sbx, ok, &e, 403, "UnauthorizedOperation");
    saw_error(&e);
    creds_free(cr);
    broker_free(b);
}

/* Same (account, role, policy): served from the cache whatever the job and
 * the order of its actions. Another action set or another user: a new
 * AssumeRole. */
static void test_cache(void **state)
{
    (void)state;
    char role[128];
    role_of(role, sizeof role, 1);
    broker *b = new_broker();
    const char *a1[] = {"ec2:DescribeInstances", "ec2:DescribeRegions"};
    const char *a2[] = {"ec2:DescribeRegions", "ec2:DescribeInstances", "ec2:DescribeRegions"};
    const char *a3[] = {"ec2:DescribeInstances", "ec2:DescribeVolumes"};
    size_t n0 = assume_count();
    aws_creds *c1 = NULL, *c2 = NULL, *c3 = NULL, *c4 = NULL;
    err e = {0};
    broker_request r = request(role, "job-0101", "user-bob", a1, 2);
    bool ok = get(b, &r, &c1, &e);
    SBX_ASSERT_OK(ok, e);
    r = request(role, "job-0102", "user-bob", a2, 3);
    ok = get(b, &r, &c2, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(assume_count(), n0 + 1);
    assert_string_equal(c1->access_key_id, c2->access_key_id);
    assert_string_equal(c1->secret_access_key, c2->secret_access_key);
    assert_true(c1 != c2); /* each caller owns its copy */
    assert_int_equal(broker_cache_size(b), 1);

    r = request(role, "job-0103", "user-bob", a3, 2);
    ok = get(b, &r, &c3, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(assume_count(), n0 + 2);
    assert_string_not_equal(c3->access_key_id, c1->access_key_id);
    json_t *calls = assume_calls();
    assert_string_equal(param(json_array_get(calls, n0 + 1), "RoleSessionName"), "escher-job-0103");
    json_decref(calls);
    /* The new session may describe volumes; the first may not. */
    http_response resp = HTTP_RESPONSE_INIT;
    ok = ec2_call(c3, "DescribeVolumes", &resp, &e);
    SBX_ASSERT_OK(ok, e);
    http_response_free(&resp);
    ok = ec2_call(c1, "DescribeVolumes", &resp, &e);
    sbx_assert_aws_error(g_sbx, ok, &e, 403, "UnauthorizedOperation");

    /* Another user's job does not run on bob's session. */
    r = request(role, "job-0104", "user-carol", a1, 2);
    ok = get(b, &r, &c4, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(assume_count(), n0 + 3);
    assert_string_not_equal(c4->access_key_id, c1->access_key_id);
    assert_int_equal(broker_cache_size(b), 3);
    assert_int_equal(broker_assume_count(b), 3);
    creds_free(c1);
    creds_free(c2);
    creds_free(c3);
    creds_free(c4);
    broker_free(b);
}

/* A wrong external id is refused by the role's trust policy, even when a
 * session for the same role and policy is cached. */
static void test_wrong_external_id(void **state)
{
    (void)state;
    char role[128];
    role_of(role, sizeof role, 2);
    broker *b = new_broker();
    const char *acts[] = {"ec2:DescribeInstances"};
    broker_request r = request(role, "job-0201", "user-alice", acts, 1);
    r.external_id = "not-the-external-id";
    aws_creds *cr = NULL;
    err e = {0};
    bool ok = get(b, &r, &cr, &e);
    sbx_assert_aws_error(g_sbx, ok, &e, 403, "AccessDenied");
    assert_null(cr);
    assert_non_null(strstr(e.message, role));
    assert_non_null(strstr(e.message, "job-0201"));
    assert_null(strstr(e.message, "not-the-external-id"));
    assert_int_equal(broker_cache_size(b), 0);

    r.external_id = SBX_EXTERNAL_ID;
    ok = get(b, &r, &cr, &e);
    SBX_ASSERT_OK(ok, e);
    creds_free(cr);
    size_t n = assume_count();
    r.external_id = "not-the-external-id";
    r.job_id = "job-0202";
    ok = get(b, &r, &cr, &e);
    sbx_assert_aws_error(g_sbx, ok, &e, 403, "AccessDenied");
    assert_int_equal(assume_count(), n + 1);
    broker_free(b);
}

/* ---- asynchronous ---- */

typedef struct result {
    bool done;
    bool called_inline; /* set while broker_get_async is running */
    aws_creds *creds;
    err e;
} result;

static bool g_in_call;

static void on_creds(aws_creds *creds, const err *e, void *arg)
{
    result *r = arg;
    assert_false(r->done);
    r->done = true;
    r->called_inline = g_in_call;
    r->creds = creds;
    if (e)
        r->e = *e;
    if (creds)
        saw_creds(creds);
    else
        saw_error(e);
}

static void start(broker *b, const broker_request *req, result *r)
{
    memset(r, 0, sizeof *r);
    err e = {0};
    g_in_call = true;
    bool ok = broker_get_async(b, req, on_creds, r, &e);
    g_in_call = false;
    SBX_ASSERT_OK(ok, e);
    assert_false(r->done);
}

static void wait_all(result *r, size_t n)
{
    time_t deadline = time(NULL) + 30;
    for (;;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += !r[i].done;
        if (left == 0)
            return;
        if (time(NULL) > deadline)
            fail_msg("%zu of %zu asynchronous gets never finished", left, n);
        event_base_loop(g_sbx->base, EVLOOP_ONCE);
    }
}

/* Concurrent gets for one key share one AssumeRole; a cached answer comes
 * through the loop; a refusal reaches every waiter naming its own job. */
static void test_async(void **state)
{
    (void)state;
    char role[128];
    role_of(role, sizeof role, 0);
    broker *b = new_broker();
    const char *a1[] = {"ec2:DescribeInstances", "ec2:DescribeAddresses"};
    const char *a2[] = {"ec2:DescribeSecurityGroups"};
    enum { N = 6 };
    result res[N + 1];
    char jobs[N + 1][32];
    size_t n0 = assume_count();
    for (size_t i = 0; i < N; i++) {
        snprintf(jobs[i], sizeof jobs[i], "job-async-%zu", i);
        broker_request r =
            request(role, jobs[i], "user-dave", i == N - 1 ? a2 : a1, i == N - 1 ? 1 : 2);
        start(b, &r, &res[i]);
    }
    wait_all(res, N);
    for (size_t i = 0; i < N; i++) {
        SBX_ASSERT_OK(res[i].creds != NULL, res[i].e);
        assert_false(res[i].called_inline);
    }
    assert_int_equal(assume_count(), n0 + 2);
    assert_int_equal(broker_assume_count(b), 2);
    for (size_t i = 1; i < N - 1; i++)
        assert_string_equal(res[i].creds->access_key_id, res[0].creds->access_key_id);
    assert_string_not_equal(res[N - 1].creds->access_key_id, res[0].creds->access_key_id);
    /* The shared session is named for the job that started it. */
    json_t *calls = assume_calls();
    const char *s1 = param(json_array_get(calls, n0), "RoleSessionName");
    const char *s2 = param(json_array_get(calls, n0 + 1), "RoleSessionName");
    assert_true((strcmp(s1, "escher-job-async-0") == 0 && strcmp(s2, "escher-job-async-5") == 0) ||
                (strcmp(s2, "escher-job-async-0") == 0 && strcmp(s1, "escher-job-async-5") == 0));
    json_decref(calls);
    /* The session works. */
    http_response resp = HTTP_RESPONSE_INIT;
    err e = {0};
    bool ok = ec2_call(res[0].creds, "DescribeAddresses", &resp, &e);
    SBX_ASSERT_OK(ok, e);
    http_response_free(&resp);

    /* Now cached: answered through the loop, no AssumeRole. */
    broker_request r = request(role, "job-async-late", "user-dave", a1, 2);
    start(b, &r, &res[N]);
    wait_all(&res[N], 1);
    assert_false(res[N].called_inline);
    assert_non_null(res[N].creds);
    assert_string_equal(res[N].creds->access_key_id, res[0].creds->access_key_id);
    assert_int_equal(assume_count(), n0 + 2);
    for (size_t i = 0; i <= N; i++)
        creds_free(res[i].creds);

    /* A refusal: one AssumeRole, every waiter told, each naming its job. */
    result bad[3];
    char bjobs[3][32];
    for (size_t i = 0; i < 3; i++) {
        snprintf(bjobs[i], sizeof bjobs[i], "job-denied-%zu", i);
        broker_request br = request(role, bjobs[i], "user-dave", a2, 1);
        br.external_id = "not-the-external-id";
        start(b, &br, &bad[i]);
    }
    wait_all(bad, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_null(bad[i].creds);
        sbx_assert_aws_error(g_sbx, false, &bad[i].e, 403, "AccessDenied");
        assert_non_null(strstr(bad[i].e.message, bjobs[i]));
        assert_non_null(strstr(bad[i].e.message, role));
    }
    assert_int_equal(assume_count(), n0 + 3);

    /* Freed with a get in flight: the caller hears at once, and the
     * call's own answer later finds nothing to deliver to. */
    broker_request fr = request(role, "job-freed", "user-erin", a2, 1);
    result freed;
    start(b, &fr, &freed);
    broker_free(b);
    assert_true(freed.done);
    assert_null(freed.creds);
    assert_int_equal(freed.e.code, ERR_INTERNAL);
    assert_non_null(strstr(freed.e.message, "job-freed"));
    size_t want = assume_count() + 1;
    time_t deadline = time(NULL) + 10;
    while (assume_count() < want && time(NULL) < deadline)
        event_base_loop(g_sbx->base, EVLOOP_NONBLOCK);
    struct timeval tv = {0, 200000};
    event_base_loopexit(g_sbx->base, &tv);
    event_base_dispatch(g_sbx->base);
}

/* The cache serves until 5 minutes before expiry on the (sandbox) clock. */
static void test_expiry(void **state)
{
    (void)state;
    char role[128];
    role_of(role, sizeof role, 1);
    broker *b = new_broker();
    const char *acts[] = {"ec2:DescribeRegions"};
    broker_request r = request(role, "job-0301", "user-alice", acts, 1);
    size_t n0 = assume_count();
    aws_creds *c1 = NULL, *c2 = NULL, *c3 = NULL;
    err e = {0};
    bool ok = get(b, &r, &c1, &e);
    SBX_ASSERT_OK(ok, e);
    sbx_advance(g_sbx, 590); /* 310 s left: still served */
    sync_clock();
    r.job_id = "job-0302";
    ok = get(b, &r, &c2, &e);
    SBX_ASSERT_OK(ok, e);
    assert_string_equal(c2->access_key_id, c1->access_key_id);
    assert_int_equal(assume_count(), n0 + 1);
    sbx_advance(g_sbx, 20); /* 290 s left: inside the margin */
    sync_clock();
    r.job_id = "job-0303";
    ok = get(b, &r, &c3, &e);
    SBX_ASSERT_OK(ok, e);
    assert_string_not_equal(c3->access_key_id, c1->access_key_id);
    assert_true(c3->expiration > c1->expiration);
    assert_int_equal(assume_count(), n0 + 2);
    json_t *calls = assume_calls();
    assert_string_equal(param(json_array_get(calls, n0 + 1), "RoleSessionName"), "escher-job-0303");
    json_decref(calls);
    assert_int_equal(broker_cache_size(b), 1); /* the stale session was wiped, not kept */
    /* A job that needs longer gets its own, longer session. */
    r.job_id = "job-0304";
    r.duration_seconds = 1800;
    aws_creds *c4 = NULL;
    ok = get(b, &r, &c4, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(assume_count(), n0 + 3);
    calls = assume_calls();
    assert_string_equal(param(json_array_get(calls, n0 + 2), "DurationSeconds"), "1800");
    json_decref(calls);
    creds_free(c1);
    creds_free(c2);
    creds_free(c3);
    creds_free(c4);
    broker_free(b);
}

/* No error message the broker produced holds a secret it handed out. */
static void test_no_secret_in_errors(void **state)
{
    (void)state;
    assert_true(g_nsecrets >= 10);
    assert_true(g_nmessages >= 5);
    for (size_t m = 0; m < g_nmessages; m++)
        for (size_t s = 0; s < g_nsecrets; s++)
            if (strstr(g_messages[m], g_secrets[s]))
                fail_msg("error message %zu holds secret %zu", m, s);
    /* Nor does the sandbox's log of the whole run. */
    char *log = sbx_log(g_sbx);
    for (size_t s = 0; s < g_nsecrets; s++)
        assert_null(strstr(log, g_secrets[s]));
    free(log);
}

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
        sbx_stop(g_sbx, NULL);
    g_sbx = NULL;
    for (size_t i = 0; i < g_nsecrets; i++)
        secure_free_string(g_secrets[i]);
    for (size_t i = 0; i < g_nmessages; i++)
        free(g_messages[i]);
    return 0;
}

/* The sandbox ends with status 0, its log free of sanitizer reports. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assume_role_logged),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_wrong_external_id),
        cmocka_unit_test(test_async),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_no_secret_in_errors),
        cmocka_unit_test(test_sandbox_stops),
    };
    return cmocka_run_group_tests_name("broker_sandbox", tests, group_setup, group_teardown);
}
