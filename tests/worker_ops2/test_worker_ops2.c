/* ops.run's executors beyond ec2.start/stop/reboot, end to end: the real
 * escher-worker runs tags.apply, ec2.snapshot_volumes, rds.stop, rds.start,
 * rds.snapshot, asg.set_capacity and ebs.delete_unattached on the resources
 * tagged env=dev in two regions of three member accounts. Each test runs the
 * operation as a dry run first and proves the world did not change (and, for
 * EC2, that every mutating call carried DryRun; for RDS and Auto Scaling that
 * none was made), then for real and proves exactly the targeted resources
 * changed, as the sandbox's GET /state shows.
 *
 * The world: every instance, volume, DB instance and Auto Scaling group gets
 * env=dev (even positions) or env=prod (odd); DB instances are all made
 * available; instances alternate running and stopped. The management account
 * is not registered: its dev resources must stay as they are. */
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

/* Makes sure a region has at least two of a kind by cloning the first with
 * a new identity (id_key, plus "arn" when it has one). */
static void at_least_two(json_t *region, const char *kind, const char *id_key, const char *acct)
{
    json_t *arr = json_object_get(region, kind);
    if (json_array_size(arr) == 0 || json_array_size(arr) >= 2)
        return;
    json_t *copy = json_deep_copy(json_array_get(arr, 0));
    char *id = xasprintf("%s-twin", json_string_value(json_object_get(copy, id_key)));
    json_object_set_new(copy, id_key, json_string(id));
    if (json_object_get(copy, "arn")) {
        const char *arn = json_string_value(json_object_get(copy, "arn"));
        const char *slash = strrchr(arn, strcmp(kind, "dbs") == 0 ? ':' : '/');
        char *na = xasprintf("%.*s%s", (int)(slash - arn + 1), arn, id);
        json_object_set_new(copy, "arn", json_string(na));
        free(na);
    }
    if (strcmp(kind, "asgs") == 0)
        json_object_set_new(copy, "instance_ids", json_array());
    (void)acct;
    free(id);
    json_array_append_new(arr, copy);
}

static void tag_world(json_t *state)
{
    json_t *accounts = json_object_get(state, "accounts");
    for (size_t a = 0; a < json_array_size(accounts); a++) {
        json_t *acct = json_array_get(accounts, a);
        json_t *regions = json_object_get(acct, "regions");
        for (size_t r = 0; r < json_array_size(regions); r++) {
            json_t *reg = json_array_get(regions, r);
            const char *id = json_string_value(json_object_get(acct, "id"));
            at_least_two(reg, "dbs", "id", id);
            at_least_two(reg, "asgs", "name", id);
            static const char *const kinds[] = {"instances", "volumes", "dbs", "asgs"};
            for (size_t k = 0; k < 4; k++) {
                json_t *arr = json_object_get(reg, kinds[k]);
                for (size_t i = 0; i < json_array_size(arr); i++) {
                    json_t *x = json_array_get(arr, i);
                    wt_set_tag(x, "env", i % 2 == 0 ? "dev" : "prod");
                    if (k == 0) {
                        wt_set_tag(x, "team", "blue");
                        const char *st = json_string_value(json_object_get(x, "state"));
                        if (strcmp(st, "terminated") != 0)
                            json_object_set_new(x, "state",
                                                json_string(i % 4 == 0 ? "running" : "stopped"));
                    }
                    if (k == 2)
                        json_object_set_new(x, "status", json_string("available"));
                }
            }
        }
    }
}

static int group_setup(void **state)
{
    W.edit_world = tag_world;
    return wt_setup(state);
}

/* Every object of kind in the world, each as {"account", "region", "x": the
 * object}, in a stable order. */
