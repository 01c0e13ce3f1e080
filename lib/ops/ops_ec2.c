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
            const char *type = xml_find_text(i, "instanceType");
            if (type)
                res->type = xstrdup(type);
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

/* ---- ec2.resize ----
 *
 * Six phases per instance, each a step:
 *   0 check         (no call) records the state before anything changes;
 *                   ends the resource when it is terminated or already of
 *                   the type
 *   1 stop          StopInstances (DryRun in a dry run); passed when stopped
 *   2 wait-stopped  (no call) until the state is stopped
 *   3 modify        ModifyInstanceAttribute InstanceType.Value (DryRun in a
 *                   dry run); passed when already of the type
 *   4 start         StartInstances, only when start_after and the instance
 *                   was running or pending before the job (phase 0's state)
 *   5 wait-running  (no call) until running, when phase 4 applies
 * The wire shape of ModifyInstanceAttribute is botocore's:
 * InstanceId=<id>&InstanceType.Value=<type> (an AttributeValue member). */

enum {
    RESIZE_CHECK,
    RESIZE_STOP,
    RESIZE_WAIT_STOPPED,
    RESIZE_MODIFY,
    RESIZE_START,
    RESIZE_WAIT_RUNNING
};

static const char *resize_type(const json_t *params)
{
    const char *t = json_string_value(json_object_get(params, "instance_type"));
    return t ? t : "";
}

static bool has_type(const ops_resource *r, const json_t *params)
{
    return r->type && strcmp(r->type, resize_type(params)) == 0;
}

/* Whether phases 4 and 5 apply: start_after (default true) and the
 * instance was running or about to be before the job. */
static bool restarts(const ops_resource *r, const json_t *params)
{
    const json_t *after = json_object_get(params, "start_after");
    if (after && !json_is_true(after))
        return false;
    return r->before && (strcmp(r->before, "running") == 0 || strcmp(r->before, "pending") == 0);
}

static ops_decision decide_resize(const ops_resource *r, const json_t *params, unsigned phase,
                                  const char **why)
{
    if (state_is(r, "terminated", "shutting-down")) {
        *why = "terminated";
        return phase == RESIZE_CHECK ? OPS_NOTHING : OPS_CANNOT;
    }
    switch (phase) {
    case RESIZE_CHECK:
        if (r->type == NULL) {
            *why = "DescribeInstances gave no instance type";
            return OPS_CANNOT;
        }
        if (has_type(r, params)) {
            *why = "already of that type";
            return OPS_NOTHING;
        }
        return OPS_ACT;
    case RESIZE_STOP:
        if (state_is(r, "stopped", "stopping")) {
            *why = "already stopped";
            return OPS_PASS;
        }
        if (state_is(r, "pending", NULL)) {
            /* EC2 stops a pending instance only once it runs. */
            *why = "still pending";
            return OPS_WAIT;
        }
        return OPS_ACT;
    case RESIZE_WAIT_STOPPED:
        if (state_is(r, "stopped", NULL))
            return OPS_ACT;
        if (state_is(r, "stopping", NULL)) {
            *why = "still stopping";
            return OPS_WAIT;
        }
        *why = "started again while Escher waited for it to stop";
        return OPS_CANNOT;
    case RESIZE_MODIFY:
        if (has_type(r, params)) {
            *why = "already of that type";
            return OPS_PASS;
        }
        /* Not stopped: EC2 refuses with IncorrectInstanceState, in its own
         * words; in a dry run (nothing was stopped) DryRun answers first. */
        return OPS_ACT;
    case RESIZE_START:
        if (!restarts(r, params)) {
            *why = json_is_false(json_object_get(params, "start_after"))
                       ? "start_after is false: left stopped"
                       : "was not running before the job: left stopped";
            return OPS_PASS;
        }
        if (state_is(r, "stopped", NULL))
            return OPS_ACT;
        if (state_is(r, "stopping", NULL)) {
            *why = "still stopping";
            return OPS_WAIT;
        }
        /* Running with the old type: only a dry run gets here (in a real
         * run phase 3 changed the type or failed), whose plan starts it. */
        if (!has_type(r, params))
            return OPS_ACT;
        *why = "already running";
        return OPS_PASS;
    case RESIZE_WAIT_RUNNING:
        if (!restarts(r, params)) {
            *why = "not started by this job";
            return OPS_PASS;
        }
        if (state_is(r, "running", NULL))
            return OPS_ACT;
        if (state_is(r, "pending", NULL)) {
            *why = "still pending";
            return OPS_WAIT;
        }
        *why = "stopped again while Escher waited for it to run";
        return OPS_CANNOT;
    default:
        *why = "no such phase";
        return OPS_CANNOT;
    }
}

static bool resize_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    switch (c->phase) {
    case RESIZE_STOP:
        action("StopInstances", r, c->dry_run, false, c->region, req);
        return true;
    case RESIZE_START:
        action("StartInstances", r, c->dry_run, false, c->region, req);
        return true;
    case RESIZE_MODIFY: {
        query_params q;
        query_init(&q, "ModifyInstanceAttribute", EC2_VERSION);
        query_add(&q, "InstanceId", r->id);
        query_add(&q, "InstanceType.Value", resize_type(c->params));
        if (c->dry_run)
            query_add_bool(&q, "DryRun", true);
        query_to_request(&q, "ec2", "ModifyInstanceAttribute", AWS_PROTO_EC2, req);
        req->region = c->region;
        query_free(&q);
        return true;
    }
    default:
        return false; /* the no-call phases */
    }
}

static void resize_text(const ops_resource *r, const ops_call *c, char *buf, size_t n)
{
    static const char *const words[] = {"check",  "stop",  "wait-stopped",
                                        "resize", "start", "wait-running"};
    const char *w = c->phase < sizeof words / sizeof words[0] ? words[c->phase] : "resize";
    const char *would = c->dry_run ? "would " : "";
    if (c->phase == RESIZE_MODIFY)
        snprintf(buf, n, "%sresize from %s to %s", would, r->type ? r->type : "?",
                 resize_type(c->params));
    else
        snprintf(buf, n, "%s%s", would, w);
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

static const char *const resize_verbs[] = {"check",  "stop",  "wait-stopped",
                                           "modify", "start", "wait-running"};
const ops_executor OPS_EC2_RESIZE = {
    .verb = "resize",
    .dry_run_native = true,
    .paging = &PAGING_EC2_DESCRIBE_INSTANCES,
    .list_request = ops_ec2_list_request,
    .list_parse = list_parse,
    .get_request = get_request,
    .decide = decide_resize,
    .nphases = 6,
    .phase_verbs = resize_verbs,
    .nocall_phases = 1u << RESIZE_CHECK | 1u << RESIZE_WAIT_STOPPED | 1u << RESIZE_WAIT_RUNNING,
    .wait_ms = 1000,
    .wait_max_ms = 15 * 60 * 1000,
    .phase_text = resize_text,
    .action_request = resize_request,
    .after_path = "instancesSet/item/currentState/name"};
