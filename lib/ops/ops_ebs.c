/* EBS executors. See ops_ebs.h. Wire shapes from botocore's ec2 2016-11-15
 * model: DescribeVolumes' volumeSet/item with status, createTime,
 * attachmentSet/item/instanceId and tagSet; blockDeviceMapping/item/ebs/
 * volumeId in DescribeInstances; CreateSnapshot's TagSpecification.N with
 * ResourceType snapshot and answer snapshotId; DeleteVolume. */
#include "ops/ops_ebs.h"

#include "aws/paging.h"
#include "aws/query.h"
#include "aws/xml.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "ops/ops_ec2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EC2_VERSION "2016-11-15"

static const paging_spec volumes_paging = {AWS_PROTO_EC2, "nextToken", NULL, 0};

static ops_resource *grow(ops_resource **out, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *out = xreallocarray(*out, *cap, sizeof **out);
    }
    ops_resource *r = &(*out)[(*n)++];
    memset(r, 0, sizeof *r);
    return r;
}

static json_t *tag_object(const xml_node *item)
{
    json_t *tags = json_object();
    for (const xml_node *t = xml_find(item, "tagSet/item"); t; t = xml_next(t)) {
        const char *k = xml_find_text(t, "key"), *v = xml_find_text(t, "value");
        if (k)
            json_object_set_new(tags, k, json_string(v ? v : ""));
    }
    return tags;
}

static long long parse_time(const char *s)
{
    time_t t = 0;
    err e = {0};
    return s && timeutil_parse_iso8601(s, &t, &e) ? (long long)t : 0;
}

/* Every volume of volumeSet: id, status, the instance it is attached to. */
static bool volumes_parse(const xml_node *root, ops_resource **out, size_t *n, size_t *cap, err *e)
{
    (void)e;
    for (const xml_node *v = xml_find(root, "volumeSet/item"); v; v = xml_next(v)) {
        const char *id = xml_find_text(v, "volumeId");
        if (id == NULL)
            continue;
        const char *status = xml_find_text(v, "status");
        const char *inst = xml_find_text(v, "attachmentSet/item/instanceId");
        ops_resource *r = grow(out, n, cap);
        r->id = xstrdup(id);
        r->name = xstrdup(ops_ec2_name_tag(v));
        r->state = xstrdup(status ? status : "");
        r->parent = xstrdup(inst ? inst : "");
        r->created = parse_time(xml_find_text(v, "createTime"));
        r->tags = tag_object(v);
    }
    return true;
}

static void volume_get(const char *region, const ops_resource *r, aws_request *req)
{
    query_params q;
    query_init(&q, "DescribeVolumes", EC2_VERSION);
    query_add(&q, "VolumeId.1", r->id);
    query_to_request(&q, "ec2", "DescribeVolumes", AWS_PROTO_EC2, req);
    req->region = region;
    query_free(&q);
}

/* A snapshot made by Escher carries the volume's own tags (unless
 * copy_tags is false; "aws:" keys are AWS's and cannot be set), then
 * escher:job and escher:volume, which say which run made it and of what:
 * CreateSnapshot takes no client token, so these tags are how a snapshot an
 * interrupted attempt made can be told from a customer's. */