static json_t *all_of(json_t *state, const char *kind)
{
    json_t *out = json_array();
    json_t *accounts = json_object_get(state, "accounts");
    for (size_t a = 0; a < json_array_size(accounts); a++) {
        json_t *acct = json_array_get(accounts, a);
        json_t *regions = json_object_get(acct, "regions");
        for (size_t r = 0; r < json_array_size(regions); r++) {
            json_t *reg = json_array_get(regions, r);
            json_t *arr = json_object_get(reg, kind);
            for (size_t i = 0; i < json_array_size(arr); i++)
                json_array_append_new(out, json_pack("{s:O, s:O, s:O}", "account",
                                                     json_object_get(acct, "id"), "region",
                                                     json_object_get(reg, "name"), "x",
                                                     json_array_get(arr, i)));
        }
    }
    return out;
}

static const char *acct_of(const json_t *e)
{
    return json_string_value(json_object_get(e, "account"));
}

static json_t *obj_of(const json_t *e)
{
    return json_object_get(e, "x");
}

static bool dev_member(const json_t *e)
{
    const char *env = wt_tag_of(obj_of(e), "env");
    return wt_is_member(acct_of(e)) && env && strcmp(env, "dev") == 0;
}

/* Runs op with params on env=dev of the three members, waits for it,
 * returns its result; the call log holds only its calls. */
static json_t *run_op(const char *op, const char *params, bool dry_run, char job[QUEUE_ID_LEN])
{
    json_decref(sbx_admin(&W.sb, "DELETE", "/calls", NULL));
    char *body = xasprintf("{\"operation\": \"%s\", \"params\": %s, \"dry_run\": %s, \"target\": "
                           "{\"accounts\": [\"%s\", \"%s\", \"%s\"], \"regions\": \"all\", "
                           "\"selector\": {\"tags\": {\"env\": [\"dev\"]}}}}",
                           op, params, dry_run ? "true" : "false", W.sb.member_ids[0],
                           W.sb.member_ids[1], W.sb.member_ids[2]);
    wt_enqueue(W.tenant_a, "ops.run", body, "ops@example.com", NULL, job);
    free(body);
    wt_worker w;
    wt_worker_start(&w, NULL);
    char st[32];
    wt_wait_state(job, "succeeded|failed", 90000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 20000), 0);
    json_t *r = wt_job_result(job);
    if (strcmp(st, "succeeded") != 0 ||
        strcmp(json_string_value(json_object_get(r, "state")), "succeeded") != 0) {
        char *text = json_dumps(r, JSON_INDENT(1));
        fail_msg("%s (dry run %d) ended %s: %s", op, dry_run, st, text);
    }
    assert_int_equal(json_is_true(json_object_get(r, "dry_run")), dry_run);
    return r;
}

/* The mutating calls of the log named action: how many, each checked for
 * DryRun (want_dry) and made in a member account. */
static size_t mutations(const char *action, bool want_dry)
{
    json_t *log = sbx_admin(&W.sb, "GET", "/calls?since=0&limit=100000", NULL);
    json_t *cs = json_object_get(log, "calls");
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        if (strcmp(json_string_value(json_object_get(c, "action")), action) != 0)
            continue;
        n++;
        assert_true(wt_is_member(json_string_value(json_object_get(c, "account"))));
        json_t *dry = json_object_get(json_object_get(c, "params"), "DryRun");
        if (want_dry) {
            assert_string_equal(json_string_value(dry), "true");
            assert_string_equal(json_string_value(json_object_get(c, "error_code")),
                                "DryRunOperation");
        } else {
            assert_null(dry);
        }
    }
    json_decref(log);
    return n;
}

static size_t count_outcome(const json_t *result, const char *outcome)
{
    size_t n = 0;
    json_t *res = json_object_get(result, "resources");
    for (size_t i = 0; i < json_array_size(res); i++)
        n += strcmp(json_string_value(json_object_get(json_array_get(res, i), "outcome")),
                    outcome) == 0;
    return n;
}

static void same_world(json_t *before, json_t *after)
{
    json_t *b = json_deep_copy(before), *a = json_deep_copy(after);
    if (!json_equal(b, a))
        fail_msg("a dry run changed the world");
    json_decref(a);
    json_decref(b);
}

/* The world as GET /state has it, less what moves by itself (clock-driven
 * transition times). */
static json_t *world(void)
{
    json_t *s = sbx_state(&W.sb);
    json_object_del(s, "clock");
    return s;
}

