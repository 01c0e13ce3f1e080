/* ops.run end to end: the real escher-worker stops the instances tagged
 * env=dev in two regions of three member accounts and nothing else, with
 * AssumeRole sessions whose policy is ec2.stop's actions alone; a dry run
 * first changes nothing; then ec2.start with the worker killed (SIGKILL)
 * mid-run and a second worker finishing it, no step done twice.
 *
 * The world: every instance of every account and region gets env=dev (even
 * positions) or env=prod (odd), and one in four is made running, so each
 * region has dev instances running, dev instances stopped and terminated
 * ones, and prod instances alongside. The management account is not
 * registered: its dev instances must stay as they are. The tests run in
 * order and each starts from the world the previous one left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "wtest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void tag_world(json_t *state)
{
    json_t *accounts = json_object_get(state, "accounts");
    for (size_t a = 0; a < json_array_size(accounts); a++) {
        json_t *regions = json_object_get(json_array_get(accounts, a), "regions");
        for (size_t r = 0; r < json_array_size(regions); r++) {
            json_t *insts = json_object_get(json_array_get(regions, r), "instances");
            for (size_t k = 0; k < json_array_size(insts); k++) {
                json_t *in = json_array_get(insts, k);
                wt_set_tag(in, "env", k % 2 == 0 ? "dev" : "prod");
                if (k % 4 == 0 &&
                    strcmp(json_string_value(json_object_get(in, "state")), "stopped") == 0)
                    json_object_set_new(in, "state", json_string("running"));
            }
        }
    }
}

/* ---- the world as the tests see it ---- */

typedef struct inst {
    char account[16], region[32], id[32], state[32];
    bool dev;
    bool member; /* in one of the three registered accounts */
} inst;

typedef struct world {
    inst *v;
    size_t n;
} world;

/* Every instance of every account, from GET /state. */
static world snapshot(void)
{
    world w = {0};
    json_t *state = sbx_state(&W.sb);
    json_t *accounts = json_object_get(state, "accounts");
    for (size_t a = 0; a < json_array_size(accounts); a++) {
        json_t *acct = json_array_get(accounts, a);
        const char *id = json_string_value(json_object_get(acct, "id"));
        json_t *regions = json_object_get(acct, "regions");
        for (size_t r = 0; r < json_array_size(regions); r++) {
            json_t *reg = json_array_get(regions, r);
            json_t *insts = json_object_get(reg, "instances");
            for (size_t k = 0; k < json_array_size(insts); k++) {
                json_t *in = json_array_get(insts, k);
                w.v = xreallocarray(w.v, w.n + 1, sizeof *w.v);
                inst *x = &w.v[w.n++];
                memset(x, 0, sizeof *x);
                snprintf(x->account, sizeof x->account, "%s", id);
                snprintf(x->region, sizeof x->region, "%s",
                         json_string_value(json_object_get(reg, "name")));
                snprintf(x->id, sizeof x->id, "%s", json_string_value(json_object_get(in, "id")));
                snprintf(x->state, sizeof x->state, "%s",
                         json_string_value(json_object_get(in, "state")));
                const char *env = wt_tag_of(in, "env");
                x->dev = env && strcmp(env, "dev") == 0;
                x->member = wt_is_member(id);
            }
        }
    }
    json_decref(state);
    return w;
}

static const inst *find_inst(const world *w, const char *id)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].id, id) == 0)
            return &w->v[i];
    fail_msg("instance %s is not in the world", id);
    return NULL;
}

static bool targeted(const inst *x)
{
    return x->dev && x->member;
}

static bool state_in(const char *state, const char *a, const char *b)
{
    return strcmp(state, a) == 0 || strcmp(state, b) == 0;
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    W.edit_world = tag_world;
    return wt_setup(state);
}

static char *payload(const char *op, bool dry_run)
{
    return xasprintf("{\"operation\": \"%s\", \"params\": {}, \"dry_run\": %s, \"target\": "
                     "{\"accounts\": [\"%s\", \"%s\", \"%s\"], \"regions\": \"all\", "
                     "\"selector\": {\"tags\": {\"env\": [\"dev\"]}}}}",
                     op, dry_run ? "true" : "false", W.sb.member_ids[0], W.sb.member_ids[1],
                     W.sb.member_ids[2]);
}

