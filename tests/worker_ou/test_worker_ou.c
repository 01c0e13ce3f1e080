/* OU targets end to end. The sandbox's organization is edited so that one
 * OU (P, the first member's) holds member 1 directly and member 0 through a
 * nested OU (Web), member 2 sits in another OU and the management account
 * under the root; every instance that is not terminated runs. Then:
 *
 * - org.discover (the real escher-worker) records for each ACTIVE account
 *   the OU path GET /state's tree gives, in one walk whose calls are
 *   ListRoots plus two per node;
 * - ops.run ec2.stop with target {"ou": P} stops the running instances of
 *   members 0 and 1 only (the call log's StopInstances are all theirs;
 *   member 2's and the management account's instances still run);
 * - {"ou": Web} plans member 0 alone; an OU no account is in fails the run
 *   with "no registered account is in OU ...". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/xmalloc.h"
#include "wtest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char ou_p[80], ou_web[80], ou_other[80];

static json_t *find_ou(json_t *state, const char *id)
{
    json_t *ous = json_object_get(state, "ous");
    for (size_t i = 0; i < json_array_size(ous); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(ous, i), "id")), id) == 0)
            return json_array_get(ous, i);
    return NULL;
}

static void edit(json_t *state)
{
    const char *root = json_string_value(json_object_get(state, "root_id"));
    json_t *m0 = sbx_world_account(state, W.sb.member_ids[0]);
    json_t *m1 = sbx_world_account(state, W.sb.member_ids[1]);
    json_t *m2 = sbx_world_account(state, W.sb.member_ids[2]);
    snprintf(ou_p, sizeof ou_p, "%s", json_string_value(json_object_get(m0, "ou_id")));
    json_t *p = find_ou(state, ou_p);
    assert_non_null(p);
    /* Another top-level OU for member 2. */
    json_t *ous = json_object_get(state, "ous");
    for (size_t i = 0; i < json_array_size(ous) && !ou_other[0]; i++) {
        const char *id = json_string_value(json_object_get(json_array_get(ous, i), "id"));
        if (strcmp(id, ou_p) != 0)
            snprintf(ou_other, sizeof ou_other, "%s", id);
    }
    snprintf(ou_web, sizeof ou_web, "ou-%s-web00001", root + 2);
    char *arn = xasprintf("%.*s%s",
                          (int)(strrchr(json_string_value(json_object_get(p, "arn")), '/') -
                                json_string_value(json_object_get(p, "arn")) + 1),
                          json_string_value(json_object_get(p, "arn")), ou_web);
    json_array_append_new(ous, json_pack("{s:s, s:s, s:s, s:s}", "id", ou_web, "name", "Web", "arn",
                                         arn, "parent_id", ou_p));
    free(arn);
    json_object_set_new(m0, "ou_id", json_string(ou_web));
    json_object_set_new(m1, "ou_id", json_string(ou_p));
    json_object_set_new(m2, "ou_id", json_string(ou_other));
    json_t *accounts = json_object_get(state, "accounts");
    for (size_t a = 0; a < json_array_size(accounts); a++) {
        json_t *regions = json_object_get(json_array_get(accounts, a), "regions");
        for (size_t r = 0; r < json_array_size(regions); r++) {
            json_t *insts = json_object_get(json_array_get(regions, r), "instances");
            for (size_t i = 0; i < json_array_size(insts); i++) {
                json_t *x = json_array_get(insts, i);
                if (strcmp(json_string_value(json_object_get(x, "state")), "terminated") != 0)
                    json_object_set_new(x, "state", json_string("running"));
            }
        }
    }
}

static int group_setup(void **state)
{
    W.edit_world = edit;
    return wt_setup(state);
}

/* The path GET /state gives account a: its parents from the root down, as
 * "r-x,ou-y,...", or NULL outside the organization. */
