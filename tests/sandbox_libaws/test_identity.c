/* Credentials and identity: the profiles escher-sandbox writes, read by
 * credprov_default_chain; STS GetCallerIdentity and AssumeRole (with the
 * external id) from the hub into a member's EscherOperator, then calls on
 * those STS credentials; and one error answer per protocol arriving as
 * ERR_AWS with the code and request id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sbx_fixture.h"
#include "sbx_tests.h"

#include "aws/awsjson.h"
#include "aws/sts.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The world's user of account_id holding access key key_id; asserts the
 * secret too when secret is not NULL. */
static json_t *user_with_key(json_t *state, const char *account_id, const char *key_id,
                             const char *secret)
{
    json_t *users = json_object_get(sbx_world_account(state, account_id), "users");
    for (size_t i = 0; i < json_array_size(users); i++) {
        json_t *u = json_array_get(users, i);
        json_t *keys = json_object_get(u, "keys");
        for (size_t k = 0; k < json_array_size(keys); k++) {
            json_t *key = json_array_get(keys, k);
            if (strcmp(json_string_value(json_object_get(key, "id")), key_id) != 0)
                continue;
            if (secret)
                assert_string_equal(json_string_value(json_object_get(key, "secret")), secret);
            return u;
        }
    }
    fail_msg("no user of %s has the key %s", account_id, key_id);
    return NULL;
}

/* Profile -> account, for every profile the sandbox wrote. */
typedef struct profile_account {
    char profile[32];
    const char *account;
} profile_account;

static size_t all_profiles(sbx *s, profile_account *out)
{
    size_t n = 0;
    snprintf(out[n].profile, sizeof out[n].profile, "mgmt");
    out[n++].account = s->mgmt_id;
    snprintf(out[n].profile, sizeof out[n].profile, "hub");
    out[n++].account = s->hub_id;
    snprintf(out[n].profile, sizeof out[n].profile, "acct-%s", s->mgmt_id);
    out[n++].account = s->mgmt_id;
    for (size_t i = 0; i < SBX_ACCOUNTS; i++) {
        snprintf(out[n].profile, sizeof out[n].profile, "acct-%s", s->member_ids[i]);
        out[n++].account = s->member_ids[i];
    }
    return n;
}

/* credprov_default_chain on each written profile yields that account's
 * long-term keys from the shared credentials file. */
void test_profiles(void **state)
{
    (void)state;
    sbx *s = g_sbx;
    json_t *world = sbx_state(s);
    profile_account pa[SBX_ACCOUNTS + 3];
    size_t n = all_profiles(s, pa);
    char first_key[32] = "";
    for (size_t i = 0; i < n; i++) {
        sbx_client *c = sbx_client_profile(s, pa[i].profile);
        aws_creds *cr = NULL;
        err e = {0};
        bool ok = credprov_get(c->creds, &cr, &e);
        SBX_ASSERT_OK(ok, e);
        assert_string_equal(credprov_name(c->creds), "shared credentials file");
        assert_int_equal(strlen(cr->access_key_id), 20);
        assert_memory_equal(cr->access_key_id, "AKIA", 4);
        assert_null(cr->session_token);
        assert_int_equal(cr->expiration, 0);
        user_with_key(world, pa[i].account, cr->access_key_id, cr->secret_access_key);
        /* "mgmt" and "acct-<management id>" are the same keys. */
        if (i == 0)
            snprintf(first_key, sizeof first_key, "%s", cr->access_key_id);
        if (i == 2)
            assert_string_equal(cr->access_key_id, first_key);
        creds_free(cr);
    }
    /* A profile the sandbox did not write is an error, not a fallthrough. */
    credprov_options po = {.profile = "acct-000000000000", .getenv = sbx_getenv, .getenv_arg = s};
    err e = {0};
    credprov *cp = credprov_default_chain(&po, &e);
    assert_non_null(cp);
    aws_creds *cr = NULL;
    assert_false(credprov_get(cp, &cr, &e));
    assert_null(cr);
    assert_non_null(strstr(e.message, "acct-000000000000"));
    credprov_free(cp);
    json_decref(world);
}