static json_t *calls(void)
{
    return sbx_admin(&W.sb, "GET", "/calls?since=0&limit=100000", NULL);
}

static void run_job(const char *op, bool dry_run, char job[QUEUE_ID_LEN])
{
    char *body = payload(op, dry_run);
    wt_enqueue(W.tenant_a, "ops.run", body, "ops@example.com", NULL, job);
    free(body);
}

/* Every AssumeRole of the log named the job, carried the tenant's
 * ExternalId, a member's EscherOperator role and a policy of exactly
 * actions; returns how many there were. */
static size_t check_assumes(json_t *log, const char *job, const char *const *actions, size_t n)
{
    json_t *want = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(want, json_string(actions[i]));
    size_t count = 0;
    json_t *cs = json_object_get(log, "calls");
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        if (strcmp(json_string_value(json_object_get(c, "action")), "AssumeRole") != 0)
            continue;
        count++;
        json_t *params = json_object_get(c, "params");
        char session[64];
        snprintf(session, sizeof session, "escher-%s", job);
        assert_string_equal(json_string_value(json_object_get(params, "RoleSessionName")), session);
        assert_string_equal(json_string_value(json_object_get(params, "ExternalId")),
                            WT_EXTERNAL_ID);
        const char *role = json_string_value(json_object_get(params, "RoleArn"));
        assert_non_null(strstr(role, ":role/EscherOperator"));
        char account[13];
        snprintf(account, sizeof account, "%.12s", role + strlen("arn:aws:iam::"));
        assert_true(wt_is_member(account));
        assert_int_equal(json_integer_value(json_object_get(c, "status")), 200);
        json_t *policy = json_loads(json_string_value(json_object_get(params, "Policy")), 0, NULL);
        assert_non_null(policy);
        json_t *st = json_object_get(policy, "Statement");
        assert_int_equal(json_array_size(st), 1);
        json_t *got = json_object_get(json_array_get(st, 0), "Action");
        if (!json_equal(got, want)) {
            char *g = json_dumps(got, 0), *w = json_dumps(want, 0);
            fail_msg("AssumeRole of %s carried actions %s, want %s", role, g, w);
        }
        json_decref(policy);
    }
    json_decref(want);
    return count;
}

/* ---- tests ---- */

static void test_dry_run_changes_nothing(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    world before = snapshot();
    size_t running = 0, dev = 0;
    for (size_t i = 0; i < before.n; i++) {
        dev += targeted(&before.v[i]);
        running += targeted(&before.v[i]) && strcmp(before.v[i].state, "running") == 0;
    }
    assert_true(running >= 6); /* one at least per member and region */
    json_decref(sbx_admin(&W.sb, "DELETE", "/calls", NULL));
    char job[QUEUE_ID_LEN];
    run_job("ec2.stop", true, job);
    wt_worker w;
    wt_worker_start(&w, NULL);
    char st[32];
    wt_wait_state(job, "succeeded|failed", 60000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 20000), 0);
    assert_string_equal(st, "succeeded");

    json_t *result = wt_job_result(job);
    assert_string_equal(json_string_value(json_object_get(result, "state")), "succeeded");
    assert_true(json_is_true(json_object_get(result, "dry_run")));
    json_t *res = json_object_get(result, "resources");
    assert_int_equal(json_array_size(res), dev);
    size_t planned = 0;
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *r = json_array_get(res, i);
        const inst *x = find_inst(&before, json_string_value(json_object_get(r, "id")));
        assert_true(targeted(x));
        const char *outcome = json_string_value(json_object_get(r, "outcome"));
        if (strcmp(x->state, "running") == 0) {
            assert_string_equal(json_string_value(json_object_get(r, "action")), "would stop");
            assert_string_equal(outcome, "planned");
            planned++;
        } else {
            assert_string_equal(outcome, "nothing to do");
        }
    }
    assert_int_equal(planned, running);
    json_decref(result);

    world after = snapshot();
    assert_int_equal(after.n, before.n);
    for (size_t i = 0; i < after.n; i++)
        assert_string_equal(after.v[i].state, before.v[i].state);
    /* Each StopInstances carried DryRun and was answered DryRunOperation. */
    json_t *log = calls();
    json_t *cs = json_object_get(log, "calls");
    size_t stops = 0;
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        if (strcmp(json_string_value(json_object_get(c, "action")), "StopInstances") != 0)
            continue;
        stops++;
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(c, "params"), "DryRun")), "true");
        assert_string_equal(json_string_value(json_object_get(c, "error_code")), "DryRunOperation");
    }
    assert_int_equal(stops, running);
    static const char *const stop_actions[] = {"ec2:DescribeInstances", "ec2:StopInstances"};
    assert_true(check_assumes(log, job, stop_actions, 2) >= SBX_ACCOUNTS);
    json_decref(log);
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1", job), 0);
    free(before.v);
    free(after.v);
}