static char *want_path(json_t *state, json_t *a)
{
    const char *at = json_string_value(json_object_get(a, "ou_id"));
    if (at == NULL)
        return NULL;
    char *path = xstrdup(at);
    const char *root = json_string_value(json_object_get(state, "root_id"));
    while (strcmp(at, root) != 0) {
        json_t *ou = find_ou(state, at);
        assert_non_null(ou);
        at = json_string_value(json_object_get(ou, "parent_id"));
        char *longer = xasprintf("%s,%s", at, path);
        free(path);
        path = longer;
    }
    return path;
}

static void run_worker_until(const char *job, const char *states, char *st, size_t n)
{
    wt_worker w;
    wt_worker_start(&w, NULL);
    wt_wait_state(job, states, 90000, st, n);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 20000), 0);
}

static void discover(void)
{
    char *mgmt_role = wt_arn(W.sb.mgmt_id, "EscherOperator");
    char payload[512], job[QUEUE_ID_LEN], st[32];
    snprintf(payload, sizeof payload,
             "{\"management_role_arn\": \"%s\", \"regions\": [\"" SBX_REGION1 "\"]}", mgmt_role);
    free(mgmt_role);
    json_decref(sbx_admin(&W.sb, "DELETE", "/calls", NULL));
    wt_enqueue(W.tenant_a, "org.discover", payload, "manager@example.com", NULL, job);
    run_worker_until(job, "succeeded|failed", st, sizeof st);
    assert_string_equal(st, "succeeded");

    /* Every ACTIVE account of the organization with its tree path. */
    json_t *state = sbx_state(&W.sb);
    json_t *accounts = json_object_get(state, "accounts");
    int checked = 0;
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        json_t *a = json_array_get(accounts, i);
        char *want = want_path(state, a);
        if (want == NULL)
            continue;
        const char *id = json_string_value(json_object_get(a, "id"));
        const char *p[1] = {id};
        char got[512];
        wt_query1("SELECT array_to_string(ou_path, ',') || ' ' || (ou_updated_at IS NOT NULL)"
                  " FROM aws_accounts WHERE account_id = $1 AND status = 'verified'",
                  1, p, got, sizeof got);
        char *exp = xasprintf("%s true", want);
        if (strcmp(got, exp) != 0)
            fail_msg("account %s: ou_path '%s', want '%s'", id, got, exp);
        free(exp);
        free(want);
        checked++;
    }
    assert_int_equal(checked, SBX_ACCOUNTS + 1);
    char buf[32];
    snprintf(buf, sizeof buf, "%d",
             1 + 2 * ((int)json_array_size(json_object_get(state, "ous")) + 1));
    json_decref(state);
    /* One walk: ListRoots and two listings per node, all with the list
     * session. */
    const char *p[2] = {job, buf};
    char ok[8];
    wt_query1("SELECT (detail->>'calls' = $2 AND detail->>'truncated' = 'false'"
              "        AND detail->>'placed' = '4')::text"
              " FROM job_steps WHERE job_id = $1 AND name = 'map organizational units #1'"
              "   AND state = 'done'",
              2, p, ok, sizeof ok);
    assert_string_equal(ok, "true");
    json_t *log = sbx_admin(&W.sb, "GET", "/calls?since=0&limit=100000", NULL);
    json_t *cs = json_object_get(log, "calls");
    int walk = 0;
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        const char *action = json_string_value(json_object_get(c, "action"));
        if (strcmp(action, "ListRoots") == 0 ||
            strcmp(action, "ListOrganizationalUnitsForParent") == 0 ||
            strcmp(action, "ListAccountsForParent") == 0) {
            walk++;
            assert_int_equal(json_integer_value(json_object_get(c, "status")), 200);
        }
    }
    json_decref(log);
    assert_int_equal(walk, atoi(buf));
}

/* Enqueues ops.run ec2.stop on target accounts ou, us-east-1, running
 * instances; the job's final state into st. */