/* world() once every transition an earlier test started has run its course
 * (the sandbox clock moved past the state delay; GET /state settles them):
 * otherwise a stop still in progress could finish between a dry run's
 * before and after and look like a change the dry run made. */
static json_t *settled_world(void)
{
    sbx_advance(&W.sb, SBX_STATE_DELAY + 1);
    return world();
}

/* ---- tests ---- */

static void test_tags_apply(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    json_t *before = settled_world();
    char job[QUEUE_ID_LEN];
    static const char params[] = "{\"tags\": {\"owner\": \"escher-test\"}, \"remove\": [\"team\"]}";
    json_t *r = run_op("tags.apply", params, true, job);
    json_t *mid = world();
    same_world(json_object_get(before, "accounts"), json_object_get(mid, "accounts"));
    json_t *insts = all_of(before, "instances");
    size_t live_dev = 0, dev = 0;
    for (size_t i = 0; i < json_array_size(insts); i++) {
        json_t *e = json_array_get(insts, i);
        dev += dev_member(e);
        live_dev += dev_member(e) &&
                    strcmp(json_string_value(json_object_get(obj_of(e), "state")), "terminated");
    }
    assert_true(live_dev >= 6);
    assert_int_equal(mutations("CreateTags", true), live_dev);
    assert_int_equal(mutations("DeleteTags", true), live_dev);
    assert_int_equal(count_outcome(r, "planned"), live_dev);
    json_decref(r);
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1", job), 0);

    r = run_op("tags.apply", params, false, job);
    assert_int_equal(mutations("CreateTags", false), live_dev);
    assert_int_equal(mutations("DeleteTags", false), live_dev);
    assert_int_equal(count_outcome(r, "done"), live_dev);
    json_t *one = json_array_get(json_object_get(r, "resources"), 0);
    assert_string_equal(json_string_value(json_object_get(one, "action")), "tag, untag");
    assert_int_equal(json_array_size(json_object_get(one, "phases")), 2);
    /* Two steps per live instance, the tags set and the keys removed; one
     * ("nothing to do") per terminated one. */
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1"
                                   " AND state = 'done'",
                                   job),
                     2 * live_dev + (dev - live_dev));
    assert_int_equal(count_outcome(r, "nothing to do"), dev - live_dev);
    json_decref(r);
    json_t *after = world();
    json_t *now = all_of(after, "instances");
    assert_int_equal(json_array_size(now), json_array_size(insts));
    for (size_t i = 0; i < json_array_size(now); i++) {
        json_t *b = json_array_get(insts, i), *a = json_array_get(now, i);
        bool live = strcmp(json_string_value(json_object_get(obj_of(b), "state")), "terminated");
        if (dev_member(b) && live) {
            assert_string_equal(wt_tag_of(obj_of(a), "owner"), "escher-test");
            assert_null(wt_tag_of(obj_of(a), "team"));
        } else if (!json_equal(json_object_get(obj_of(a), "tags"),
                               json_object_get(obj_of(b), "tags"))) {
            fail_msg("instance %s of %s changed tags",
                     json_string_value(json_object_get(obj_of(a), "id")), acct_of(a));
        }
    }
    json_decref(now);
    json_decref(insts);
    json_decref(before);
    json_decref(mid);
    json_decref(after);
}

/* Volumes attached to the dev instances of the members, by id. */
static json_t *dev_instance_volumes(json_t *state)
{
    json_t *insts = all_of(state, "instances");
    json_t *dev = json_object();
    for (size_t i = 0; i < json_array_size(insts); i++) {
        json_t *e = json_array_get(insts, i);
        if (dev_member(e))
            json_object_set_new(dev, json_string_value(json_object_get(obj_of(e), "id")),
                                json_true());
    }
    json_t *vols = all_of(state, "volumes");
    json_t *out = json_object();
    for (size_t i = 0; i < json_array_size(vols); i++) {
        json_t *v = obj_of(json_array_get(vols, i));
        const char *inst = json_string_value(json_object_get(v, "instance_id"));
        if (inst && json_object_get(dev, inst))
            json_object_set_new(out, json_string_value(json_object_get(v, "id")),
                                json_string(inst));
    }
    json_decref(insts);
    json_decref(vols);
    json_decref(dev);
    return out;
}