static void test_stop_dev_instances(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    world before = snapshot();
    json_decref(sbx_admin(&W.sb, "DELETE", "/calls", NULL));
    char job[QUEUE_ID_LEN];
    run_job("ec2.stop", false, job);
    wt_worker w;
    wt_worker_start(&w, NULL);
    char st[32];
    wt_wait_state(job, "succeeded|failed", 60000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 20000), 0);
    assert_string_equal(st, "succeeded");

    /* Exactly the dev instances of the three members stopped; everything
     * else as it was. */
    world after = snapshot();
    size_t stopped = 0, dev = 0;
    for (size_t i = 0; i < after.n; i++) {
        const inst *b = &before.v[i], *a = &after.v[i];
        assert_string_equal(a->id, b->id);
        dev += targeted(b);
        if (targeted(b) && strcmp(b->state, "running") == 0) {
            if (!state_in(a->state, "stopping", "stopped"))
                fail_msg("dev instance %s of %s %s is %s after ec2.stop", a->id, a->account,
                         a->region, a->state);
            stopped++;
        } else if (strcmp(a->state, b->state) != 0) {
            fail_msg("instance %s of %s %s (dev %d, member %d) went from %s to %s", a->id,
                     a->account, a->region, b->dev, b->member, b->state, a->state);
        }
    }
    assert_true(stopped >= 6);
    /* Regions: both of each member. */
    for (int m = 0; m < SBX_ACCOUNTS; m++)
        for (int r = 0; r < 2; r++) {
            bool seen = false;
            for (size_t i = 0; i < after.n && !seen; i++)
                seen = strcmp(after.v[i].account, W.sb.member_ids[m]) == 0 &&
                       strcmp(after.v[i].region, r ? SBX_REGION2 : SBX_REGION1) == 0 &&
                       targeted(&before.v[i]) && strcmp(before.v[i].state, "running") == 0;
            assert_true(seen);
        }

    json_t *result = wt_job_result(job);
    assert_string_equal(json_string_value(json_object_get(result, "state")), "succeeded");
    json_t *counts = json_object_get(result, "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "done")), stopped);
    assert_int_equal(json_integer_value(json_object_get(counts, "resources")), dev);
    json_t *res = json_object_get(result, "resources");
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *r = json_array_get(res, i);
        if (strcmp(json_string_value(json_object_get(r, "outcome")), "done") != 0)
            continue;
        assert_string_equal(json_string_value(json_object_get(r, "action")), "stop");
        assert_string_equal(json_string_value(json_object_get(r, "before")), "running");
        assert_string_equal(json_string_value(json_object_get(r, "after")), "stopping");
        assert_true(strlen(json_string_value(json_object_get(r, "request_id"))) > 0);
    }
    json_decref(result);

    /* The call log: sessions limited to ec2.stop's actions; one StopInstances
     * per stopped instance, in member accounts only, none a dry run. */
    json_t *log = calls();
    static const char *const stop_actions[] = {"ec2:DescribeInstances", "ec2:StopInstances"};
    assert_true(check_assumes(log, job, stop_actions, 2) >= SBX_ACCOUNTS);
    json_t *cs = json_object_get(log, "calls");
    size_t stops = 0;
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        const char *action = json_string_value(json_object_get(c, "action"));
        if (strcmp(action, "StopInstances") != 0)
            continue;
        stops++;
        assert_true(wt_is_member(json_string_value(json_object_get(c, "account"))));
        assert_null(json_object_get(json_object_get(c, "params"), "DryRun"));
        assert_int_equal(json_integer_value(json_object_get(c, "status")), 200);
    }
    assert_int_equal(stops, stopped);
    json_decref(log);

    /* A step per dev instance, each done, each with its audit row. */
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1"
                                   " AND state = 'done' AND name LIKE 'ec2.stop:%'",
                                   job),
                     dev);
    char target[64];
    snprintf(target, sizeof target, "job:%s", job);
    assert_int_equal(wt_query_long("SELECT count(*) FROM audit_log WHERE action = 'job.step'"
                                   " AND target = $1",
                                   target),
                     dev);
    free(before.v);
    free(after.v);
}

