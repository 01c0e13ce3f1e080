/* ec2.resize end to end: the real escher-worker resizes the instances tagged
 * env=dev in two regions of three member accounts of escher-sandbox, whose
 * stops and starts take SBX_STATE_DELAY seconds (--state-delay) on its
 * clock, so the job's waits for "stopped" and "running" really wait.
 *
 * The world: instances alternate env=dev and env=prod, running and stopped
 * (positions 0 mod 4 running), all of type t3.micro. The management account
 * is not registered: its dev instances must stay as they are.
 *
 * - a dry run: StopInstances and ModifyInstanceAttribute with DryRun only,
 *   "would resize from t3.micro to m5.large", no step, GET /state unchanged;
 * - the run: dev instances that ran run again with the new type, stopped
 *   ones have it and stay stopped, everything else untouched; one successful
 *   stop, modify and start per instance;
 * - a worker SIGKILLed once some phases are done (mid-wait or mid-call), a
 *   second worker finishing the resize: no step recorded as done twice, no
 *   mutating call succeeding twice for an instance, and instances that ran
 *   before the job running again (the first attempt's recorded state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "wtest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OLD_TYPE "t3.micro"

static void edit(json_t *state)
{
    json_t *accounts = json_object_get(state, "accounts");
    for (size_t a = 0; a < json_array_size(accounts); a++) {
        json_t *regions = json_object_get(json_array_get(accounts, a), "regions");
        for (size_t r = 0; r < json_array_size(regions); r++) {
            json_t *arr = json_object_get(json_array_get(regions, r), "instances");
            for (size_t i = 0; i < json_array_size(arr); i++) {
                json_t *x = json_array_get(arr, i);
                wt_set_tag(x, "env", i % 2 == 0 ? "dev" : "prod");
                json_object_set_new(x, "type", json_string(OLD_TYPE));
                const char *st = json_string_value(json_object_get(x, "state"));
                if (strcmp(st, "terminated") != 0)
                    json_object_set_new(x, "state",
                                        json_string(i % 4 == 0 ? "running" : "stopped"));
                json_object_del(x, "transition_at");
            }
        }
    }
}

static int group_setup(void **state)
{
    W.edit_world = edit;
    return wt_setup(state);
}

/* One instance as GET /state has it. */
typedef struct inst {
    char account[16], region[32], id[40], state[24], type[32];
    bool dev;
} inst;

typedef struct world {
    inst *v;
    size_t n;
} world;

/* Every instance, in a stable order. GET /state shows the state last set;
 * "settle" reads a state whose transition time has passed as the one it
 * moves to, as the EC2 API does. */
static world snapshot(bool settle)
{
    json_t *s = sbx_state(&W.sb);
    world w = {0};
    size_t cap = 0;
    json_t *accounts = json_object_get(s, "accounts");
    for (size_t a = 0; a < json_array_size(accounts); a++) {
        json_t *acct = json_array_get(accounts, a);
        json_t *regions = json_object_get(acct, "regions");
        for (size_t r = 0; r < json_array_size(regions); r++) {
            json_t *reg = json_array_get(regions, r);
            json_t *arr = json_object_get(reg, "instances");
            for (size_t i = 0; i < json_array_size(arr); i++) {
                json_t *x = json_array_get(arr, i);
                if (w.n == cap) {
                    cap = cap ? cap * 2 : 64;
                    w.v = xreallocarray(w.v, cap, sizeof *w.v);
                }
                inst *in = &w.v[w.n++];
                memset(in, 0, sizeof *in);
                const char *acct_id = json_string_value(json_object_get(acct, "id"));
                snprintf(in->account, sizeof in->account, "%s", acct_id);
                snprintf(in->region, sizeof in->region, "%s",
                         json_string_value(json_object_get(reg, "name")));
                snprintf(in->id, sizeof in->id, "%s", json_string_value(json_object_get(x, "id")));
                snprintf(in->state, sizeof in->state, "%s",
                         json_string_value(json_object_get(x, "state")));
                snprintf(in->type, sizeof in->type, "%s",
                         json_string_value(json_object_get(x, "type")));
                const char *env = wt_tag_of(x, "env");
                in->dev = wt_is_member(acct_id) && env && strcmp(env, "dev") == 0;
                if (settle && strcmp(in->state, "stopping") == 0)
                    snprintf(in->state, sizeof in->state, "stopped");
                if (settle && strcmp(in->state, "pending") == 0)
                    snprintf(in->state, sizeof in->state, "running");
            }
        }
    }
    json_decref(s);
    return w;
}