/* GetCallerIdentity on every profile names its account and user. */
void test_caller_identity(void **state)
{
    sbx_mode mode = *(sbx_mode *)*state;
    sbx *s = g_sbx;
    json_t *world = sbx_state(s);
    profile_account pa[SBX_ACCOUNTS + 3];
    size_t n = all_profiles(s, pa);
    sbx_job jobs[SBX_ACCOUNTS + 3];
    memset(jobs, 0, sizeof jobs);
    for (size_t i = 0; i < n; i++) {
        jobs[i].client = sbx_client_profile(s, pa[i].profile);
        sts_get_caller_identity_request(&jobs[i].req);
    }
    sbx_run_jobs(s, mode, jobs, n);
    for (size_t i = 0; i < n; i++) {
        SBX_ASSERT_OK(jobs[i].ok, jobs[i].e);
        sts_identity id = {0};
        err e = {0};
        bool ok =
            sts_get_caller_identity_parse(jobs[i].resp.body.buf, jobs[i].resp.body.len, &id, &e);
        SBX_ASSERT_OK(ok, e);
        assert_string_equal(id.account, pa[i].account);
        aws_creds *cr = NULL;
        ok = credprov_get(jobs[i].client->creds, &cr, &e);
        SBX_ASSERT_OK(ok, e);
        json_t *u = user_with_key(world, pa[i].account, cr->access_key_id, NULL);
        creds_free(cr);
        assert_string_equal(id.arn, json_string_value(json_object_get(u, "arn")));
        assert_string_equal(id.user_id, json_string_value(json_object_get(u, "id")));
        sts_identity_free(&id);
    }
    sbx_jobs_free(jobs, n);
    json_decref(world);
}

/* AssumeRole through the mode's call; returns the answer. */
static bool assume(sbx_client *hub, sbx_mode mode, const char *role, const char *session,
                   const char *external_id, http_response *resp, err *e)
{
    sts_assume_role_params p = {0};
    p.role_arn = role;
    p.session_name = session;
    p.external_id = external_id;
    p.duration_seconds = 900;
    aws_request req;
    err be = {0};
    bool ok = sts_assume_role_request(&p, &req, &be);
    SBX_ASSERT_OK(ok, be);
    ok = sbx_call(hub, mode, &req, resp, e);
    aws_request_free(&req);
    return ok;
}

/* The request id in an answer body (EC2 <requestId>, query <RequestId>). */
static char *body_request_id(const http_response *resp)
{
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    const char *id = xml_find_text(root, "requestId");
    if (id == NULL)
        id = xml_find_text(root, "ResponseMetadata/RequestId");
    assert_non_null(id);
    char *out = xstrdup(id);
    xml_free(doc);
    return out;
}

