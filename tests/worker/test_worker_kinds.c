/* account.verify and org.discover run by the real escher-worker against
 * escher-sandbox: what ends up on the accounts, the jobs and their steps. */
#include "wtest.h"
#include "wtests.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/xmalloc.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sandbox's AccessDenied for the hub assuming role_arn, as it words it. */
static char *access_denied(const char *role_arn)
{
    return xasprintf("AccessDenied: User: arn:aws:iam::%s:user/escher-hub is not authorized to "
                     "perform: sts:AssumeRole on resource: %s",
                     W.sb.hub_id, role_arn);
}

/* Column col of the account row id. */
static void account_col(const char *id, const char *col, char *out, size_t n)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s FROM aws_accounts WHERE id = $1", col);
    const char *p[1] = {id};
    wt_query1(sql, 1, p, out, n);
}

static json_t *job_json(const char *job, const char *col)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s FROM jobs WHERE id = $1", col);
    char buf[16384];
    const char *p[1] = {job};
    wt_query1(sql, 1, p, buf, sizeof buf);
    json_t *v = json_loads(buf, 0, NULL);
    if (v == NULL)
        fail_msg("job %s: %s is not JSON: '%s'", job, col, buf);
    return v;
}

static void assert_failed_with(const char *job, const char *account, const char *want)
{
    char state[32], status[32], last[2048], job_error[2048];
    wt_wait_state(job, "succeeded|failed|cancelled", 1, state, sizeof state);
    assert_string_equal(state, "failed");
    account_col(account, "status", status, sizeof status);
    assert_string_equal(status, "failed");
    account_col(account, "last_error", last, sizeof last);
    assert_string_equal(last, want);
    const char *p[1] = {job};
    wt_query1("SELECT last_error FROM jobs WHERE id = $1", 1, p, job_error, sizeof job_error);
    assert_string_equal(job_error, want);
    /* Refused, not transient: one attempt only. */
    assert_int_equal(wt_query_long("SELECT attempts FROM jobs WHERE id = $1", job), 1);
}

void test_verify_outcomes(void **state)
{
    (void)state;
    wt_need();
    char *op = wt_arn(W.sb.member_ids[0], "EscherOperator");
    char *ro = wt_arn(W.sb.member_ids[0], "EscherReadOnly");
    char *missing = wt_arn(W.sb.mgmt_id, "NoSuchRole");
    char *untrusting = wt_arn(W.no_operator, "OrganizationAccountAccessRole");
    char good[QUEUE_ID_LEN], wrong_xid[QUEUE_ID_LEN], gone[QUEUE_ID_LEN], notrust[QUEUE_ID_LEN];
    wt_account(W.tenant_a, W.sb.member_ids[0], op, ro, NULL, good);
    wt_account(W.tenant_b, W.sb.member_ids[0], op, NULL, NULL, wrong_xid);
    wt_account(W.tenant_a, W.sb.mgmt_id, missing, NULL, NULL, gone);
    wt_account(W.tenant_a, W.no_operator, untrusting, NULL, NULL, notrust);
    const char *accounts[4] = {good, wrong_xid, gone, notrust};
    const char *tenants[4] = {W.tenant_a, W.tenant_b, W.tenant_a, W.tenant_a};
    char jobs[4][QUEUE_ID_LEN];
    for (int i = 0; i < 4; i++) {
        char payload[96], who[64];
        snprintf(payload, sizeof payload, "{\"account\": \"%s\"}", accounts[i]);
        snprintf(who, sizeof who, "verifier%d@example.com", i);
        wt_enqueue(tenants[i], "account.verify", payload, who, accounts[i], jobs[i]);
    }
    wt_worker w;
    wt_worker_start(&w, NULL);
    char st[32];
    for (int i = 0; i < 4; i++)
        wt_wait_state(jobs[i], "succeeded|failed|cancelled", 20000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 10000), 0);

    /* The right ExternalId: verified, both roles, each as itself. */
    wt_wait_state(jobs[0], "succeeded", 1, st, sizeof st);
    char status[32], buf[256];
    account_col(good, "status", status, sizeof status);
    assert_string_equal(status, "verified");
    account_col(good, "verified_at IS NOT NULL AND last_error IS NULL", buf, sizeof buf);
    assert_string_equal(buf, "t");
    json_t *result = job_json(jobs[0], "result");
    assert_string_equal(json_string_value(json_object_get(result, "account_id")),
                        W.sb.member_ids[0]);
    json_t *roles = json_object_get(result, "roles");
    assert_int_equal(json_array_size(roles), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *r = json_array_get(roles, i);
        assert_true(json_is_true(json_object_get(r, "ok")));
        char *want = xasprintf("arn:aws:sts::%s:assumed-role/%s/escher-%s", W.sb.member_ids[0],
                               i == 0 ? "EscherOperator" : "EscherReadOnly", jobs[0]);
        assert_string_equal(json_string_value(json_object_get(r, "arn")), want);
        free(want);
    }
    json_decref(result);

    /* Wrong ExternalId, missing role, role without the hub in its trust: the
     * sandbox's refusal, word for word, on the account and the job. */
    char *want = access_denied(op);
    assert_failed_with(jobs[1], wrong_xid, want);
    free(want);
    want = access_denied(missing);
    assert_failed_with(jobs[2], gone, want);
    free(want);
    want = access_denied(untrusting);
    assert_failed_with(jobs[3], notrust, want);
    free(want);

    /* Every step recorded, each with its audit row. */
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1", jobs[0]), 2);
    for (int i = 0; i < 4; i++) {
        long steps = wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1", jobs[i]);
        assert_true(steps >= 1);
        char target[64];
        snprintf(target, sizeof target, "job:%.*s", QUEUE_ID_LEN - 1, jobs[i]);
        assert_int_equal(wt_query_long("SELECT count(*) FROM audit_log WHERE action = 'job.step'"
                                       " AND target = $1 AND actor LIKE 'worker:%'",
                                       target),
                         steps);
    }
    free(op);
    free(ro);
    free(missing);
    free(untrusting);
}