static void enqueue(const char *type, bool dry_run, char job[QUEUE_ID_LEN])
{
    char *body = xasprintf("{\"operation\": \"ec2.resize\", \"params\": {\"instance_type\": "
                           "\"%s\"}, \"dry_run\": %s, \"target\": {\"accounts\": [\"%s\", "
                           "\"%s\", \"%s\"], \"regions\": \"all\", \"selector\": {\"tags\": "
                           "{\"env\": [\"dev\"]}}}}",
                           type, dry_run ? "true" : "false", W.sb.member_ids[0], W.sb.member_ids[1],
                           W.sb.member_ids[2]);
    wt_enqueue(W.tenant_a, "ops.run", body, "ops@example.com", NULL, job);
    free(body);
}

static json_t *finished(const char *job, const char *st)
{
    json_t *r = wt_job_result(job);
    if (strcmp(st, "succeeded") != 0 ||
        strcmp(json_string_value(json_object_get(r, "state")), "succeeded") != 0) {
        char *text = json_dumps(r, JSON_INDENT(1));
        fail_msg("ec2.resize ended %s: %s", st, text);
    }
    return r;
}

static json_t *run_resize(const char *type, bool dry_run, char job[QUEUE_ID_LEN])
{
    json_decref(sbx_admin(&W.sb, "DELETE", "/calls", NULL));
    enqueue(type, dry_run, job);
    wt_worker w;
    wt_worker_start(&w, NULL);
    char st[32];
    wt_wait_state(job, "succeeded|failed", 240000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 20000), 0);
    return finished(job, st);
}

/* Calls of the log named action: how many, how many answered 200, each in
 * a member account, DryRun as want_dry says; no instance's call succeeding
 * twice. */
static size_t calls_of(const char *action, bool want_dry, size_t *ok)
{
    json_t *log = sbx_admin(&W.sb, "GET", "/calls?since=0&limit=100000", NULL);
    json_t *cs = json_object_get(log, "calls");
    json_t *seen = json_object();
    size_t n = 0;
    *ok = 0;
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        if (strcmp(json_string_value(json_object_get(c, "action")), action) != 0)
            continue;
        n++;
        assert_true(wt_is_member(json_string_value(json_object_get(c, "account"))));
        json_t *params = json_object_get(c, "params");
        json_t *dry = json_object_get(params, "DryRun");
        if (want_dry) {
            assert_string_equal(json_string_value(dry), "true");
            assert_string_equal(json_string_value(json_object_get(c, "error_code")),
                                "DryRunOperation");
        } else {
            assert_null(dry);
        }
        if (json_integer_value(json_object_get(c, "status")) != 200)
            continue;
        const char *id = json_string_value(json_object_get(params, "InstanceId.1"));
        if (id == NULL)
            id = json_string_value(json_object_get(params, "InstanceId"));
        assert_non_null(id);
        if (json_object_get(seen, id))
            fail_msg("%s of %s succeeded twice", action, id);
        json_object_set_new(seen, id, json_true());
        (*ok)++;
    }
    json_decref(seen);
    json_decref(log);
    return n;
}

/* Checks after against before once every dev instance was resized to
 * type: dev instances that ran run with it, stopped ones have it and are
 * stopped, terminated and other instances are as they were. */