void test_assume_role(void **state)
{
    sbx_mode mode = *(sbx_mode *)*state;
    sbx *s = g_sbx;
    const char *member = s->member_ids[mode == SBX_BLOCKING ? 0 : 1];
    char role[128], session[64], assumed_arn[192];
    snprintf(role, sizeof role, "arn:aws:iam::%s:role/EscherOperator", member);
    snprintf(session, sizeof session, "escher-libaws-%s", sbx_mode_name(mode));
    snprintf(assumed_arn, sizeof assumed_arn, "arn:aws:sts::%s:assumed-role/EscherOperator/%s",
             member, session);
    sbx_client *hub = sbx_client_profile(s, "hub");
    time_t now = sbx_now(s);
    json_t *world0 = sbx_state(s);

    /* Without the external id, or with another, the trust policy refuses. */
    http_response resp = HTTP_RESPONSE_INIT;
    err e = {0};
    bool ok = assume(hub, mode, role, session, "not-the-external-id", &resp, &e);
    sbx_assert_aws_error(s, ok, &e, 403, "AccessDenied");
    assert_non_null(strstr(e.message, role));
    ok = assume(hub, mode, role, session, NULL, &resp, &e);
    sbx_assert_aws_error(s, ok, &e, 403, "AccessDenied");
    /* A member's own administrator is not trusted either. */
    char profile[32];
    snprintf(profile, sizeof profile, "acct-%s", member);
    ok = assume(sbx_client_profile(s, profile), mode, role, session, SBX_EXTERNAL_ID, &resp, &e);
    sbx_assert_aws_error(s, ok, &e, 403, "AccessDenied");

    ok = assume(hub, mode, role, session, SBX_EXTERNAL_ID, &resp, &e);
    SBX_ASSERT_OK(ok, e);
    aws_creds *cr = NULL;
    ok = sts_assume_role_parse(resp.body.buf, resp.body.len, "sts", &cr, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(strlen(cr->access_key_id), 20);
    assert_memory_equal(cr->access_key_id, "ASIA", 4);
    assert_int_equal(strlen(cr->secret_access_key), 40);
    assert_non_null(cr->session_token);
    assert_true(strlen(cr->session_token) > 20);
    assert_true(cr->expiration >= now + 900 - 60 && cr->expiration <= now + 900 + 60);
    const xml_node *res;
    xml_doc *doc = sbx_xml(&resp, "AssumeRoleResult", &res);
    assert_string_equal(sbx_text(res, "AssumedRoleUser/Arn"), assumed_arn);
    const char *rid = sbx_text(res, "AssumedRoleUser/AssumedRoleId");
    assert_memory_equal(rid, "AROA", 4);
    assert_non_null(strstr(rid, session));
    xml_free(doc);
    /* The sandbox got the external id. */
    char *req_id = body_request_id(&resp);
    json_t *entry = sbx_call_log_entry(s, req_id);
    assert_non_null(entry);
    assert_string_equal(json_string_value(json_object_get(entry, "action")), "AssumeRole");
    assert_string_equal(
        json_string_value(json_object_get(entry, "principal_arn")),
        json_string_value(json_object_get(
            json_array_get(json_object_get(sbx_world_account(world0, s->hub_id), "users"), 0),
            "arn")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(entry, "params"), "ExternalId")),
        SBX_EXTERNAL_ID);
    json_decref(entry);
    free(req_id);
    http_response_free(&resp);

    /* Calls on the session's credentials act as the role in the member. */
    char label[64];
    snprintf(label, sizeof label, "sts-%s", sbx_mode_name(mode));
    sbx_client *sc = sbx_client_static(s, label, cr);
    creds_free(cr);
    aws_request req;
    sts_get_caller_identity_request(&req);
    ok = sbx_call(sc, mode, &req, &resp, &e);
    aws_request_free(&req);
    SBX_ASSERT_OK(ok, e);
    sts_identity id = {0};
    ok = sts_get_caller_identity_parse(resp.body.buf, resp.body.len, &id, &e);
    SBX_ASSERT_OK(ok, e);
    assert_string_equal(id.account, member);
    assert_string_equal(id.arn, assumed_arn);
    assert_memory_equal(id.user_id, "AROA", 4);
    sts_identity_free(&id);
    http_response_free(&resp);

    query_params q;
    query_init(&q, "DescribeInstances", "2016-11-15");
    sbx_query_request(&q, "ec2", "DescribeInstances", AWS_PROTO_EC2, SBX_REGION2, &req);
    ok = sbx_call(sc, mode, &req, &resp, &e);
    aws_request_free(&req);
    SBX_ASSERT_OK(ok, e);
    const xml_node *root;
    doc = sbx_xml(&resp, NULL, &root);
    sbx_strs got = {0}, want = {0};
    for (const xml_node *r = xml_find(root, "reservationSet/item"); r; r = xml_next(r)) {
        assert_string_equal(sbx_text(r, "ownerId"), member);
        sbx_strs_add(&got, sbx_text(r, "instancesSet/item/instanceId"));
    }
    json_t *world = sbx_state(s);
    sbx_strs_from_json(
        &want,
        json_object_get(sbx_world_region(sbx_world_account(world, member), SBX_REGION2),
                        "instances"),
        "id");
    assert_true(want.n > 0);
    sbx_assert_strs(&got, &want, true, "instances seen through the assumed role");
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    json_decref(world);
    xml_free(doc);
    req_id = body_request_id(&resp);
    entry = sbx_call_log_entry(s, req_id);
    assert_non_null(entry);
    assert_string_equal(json_string_value(json_object_get(entry, "assumed_role_arn")), role);
    assert_string_equal(json_string_value(json_object_get(entry, "session_name")), session);
    assert_string_equal(json_string_value(json_object_get(entry, "account")), member);
    assert_string_equal(json_string_value(json_object_get(entry, "region")), SBX_REGION2);
    assert_string_equal(json_string_value(json_object_get(entry, "external_id")), SBX_EXTERNAL_ID);
    json_decref(entry);
    free(req_id);
    http_response_free(&resp);

    json_decref(world0);
    if (mode != SBX_BLOCKING)
        return;
    /* The assume-role provider does the same on its own from the hub profile. */
    credprov_options po = {0};
    po.profile = "hub";
    po.getenv = sbx_getenv;
    po.getenv_arg = s;
    po.endpoint_url = s->endpoint;
    po.region = SBX_REGION1;
    credprov *src = credprov_default_chain(&po, &e);
    assert_non_null(src);
    credprov_role cr_role = {role, "escher-libaws-provider", SBX_EXTERNAL_ID, 900};
    credprov *ar = credprov_assume_role(src, &cr_role, &po, &e);
    if (ar == NULL)
        fail_msg("credprov_assume_role: %s", e.message);
    sbx_client *pc = sbx_client_with(s, "assume-role-provider", ar);
    ok = sts_get_caller_identity(pc->aws, &id, &e);
    SBX_ASSERT_OK(ok, e);
    assert_string_equal(id.account, member);
    assert_non_null(strstr(id.arn, "assumed-role/EscherOperator/escher-libaws-provider"));
    assert_memory_equal(credprov_name(ar), "assume role", 11);
    assert_non_null(strstr(credprov_name(ar), role));
    sts_identity_free(&id);
}