static bool strs_has(const json_t *a, const char *s)
{
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        const char *t = json_is_string(v) ? json_string_value(v)
                                          : json_string_value(json_object_get(v, "account_id"));
        if (t && strcmp(t, s) == 0)
            return true;
    }
    return false;
}

void test_discover(void **state)
{
    (void)state;
    wt_need();
    const char *mgmt = W.sb.mgmt_id, *m0 = W.sb.member_ids[0];
    /* An account registered before: discovery renames it, keeps its roles. */
    char *keep = wt_arn(m0, "EscherReadOnly");
    char old[QUEUE_ID_LEN];
    wt_account(W.tenant_a, m0, keep, NULL, "old name", old);
    char *mgmt_role = wt_arn(mgmt, "EscherOperator");
    char payload[512], job[QUEUE_ID_LEN], refused[QUEUE_ID_LEN];
    snprintf(payload, sizeof payload,
             "{\"management_role_arn\": \"%s\", \"role_name\": \"EscherOperator\","
             " \"readonly_role_name\": \"EscherReadOnly\", \"regions\": [\"us-east-1\"]}",
             mgmt_role);
    wt_enqueue(W.tenant_a, "org.discover", payload, "manager@example.com", NULL, job);
    /* A management role that cannot be assumed fails the job for good. */
    char *nope = wt_arn(mgmt, "NoSuchRole");
    snprintf(payload, sizeof payload, "{\"management_role_arn\": \"%s\"}", nope);
    wt_enqueue(W.tenant_a, "org.discover", payload, "manager@example.com", NULL, refused);

    wt_worker w;
    wt_worker_start(&w, NULL);
    char st[32];
    wt_wait_state(job, "succeeded|failed|cancelled", 30000, st, sizeof st);
    assert_string_equal(st, "succeeded");
    wt_wait_state(refused, "succeeded|failed|cancelled", 30000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 10000), 0);
    assert_string_equal(st, "failed");
    char err_text[1024], *want = access_denied(nope);
    const char *p1[1] = {refused};
    wt_query1("SELECT last_error FROM jobs WHERE id = $1", 1, p1, err_text, sizeof err_text);
    assert_string_equal(err_text, want);
    free(want);

    json_t *r = job_json(job, "result");
    assert_int_equal(json_integer_value(json_object_get(r, "members")), SBX_ACCOUNTS + 1);
    json_t *registered = json_object_get(r, "registered"),
           *verified = json_object_get(r, "verified");
    json_t *failed = json_object_get(r, "failed"), *skipped = json_object_get(r, "skipped");
    /* Every ACTIVE account registered; the suspended one skipped. */
    assert_int_equal(json_array_size(registered), 3);
    assert_true(strs_has(registered, mgmt) && strs_has(registered, m0) &&
                strs_has(registered, W.no_operator));
    assert_true(strs_has(skipped, W.suspended));
    assert_int_equal(
        wt_query_long("SELECT count(*) FROM aws_accounts WHERE account_id = $1", W.suspended), 0);
    /* Verified: those whose roles trust the hub; the member without
     * EscherOperator is reported with the sandbox's refusal. */
    assert_int_equal(json_array_size(verified), 2);
    assert_true(strs_has(verified, mgmt) && strs_has(verified, m0));
    assert_int_equal(json_array_size(failed), 1);
    json_t *f = json_array_get(failed, 0);
    char *gone = wt_arn(W.no_operator, "EscherOperator");
    assert_string_equal(json_string_value(json_object_get(f, "account_id")), W.no_operator);
    assert_string_equal(json_string_value(json_object_get(f, "role_arn")), gone);
    assert_string_equal(json_string_value(json_object_get(json_object_get(f, "error"), "code")),
                        "AccessDenied");
    json_decref(r);
    want = access_denied(gone);
    assert_int_equal(wt_query_long("SELECT count(*) FROM aws_accounts WHERE status = 'failed'"
                                   " AND last_error = $1",
                                   want),
                     1);
    free(want);
    free(gone);

    /* The rows: templates for new ones, the old one renamed with its role kept. */
    char buf[512];
    account_col(old, "role_arn", buf, sizeof buf);
    assert_string_equal(buf, keep);
    account_col(old, "name", buf, sizeof buf);
    assert_string_not_equal(buf, "old name");
    assert_true(buf[0] != '\0');
    const char *p[1] = {mgmt};
    wt_query1("SELECT status || ' ' || role_arn || ' ' || readonly_role_arn || ' ' ||"
              " array_to_string(regions, ',') FROM aws_accounts WHERE account_id = $1",
              1, p, buf, sizeof buf);
    char *exp =
        xasprintf("verified %s arn:aws:iam::%s:role/EscherReadOnly us-east-1", mgmt_role, mgmt);
    assert_string_equal(buf, exp);
    free(exp);
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1"
                                   " AND name = 'list accounts #1' AND state = 'done'",
                                   job),
                     1);
    free(keep);
    free(mgmt_role);
    free(nope);
}