static void check_resized(const world *before, const world *after, const char *type)
{
    assert_int_equal(after->n, before->n);
    for (size_t i = 0; i < after->n; i++) {
        const inst *b = &before->v[i], *a = &after->v[i];
        assert_string_equal(a->id, b->id);
        bool live = strcmp(b->state, "terminated") != 0;
        if (b->dev && live) {
            if (strcmp(a->type, type) != 0)
                fail_msg("dev instance %s (%s) is %s, want %s", a->id, a->account, a->type, type);
            if (strcmp(a->state, b->state) != 0)
                fail_msg("dev instance %s was %s before the resize and is %s after", a->id,
                         b->state, a->state);
        } else if (strcmp(a->type, b->type) != 0 || strcmp(a->state, b->state) != 0) {
            fail_msg("instance %s of %s (%s) went from %s %s to %s %s", a->id, a->account,
                     b->dev ? "dev, terminated" : "not targeted", b->state, b->type, a->state,
                     a->type);
        }
    }
}

static void counts(const world *w, size_t *running, size_t *stopped, size_t *dead)
{
    *running = *stopped = *dead = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (!w->v[i].dev)
            continue;
        *running += strcmp(w->v[i].state, "running") == 0;
        *stopped += strcmp(w->v[i].state, "stopped") == 0;
        *dead += strcmp(w->v[i].state, "terminated") == 0;
    }
}

static size_t outcome_count(const json_t *r, const char *outcome)
{
    size_t n = 0;
    json_t *res = json_object_get(r, "resources");
    for (size_t i = 0; i < json_array_size(res); i++)
        n += strcmp(json_string_value(json_object_get(json_array_get(res, i), "outcome")),
                    outcome) == 0;
    return n;
}

static long steps_done(const char *job)
{
    return wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1 AND state = 'done'",
                         job);
}

/* ---- tests ---- */

static void test_resize(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    sbx_advance(&W.sb, 10);
    world before = snapshot(true);
    size_t running, stopped, dead;
    counts(&before, &running, &stopped, &dead);
    assert_true(running >= 3 && stopped >= 3);

    /* The dry run. */
    json_t *s0 = sbx_state(&W.sb);
    char job[QUEUE_ID_LEN];
    json_t *r = run_resize("m5.large", true, job);
    json_t *s1 = sbx_state(&W.sb);
    if (!json_equal(json_object_get(s0, "accounts"), json_object_get(s1, "accounts")))
        fail_msg("the dry run changed the world");
    json_decref(s0);
    json_decref(s1);
    size_t ok;
    assert_int_equal(calls_of("StopInstances", true, &ok), running);
    assert_int_equal(calls_of("ModifyInstanceAttribute", true, &ok), running + stopped);
    assert_int_equal(calls_of("StartInstances", true, &ok), running);
    assert_int_equal(outcome_count(r, "planned"), running + stopped);
    assert_int_equal(outcome_count(r, "nothing to do"), dead);
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1", job), 0);
    json_t *res = json_object_get(r, "resources");
    for (size_t i = 0; i < json_array_size(res); i++) {
        const json_t *e = json_array_get(res, i);
        const char *action = json_string_value(json_object_get(e, "action"));
        const char *before_state = json_string_value(json_object_get(e, "before"));
        if (strcmp(before_state, "terminated") == 0)
            continue;
        const char *want = strcmp(before_state, "running") == 0
                               ? "would stop, would resize from " OLD_TYPE " to m5.large, would "
                                 "start"
                               : "would resize from " OLD_TYPE " to m5.large";
        if (strcmp(action, want) != 0)
            fail_msg("dry run of %s (%s): action '%s', want '%s'",
                     json_string_value(json_object_get(e, "id")), before_state, action, want);
    }
    json_decref(r);

    /* The run. */
    uint64_t t0 = timeutil_mono_ms();
    r = run_resize("m5.large", false, job);
    print_message("resize of %zu running and %zu stopped dev instances: %.1f s\n", running, stopped,
                  (double)(timeutil_mono_ms() - t0) / 1000);
    assert_int_equal(outcome_count(r, "done"), running + stopped);
    assert_int_equal(outcome_count(r, "nothing to do"), dead);
    assert_int_equal(calls_of("StopInstances", false, &ok), running);
    assert_int_equal(ok, running);
    assert_int_equal(calls_of("ModifyInstanceAttribute", false, &ok), running + stopped);
    assert_int_equal(ok, running + stopped);
    assert_int_equal(calls_of("StartInstances", false, &ok), running);
    assert_int_equal(ok, running);
    /* Six steps per live instance (check, stop, wait-stopped, modify, start,
     * wait-running), one per terminated one. */
    assert_int_equal(steps_done(job), (long)(6 * (running + stopped) + dead));
    json_decref(r);
    world after = snapshot(true);
    check_resized(&before, &after, "m5.large");
    free(before.v);
    free(after.v);
}