/* ---- errors ---- */

typedef struct expect_error {
    int status;
    const char *code;
} expect_error;

/* A bucket of another account than account_id. */
static const char *foreign_bucket(json_t *world, const char *account_id)
{
    json_t *accounts = json_object_get(world, "accounts");
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        json_t *a = json_array_get(accounts, i);
        json_t *b = json_array_get(json_object_get(a, "buckets"), 0);
        if (b && strcmp(json_string_value(json_object_get(a, "id")), account_id) != 0)
            return json_string_value(json_object_get(b, "name"));
    }
    fail_msg("no bucket outside %s", account_id);
    return NULL;
}

/* One refusal per protocol and service, each an ERR_AWS with the code,
 * the status and the request id the sandbox logged. */
void test_errors(void **state)
{
    sbx_mode mode = *(sbx_mode *)*state;
    sbx *s = g_sbx;
    json_t *world = sbx_state(s);
    char member_profile[32];
    snprintf(member_profile, sizeof member_profile, "acct-%s", s->member_ids[0]);
    sbx_client *mgmt = sbx_client_profile(s, "mgmt");
    sbx_client *member = sbx_client_profile(s, member_profile);
    sbx_client *hub = sbx_client_profile(s, "hub");
    aws_creds *good = NULL;
    err e = {0};
    bool ok = credprov_get(mgmt->creds, &good, &e);
    SBX_ASSERT_OK(ok, e);
    char label[64];
    snprintf(label, sizeof label, "wrong-secret-%s", sbx_mode_name(mode));
    aws_creds *bad =
        creds_new(good->access_key_id, "wrongwrongwrongwrongwrongwrongwrongwrong", NULL, 0, "test");
    sbx_client *badc = sbx_client_static(s, label, bad);
    creds_free(bad);
    creds_free(good);

    enum { NJOBS = 15 };
    sbx_job jobs[NJOBS];
    expect_error want[NJOBS];
    memset(jobs, 0, sizeof jobs);
    size_t n = 0;
    query_params q;

    query_init(&q, "DescribeInstances", "2016-11-15");
    query_add(&q, "InstanceId.1", "i-0123456789abcdef0");
    sbx_query_request(&q, "ec2", "DescribeInstances", AWS_PROTO_EC2, NULL, &jobs[n].req);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){400, "InvalidInstanceID.NotFound"};

    query_init(&q, "StopInstances", "2016-11-15");
    query_add(&q, "InstanceId.1", "i-0000000000000000f");
    sbx_query_request(&q, "ec2", "StopInstances", AWS_PROTO_EC2, SBX_REGION2, &jobs[n].req);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){400, "InvalidInstanceID.NotFound"};

    query_init(&q, "DescribeInstances", "2016-11-15");
    query_add(&q, "InstanceId.1", "i-xyz");
    sbx_query_request(&q, "ec2", "DescribeInstances", AWS_PROTO_EC2, NULL, &jobs[n].req);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){400, "InvalidInstanceID.Malformed"};

    query_init(&q, "DescribeDBInstances", "2014-10-31");
    query_add(&q, "DBInstanceIdentifier", "no-such-db");
    sbx_query_request(&q, "rds", "DescribeDBInstances", AWS_PROTO_QUERY, NULL, &jobs[n].req);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){404, "DBInstanceNotFound"};

    query_init(&q, "ListAccessKeys", "2010-05-08");
    query_add(&q, "UserName", "no-such-user");
    sbx_query_request(&q, "iam", "ListAccessKeys", AWS_PROTO_QUERY, NULL, &jobs[n].req);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){404, "NoSuchEntity"};

    query_init(&q, "UpdateAutoScalingGroup", "2011-01-01");
    query_add(&q, "AutoScalingGroupName", "no-such-asg");
    query_add_int(&q, "MinSize", 1);
    sbx_query_request(&q, "autoscaling", "UpdateAutoScalingGroup", AWS_PROTO_QUERY, NULL,
                      &jobs[n].req);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){400, "ValidationError"};

    query_init(&q, "GetMetricData", "2010-08-01");
    query_add(&q, "StartTime", "2024-01-01T00:00:00Z");
    query_add(&q, "EndTime", "2024-01-01T01:00:00Z");
    sbx_query_request(&q, "monitoring", "GetMetricData", AWS_PROTO_QUERY, NULL, &jobs[n].req);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){400, "MissingParameter"};

    awsjson_request(&AWSJSON_ORGANIZATIONS, "ListAccounts", NULL, &jobs[n].req);
    jobs[n].client = member;
    want[n++] = (expect_error){400, "AccessDeniedException"};

    awsjson_request(&AWSJSON_ORGANIZATIONS, "DescribeOrganization", NULL, &jobs[n].req);
    jobs[n].client = hub;
    want[n++] = (expect_error){400, "AWSOrganizationsNotInUseException"};

    json_t *body = json_pack("{s:s}", "Name", "no-such-trail");
    awsjson_request(&AWSJSON_CLOUDTRAIL, "GetTrailStatus", body, &jobs[n].req);
    json_decref(body);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){400, "TrailNotFoundException"};

    body = json_pack("{s:{s:s,s:s},s:[s]}", "TimePeriod", "Start", "2024-01-01", "End",
                     "2024-01-08", "Metrics", "UnblendedCost"); /* no Granularity */
    awsjson_request(&AWSJSON_CE, "GetCostAndUsage", body, &jobs[n].req);
    json_decref(body);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){400, "ValidationException"};

    jobs[n].rx = xcalloc(1, sizeof *jobs[n].rx);
    ok = restxml_get_bucket_location_request("escher-libaws-no-such-bucket", NULL, jobs[n].rx, &e);
    SBX_ASSERT_OK(ok, e);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){404, "NoSuchBucket"};

    jobs[n].rx = xcalloc(1, sizeof *jobs[n].rx);
    ok = restxml_get_public_access_block_request(foreign_bucket(world, s->mgmt_id), NULL,
                                                 jobs[n].rx, &e);
    SBX_ASSERT_OK(ok, e);
    jobs[n].client = mgmt;
    want[n++] = (expect_error){403, "AccessDenied"};

    sts_get_caller_identity_request(&jobs[n].req);
    jobs[n].client = badc;
    want[n++] = (expect_error){403, "SignatureDoesNotMatch"};

    query_init(&q, "DescribeRegions", "2016-11-15");
    sbx_query_request(&q, "ec2", "DescribeRegions", AWS_PROTO_EC2, NULL, &jobs[n].req);
    jobs[n].client = badc;
    want[n++] = (expect_error){401, "AuthFailure"};

    assert_int_equal(n, NJOBS);
    sbx_run_jobs(s, mode, jobs, n);
    for (size_t i = 0; i < n; i++)
        sbx_assert_aws_error(s, jobs[i].ok, &jobs[i].e, want[i].status, want[i].code);
    sbx_jobs_free(jobs, n);
    json_decref(world);
}

/* The SDKs' endpoint variables reach the sandbox with no endpoint option:
 * AWS_ENDPOINT_URL for every service, AWS_ENDPOINT_URL_STS for one. (Debian's
 * awscli 2.9 and botocore 1.29 predate these variables, so lib/aws is the
 * client that shows it.) */
void test_endpoint_from_environment(void **state)
{
    (void)state;
    sbx *s = g_sbx;
    sbx_client *mgmt = sbx_client_profile(s, "mgmt");
    static const char *const vars[] = {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        setenv(vars[i], s->endpoint, 1);
        aws_client_options o = {.region = SBX_REGION1};
        err e = {0};
        aws_client *c = aws_client_new(&o, mgmt->creds, NULL, &e);
        assert_non_null(c);
        sts_identity id = {0};
        bool ok = sts_get_caller_identity(c, &id, &e);
        unsetenv(vars[i]);
        if (!ok)
            fail_msg("%s=%s: %s", vars[i], s->endpoint, e.message);
        assert_string_equal(id.account, s->mgmt_id);
        sts_identity_free(&id);
        aws_client_free(c);
    }
}