static void snapshot_request(const ops_resource *r, const ops_call *c, const char *description,
                             bool copy_tags, aws_request *req)
{
    query_params q;
    query_init(&q, "CreateSnapshot", EC2_VERSION);
    query_add(&q, "VolumeId", r->id);
    query_add(&q, "Description", description);
    query_add(&q, "TagSpecification.1.ResourceType", "snapshot");
    size_t n = 0;
    char key[64];
    const char *k;
    const json_t *v;
    json_object_foreach(copy_tags ? r->tags : NULL, k, v)
    {
        if (strncmp(k, "aws:", 4) == 0 || strncmp(k, "escher:", 7) == 0 || n >= 45)
            continue;
        n++;
        snprintf(key, sizeof key, "TagSpecification.1.Tag.%zu.Key", n);
        query_add(&q, key, k);
        snprintf(key, sizeof key, "TagSpecification.1.Tag.%zu.Value", n);
        query_add(&q, key, json_string_value(v));
    }
    snprintf(key, sizeof key, "TagSpecification.1.Tag.%zu.Key", ++n);
    query_add(&q, key, "escher:job");
    snprintf(key, sizeof key, "TagSpecification.1.Tag.%zu.Value", n);
    query_add(&q, key, c->job_id ? c->job_id : "");
    snprintf(key, sizeof key, "TagSpecification.1.Tag.%zu.Key", ++n);
    query_add(&q, key, "escher:volume");
    snprintf(key, sizeof key, "TagSpecification.1.Tag.%zu.Value", n);
    query_add(&q, key, r->id);
    if (c->dry_run)
        query_add_bool(&q, "DryRun", true);
    query_to_request(&q, "ec2", "CreateSnapshot", AWS_PROTO_EC2, req);
    req->region = c->region;
    query_free(&q);
}

static bool param_bool(const json_t *params, const char *name, bool dflt)
{
    const json_t *v = json_object_get(params, name);
    return v ? json_is_true(v) : dflt;
}

/* ---- ec2.snapshot_volumes ---- */

/* One resource per EBS volume of each instance: the volume's id, the
 * instance's Name and id (parent), state in-use (it is attached) until the
 * re-check reads the volume's own. */
static bool instance_volumes_parse(const xml_node *root, const target_selector *sel,
                                   ops_resource **out, size_t *n, size_t *cap, err *e)
{
    (void)e;
    (void)sel; /* DescribeInstances filtered on it */
    for (const xml_node *rs = xml_find(root, "reservationSet/item"); rs; rs = xml_next(rs))
        for (const xml_node *i = xml_find(rs, "instancesSet/item"); i; i = xml_next(i)) {
            const char *inst = xml_find_text(i, "instanceId");
            if (inst == NULL)
                continue;
            for (const xml_node *b = xml_find(i, "blockDeviceMapping/item"); b; b = xml_next(b)) {
                const char *vol = xml_find_text(b, "ebs/volumeId");
                if (vol == NULL)
                    continue;
                ops_resource *r = grow(out, n, cap);
                r->id = xstrdup(vol);
                r->name = xstrdup(ops_ec2_name_tag(i));
                /* In the instance's block device mapping: attached. */
                r->state = xstrdup("in-use");
                r->parent = xstrdup(inst);
            }
        }
    return true;
}

static ops_decision decide_snapshot(const ops_resource *r, const json_t *params, unsigned phase,
                                    const char **why)
{
    (void)params;
    (void)phase;
    if (strcmp(r->state, "in-use") == 0 || strcmp(r->state, "available") == 0)
        return OPS_ACT;
    if (strcmp(r->state, "deleting") == 0 || strcmp(r->state, "deleted") == 0) {
        *why = "the volume is being deleted";
        return OPS_NOTHING;
    }
    *why = "the volume is neither in-use nor available (creating or error)";
    return OPS_CANNOT;
}

static bool snapshot_volumes_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    const char *desc = json_string_value(json_object_get(c->params, "description"));
    char *made = NULL;
    if (desc == NULL)
        desc = made = xasprintf("Escher snapshot of %s (%s)", r->id,
                                r->parent && *r->parent ? r->parent : "no instance");
    snapshot_request(r, c, desc, param_bool(c->params, "copy_tags", true), req);
    free(made);
    return true;
}

const ops_executor OPS_EC2_SNAPSHOT_VOLUMES = {.verb = "snapshot",
                                               .dry_run_native = true,
                                               .paging = &PAGING_EC2_DESCRIBE_INSTANCES,
                                               .list_request = ops_ec2_list_request,
                                               .list_parse = instance_volumes_parse,
                                               .get_request = volume_get,
                                               .get_parse = volumes_parse,
                                               .decide = decide_snapshot,
                                               .nphases = 1,
                                               .action_request = snapshot_volumes_request,
                                               .after_path = "status",
                                               .created_path = "snapshotId"};