static void test_snapshot_volumes(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    json_t *before = settled_world();
    json_t *want = dev_instance_volumes(before);
    size_t nvol = json_object_size(want);
    assert_true(nvol >= 6);
    json_t *old = all_of(before, "snapshots");
    size_t snaps_before = json_array_size(old);
    json_decref(old);
    char job[QUEUE_ID_LEN];
    json_t *r = run_op("ec2.snapshot_volumes", "{}", true, job);
    assert_int_equal(count_outcome(r, "planned"), nvol);
    json_decref(r);
    assert_int_equal(mutations("CreateSnapshot", true), nvol);
    json_t *mid = world();
    same_world(json_object_get(before, "accounts"), json_object_get(mid, "accounts"));

    r = run_op("ec2.snapshot_volumes", "{}", false, job);
    assert_int_equal(count_outcome(r, "done"), nvol);
    json_t *res = json_object_get(r, "resources");
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *x = json_array_get(res, i);
        const char *vol = json_string_value(json_object_get(x, "id"));
        assert_non_null(json_object_get(want, vol));
        assert_string_equal(json_string_value(json_object_get(x, "parent")),
                            json_string_value(json_object_get(want, vol)));
        assert_int_equal(strncmp(json_string_value(json_object_get(x, "created")), "snap-", 5), 0);
    }
    assert_int_equal(mutations("CreateSnapshot", false), nvol);
    json_t *after = world();
    json_t *snaps = all_of(after, "snapshots");
    assert_int_equal(json_array_size(snaps), snaps_before + nvol);
    /* Each new snapshot is of a targeted volume, marked with the job. */
    size_t marked = 0;
    for (size_t i = 0; i < json_array_size(snaps); i++) {
        json_t *s = obj_of(json_array_get(snaps, i));
        const char *j = wt_tag_of(s, "escher:job");
        if (j == NULL)
            continue;
        marked++;
        assert_string_equal(j, job);
        const char *vol = json_string_value(json_object_get(s, "volume_id"));
        assert_non_null(json_object_get(want, vol));
        assert_string_equal(wt_tag_of(s, "escher:volume"), vol);
        assert_non_null(wt_tag_of(s, "env")); /* the volume's tags copied */
    }
    assert_int_equal(marked, nvol);
    json_decref(snaps);
    json_decref(r);
    json_decref(want);
    json_decref(before);
    json_decref(mid);
    json_decref(after);
}

static size_t count_dev(json_t *state, const char *kind, const char *field, const char *value)
{
    json_t *all = all_of(state, kind);
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *e = json_array_get(all, i);
        n += dev_member(e) &&
             (field == NULL ||
              strcmp(json_string_value(json_object_get(obj_of(e), field)), value) == 0);
    }
    json_decref(all);
    return n;
}

/* Every object of kind not targeted is as it was; returns the targeted. */
static size_t others_unchanged(json_t *before, json_t *after, const char *kind)
{
    json_t *b = all_of(before, kind), *a = all_of(after, kind);
    assert_int_equal(json_array_size(a), json_array_size(b));
    size_t targeted = 0;
    for (size_t i = 0; i < json_array_size(b); i++) {
        json_t *x = json_array_get(b, i);
        if (dev_member(x)) {
            targeted++;
            continue;
        }
        json_t *bx = json_deep_copy(obj_of(x)), *ax = json_deep_copy(obj_of(json_array_get(a, i)));
        json_object_del(bx, "transition_at");
        json_object_del(ax, "transition_at");
        if (!json_equal(bx, ax))
            fail_msg("%s %d of %s changed though not targeted", kind, (int)i, acct_of(x));
        json_decref(bx);
        json_decref(ax);
    }
    json_decref(a);
    json_decref(b);
    return targeted;
}

