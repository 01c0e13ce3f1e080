/* The APIs that change the world, each scenario once per mode on its own
 * resources (the blocking run uses the first member account, the
 * asynchronous run the second): EC2 instance states across POST
 * /clock/advance, instance type, tags, snapshots and volumes; RDS stop,
 * start and snapshot; the IAM credential report; an Auto Scaling group's
 * bounds. Errors are asserted as ERR_AWS with code and request id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sbx_fixture.h"
#include "sbx_tests.h"

#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EC2_VERSION "2016-11-15"
#define RDS_VERSION "2014-10-31"

/* The scenario's account and client. */
typedef struct scene {
    sbx *s;
    sbx_mode mode;
    const char *account;
    sbx_client *c;
    json_t *world;
} scene;

static void scene_init(scene *sc, void **state, const char *account)
{
    sc->s = g_sbx;
    sc->mode = *(sbx_mode *)*state;
    sc->world = sbx_state(sc->s);
    if (account == NULL)
        account = sc->s->member_ids[sc->mode == SBX_BLOCKING ? 0 : 1];
    sc->account = account;
    char profile[32];
    sc->c = sbx_client_profile(sc->s, sbx_profile_of(sc->s, account, profile, sizeof profile));
}

static void scene_free(scene *sc)
{
    json_decref(sc->world);
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (v == NULL)
        fail_msg("world object has no string %s", key);
    return v;
}

/* Sends q (freed) in the scene's mode; the answer's doc and root (EC2) or
 * <result> (query) on success. On failure returns NULL with e filled. */
static xml_doc *xcall(scene *sc, query_params *q, const char *service, const char *op,
                      aws_protocol proto, const char *region, const char *result,
                      const xml_node **out, err *e)
{
    aws_request req;
    sbx_query_request(q, service, op, proto, region, &req);
    http_response resp = HTTP_RESPONSE_INIT;
    bool ok = sbx_call(sc->c, sc->mode, &req, &resp, e);
    aws_request_free(&req);
    if (!ok)
        return NULL;
    xml_doc *doc = sbx_xml(&resp, result, out);
    http_response_free(&resp);
    return doc;
}

/* The same, asserting success. */
static xml_doc *send_ok(scene *sc, query_params *q, const char *service, const char *op,
                        aws_protocol proto, const char *region, const char *result,
                        const xml_node **out)
{
    err e = {0};
    xml_doc *doc = xcall(sc, q, service, op, proto, region, result, out, &e);
    if (doc == NULL)
        fail_msg("%s (%s): [%s] %s", op, sbx_mode_name(sc->mode), err_code_name(e.code), e.message);
    return doc;
}

/* The same, asserting an AWS error. */
static void send_fails(scene *sc, query_params *q, const char *service, const char *op,
                       aws_protocol proto, const char *region, int status, const char *code)
{
    err e = {0};
    const xml_node *root;
    xml_doc *doc = xcall(sc, q, service, op, proto, region, NULL, &root, &e);
    xml_free(doc);
    sbx_assert_aws_error(sc->s, doc != NULL, &e, status, code);
}

/* ---- EC2 instances ---- */

/* State name and type of one instance, by DescribeInstances InstanceId.1. */
static void instance_of(scene *sc, const char *region, const char *id, char *state, char *type)
{
    query_params q;
    query_init(&q, "DescribeInstances", EC2_VERSION);
    query_add(&q, "InstanceId.1", id);
    const xml_node *root;
    xml_doc *doc = send_ok(sc, &q, "ec2", "DescribeInstances", AWS_PROTO_EC2, region, NULL, &root);
    const xml_node *in = xml_find(root, "reservationSet/item/instancesSet/item");
    assert_non_null(in);
    assert_null(xml_next(xml_find(root, "reservationSet/item")));
    assert_string_equal(sbx_text(in, "instanceId"), id);
    snprintf(state, 32, "%s", sbx_text(in, "instanceState/name"));
    if (type)
        snprintf(type, 32, "%s", sbx_text(in, "instanceType"));
    xml_free(doc);
}

static void assert_instance_state(scene *sc, const char *region, const char *id, const char *want)
{
    char got[32];
    instance_of(sc, region, id, got, NULL);
    if (strcmp(got, want) != 0)
        fail_msg("%s is %s, expected %s", id, got, want);
}