/* ---- ebs.delete_unattached ---- */

/* DescribeVolumes with the selector as filters; without a state, only
 * available ones (an attached volume is never this operation's). */
static void unattached_list(const target_selector *sel, const char *region, const char *token,
                            aws_request *req)
{
    query_params q;
    query_init(&q, "DescribeVolumes", EC2_VERSION);
    size_t nf = 0;
    ops_ec2_add_tag_filters(&q, &nf, sel);
    char *state = sel->state ? sel->state : "available";
    ops_ec2_add_filter(&q, &nf, "status", &state, 1);
    if (sel->name) {
        char *name = sel->name;
        ops_ec2_add_filter(&q, &nf, "tag:Name", &name, 1);
    }
    if (sel->nids)
        ops_ec2_add_filter(&q, &nf, "volume-id", sel->ids, sel->nids);
    query_add(&q, "MaxResults", "500");
    if (token)
        query_add(&q, "NextToken", token);
    query_to_request(&q, "ec2", "DescribeVolumes", AWS_PROTO_EC2, req);
    req->region = region;
    query_free(&q);
}

static bool unattached_parse(const xml_node *root, const target_selector *sel, ops_resource **out,
                             size_t *n, size_t *cap, err *e)
{
    (void)sel; /* DescribeVolumes filtered on it */
    return volumes_parse(root, out, n, cap, e);
}

/* Both phases (snapshot, delete) re-check the same: the volume must be
 * available, attached to nothing, and old enough. */
static ops_decision decide_unattached(const ops_resource *r, const json_t *params, unsigned phase,
                                      const char **why)
{
    (void)phase;
    if (strcmp(r->state, "deleting") == 0 || strcmp(r->state, "deleted") == 0) {
        *why = "already being deleted";
        return OPS_NOTHING;
    }
    if (r->parent && *r->parent) {
        *why = "attached to an instance: never deleted";
        return OPS_NOTHING;
    }
    if (strcmp(r->state, "available") != 0) {
        *why = "not available (in use, creating or error): never deleted";
        return OPS_NOTHING;
    }
    const json_t *age = json_object_get(params, "min_age_days");
    long long days = age ? (long long)json_integer_value(age) : 7;
    if (days > 0 && (r->created == 0 || r->created > (long long)time(NULL) - days * 86400)) {
        *why = "created less than min_age_days ago (or creation time unknown)";
        return OPS_NOTHING;
    }
    return OPS_ACT;
}

static bool unattached_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    if (c->phase == 0) {
        if (!param_bool(c->params, "snapshot_first", true))
            return false;
        char *desc = xasprintf("Escher snapshot of %s before deleting it", r->id);
        snapshot_request(r, c, desc, true, req);
        free(desc);
        return true;
    }
    query_params q;
    query_init(&q, "DeleteVolume", EC2_VERSION);
    query_add(&q, "VolumeId", r->id);
    if (c->dry_run)
        query_add_bool(&q, "DryRun", true);
    query_to_request(&q, "ec2", "DeleteVolume", AWS_PROTO_EC2, req);
    req->region = c->region;
    query_free(&q);
    return true;
}

static const char *const unattached_verbs[] = {"snapshot", "delete"};

const ops_executor OPS_EBS_DELETE_UNATTACHED = {.verb = "delete",
                                                .dry_run_native = true,
                                                .paging = &volumes_paging,
                                                .list_request = unattached_list,
                                                .list_parse = unattached_parse,
                                                .get_request = volume_get,
                                                .get_parse = volumes_parse,
                                                .decide = decide_unattached,
                                                .nphases = 2,
                                                .phase_verbs = unattached_verbs,
                                                .action_request = unattached_request,
                                                .created_path = "snapshotId"};