static void test_rds(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    json_t *before = settled_world();
    size_t dev = count_dev(before, "dbs", "status", "available");
    assert_true(dev >= 6);
    char job[QUEUE_ID_LEN];
    /* Dry run: "would stop" each, no StopDBInstance sent. */
    json_t *r = run_op("rds.stop", "{}", true, job);
    assert_int_equal(count_outcome(r, "planned"), dev);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "resources"), 0), "action")),
                        "would stop");
    json_decref(r);
    assert_int_equal(mutations("StopDBInstance", false), 0);
    json_t *mid = world();
    same_world(json_object_get(before, "accounts"), json_object_get(mid, "accounts"));

    /* A snapshot of each (available), named after the job. */
    r = run_op("rds.snapshot", "{\"snapshot_prefix\": \"nightly\"}", false, job);
    assert_int_equal(count_outcome(r, "done"), dev);
    json_t *res = json_object_get(r, "resources");
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *x = json_array_get(res, i);
        char prefix[128];
        snprintf(prefix, sizeof prefix, "nightly-%s-", json_string_value(json_object_get(x, "id")));
        assert_int_equal(
            strncmp(json_string_value(json_object_get(x, "created")), prefix, strlen(prefix)), 0);
    }
    json_decref(r);
    assert_int_equal(mutations("CreateDBSnapshot", false), dev);

    /* Stop: exactly the dev instances of the members. */
    r = run_op("rds.stop", "{}", false, job);
    assert_int_equal(count_outcome(r, "done"), dev);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "resources"), 0), "after")),
                        "stopping");
    json_decref(r);
    assert_int_equal(mutations("StopDBInstance", false), dev);
    json_t *after = world();
    assert_int_equal(others_unchanged(before, after, "dbs"), dev);
    assert_int_equal(count_dev(after, "dbs", "status", "stopping"), dev);

    /* Once stopped, start brings them back; a second stop finds nothing
     * to do for those still starting. */
    sbx_advance(&W.sb, 10);
    r = run_op("rds.start", "{}", false, job);
    assert_int_equal(count_outcome(r, "done"), dev);
    json_decref(r);
    assert_int_equal(mutations("StartDBInstance", false), dev);
    r = run_op("rds.start", "{}", false, job);
    assert_int_equal(count_outcome(r, "nothing to do"), dev);
    json_decref(r);
    assert_int_equal(mutations("StartDBInstance", false), 0);
    json_decref(before);
    json_decref(mid);
    json_decref(after);
}

static void test_asg(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    json_t *before = settled_world();
    size_t dev = count_dev(before, "asgs", NULL, NULL);
    assert_true(dev >= 6);
    char job[QUEUE_ID_LEN];
    static const char params[] = "{\"min\": 0, \"max\": 0, \"desired\": 0}";
    json_t *r = run_op("asg.set_capacity", params, true, job);
    assert_int_equal(count_outcome(r, "planned") + count_outcome(r, "nothing to do"), dev);
    json_decref(r);
    assert_int_equal(mutations("UpdateAutoScalingGroup", false), 0);
    json_t *mid = world();
    same_world(json_object_get(before, "accounts"), json_object_get(mid, "accounts"));

    r = run_op("asg.set_capacity", params, false, job);
    size_t done = count_outcome(r, "done");
    assert_int_equal(done + count_outcome(r, "nothing to do"), dev);
    json_decref(r);
    assert_int_equal(mutations("UpdateAutoScalingGroup", false), done);
    json_t *after = world();
    assert_int_equal(others_unchanged(before, after, "asgs"), dev);
    json_t *all = all_of(after, "asgs");
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *e = json_array_get(all, i);
        if (!dev_member(e))
            continue;
        assert_int_equal(json_integer_value(json_object_get(obj_of(e), "min_size")), 0);
        assert_int_equal(json_integer_value(json_object_get(obj_of(e), "max_size")), 0);
        assert_int_equal(json_integer_value(json_object_get(obj_of(e), "desired")), 0);
    }
    json_decref(all);
    /* Again: already at that capacity, no call. */
    r = run_op("asg.set_capacity", params, false, job);
    assert_int_equal(count_outcome(r, "nothing to do"), dev);
    json_decref(r);
    assert_int_equal(mutations("UpdateAutoScalingGroup", false), 0);
    json_decref(before);
    json_decref(mid);
    json_decref(after);
}

