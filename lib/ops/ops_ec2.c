/* EC2 instance executors. See ops_ec2.h. Wire shapes from botocore's
 * ec2 2016-11-15 model: Filter.N.Name / Filter.N.Value.M, InstanceId.N,
 * reservationSet/item/instancesSet/item with instanceState/name and
 * tagSet/item/{key,value}. */
#include "ops/ops_ec2.h"

#include "aws/paging.h"
#include "aws/query.h"
#include "aws/xml.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EC2_VERSION "2016-11-15"

void ops_ec2_add_filter(query_params *q, size_t *n, const char *name, char *const *values,
                        size_t nvalues)
{
    ++*n;
    char key[64];
    snprintf(key, sizeof key, "Filter.%zu.Name", *n);
    query_add(q, key, name);
    for (size_t i = 0; i < nvalues; i++) {
        snprintf(key, sizeof key, "Filter.%zu.Value.%zu", *n, i + 1);
        query_add(q, key, values[i]);
    }
}

void ops_ec2_add_tag_filters(query_params *q, size_t *nf, const target_selector *sel)
{
    for (size_t i = 0; i < sel->ntags; i++) {
        const target_tag *t = &sel->tags[i];
        if (t->nvalues == 0) {
            char *key = t->key;
            ops_ec2_add_filter(q, nf, "tag-key", &key, 1);
        } else {
            char *name = xasprintf("tag:%s", t->key);
            ops_ec2_add_filter(q, nf, name, t->values, t->nvalues);
            free(name);
        }
    }
}

void ops_ec2_list_request(const target_selector *sel, const char *region, const char *token,
                          aws_request *req)
{
    query_params q;
    query_init(&q, "DescribeInstances", EC2_VERSION);
    size_t nf = 0;
    ops_ec2_add_tag_filters(&q, &nf, sel);
    if (sel->state) {
        char *state = sel->state;
        ops_ec2_add_filter(&q, &nf, "instance-state-name", &state, 1);
    }
    if (sel->name) {
        char *name = sel->name;
        ops_ec2_add_filter(&q, &nf, "tag:Name", &name, 1);
    }
    /* The ids as a filter rather than InstanceId.N: an id that does not
     * exist (terminated long ago) then matches nothing instead of failing
     * the whole listing, and paging stays allowed. */
    if (sel->nids)
        ops_ec2_add_filter(&q, &nf, "instance-id", sel->ids, sel->nids);
    query_add(&q, "MaxResults", "1000");
    if (token)
        query_add(&q, "NextToken", token);
    query_to_request(&q, "ec2", "DescribeInstances", AWS_PROTO_EC2, req);
    req->region = region;
    query_free(&q);
}

/* The Name tag's value in a tagSet, "" when none. */
const char *ops_ec2_name_tag(const xml_node *item)
{
    for (const xml_node *t = xml_find(item, "tagSet/item"); t; t = xml_next(t)) {
        const char *k = xml_find_text(t, "key");
        if (k && strcmp(k, "Name") == 0 && xml_find_text(t, "value"))
            return xml_find_text(t, "value");
    }
    return "";
}

static bool list_parse(const xml_node *root, const target_selector *sel, ops_resource **out,
                       size_t *n, size_t *cap, err *e)
{
    (void)e;
    (void)sel; /* DescribeInstances filtered on it */
    for (const xml_node *r = xml_find(root, "reservationSet/item"); r; r = xml_next(r))
        for (const xml_node *i = xml_find(r, "instancesSet/item"); i; i = xml_next(i)) {
            const char *id = xml_find_text(i, "instanceId");
            if (id == NULL)
                continue;
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                *out = xreallocarray(*out, *cap, sizeof **out);
            }
            ops_resource *res = &(*out)[(*n)++];
            const char *state = xml_find_text(i, "instanceState/name");
            const char *name = ops_ec2_name_tag(i);
            memset(res, 0, sizeof *res);
            res->id = xstrdup(id);
            res->name = xstrdup(name);
            res->state = xstrdup(state ? state : "");
        }
    return true;
}

static void get_request(const char *region, const ops_resource *r, aws_request *req)
{
    query_params q;
    query_init(&q, "DescribeInstances", EC2_VERSION);
    query_add(&q, "InstanceId.1", r->id);
    query_to_request(&q, "ec2", "DescribeInstances", AWS_PROTO_EC2, req);
    req->region = region;
    query_free(&q);
}

static bool state_is(const ops_resource *r, const char *a, const char *b)
{
    return strcmp(r->state, a) == 0 || (b && strcmp(r->state, b) == 0);
}

/* Terminated instances are gone: there is nothing any operation can do. */
static bool gone(const ops_resource *r, const char **why)
{
    if (!state_is(r, "terminated", "shutting-down"))
        return false;
    *why = "terminated";
    return true;
}