/* Waits until the job has at least n done steps. */
static void wait_steps(const char *job, long n, int timeout_ms)
{
    uint64_t deadline = timeutil_mono_ms() + (uint64_t)timeout_ms;
    while (steps_done(job) < n) {
        if (timeutil_mono_ms() > deadline)
            fail_msg("fewer than %ld steps done within %d ms", n, timeout_ms);
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
}

static void test_resize_survives_sigkill(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    sbx_advance(&W.sb, 10);
    world before = snapshot(true);
    size_t running, stopped, dead;
    counts(&before, &running, &stopped, &dead);
    json_decref(sbx_admin(&W.sb, "DELETE", "/calls", NULL));
    char job[QUEUE_ID_LEN];
    enqueue("c5.xlarge", false, job);
    const char *args[] = {"--lease", "2s", NULL};
    wt_worker a;
    wt_worker_start(&a, args);
    /* Past the first instances' stops: the waits are under way. */
    long total = (long)(6 * (running + stopped) + dead);
    wait_steps(job, total / 3, 120000);
    wt_worker_kill(&a);
    long at_kill = steps_done(job);
    assert_true(at_kill < total); /* the kill was mid-run */
    print_message("killed with %ld of %ld steps done\n", at_kill, total);
    wt_worker b;
    wt_worker_start(&b, args);
    char st[32];
    wt_wait_state(job, "succeeded|failed", 240000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&b, SIGTERM, 20000), 0);
    json_t *r = finished(job, st);
    assert_true(wt_query_long("SELECT attempts FROM jobs WHERE id = $1", job) >= 2);
    assert_int_equal(steps_done(job), total);
    json_decref(r);

    /* No step recorded as done twice, no mutating call succeeding twice. */
    char target[64];
    snprintf(target, sizeof target, "job:%s", job);
    assert_int_equal(wt_query_long("SELECT count(*) FROM (SELECT detail->>'step' FROM audit_log"
                                   " WHERE action = 'job.step' AND target = $1"
                                   " AND (detail->>'ok')::bool GROUP BY 1 HAVING count(*) > 1) d",
                                   target),
                     0);
    size_t ok;
    calls_of("StopInstances", false, &ok);
    assert_int_equal(ok, running);
    calls_of("ModifyInstanceAttribute", false, &ok);
    assert_int_equal(ok, running + stopped);
    calls_of("StartInstances", false, &ok);
    assert_int_equal(ok, running);
    /* What ran before the job runs again, from the first attempt's record. */
    world after = snapshot(true);
    check_resized(&before, &after, "c5.xlarge");
    free(before.v);
    free(after.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_resize, wt_each),
        cmocka_unit_test_setup(test_resize_survives_sigkill, wt_each),
    };
    return cmocka_run_group_tests(tests, group_setup, wt_teardown);
}
