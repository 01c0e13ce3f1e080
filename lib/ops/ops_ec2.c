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

static void add_filter(query_params *q, size_t *n, const char *name, char *const *values,
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

static void list_request(const target_selector *sel, const char *region, const char *token,
                         aws_request *req)
{
    query_params q;
    query_init(&q, "DescribeInstances", EC2_VERSION);
    size_t nf = 0;
    for (size_t i = 0; i < sel->ntags; i++) {
        const target_tag *t = &sel->tags[i];
        if (t->nvalues == 0) {
            char *key = t->key;
            add_filter(&q, &nf, "tag-key", &key, 1);
        } else {
            char *name = xasprintf("tag:%s", t->key);
            add_filter(&q, &nf, name, t->values, t->nvalues);
            free(name);
        }
    }
    if (sel->state) {
        char *state = sel->state;
        add_filter(&q, &nf, "instance-state-name", &state, 1);
    }
    if (sel->name) {
        char *name = sel->name;
        add_filter(&q, &nf, "tag:Name", &name, 1);
    }
    /* The ids as a filter rather than InstanceId.N: an id that does not
     * exist (terminated long ago) then matches nothing instead of failing
     * the whole listing, and paging stays allowed. */
    if (sel->nids)
        add_filter(&q, &nf, "instance-id", sel->ids, sel->nids);
    query_add(&q, "MaxResults", "1000");
    if (token)
        query_add(&q, "NextToken", token);
    query_to_request(&q, "ec2", "DescribeInstances", AWS_PROTO_EC2, req);
    req->region = region;
    query_free(&q);
}

static bool list_parse(const xml_node *root, ops_resource **out, size_t *n, size_t *cap, err *e)
{
    (void)e;
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
            const char *name = "";
            for (const xml_node *t = xml_find(i, "tagSet/item"); t; t = xml_next(t)) {
                const char *k = xml_find_text(t, "key");
                if (k && strcmp(k, "Name") == 0 && xml_find_text(t, "value"))
                    name = xml_find_text(t, "value");
            }
            res->id = xstrdup(id);
            res->name = xstrdup(name);
            res->state = xstrdup(state ? state : "");
        }
    return true;
}

static void get_request(const char *region, const char *id, aws_request *req)
{
    query_params q;
    query_init(&q, "DescribeInstances", EC2_VERSION);
    query_add(&q, "InstanceId.1", id);
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

static ops_decision decide_start(const ops_resource *r, const json_t *params, const char **why)
{
    (void)params;
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

static ops_decision decide_stop(const ops_resource *r, const json_t *params, const char **why)
{
    (void)params;
    if (gone(r, why))
        return OPS_NOTHING;
    if (state_is(r, "stopped", "stopping")) {
        *why = "already stopped";
        return OPS_NOTHING;
    }
    return OPS_ACT;
}

static ops_decision decide_reboot(const ops_resource *r, const json_t *params, const char **why)
{
    (void)params;
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

static void start_request(const ops_resource *r, const json_t *params, bool dry_run,
                          const char *region, aws_request *req)
{
    (void)params;
    action("StartInstances", r, dry_run, false, region, req);
}

static void stop_request(const ops_resource *r, const json_t *params, bool dry_run,
                         const char *region, aws_request *req)
{
    action("StopInstances", r, dry_run, json_is_true(json_object_get(params, "hibernate")), region,
           req);
}

static void reboot_request(const ops_resource *r, const json_t *params, bool dry_run,
                           const char *region, aws_request *req)
{
    (void)params;
    action("RebootInstances", r, dry_run, false, region, req);
}

const ops_executor OPS_EC2_START = {"start",      true,         &PAGING_EC2_DESCRIBE_INSTANCES,
                                    list_request, list_parse,   get_request,
                                    decide_start, start_request};
const ops_executor OPS_EC2_STOP = {"stop",       true,        &PAGING_EC2_DESCRIBE_INSTANCES,
                                   list_request, list_parse,  get_request,
                                   decide_stop,  stop_request};
const ops_executor OPS_EC2_REBOOT = {"reboot",      true,          &PAGING_EC2_DESCRIBE_INSTANCES,
                                     list_request,  list_parse,    get_request,
                                     decide_reboot, reboot_request};
