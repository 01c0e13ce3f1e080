/* Auto Scaling executor. See ops_asg.h. Wire shapes from botocore's
 * autoscaling 2011-01-01 model (query protocol): AutoScalingGroupNames.member.N,
 * MaxRecords 1..100, NextToken; answers DescribeAutoScalingGroupsResult/
 * AutoScalingGroups/member with AutoScalingGroupName, MinSize, MaxSize,
 * DesiredCapacity and Tags/member/{Key,Value}; UpdateAutoScalingGroup's
 * MinSize, MaxSize, DesiredCapacity. */
#include "ops/ops_asg.h"

#include "aws/paging.h"
#include "aws/query.h"
#include "aws/xml.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AS_VERSION "2011-01-01"

static const paging_spec asg_paging = {AWS_PROTO_QUERY, "DescribeAutoScalingGroupsResult/NextToken",
                                       NULL, 0};

static void describe(char *const *names, size_t n, const char *region, const char *token,
                     aws_request *req)
{
    query_params q;
    query_init(&q, "DescribeAutoScalingGroups", AS_VERSION);
    char key[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "AutoScalingGroupNames.member.%zu", i + 1);
        query_add(&q, key, names[i]);
    }
    query_add(&q, "MaxRecords", "100");
    if (token)
        query_add(&q, "NextToken", token);
    query_to_request(&q, "autoscaling", "DescribeAutoScalingGroups", AWS_PROTO_QUERY, req);
    req->region = region;
    query_free(&q);
}

static void list_request(const target_selector *sel, const char *region, const char *token,
                         aws_request *req)
{
    describe(sel->ids, sel->nids, region, token, req);
}

/* The groups of an answer, those sel matches when given; the name glob is
 * matched on the group's name (its identity), the state is the capacity. */
static bool list_parse(const xml_node *root, const target_selector *sel, ops_resource **out,
                       size_t *n, size_t *cap, err *e)
{
    (void)e;
    for (const xml_node *g =
             xml_find(root, "DescribeAutoScalingGroupsResult/AutoScalingGroups/member");
         g; g = xml_next(g)) {
        const char *id = xml_find_text(g, "AutoScalingGroupName");
        if (id == NULL)
            continue;
        const char *keys[64], *values[64];
        size_t nt = 0;
        for (const xml_node *t = xml_find(g, "Tags/member"); t && nt < 64; t = xml_next(t)) {
            const char *k = xml_find_text(t, "Key"), *v = xml_find_text(t, "Value");
            if (k == NULL)
                continue;
            keys[nt] = k;
            values[nt++] = v ? v : "";
        }
        if (sel && !ops_selector_match(sel, id, id, NULL, keys, values, nt))
            continue;
        const char *mn = xml_find_text(g, "MinSize"), *mx = xml_find_text(g, "MaxSize"),
                   *want = xml_find_text(g, "DesiredCapacity");
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *out = xreallocarray(*out, *cap, sizeof **out);
        }
        ops_resource *r = &(*out)[(*n)++];
        memset(r, 0, sizeof *r);
        r->id = xstrdup(id);
        r->name = xstrdup(id);
        r->state = xasprintf("%s/%s/%s", mn ? mn : "?", mx ? mx : "?", want ? want : "?");
    }
    return true;
}

static void get_request(const char *region, const ops_resource *r, aws_request *req)
{
    char *name = r->id;
    describe(&name, 1, region, NULL, req);
}

static char *wanted(const json_t *params)
{
    return xasprintf("%lld/%lld/%lld",
                     (long long)json_integer_value(json_object_get(params, "min")),
                     (long long)json_integer_value(json_object_get(params, "max")),
                     (long long)json_integer_value(json_object_get(params, "desired")));
}

static ops_decision decide(const ops_resource *r, const json_t *params, unsigned phase,
                           const char **why)
{
    (void)phase;
    char *want = wanted(params);
    bool same = strcmp(want, r->state) == 0;
    free(want);
    if (!same)
        return OPS_ACT;
    *why = "already at that capacity";
    return OPS_NOTHING;
}

static bool update_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    query_params q;
    query_init(&q, "UpdateAutoScalingGroup", AS_VERSION);
    query_add(&q, "AutoScalingGroupName", r->id);
    query_add_int(&q, "MinSize", json_integer_value(json_object_get(c->params, "min")));
    query_add_int(&q, "MaxSize", json_integer_value(json_object_get(c->params, "max")));
    query_add_int(&q, "DesiredCapacity", json_integer_value(json_object_get(c->params, "desired")));
    query_to_request(&q, "autoscaling", "UpdateAutoScalingGroup", AWS_PROTO_QUERY, req);
    req->region = c->region;
    query_free(&q);
    return true;
}

const ops_executor OPS_ASG_SET_CAPACITY = {.verb = "set capacity",
                                           .paging = &asg_paging,
                                           .list_request = list_request,
                                           .list_parse = list_parse,
                                           .get_request = get_request,
                                           .decide = decide,
                                           .nphases = 1,
                                           .action_request = update_request};