static void run_stop(const char *ou, bool dry_run, char job[QUEUE_ID_LEN], char *st, size_t n)
{
    json_decref(sbx_admin(&W.sb, "DELETE", "/calls", NULL));
    char *body =
        xasprintf("{\"operation\": \"ec2.stop\", \"params\": {}, \"dry_run\": %s,"
                  " \"target\": {\"accounts\": {\"ou\": \"%s\"}, \"regions\": [\"" SBX_REGION1
                  "\"], \"selector\": {\"state\": \"running\"}}}",
                  dry_run ? "true" : "false", ou);
    wt_enqueue(W.tenant_a, "ops.run", body, "ops@example.com", NULL, job);
    free(body);
    run_worker_until(job, "succeeded|failed", st, n);
}

/* Running instances of account in SBX_REGION1. */
static int running(json_t *state, const char *account)
{
    json_t *reg = sbx_world_region(sbx_world_account(state, account), SBX_REGION1);
    json_t *insts = json_object_get(reg, "instances");
    int n = 0;
    for (size_t i = 0; i < json_array_size(insts); i++)
        n += strcmp(json_string_value(json_object_get(json_array_get(insts, i), "state")),
                    "running") == 0;
    return n;
}

static void test_ou_targets(void **state)
{
    (void)state;
    wt_need();
    discover();
    json_t *before = sbx_state(&W.sb);
    const char *const ids[4] = {W.sb.member_ids[0], W.sb.member_ids[1], W.sb.member_ids[2],
                                W.sb.mgmt_id};
    int was[4];
    for (int i = 0; i < 4; i++) {
        was[i] = running(before, ids[i]);
        assert_true(was[i] > 0);
    }
    json_decref(before);

    char job[QUEUE_ID_LEN], st[32];
    /* The nested OU alone: a plan for member 0 only. */
    run_stop(ou_web, true, job, st, sizeof st);
    assert_string_equal(st, "succeeded");
    char got[64];
    const char *pj[1] = {job};
    wt_query1("SELECT string_agg(DISTINCT r->>'account', ',') FROM jobs,"
              " jsonb_array_elements(result->'resources') r WHERE id = $1",
              1, pj, got, sizeof got);
    assert_string_equal(got, W.sb.member_ids[0]);

    /* P: members 0 (through Web) and 1; nothing else. */
    run_stop(ou_p, false, job, st, sizeof st);
    assert_string_equal(st, "succeeded");
    json_t *after = sbx_state(&W.sb);
    assert_int_equal(running(after, ids[0]), 0);
    assert_int_equal(running(after, ids[1]), 0);
    assert_int_equal(running(after, ids[2]), was[2]);
    assert_int_equal(running(after, ids[3]), was[3]);
    json_decref(after);
    json_t *log = sbx_admin(&W.sb, "GET", "/calls?since=0&limit=100000", NULL);
    json_t *cs = json_object_get(log, "calls");
    int stops[2] = {0, 0};
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        if (strcmp(json_string_value(json_object_get(c, "action")), "StopInstances") != 0)
            continue;
        const char *acct = json_string_value(json_object_get(c, "account"));
        if (strcmp(acct, ids[0]) == 0)
            stops[0]++;
        else if (strcmp(acct, ids[1]) == 0)
            stops[1]++;
        else
            fail_msg("StopInstances in %s, outside OU %s", acct, ou_p);
    }
    json_decref(log);
    assert_int_equal(stops[0], was[0]);
    assert_int_equal(stops[1], was[1]);

    /* An OU of the right shape nobody is in. */
    char nobody[80];
    snprintf(nobody, sizeof nobody, "%.*snobody01", (int)(strrchr(ou_web, '-') - ou_web + 1),
             ou_web);
    run_stop(nobody, true, job, st, sizeof st);
    assert_string_equal(st, "failed");
    char text[512];
    wt_query1("SELECT last_error FROM jobs WHERE id = $1", 1, pj, text, sizeof text);
    char *want = xasprintf("target.accounts.ou: no registered account is in OU %s (OU membership "
                           "comes from organization discovery; run one if the OU or its accounts "
                           "are new)",
                           nobody);
    assert_string_equal(text, want);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ou_targets, wt_each),
    };
    return cmocka_run_group_tests(tests, group_setup, wt_teardown);
}