/* Start/Stop/Terminate on one instance: asserts the state change it answers. */
static void change_state(scene *sc, const char *op, const char *region, const char *id,
                         const char *prev, int prev_code, const char *cur, int cur_code)
{
    query_params q;
    query_init(&q, op, EC2_VERSION);
    query_add(&q, "InstanceId.1", id);
    const xml_node *root;
    xml_doc *doc = send_ok(sc, &q, "ec2", op, AWS_PROTO_EC2, region, NULL, &root);
    const xml_node *it = xml_find(root, "instancesSet/item");
    assert_non_null(it);
    assert_string_equal(sbx_text(it, "instanceId"), id);
    assert_string_equal(sbx_text(it, "previousState/name"), prev);
    assert_string_equal(sbx_text(it, "currentState/name"), cur);
    int64_t code;
    err e = {0};
    bool ok = xml_find_int64(it, "previousState/code", &code, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(code, prev_code);
    ok = xml_find_int64(it, "currentState/code", &code, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(code, cur_code);
    xml_free(doc);
}

static void instance_op_fails(scene *sc, const char *op, const char *region, const char *id,
                              const char *id2, const char *code)
{
    query_params q;
    query_init(&q, op, EC2_VERSION);
    query_add(&q, "InstanceId.1", id);
    if (id2)
        query_add(&q, "InstanceId.2", id2);
    send_fails(sc, &q, "ec2", op, AWS_PROTO_EC2, region, 400, code);
}

static void assert_return_true(const xml_node *root)
{
    bool r = false;
    err e = {0};
    bool ok = xml_find_bool(root, "return", &r, &e);
    SBX_ASSERT_OK(ok, e);
    assert_true(r);
}

static void modify_type(scene *sc, const char *region, const char *id, const char *type,
                        const char *fails_with)
{
    query_params q;
    query_init(&q, "ModifyInstanceAttribute", EC2_VERSION);
    query_add(&q, "InstanceId", id);
    query_add(&q, "InstanceType.Value", type);
    if (fails_with) {
        send_fails(sc, &q, "ec2", "ModifyInstanceAttribute", AWS_PROTO_EC2, region, 400,
                   fails_with);
        return;
    }
    const xml_node *root;
    xml_doc *doc =
        send_ok(sc, &q, "ec2", "ModifyInstanceAttribute", AWS_PROTO_EC2, region, NULL, &root);
    assert_return_true(root);
    xml_free(doc);
}

/* The n-th instance of the region in the given state (world order). */
static const char *world_instance(json_t *region, const char *state, int nth)
{
    json_t *insts = json_object_get(region, "instances");
    for (size_t i = 0; i < json_array_size(insts); i++) {
        json_t *in = json_array_get(insts, i);
        if (strcmp(jstr(in, "state"), state) == 0 && nth-- == 0)
            return jstr(in, "id");
    }
    fail_msg("no %s instance #%d in the region", state, nth);
    return NULL;
}

void test_ec2_lifecycle(void **state)
{
    scene sc;
    scene_init(&sc, state, NULL);
    const char *rg = SBX_REGION1;
    json_t *wr = sbx_world_region(sbx_world_account(sc.world, sc.account), rg);
    char r[32], b[32], st[32];
    snprintf(r, sizeof r, "%s", world_instance(wr, "running", 0));
    snprintf(b, sizeof b, "%s", world_instance(wr, "running", 1));
    snprintf(st, sizeof st, "%s", world_instance(wr, "stopped", 0));
    char cur[32], type[32], old_type[32];
    instance_of(&sc, rg, r, cur, old_type);
    assert_string_equal(cur, "running");
    const char *new_type = strcmp(old_type, "t3.large") == 0 ? "m5.xlarge" : "t3.large";

    /* Stop: stopping now, stopped once the clock has moved on. */
    change_state(&sc, "StopInstances", rg, r, "running", 16, "stopping", 64);
    assert_instance_state(&sc, rg, r, "stopping");
    instance_op_fails(&sc, "StartInstances", rg, r, NULL, "IncorrectInstanceState");
    modify_type(&sc, rg, r, new_type, "IncorrectInstanceState");
    sbx_advance(sc.s, SBX_STATE_DELAY + 1);
    assert_instance_state(&sc, rg, r, "stopped");

    /* A stopped instance takes a new type. */
    modify_type(&sc, rg, r, new_type, NULL);
    instance_of(&sc, rg, r, cur, type);
    assert_string_equal(type, new_type);

    /* Start: pending, then running. */
    change_state(&sc, "StartInstances", rg, r, "stopped", 80, "pending", 0);
    assert_instance_state(&sc, rg, r, "pending");
    sbx_advance(sc.s, SBX_STATE_DELAY + 1);
    assert_instance_state(&sc, rg, r, "running");
    modify_type(&sc, rg, r, old_type, "IncorrectInstanceState");

    /* Reboot: a running instance stays running; a stopped one cannot. */
    query_params q;
    query_init(&q, "RebootInstances", EC2_VERSION);
    query_add(&q, "InstanceId.1", b);
    const xml_node *root;
    xml_doc *doc = send_ok(&sc, &q, "ec2", "RebootInstances", AWS_PROTO_EC2, rg, NULL, &root);
    assert_return_true(root);
    xml_free(doc);
    assert_instance_state(&sc, rg, b, "running");
    instance_op_fails(&sc, "RebootInstances", rg, st, NULL, "IncorrectInstanceState");

    /* Terminate: shutting-down, then terminated for good. */
    change_state(&sc, "TerminateInstances", rg, st, "stopped", 80, "shutting-down", 32);
    sbx_advance(sc.s, SBX_STATE_DELAY + 1);
    assert_instance_state(&sc, rg, st, "terminated");
    instance_op_fails(&sc, "StartInstances", rg, st, NULL, "IncorrectInstanceState");
    instance_op_fails(&sc, "StopInstances", rg, st, NULL, "IncorrectInstanceState");

    /* One missing id fails the whole call and changes nothing. */
    instance_op_fails(&sc, "StopInstances", rg, r, "i-0123456789abcdef0",
                      "InvalidInstanceID.NotFound");
    instance_op_fails(&sc, "RebootInstances", rg, "i-0123456789abcdef0", NULL,
                      "InvalidInstanceID.NotFound");
    assert_instance_state(&sc, rg, r, "running");

    /* The world agrees. */
    json_t *now = sbx_state(sc.s);
    json_t *insts =
        json_object_get(sbx_world_region(sbx_world_account(now, sc.account), rg), "instances");
    int seen = 0;
    for (size_t i = 0; i < json_array_size(insts); i++) {
        json_t *in = json_array_get(insts, i);
        if (strcmp(jstr(in, "id"), r) == 0) {
            assert_string_equal(jstr(in, "state"), "running");
            assert_string_equal(jstr(in, "type"), new_type);
            seen++;
        } else if (strcmp(jstr(in, "id"), st) == 0) {
            assert_string_equal(jstr(in, "state"), "terminated");
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    json_decref(now);
    scene_free(&sc);
}

/* ---- EC2 tags ---- */

static const char *tag_of(const xml_node *item, const char *key)
{
    for (const xml_node *t = xml_find(item, "tagSet/item"); t; t = xml_next(t))
        if (strcmp(sbx_text(t, "key"), key) == 0)
            return sbx_text(t, "value");
    return NULL;
}

static void tags_call(scene *sc, const char *op, const char *const *ids, size_t nids,
                      const char *const *keys, const char *const *values, size_t ntags)
{
    query_params q;
    query_init(&q, op, EC2_VERSION);
    query_add_list(&q, AWS_PROTO_EC2, "ResourceId", ids, nids);
    for (size_t i = 0; i < ntags; i++) {
        query_add_list_field(&q, AWS_PROTO_EC2, "Tag", i + 1, "Key", keys[i]);
        if (values && values[i])
            query_add_list_field(&q, AWS_PROTO_EC2, "Tag", i + 1, "Value", values[i]);
    }
    const xml_node *root;
    xml_doc *doc = send_ok(sc, &q, "ec2", op, AWS_PROTO_EC2, SBX_REGION1, NULL, &root);
    assert_return_true(root);
    xml_free(doc);
}

/* Tag value on the instance (DescribeInstances) or volume (DescribeVolumes); NULL if none. */
static char *resource_tag(scene *sc, const char *id, const char *key)
{
    bool inst = strncmp(id, "i-", 2) == 0;
    query_params q;
    query_init(&q, inst ? "DescribeInstances" : "DescribeVolumes", EC2_VERSION);
    query_add(&q, inst ? "InstanceId.1" : "VolumeId.1", id);
    const xml_node *root;
    xml_doc *doc =
        inst ? send_ok(sc, &q, "ec2", "DescribeInstances", AWS_PROTO_EC2, SBX_REGION1, NULL, &root)
             : send_ok(sc, &q, "ec2", "DescribeVolumes", AWS_PROTO_EC2, SBX_REGION1, NULL, &root);
    const xml_node *item = inst ? xml_find(root, "reservationSet/item/instancesSet/item")
                                : xml_find(root, "volumeSet/item");
    assert_non_null(item);
    const char *v = tag_of(item, key);
    char *out = v ? xstrdup(v) : NULL;
    xml_free(doc);
    return out;
}

void test_ec2_tags(void **state)
{
    scene sc;
    scene_init(&sc, state, NULL);
    json_t *wr = sbx_world_region(sbx_world_account(sc.world, sc.account), SBX_REGION1);
    char inst[32], vol[32];
    snprintf(inst, sizeof inst, "%s",
             jstr(json_array_get(json_object_get(wr, "instances"), 0), "id"));
    snprintf(vol, sizeof vol, "%s", jstr(json_array_get(json_object_get(wr, "volumes"), 0), "id"));
    char value[64];
    snprintf(value, sizeof value, "a&b<c> \"%s\"", sbx_mode_name(sc.mode)); /* escaped both ways */

    const char *ids[] = {inst, vol};
    const char *keys[] = {"escher-libaws", "cost-center"};
    const char *values[] = {value, "cc-42"};
    tags_call(&sc, "CreateTags", ids, 2, keys, values, 2);
    char *got = resource_tag(&sc, inst, "escher-libaws");
    assert_non_null(got);
    assert_string_equal(got, value);
    free(got);
    got = resource_tag(&sc, vol, "cost-center");
    assert_non_null(got);
    assert_string_equal(got, "cc-42");
    free(got);

    /* A tag filter finds exactly the tagged instance. */
    query_params q;
    query_init(&q, "DescribeInstances", EC2_VERSION);
    query_add(&q, "Filter.1.Name", "tag:escher-libaws");
    query_add(&q, "Filter.1.Value.1", value);
    const xml_node *root;
    xml_doc *doc =
        send_ok(&sc, &q, "ec2", "DescribeInstances", AWS_PROTO_EC2, SBX_REGION1, NULL, &root);
    assert_int_equal(xml_count(xml_find(root, "reservationSet"), "item"), 1);
    assert_string_equal(sbx_text(root, "reservationSet/item/instancesSet/item/instanceId"), inst);
    xml_free(doc);

    /* Deleting with another value keeps the tag; by key alone removes it. */
    const char *wrong[] = {"not-the-value"};
    tags_call(&sc, "DeleteTags", ids, 1, keys, wrong, 1);
    got = resource_tag(&sc, inst, "escher-libaws");
    assert_non_null(got);
    free(got);
    tags_call(&sc, "DeleteTags", ids, 2, keys, NULL, 2);
    assert_null(resource_tag(&sc, inst, "escher-libaws"));
    assert_null(resource_tag(&sc, vol, "cost-center"));

    /* Refusals. */
    query_init(&q, "CreateTags", EC2_VERSION);
    query_add(&q, "ResourceId.1", "i-0123456789abcdef0");
    query_add(&q, "Tag.1.Key", "a");
    query_add(&q, "Tag.1.Value", "b");
    send_fails(&sc, &q, "ec2", "CreateTags", AWS_PROTO_EC2, SBX_REGION1, 400,
               "InvalidInstanceID.NotFound");
    query_init(&q, "CreateTags", EC2_VERSION);
    query_add(&q, "ResourceId.1", inst);
    query_add(&q, "Tag.1.Key", "aws:reserved");
    query_add(&q, "Tag.1.Value", "b");
    send_fails(&sc, &q, "ec2", "CreateTags", AWS_PROTO_EC2, SBX_REGION1, 400,
               "InvalidParameterValue");
    query_init(&q, "DeleteTags", EC2_VERSION);
    query_add(&q, "ResourceId.1", "vol-0123456789abcdef0");
    query_add(&q, "Tag.1.Key", "a");
    send_fails(&sc, &q, "ec2", "DeleteTags", AWS_PROTO_EC2, SBX_REGION1, 400,
               "InvalidVolume.NotFound");

    /* The world agrees. */
    json_t *now = sbx_state(sc.s);
    json_t *in = json_array_get(
        json_object_get(sbx_world_region(sbx_world_account(now, sc.account), SBX_REGION1),
                        "instances"),
        0);
    json_t *tags = json_object_get(in, "tags");
    for (size_t i = 0; i < json_array_size(tags); i++)
        assert_string_not_equal(jstr(json_array_get(tags, i), "Key"), "escher-libaws");
    json_decref(now);
    scene_free(&sc);
}

/* ---- EBS ---- */

static void snapshot_status(scene *sc, const char *rg, const char *sid, const char *want,
                            const char *progress)
{
    query_params q;
    query_init(&q, "DescribeSnapshots", EC2_VERSION);
    query_add(&q, "SnapshotId.1", sid);
    const xml_node *root;
    xml_doc *doc = send_ok(sc, &q, "ec2", "DescribeSnapshots", AWS_PROTO_EC2, rg, NULL, &root);
    assert_int_equal(xml_count(xml_find(root, "snapshotSet"), "item"), 1);
    assert_string_equal(sbx_text(root, "snapshotSet/item/snapshotId"), sid);
    assert_string_equal(sbx_text(root, "snapshotSet/item/status"), want);
    if (progress)
        assert_string_equal(sbx_text(root, "snapshotSet/item/progress"), progress);
    xml_free(doc);
}

void test_ebs(void **state)
{
    scene sc;
    scene_init(&sc, state, NULL);
    const char *rg = SBX_REGION2;
    json_t *vols =
        json_object_get(sbx_world_region(sbx_world_account(sc.world, sc.account), rg), "volumes");
    json_t *avail = NULL, *used = NULL;
    for (size_t i = 0; i < json_array_size(vols); i++) {
        json_t *v = json_array_get(vols, i);
        if (json_is_string(json_object_get(v, "instance_id")))
            used = used ? used : v;
        else
            avail = avail ? avail : v;
    }
    assert_non_null(avail);
    assert_non_null(used);
    const char *vid = jstr(avail, "id");

    /* CreateSnapshot: pending, then completed after the clock moves. */
    char desc[64];
    snprintf(desc, sizeof desc, "escher libaws %s", sbx_mode_name(sc.mode));
    query_params q;
    query_init(&q, "CreateSnapshot", EC2_VERSION);
    query_add(&q, "VolumeId", vid);
    query_add(&q, "Description", desc);
    const xml_node *root;
    xml_doc *doc = send_ok(&sc, &q, "ec2", "CreateSnapshot", AWS_PROTO_EC2, rg, NULL, &root);
    char sid[32];
    snprintf(sid, sizeof sid, "%s", sbx_text(root, "snapshotId"));
    assert_int_equal(strlen(sid), strlen("snap-") + 17);
    assert_string_equal(sbx_text(root, "volumeId"), vid);
    assert_string_equal(sbx_text(root, "status"), "pending");
    assert_string_equal(sbx_text(root, "ownerId"), sc.account);
    assert_string_equal(sbx_text(root, "description"), desc);
    int64_t size;
    err e = {0};
    bool ok = xml_find_int64(root, "volumeSize", &size, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(size, json_integer_value(json_object_get(avail, "size_gib")));
    xml_free(doc);
    snapshot_status(&sc, rg, sid, "pending", NULL);
    sbx_advance(sc.s, SBX_STATE_DELAY + 1);
    snapshot_status(&sc, rg, sid, "completed", "100%");

    /* Not shared with anyone. */
    query_init(&q, "DescribeSnapshotAttribute", EC2_VERSION);
    query_add(&q, "SnapshotId", sid);
    query_add(&q, "Attribute", "createVolumePermission");
    doc = send_ok(&sc, &q, "ec2", "DescribeSnapshotAttribute", AWS_PROTO_EC2, rg, NULL, &root);
    assert_string_equal(sbx_text(root, "snapshotId"), sid);
    assert_int_equal(xml_count(xml_find(root, "createVolumePermission"), "item"), 0);
    xml_free(doc);

    /* DeleteSnapshot: gone, and not found the second time. */
    query_init(&q, "DeleteSnapshot", EC2_VERSION);
    query_add(&q, "SnapshotId", sid);
    doc = send_ok(&sc, &q, "ec2", "DeleteSnapshot", AWS_PROTO_EC2, rg, NULL, &root);
    assert_return_true(root);
    xml_free(doc);
    query_init(&q, "DescribeSnapshots", EC2_VERSION);
    query_add(&q, "SnapshotId.1", sid);
    send_fails(&sc, &q, "ec2", "DescribeSnapshots", AWS_PROTO_EC2, rg, 400,
               "InvalidSnapshot.NotFound");
    query_init(&q, "DeleteSnapshot", EC2_VERSION);
    query_add(&q, "SnapshotId", sid);
    send_fails(&sc, &q, "ec2", "DeleteSnapshot", AWS_PROTO_EC2, rg, 400,
               "InvalidSnapshot.NotFound");

    /* DeleteVolume: refused while attached, done when available. */
    query_init(&q, "DeleteVolume", EC2_VERSION);
    query_add(&q, "VolumeId", jstr(used, "id"));
    send_fails(&sc, &q, "ec2", "DeleteVolume", AWS_PROTO_EC2, rg, 400, "VolumeInUse");
    query_init(&q, "DeleteVolume", EC2_VERSION);
    query_add(&q, "VolumeId", vid);
    doc = send_ok(&sc, &q, "ec2", "DeleteVolume", AWS_PROTO_EC2, rg, NULL, &root);
    assert_return_true(root);
    xml_free(doc);
    query_init(&q, "DescribeVolumes", EC2_VERSION);
    query_add(&q, "VolumeId.1", vid);
    send_fails(&sc, &q, "ec2", "DescribeVolumes", AWS_PROTO_EC2, rg, 400, "InvalidVolume.NotFound");
    query_init(&q, "CreateSnapshot", EC2_VERSION);
    query_add(&q, "VolumeId", vid);
    send_fails(&sc, &q, "ec2", "CreateSnapshot", AWS_PROTO_EC2, rg, 400, "InvalidVolume.NotFound");
    scene_free(&sc);
}

/* ---- RDS ---- */

static void db_call(scene *sc, const char *op, const char *region, const char *db,
                    const char *want_status)
{
    query_params q;
    query_init(&q, op, RDS_VERSION);
    query_add(&q, "DBInstanceIdentifier", db);
    char result[96];
    snprintf(result, sizeof result, "%sResult", op);
    const xml_node *res;
    xml_doc *doc = send_ok(sc, &q, "rds", op, AWS_PROTO_QUERY, region, result, &res);
    const xml_node *d = strcmp(op, "DescribeDBInstances") == 0
                            ? xml_find(res, "DBInstances/DBInstance")
                            : xml_find(res, "DBInstance");
    assert_non_null(d);
    assert_string_equal(sbx_text(d, "DBInstanceIdentifier"), db);
    assert_string_equal(sbx_text(d, "DBInstanceStatus"), want_status);
    xml_free(doc);
}

static void db_call_fails(scene *sc, const char *op, const char *region, const char *db, int status,
                          const char *code)
{
    query_params q;
    query_init(&q, op, RDS_VERSION);
    query_add(&q, "DBInstanceIdentifier", db);
    send_fails(sc, &q, "rds", op, AWS_PROTO_QUERY, region, status, code);
}

void test_rds(void **state)
{
    sbx_mode mode = *(sbx_mode *)*state;
    /* The mode's database: the first (blocking) or second (async) in the world. */
    json_t *world = sbx_state(g_sbx);
    json_t *accounts = json_object_get(world, "accounts");
    int nth = mode == SBX_BLOCKING ? 0 : 1;
    char account[16] = "", region[32] = "", db[64] = "", status[32] = "";
    for (size_t i = 0; i < json_array_size(accounts) && !db[0]; i++) {
        json_t *a = json_array_get(accounts, i);
        json_t *regions = json_object_get(a, "regions");
        for (size_t k = 0; k < json_array_size(regions) && !db[0]; k++) {
            json_t *dbs = json_object_get(json_array_get(regions, k), "dbs");
            for (size_t d = 0; d < json_array_size(dbs) && !db[0]; d++) {
                json_t *w = json_array_get(dbs, d);
                const char *st = jstr(w, "status");
                if ((strcmp(st, "available") == 0 || strcmp(st, "stopped") == 0) && nth-- == 0) {
                    snprintf(account, sizeof account, "%s", jstr(a, "id"));
                    snprintf(region, sizeof region, "%s", jstr(json_array_get(regions, k), "name"));
                    snprintf(db, sizeof db, "%s", jstr(w, "id"));
                    snprintf(status, sizeof status, "%s", st);
                }
            }
        }
    }
    json_decref(world);
    assert_true(db[0] != '\0');
    scene sc;
    scene_init(&sc, state, account);

    db_call(&sc, "DescribeDBInstances", region, db, status);
    if (strcmp(status, "stopped") == 0) {
        db_call(&sc, "StartDBInstance", region, db, "starting");
        db_call_fails(&sc, "StopDBInstance", region, db, 400, "InvalidDBInstanceState");
        sbx_advance(sc.s, SBX_STATE_DELAY + 1);
        db_call(&sc, "DescribeDBInstances", region, db, "available");
    }
    db_call(&sc, "StopDBInstance", region, db, "stopping");
    db_call_fails(&sc, "StartDBInstance", region, db, 400, "InvalidDBInstanceState");
    sbx_advance(sc.s, SBX_STATE_DELAY + 1);
    db_call(&sc, "DescribeDBInstances", region, db, "stopped");

    /* A manual snapshot of the stopped instance; the name is then taken. */
    char snap[64];
    snprintf(snap, sizeof snap, "escher-libaws-%s", sbx_mode_name(sc.mode));
    query_params q;
    query_init(&q, "CreateDBSnapshot", RDS_VERSION);
    query_add(&q, "DBInstanceIdentifier", db);
    query_add(&q, "DBSnapshotIdentifier", snap);
    const xml_node *res;
    xml_doc *doc = send_ok(&sc, &q, "rds", "CreateDBSnapshot", AWS_PROTO_QUERY, region,
                           "CreateDBSnapshotResult", &res);
    assert_string_equal(sbx_text(res, "DBSnapshot/DBSnapshotIdentifier"), snap);
    assert_string_equal(sbx_text(res, "DBSnapshot/DBInstanceIdentifier"), db);
    assert_string_equal(sbx_text(res, "DBSnapshot/Status"), "creating");
    assert_string_equal(sbx_text(res, "DBSnapshot/SnapshotType"), "manual");
    char arn[160];
    snprintf(arn, sizeof arn, "arn:aws:rds:%s:%s:snapshot:%s", region, account, snap);
    assert_string_equal(sbx_text(res, "DBSnapshot/DBSnapshotArn"), arn);
    xml_free(doc);
    query_init(&q, "CreateDBSnapshot", RDS_VERSION);
    query_add(&q, "DBInstanceIdentifier", db);
    query_add(&q, "DBSnapshotIdentifier", snap);
    send_fails(&sc, &q, "rds", "CreateDBSnapshot", AWS_PROTO_QUERY, region, 400,
               "DBSnapshotAlreadyExists");

    db_call(&sc, "StartDBInstance", region, db, "starting");
    sbx_advance(sc.s, SBX_STATE_DELAY + 1);
    db_call(&sc, "DescribeDBInstances", region, db, "available");
    db_call_fails(&sc, "StopDBInstance", region, "escher-no-such-db", 404, "DBInstanceNotFound");
    scene_free(&sc);
}

/* ---- IAM credential report ---- */

static void generate_report(scene *sc, const char *want_state)
{
    query_params q;
    query_init(&q, "GenerateCredentialReport", "2010-05-08");
    const xml_node *res;
    xml_doc *doc = send_ok(sc, &q, "iam", "GenerateCredentialReport", AWS_PROTO_QUERY, NULL,
                           "GenerateCredentialReportResult", &res);
    assert_string_equal(sbx_text(res, "State"), want_state);
    xml_free(doc);
}

void test_iam_credential_report(void **state)
{
    scene sc;
    scene_init(&sc, state, NULL);
    query_params q;
    query_init(&q, "GetCredentialReport", "2010-05-08");
    send_fails(&sc, &q, "iam", "GetCredentialReport", AWS_PROTO_QUERY, NULL, 410,
               "ReportNotPresent");
    time_t t0 = sbx_now(sc.s);
    generate_report(&sc, "STARTED");
    generate_report(&sc, "COMPLETE");

    query_init(&q, "GetCredentialReport", "2010-05-08");
    const xml_node *res;
    xml_doc *doc = send_ok(&sc, &q, "iam", "GetCredentialReport", AWS_PROTO_QUERY, NULL,
                           "GetCredentialReportResult", &res);
    assert_string_equal(sbx_text(res, "ReportFormat"), "text/csv");
    time_t generated;
    err e = {0};
    bool ok = timeutil_parse_iso8601(sbx_text(res, "GeneratedTime"), &generated, &e);
    SBX_ASSERT_OK(ok, e);
    assert_true(generated >= t0 - 1 && generated <= t0 + 5);
    const char *b64 = sbx_text(res, "Content");
    size_t len = strlen(b64);
    assert_true(len > 0 && len % 4 == 0);
    unsigned char *csv = xmalloc(len / 4 * 3 + 1);
    int n = EVP_DecodeBlock(csv, (const unsigned char *)b64, (int)len);
    assert_true(n > 0);
    while (n > 0 && csv[n - 1] == '\0') /* EVP_DecodeBlock keeps the padding's zero bytes */
        n--;
    csv[n] = '\0';
    xml_free(doc);

    /* Header, the root line, then one line per user in ListUsers order. */
    sbx_strs lines = {0};
    for (char *line = (char *)csv, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        sbx_strs_add(&lines, line);
    }
    free(csv);
    assert_true(lines.n >= 3);
    assert_memory_equal(lines.v[0], "user,arn,user_creation_time,", 28);
    char root_prefix[64];
    snprintf(root_prefix, sizeof root_prefix, "<root_account>,arn:aws:iam::%s:root,", sc.account);
    assert_memory_equal(lines.v[1], root_prefix, strlen(root_prefix));
    sbx_strs users = {0}, want = {0};
    for (size_t i = 2; i < lines.n; i++) {
        char *comma = strchr(lines.v[i], ',');
        assert_non_null(comma);
        *comma = '\0';
        sbx_strs_add(&users, lines.v[i]);
    }
    sbx_strs_from_json(&want, json_object_get(sbx_world_account(sc.world, sc.account), "users"),
                       "name");
    sbx_assert_strs(&users, &want, true, "credential report users");
    sbx_strs_free(&users);
    sbx_strs_free(&want);
    sbx_strs_free(&lines);

    /* Four hours later the report has expired. */
    sbx_advance(sc.s, 4 * 3600 + 1);
    query_init(&q, "GetCredentialReport", "2010-05-08");
    send_fails(&sc, &q, "iam", "GetCredentialReport", AWS_PROTO_QUERY, NULL, 410, "ReportExpired");
    generate_report(&sc, "STARTED");
    scene_free(&sc);
}

/* ---- Auto Scaling ---- */

static void asg_bounds(scene *sc, const char *region, const char *name, int64_t *mn, int64_t *mx,
                       int64_t *want)
{
    query_params q;
    query_init(&q, "DescribeAutoScalingGroups", "2011-01-01");
    query_add(&q, "AutoScalingGroupNames.member.1", name);
    const xml_node *res;
    xml_doc *doc = send_ok(sc, &q, "autoscaling", "DescribeAutoScalingGroups", AWS_PROTO_QUERY,
                           region, "DescribeAutoScalingGroupsResult", &res);
    const xml_node *g = xml_find(res, "AutoScalingGroups/member");
    assert_non_null(g);
    assert_null(xml_next(g));
    assert_string_equal(sbx_text(g, "AutoScalingGroupName"), name);
    err e = {0};
    bool ok = xml_find_int64(g, "MinSize", mn, &e) && xml_find_int64(g, "MaxSize", mx, &e) &&
              xml_find_int64(g, "DesiredCapacity", want, &e);
    SBX_ASSERT_OK(ok, e);
    xml_free(doc);
}

static void asg_update(scene *sc, const char *region, const char *name, int mn, int mx, int want,
                       const char *fails_with)
{
    query_params q;
    query_init(&q, "UpdateAutoScalingGroup", "2011-01-01");
    query_add(&q, "AutoScalingGroupName", name);
    if (mn >= 0)
        query_add_int(&q, "MinSize", mn);
    if (mx >= 0)
        query_add_int(&q, "MaxSize", mx);
    if (want >= 0)
        query_add_int(&q, "DesiredCapacity", want);
    if (fails_with) {
        send_fails(sc, &q, "autoscaling", "UpdateAutoScalingGroup", AWS_PROTO_QUERY, region, 400,
                   fails_with);
        return;
    }
    const xml_node *root;
    xml_doc *doc = send_ok(sc, &q, "autoscaling", "UpdateAutoScalingGroup", AWS_PROTO_QUERY, region,
                           NULL, &root);
    assert_string_equal(root->name, "UpdateAutoScalingGroupResponse");
    assert_non_null(xml_find_text(root, "ResponseMetadata/RequestId"));
    xml_free(doc);
}

void test_autoscaling_update(void **state)
{
    sbx_mode mode = *(sbx_mode *)*state;
    /* The mode's group: the first (blocking) or second (async) in the world. */
    json_t *world = sbx_state(g_sbx);
    json_t *accounts = json_object_get(world, "accounts");
    int nth = mode == SBX_BLOCKING ? 0 : 1;
    char account[16] = "", rg[32] = "";
    for (size_t i = 0; i < json_array_size(accounts) && !account[0]; i++) {
        json_t *a = json_array_get(accounts, i);
        json_t *regions = json_object_get(a, "regions");
        for (size_t k = 0; k < json_array_size(regions) && !account[0]; k++) {
            size_t n = json_array_size(json_object_get(json_array_get(regions, k), "asgs"));
            if (n > 0 && nth-- == 0) {
                snprintf(account, sizeof account, "%s", jstr(a, "id"));
                snprintf(rg, sizeof rg, "%s", jstr(json_array_get(regions, k), "name"));
            }
        }
    }
    json_decref(world);
    assert_true(account[0] != '\0');
    scene sc;
    scene_init(&sc, state, account);
    json_t *g = json_array_get(
        json_object_get(sbx_world_region(sbx_world_account(sc.world, sc.account), rg), "asgs"), 0);
    assert_non_null(g);
    const char *name = jstr(g, "name");
    int64_t mn, mx, want;
    asg_bounds(&sc, rg, name, &mn, &mx, &want);
    assert_int_equal(mn, json_integer_value(json_object_get(g, "min_size")));
    assert_int_equal(mx, json_integer_value(json_object_get(g, "max_size")));
    assert_int_equal(want, json_integer_value(json_object_get(g, "desired")));

    /* New bounds pull the untouched desired capacity inside them. */
    asg_update(&sc, rg, name, 2, 8, -1, NULL);
    int64_t old_want = want;
    asg_bounds(&sc, rg, name, &mn, &mx, &want);
    assert_int_equal(mn, 2);
    assert_int_equal(mx, 8);
    assert_int_equal(want, old_want < 2 ? 2 : old_want > 8 ? 8 : old_want);
    asg_update(&sc, rg, name, -1, -1, 5, NULL);
    asg_bounds(&sc, rg, name, &mn, &mx, &want);
    assert_int_equal(want, 5);

    /* Inconsistent bounds are refused and change nothing. */
    asg_update(&sc, rg, name, 9, -1, -1, "ValidationError");
    asg_update(&sc, rg, name, -1, -1, 12, "ValidationError");
    asg_bounds(&sc, rg, name, &mn, &mx, &want);
    assert_int_equal(mn, 2);
    assert_int_equal(mx, 8);
    assert_int_equal(want, 5);

    json_t *now = sbx_state(sc.s);
    json_t *w = json_array_get(
        json_object_get(sbx_world_region(sbx_world_account(now, sc.account), rg), "asgs"), 0);
    assert_int_equal(json_integer_value(json_object_get(w, "min_size")), 2);
    assert_int_equal(json_integer_value(json_object_get(w, "max_size")), 8);
    assert_int_equal(json_integer_value(json_object_get(w, "desired")), 5);
    json_decref(now);
    scene_free(&sc);
}