static void test_start_survives_sigkill(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    sbx_advance(&W.sb, 10); /* stopping -> stopped */
    world before = snapshot();
    /* GET /state shows the state last set; the clock has run past every
     * transition since, which the EC2 API settles on reading. */
    for (size_t i = 0; i < before.n; i++) {
        if (strcmp(before.v[i].state, "stopping") == 0)
            snprintf(before.v[i].state, sizeof before.v[i].state, "stopped");
        if (strcmp(before.v[i].state, "pending") == 0)
            snprintf(before.v[i].state, sizeof before.v[i].state, "running");
    }
    size_t to_start = 0;
    for (size_t i = 0; i < before.n; i++)
        to_start += targeted(&before.v[i]) && strcmp(before.v[i].state, "stopped") == 0;
    assert_true(to_start >= 6);
    json_decref(sbx_admin(&W.sb, "DELETE", "/calls", NULL));
    /* Slow calls so the kill lands mid-run. */
    wt_faults("{\"latency\":{\"fixed_ms\":250,\"jitter_ms\":0}}");
    char job[QUEUE_ID_LEN];
    run_job("ec2.start", false, job);
    const char *args[] = {"--lease", "2s", NULL};
    wt_worker a;
    wt_worker_start(&a, args);
    uint64_t deadline = timeutil_mono_ms() + 60000;
    while (wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1 AND state = 'done'",
                         job) < 2) {
        if (timeutil_mono_ms() > deadline)
            fail_msg("no step done within 60 s");
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    wt_worker_kill(&a);
    long done_at_kill =
        wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1 AND state = 'done'", job);
    assert_true(done_at_kill < (long)to_start); /* the kill was mid-run */
    wt_faults("{\"latency\":{\"fixed_ms\":0,\"jitter_ms\":0}}");
    wt_worker b;
    wt_worker_start(&b, args);
    char st[32];
    wt_wait_state(job, "succeeded|failed", 90000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&b, SIGTERM, 20000), 0);
    assert_string_equal(st, "succeeded");
    assert_true(wt_query_long("SELECT attempts FROM jobs WHERE id = $1", job) >= 2);

    world after = snapshot();
    for (size_t i = 0; i < after.n; i++) {
        const inst *b4 = &before.v[i], *x = &after.v[i];
        if (targeted(b4) && strcmp(b4->state, "stopped") == 0) {
            if (!state_in(x->state, "pending", "running"))
                fail_msg("dev instance %s is %s after ec2.start", x->id, x->state);
        } else if (strcmp(x->state, b4->state) != 0 &&
                   !(strcmp(b4->state, "stopped") == 0 && strcmp(x->state, "stopping") == 0)) {
            fail_msg("instance %s went from %s to %s", x->id, b4->state, x->state);
        }
    }
    /* No step recorded as done twice: one audit row per step name that
     * finished ok, and one successful StartInstances per instance. */
    char target[64];
    snprintf(target, sizeof target, "job:%s", job);
    assert_int_equal(wt_query_long("SELECT count(*) FROM (SELECT detail->>'step' FROM audit_log"
                                   " WHERE action = 'job.step' AND target = $1"
                                   " AND (detail->>'ok')::bool GROUP BY 1 HAVING count(*) > 1) d",
                                   target),
                     0);
    json_t *log = calls();
    json_t *cs = json_object_get(log, "calls");
    json_t *seen = json_object();
    size_t starts = 0;
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        if (strcmp(json_string_value(json_object_get(c, "action")), "StartInstances") != 0 ||
            json_integer_value(json_object_get(c, "status")) != 200)
            continue;
        const char *id =
            json_string_value(json_object_get(json_object_get(c, "params"), "InstanceId.1"));
        assert_non_null(id);
        if (json_object_get(seen, id))
            fail_msg("StartInstances of %s succeeded twice", id);
        json_object_set_new(seen, id, json_true());
        starts++;
    }
    assert_int_equal(starts, to_start);
    static const char *const start_actions[] = {"ec2:DescribeInstances", "ec2:StartInstances"};
    check_assumes(log, job, start_actions, 2);
    json_decref(seen);
    json_decref(log);
    free(before.v);
    free(after.v);
}