static void test_delete_unattached(void **state)
{
    (void)state;
    wt_need();
    wt_register_members();
    json_t *before = settled_world();
    json_t *vols = all_of(before, "volumes");
    size_t free_dev = 0, attached_dev = 0;
    for (size_t i = 0; i < json_array_size(vols); i++) {
        json_t *e = json_array_get(vols, i);
        if (!dev_member(e))
            continue;
        if (json_string_value(json_object_get(obj_of(e), "instance_id")))
            attached_dev++;
        else
            free_dev++;
    }
    assert_true(free_dev >= 2);
    assert_true(attached_dev >= 2);
    char job[QUEUE_ID_LEN];
    static const char params[] = "{\"min_age_days\": 0}";
    json_t *r = run_op("ebs.delete_unattached", params, true, job);
    assert_int_equal(count_outcome(r, "planned"), free_dev);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "resources"), 0), "action")),
                        "would snapshot, would delete");
    json_decref(r);
    assert_int_equal(mutations("CreateSnapshot", true), free_dev);
    assert_int_equal(mutations("DeleteVolume", true), free_dev);
    json_t *mid = world();
    same_world(json_object_get(before, "accounts"), json_object_get(mid, "accounts"));

    r = run_op("ebs.delete_unattached", params, false, job);
    assert_int_equal(count_outcome(r, "done"), free_dev);
    json_decref(r);
    assert_int_equal(mutations("CreateSnapshot", false), free_dev);
    assert_int_equal(mutations("DeleteVolume", false), free_dev);
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1"
                                   " AND state = 'done' AND name LIKE '%:delete'",
                                   job),
                     free_dev);
    /* Exactly the unattached dev volumes of the members are gone, each with
     * a snapshot of it; every attached one is still there. */
    json_t *after = world();
    json_t *now = all_of(after, "volumes");
    assert_int_equal(json_array_size(now), json_array_size(vols) - free_dev);
    json_t *left = json_object();
    for (size_t i = 0; i < json_array_size(now); i++)
        json_object_set_new(
            left, json_string_value(json_object_get(obj_of(json_array_get(now, i)), "id")),
            json_true());
    json_t *snaps = all_of(after, "snapshots");
    for (size_t i = 0; i < json_array_size(vols); i++) {
        json_t *e = json_array_get(vols, i);
        const char *id = json_string_value(json_object_get(obj_of(e), "id"));
        bool gone = json_object_get(left, id) == NULL;
        bool should =
            dev_member(e) && !json_string_value(json_object_get(obj_of(e), "instance_id"));
        if (gone != should)
            fail_msg("volume %s of %s: gone %d, should be %d", id, acct_of(e), gone, should);
        if (!should)
            continue;
        bool snapped = false;
        for (size_t k = 0; k < json_array_size(snaps) && !snapped; k++) {
            json_t *s = obj_of(json_array_get(snaps, k));
            const char *v = json_string_value(json_object_get(s, "volume_id"));
            snapped = v && strcmp(v, id) == 0 && wt_tag_of(s, "escher:job") &&
                      strcmp(wt_tag_of(s, "escher:job"), job) == 0;
        }
        if (!snapped)
            fail_msg("volume %s was deleted without its snapshot", id);
    }
    json_decref(snaps);
    json_decref(left);
    json_decref(now);
    json_decref(vols);
    json_decref(before);
    json_decref(mid);
    json_decref(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_tags_apply, wt_each),
        cmocka_unit_test_setup(test_snapshot_volumes, wt_each),
        cmocka_unit_test_setup(test_rds, wt_each),
        cmocka_unit_test_setup(test_asg, wt_each),
        cmocka_unit_test_setup(test_delete_unattached, wt_each),
    };
    return cmocka_run_group_tests(tests, group_setup, wt_teardown);
}