static ops_decision decide_start(const ops_resource *r, const json_t *params, unsigned phase,
                                 const char **why)
{
    (void)params;
    (void)phase;
    if (gone(r, why))
        return OPS_NOTHING;
    if (state_is(r, "running", "pending")) {
        *why = "already running";
        return OPS_NOTHING;
    }
    if (state_is(r, "stopping", NULL)) {
        *why = "still stopping: EC2 starts an instance only once it is stopped";
        return OPS_CANNOT;
    }
    return OPS_ACT;
}

static ops_decision decide_stop(const ops_resource *r, const json_t *params, unsigned phase,
                                const char **why)
{
    (void)params;
    (void)phase;
    if (gone(r, why))
        return OPS_NOTHING;
    if (state_is(r, "stopped", "stopping")) {
        *why = "already stopped";
        return OPS_NOTHING;
    }
    return OPS_ACT;
}

static ops_decision decide_reboot(const ops_resource *r, const json_t *params, unsigned phase,
                                  const char **why)
{
    (void)params;
    (void)phase;
    if (gone(r, why))
        return OPS_NOTHING;
    if (!state_is(r, "running", NULL)) {
        *why = "not running: nothing to reboot";
        return OPS_NOTHING;
    }
    return OPS_ACT;
}

static void action(const char *op, const ops_resource *r, bool dry_run, bool hibernate,
                   const char *region, aws_request *req)
{
    query_params q;
    query_init(&q, op, EC2_VERSION);
    query_add(&q, "InstanceId.1", r->id);
    if (hibernate)
        query_add_bool(&q, "Hibernate", true);
    if (dry_run)
        query_add_bool(&q, "DryRun", true);
    query_to_request(&q, "ec2", op, AWS_PROTO_EC2, req);
    req->region = region;
    query_free(&q);
}

static bool start_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    action("StartInstances", r, c->dry_run, false, c->region, req);
    return true;
}

static bool stop_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    action("StopInstances", r, c->dry_run, json_is_true(json_object_get(c->params, "hibernate")),
           c->region, req);
    return true;
}

static bool reboot_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    action("RebootInstances", r, c->dry_run, false, c->region, req);
    return true;
}

/* ---- tags.apply ---- */

static ops_decision decide_tags(const ops_resource *r, const json_t *params, unsigned phase,
                                const char **why)
{
    (void)params;
    (void)phase;
    if (state_is(r, "terminated", NULL)) {
        *why = "terminated";
        return OPS_NOTHING;
    }
    return OPS_ACT;
}

/* Phase 0 sets the tags (CreateTags), phase 1 removes the keys (DeleteTags,
 * keys alone: whatever their value). Both are idempotent: a retry that sends
 * one again changes nothing more. */
static bool tags_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    const json_t *tags = json_object_get(c->params, "tags");
    const json_t *remove = json_object_get(c->params, "remove");
    const char *op = c->phase == 0 ? "CreateTags" : "DeleteTags";
    if (c->phase == 0 ? json_object_size(tags) == 0 : json_array_size(remove) == 0)
        return false;
    query_params q;
    query_init(&q, op, EC2_VERSION);
    query_add(&q, "ResourceId.1", r->id);
    size_t n = 0;
    char key[48];
    if (c->phase == 0) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)tags, k, v)
        {
            n++;
            snprintf(key, sizeof key, "Tag.%zu.Key", n);
            query_add(&q, key, k);
            snprintf(key, sizeof key, "Tag.%zu.Value", n);
            query_add(&q, key, json_string_value(v));
        }
    } else {
        for (size_t i = 0; i < json_array_size(remove); i++) {
            snprintf(key, sizeof key, "Tag.%zu.Key", i + 1);
            query_add(&q, key, json_string_value(json_array_get(remove, i)));
        }
    }
    if (c->dry_run)
        query_add_bool(&q, "DryRun", true);
    query_to_request(&q, "ec2", op, AWS_PROTO_EC2, req);
    req->region = c->region;
    query_free(&q);
    return true;
}

#define INSTANCE_LISTING                                                                           \
    .dry_run_native = true, .paging = &PAGING_EC2_DESCRIBE_INSTANCES,                              \
    .list_request = ops_ec2_list_request, .list_parse = list_parse, .get_request = get_request,    \
    .nphases = 1, .after_path = "instancesSet/item/currentState/name"

const ops_executor OPS_EC2_START = {
    .verb = "start", INSTANCE_LISTING, .decide = decide_start, .action_request = start_request};
const ops_executor OPS_EC2_STOP = {
    .verb = "stop", INSTANCE_LISTING, .decide = decide_stop, .action_request = stop_request};
const ops_executor OPS_EC2_REBOOT = {
    .verb = "reboot", INSTANCE_LISTING, .decide = decide_reboot, .action_request = reboot_request};

static const char *const tags_verbs[] = {"tag", "untag"};
const ops_executor OPS_EC2_TAGS = {.verb = "tag",
                                   .dry_run_native = true,
                                   .paging = &PAGING_EC2_DESCRIBE_INSTANCES,
                                   .list_request = ops_ec2_list_request,
                                   .list_parse = list_parse,
                                   .get_request = get_request,
                                   .decide = decide_tags,
                                   .nphases = 2,
                                   .phase_verbs = tags_verbs,
                                   .action_request = tags_request};