/* 30% of AWS calls answer 503: the client's retries and the job's take
 * every dev instance down all the same, each stopped once. */
static void test_stop_with_errors(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    sbx_advance(&W.sb, 10); /* pending -> running */
    world before = snapshot();
    for (size_t i = 0; i < before.n; i++)
        if (strcmp(before.v[i].state, "pending") == 0)
            snprintf(before.v[i].state, sizeof before.v[i].state, "running");
    json_decref(sbx_admin(&W.sb, "DELETE", "/calls", NULL));
    wt_faults("{\"error_rate\":0.3,\"error_status\":[503]}");
    char job[QUEUE_ID_LEN];
    run_job("ec2.stop", false, job);
    /* At 30% a call fails its three tries about once in 37: a run of some
     * hundred calls needs a retry or two of the job for its last few. */
    wt_query_long("UPDATE jobs SET max_attempts = 8 WHERE id = $1 RETURNING 1", job);
    wt_worker w;
    wt_worker_start(&w, NULL);
    char st[32];
    wt_wait_state(job, "succeeded|failed", 120000, st, sizeof st);
    wt_faults("{\"error_rate\":0}");
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 20000), 0);
    assert_string_equal(st, "succeeded");
    json_t *result = wt_job_result(job);
    if (strcmp(json_string_value(json_object_get(result, "state")), "succeeded") != 0) {
        char *text = json_dumps(result, JSON_INDENT(1));
        fail_msg("run with errors: %s", text);
    }
    json_decref(result);
    world after = snapshot();
    for (size_t i = 0; i < after.n; i++) {
        const inst *b = &before.v[i], *a = &after.v[i];
        if (targeted(b) && strcmp(b->state, "running") == 0) {
            if (!state_in(a->state, "stopping", "stopped"))
                fail_msg("dev instance %s is %s after ec2.stop with errors", a->id, a->state);
        } else if (strcmp(a->state, b->state) != 0 &&
                   !(strcmp(b->state, "running") == 0 && strcmp(a->state, "pending") == 0)) {
            fail_msg("instance %s went from %s to %s", a->id, b->state, a->state);
        }
    }
    json_t *log = calls();
    json_t *cs = json_object_get(log, "calls");
    json_t *seen = json_object();
    size_t errors = 0;
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        errors += json_integer_value(json_object_get(c, "status")) == 503;
        if (strcmp(json_string_value(json_object_get(c, "action")), "StopInstances") != 0 ||
            json_integer_value(json_object_get(c, "status")) != 200)
            continue;
        const char *id =
            json_string_value(json_object_get(json_object_get(c, "params"), "InstanceId.1"));
        if (json_object_get(seen, id))
            fail_msg("StopInstances of %s succeeded twice", id);
        json_object_set_new(seen, id, json_true());
    }
    assert_true(errors > 0);
    json_decref(seen);
    json_decref(log);
    free(before.v);
    free(after.v);
}

/* Target expansion as the worker sees it: an account id the tenant has not
 * registered is reported (the run is partial), "all" accounts are the
 * verified ones (a pending member is left out), "all" regions each
 * account's own. Dry runs: nothing changes. */
static void test_target_expansion(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    const char *p[1] = {W.sb.member_ids[2]};
    char out[8];
    wt_query1("UPDATE aws_accounts SET status = 'pending', regions = '{}' WHERE account_id = $1"
              " RETURNING 'x'",
              1, p, out, sizeof out);
    char *one = xasprintf("{\"operation\": \"ec2.reboot\", \"dry_run\": true, \"target\": "
                          "{\"accounts\": [\"999999999999\", \"%s\"], \"regions\": [\"%s\"], "
                          "\"selector\": {\"state\": \"running\"}}}",
                          W.sb.member_ids[0], SBX_REGION2);
    static const char all[] = "{\"operation\": \"ec2.reboot\", \"dry_run\": true, \"target\": "
                              "{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": "
                              "{\"tags\": {\"env\": null}, \"name\": \"*\"}}}";
    char jobs[2][QUEUE_ID_LEN];
    wt_enqueue(W.tenant_a, "ops.run", one, "ops@example.com", NULL, jobs[0]);
    wt_enqueue(W.tenant_a, "ops.run", all, "ops@example.com", NULL, jobs[1]);
    free(one);
    wt_worker w;
    wt_worker_start(&w, NULL);
    char st[32];
    wt_wait_state(jobs[0], "succeeded|failed", 60000, st, sizeof st);
    assert_string_equal(st, "succeeded");
    wt_wait_state(jobs[1], "succeeded|failed", 60000, st, sizeof st);
    assert_string_equal(st, "succeeded");
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 20000), 0);

    json_t *r = wt_job_result(jobs[0]);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "partial");
    json_t *errors = json_object_get(r, "errors");
    assert_int_equal(json_array_size(errors), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "account")),
                        "999999999999");
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "error")),
                        "not registered with this tenant");
    json_t *res = json_object_get(r, "resources");
    assert_true(json_array_size(res) > 0);
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *x = json_array_get(res, i);
        assert_string_equal(json_string_value(json_object_get(x, "account")), W.sb.member_ids[0]);
        assert_string_equal(json_string_value(json_object_get(x, "region")), SBX_REGION2);
        assert_string_equal(json_string_value(json_object_get(x, "action")), "would reboot");
    }
    json_decref(r);

    r = wt_job_result(jobs[1]);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "succeeded");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r, "counts"), "work_items")), 4);
    res = json_object_get(r, "resources");
    assert_true(json_array_size(res) > 0);
    for (size_t i = 0; i < json_array_size(res); i++) {
        const char *acct = json_string_value(json_object_get(json_array_get(res, i), "account"));
        assert_true(strcmp(acct, W.sb.member_ids[0]) == 0 || strcmp(acct, W.sb.member_ids[1]) == 0);
    }
    json_decref(r);
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps", NULL), 0);
}

static void test_bad_payloads_fail_for_good(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    static const struct {
        const char *payload, *error;
    } cases[] = {
        {"{\"operation\": \"ec2.explode\"}", "invalid payload: unknown operation 'ec2.explode'"},
        {"{\"operation\": \"ec2.resize\", \"params\": {\"instance_type\": \"M5 large\"}, "
         "\"target\": {\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {\"state\": "
         "\"running\"}}}",
         "invalid payload: ec2.resize: parameter 'instance_type' is 'M5 large': want an instance "
         "type such as m5.large"},
        {"{\"operation\": \"ec2.stop\", \"params\": {\"hibernate\": 1}, \"target\": {}}",
         "invalid payload: ec2.stop: parameter 'hibernate' is 1: want true or false"},
        {"{\"operation\": \"ec2.stop\", \"target\": {\"accounts\": \"all\", \"regions\": \"all\", "
         "\"selector\": {}}}",
         "invalid payload: target.selector is empty"},
    };
    char jobs[4][QUEUE_ID_LEN];
    for (size_t i = 0; i < 4; i++)
        wt_enqueue(W.tenant_a, "ops.run", cases[i].payload, "ops@example.com", NULL, jobs[i]);
    wt_worker w;
    wt_worker_start(&w, NULL);
    for (size_t i = 0; i < 4; i++) {
        char st[32], msg[1024];
        wt_wait_state(jobs[i], "succeeded|failed", 30000, st, sizeof st);
        assert_string_equal(st, "failed");
        const char *p[1] = {jobs[i]};
        wt_query1("SELECT last_error FROM jobs WHERE id = $1", 1, p, msg, sizeof msg);
        if (strncmp(msg, cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("job %zu failed with '%s', want '%s...'", i, msg, cases[i].error);
        assert_int_equal(wt_query_long("SELECT attempts FROM jobs WHERE id = $1", jobs[i]), 1);
    }
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 20000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_bad_payloads_fail_for_good, wt_each),
        cmocka_unit_test_setup(test_target_expansion, wt_each),
        cmocka_unit_test_setup(test_dry_run_changes_nothing, wt_each),
        cmocka_unit_test_setup(test_stop_dev_instances, wt_each),
        cmocka_unit_test_setup(test_start_survives_sigkill, wt_each),
        cmocka_unit_test_setup(test_stop_with_errors, wt_each),
    };
    return cmocka_run_group_tests(tests, group_setup, wt_teardown);
}
