/* Paging across pages with small page sizes and lib/aws's paginator, fed
 * by blocking (paginator_fetch) or asynchronous answers (paginator_feed),
 * for each token style: EC2 nextToken, IAM Marker + IsTruncated,
 * Organizations NextToken, Cost Explorer NextPageToken and the query
 * protocol's NextToken (CloudWatch, Auto Scaling). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sbx_fixture.h"
#include "sbx_tests.h"

#include "aws/awsjson.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400

/* One paged listing: its request parameters and what the pages gave. */
typedef struct lister {
    const char *region;
    const char *op;
    int page_size;
    const char *extra_name, *extra_value; /* one more parameter, or NULL */
    sbx_strs items;
    int max_page_items; /* largest page seen */
    /* GetMetricData / GetCostAndUsage */
    const char *instance;
    char start[32], end[32];
} lister;

static void note_page(lister *l, size_t n)
{
    if ((int)n > l->max_page_items)
        l->max_page_items = (int)n;
}

/* ---- EC2 ---- */

static bool build_ec2(void *arg, const char *token, aws_request *req, err *e)
{
    (void)e;
    lister *l = arg;
    query_params q;
    query_init(&q, l->op, "2016-11-15");
    query_add_int(&q, "MaxResults", l->page_size);
    if (l->extra_name)
        query_add(&q, l->extra_name, l->extra_value);
    if (token)
        query_add(&q, "NextToken", token);
    /* operation must outlive the request: it is one of the literals below */
    sbx_query_request(&q, "ec2", l->op, AWS_PROTO_EC2, l->region, req);
    return true;
}

static void page_instances(paginator *p, void *ctx)
{
    lister *l = ctx;
    const xml_node *root = paginator_xml(p);
    size_t n = 0;
    for (const xml_node *r = xml_find(root, "reservationSet/item"); r; r = xml_next(r), n++)
        sbx_strs_add(&l->items, xml_find_text(r, "instancesSet/item/instanceId"));
    note_page(l, n);
}

static void page_snapshots(paginator *p, void *ctx)
{
    lister *l = ctx;
    size_t before = l->items.n;
    sbx_strs_from_xml(&l->items, xml_find(paginator_xml(p), "snapshotSet/item"), "snapshotId");
    note_page(l, l->items.n - before);
}

/* ---- IAM ---- */

static bool build_list_users(void *arg, const char *token, aws_request *req, err *e)
{
    (void)e;
    lister *l = arg;
    query_params q;
    query_init(&q, "ListUsers", "2010-05-08");
    query_add_int(&q, "MaxItems", l->page_size);
    if (token)
        query_add(&q, "Marker", token);
    sbx_query_request(&q, "iam", "ListUsers", AWS_PROTO_QUERY, NULL, req);
    return true;
}

static void page_users(paginator *p, void *ctx)
{
    lister *l = ctx;
    size_t before = l->items.n;
    sbx_strs_from_xml(&l->items, xml_find(paginator_xml(p), "ListUsersResult/Users/member"),
                      "UserName");
    note_page(l, l->items.n - before);
}

/* ---- Organizations ---- */

static bool build_list_accounts(void *arg, const char *token, aws_request *req, err *e)
{
    (void)e;
    lister *l = arg;
    json_t *body = json_pack("{s:i}", "MaxResults", l->page_size);
    if (token)
        json_object_set_new(body, "NextToken", json_string(token));
    awsjson_request(&AWSJSON_ORGANIZATIONS, "ListAccounts", body, req);
    json_decref(body);
    return true;
}

static void page_accounts(paginator *p, void *ctx)
{
    lister *l = ctx;
    size_t before = l->items.n;
    sbx_strs_from_json(&l->items, json_object_get(paginator_json(p), "Accounts"), "Id");
    note_page(l, l->items.n - before);
}

/* ---- Cost Explorer ---- */

static bool build_cost(void *arg, const char *token, aws_request *req, err *e)
{
    (void)e;
    lister *l = arg;
    json_t *body = json_pack("{s:{s:s,s:s},s:s,s:[s],s:[{s:s,s:s},{s:s,s:s}]}", "TimePeriod",
                             "Start", l->start, "End", l->end, "Granularity", "DAILY", "Metrics",
                             "UnblendedCost", "GroupBy", "Type", "DIMENSION", "Key", "SERVICE",
                             "Type", "DIMENSION", "Key", "LINKED_ACCOUNT");
    if (token)
        json_object_set_new(body, "NextPageToken", json_string(token));
    awsjson_request(&AWSJSON_CE, "GetCostAndUsage", body, req);
    json_decref(body);
    return true;
}

static void page_cost(paginator *p, void *ctx)
{
    lister *l = ctx;
    json_t *res = json_object_get(paginator_json(p), "ResultsByTime");
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *r = json_array_get(res, i);
        sbx_strs_add(&l->items, awsjson_get_string(awsjson_find(r, "TimePeriod"), "Start"));
        /* Grouped answers carry their costs in the groups, keyed by both dimensions. */
        json_t *groups = json_object_get(r, "Groups");
        assert_true(json_array_size(groups) > 0);
        for (size_t g = 0; g < json_array_size(groups); g++)
            assert_int_equal(json_array_size(json_object_get(json_array_get(groups, g), "Keys")),
                             2);
    }
    note_page(l, json_array_size(res));
}

/* ---- CloudWatch ---- */

static const paging_spec PAGING_CW_GET_METRIC_DATA = {AWS_PROTO_QUERY,
                                                      "GetMetricDataResult/NextToken", NULL, 0};
static const paging_spec PAGING_ASG_DESCRIBE = {
    AWS_PROTO_QUERY, "DescribeAutoScalingGroupsResult/NextToken", NULL, 0};
static const paging_spec PAGING_EC2_NEXT_TOKEN = {AWS_PROTO_EC2, "nextToken", NULL, 0};

static bool build_metric_data(void *arg, const char *token, aws_request *req, err *e)
{
    (void)e;
    lister *l = arg;
    query_params q;
    query_init(&q, "GetMetricData", "2010-08-01");
    query_add(&q, "MetricDataQueries.member.1.Id", "cpu");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Metric.Namespace", "AWS/EC2");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Metric.MetricName", "CPUUtilization");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name",
              "InstanceId");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value",
              l->instance);
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Period", "300");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Stat", "Maximum");
    query_add(&q, "StartTime", l->start);
    query_add(&q, "EndTime", l->end);
    if (l->page_size)
        query_add_int(&q, "MaxDatapoints", l->page_size);
    if (token)
        query_add(&q, "NextToken", token);
    sbx_query_request(&q, "monitoring", "GetMetricData", AWS_PROTO_QUERY, l->region, req);
    return true;
}

static void page_metric_data(paginator *p, void *ctx)
{
    lister *l = ctx;
    const xml_node *m = xml_find(paginator_xml(p), "GetMetricDataResult/MetricDataResults/member");
    size_t before = l->items.n;
    for (; m; m = xml_next(m)) {
        assert_string_equal(xml_find_text(m, "Id"), "cpu");
        const xml_node *t = xml_find(m, "Timestamps/member");
        const xml_node *v = xml_find(m, "Values/member");
        for (; t && v; t = xml_next(t), v = xml_next(v)) {
            char item[96];
            snprintf(item, sizeof item, "%s=%s", t->text, v->text);
            sbx_strs_add(&l->items, item);
        }
        assert_null(t);
        assert_null(v);
    }
    note_page(l, l->items.n - before);
}

/* ---- Auto Scaling ---- */

static bool build_asgs(void *arg, const char *token, aws_request *req, err *e)
{
    (void)e;
    lister *l = arg;
    query_params q;
    query_init(&q, "DescribeAutoScalingGroups", "2011-01-01");
    query_add_int(&q, "MaxRecords", l->page_size);
    if (token)
        query_add(&q, "NextToken", token);
    sbx_query_request(&q, "autoscaling", "DescribeAutoScalingGroups", AWS_PROTO_QUERY, l->region,
                      req);
    return true;
}

static void page_asgs(paginator *p, void *ctx)
{
    lister *l = ctx;
    size_t before = l->items.n;
    sbx_strs_from_xml(
        &l->items,
        xml_find(paginator_xml(p), "DescribeAutoScalingGroupsResult/AutoScalingGroups/member"),
        "AutoScalingGroupName");
    note_page(l, l->items.n - before);
}

/* The (account, region) with the most entries in the world's array `key`. */
static void most(json_t *world, const char *key, json_t **acct, const char **region)
{
    size_t best = 0;
    json_t *accounts = json_object_get(world, "accounts");
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        json_t *a = json_array_get(accounts, i);
        json_t *regions = json_object_get(a, "regions");
        for (size_t k = 0; k < json_array_size(regions); k++) {
            json_t *r = json_array_get(regions, k);
            size_t n = json_array_size(json_object_get(r, key));
            if (n > best) {
                best = n;
                *acct = a;
                *region = json_string_value(json_object_get(r, "name"));
            }
        }
    }
}

static int pages_for(size_t n, int size)
{
    return (int)((n + (size_t)size - 1) / (size_t)size);
}

void test_paging(void **state)
{
    sbx_mode mode = *(sbx_mode *)*state;
    sbx *s = g_sbx;
    json_t *world = sbx_state(s);
    json_t *mgmt = sbx_world_account(world, s->mgmt_id);
    sbx_client *mc = sbx_client_profile(s, "mgmt");
    char profile[32];

    /* EC2 DescribeInstances, 5 a page: the world's instances in order. */
    lister l = {.region = SBX_REGION1, .op = "DescribeInstances", .page_size = 5};
    int pages = sbx_page_all(s, mc, mode, &PAGING_EC2_DESCRIBE_INSTANCES, build_ec2, &l,
                             page_instances, &l);
    sbx_strs want = {0};
    sbx_strs_from_json(&want, json_object_get(sbx_world_region(mgmt, SBX_REGION1), "instances"),
                       "id");
    assert_true(want.n > 10);
    sbx_assert_strs(&l.items, &want, true, "paged DescribeInstances");
    assert_int_equal(pages, pages_for(want.n, 5));
    assert_int_equal(l.max_page_items, 5);
    sbx_strs_free(&l.items);
    sbx_strs_free(&want);

    /* EC2 DescribeSnapshots Owner=self, 5 a page, where there are most. */
    json_t *acct = NULL;
    const char *region = NULL;
    most(world, "snapshots", &acct, &region);
    l = (lister){.region = region,
                 .op = "DescribeSnapshots",
                 .page_size = 5,
                 .extra_name = "Owner.1",
                 .extra_value = "self"};
    sbx_client *sc =
        sbx_client_profile(s, sbx_profile_of(s, json_string_value(json_object_get(acct, "id")),
                                             profile, sizeof profile));
    pages = sbx_page_all(s, sc, mode, &PAGING_EC2_NEXT_TOKEN, build_ec2, &l, page_snapshots, &l);
    sbx_strs_from_json(&want, json_object_get(sbx_world_region(acct, region), "snapshots"), "id");
    assert_true(want.n > 0);
    sbx_assert_strs(&l.items, &want, false, "paged DescribeSnapshots");
    assert_int_equal(pages, pages_for(want.n, 5));
    sbx_strs_free(&l.items);
    sbx_strs_free(&want);

    /* IAM ListUsers, 3 a page (Marker and IsTruncated). */
    l = (lister){.page_size = 3};
    pages = sbx_page_all(s, mc, mode, &PAGING_IAM_LIST_USERS, build_list_users, &l, page_users, &l);
    sbx_strs_from_json(&want, json_object_get(mgmt, "users"), "name");
    assert_true(want.n > 3);
    sbx_assert_strs(&l.items, &want, true, "paged ListUsers");
    assert_int_equal(pages, pages_for(want.n, 3));
    sbx_strs_free(&l.items);
    sbx_strs_free(&want);

    /* Organizations ListAccounts, 1 a page. */
    l = (lister){.page_size = 1};
    pages = sbx_page_all(s, mc, mode, &PAGING_ORGANIZATIONS_LIST_ACCOUNTS, build_list_accounts, &l,
                         page_accounts, &l);
    sbx_strs_from_json(&want, json_object_get(world, "accounts"), "id");
    sbx_assert_strs(&l.items, &want, true, "paged ListAccounts");
    assert_int_equal(pages, SBX_ACCOUNTS + 1);
    assert_int_equal(l.max_page_items, 1);
    sbx_strs_free(&l.items);
    sbx_strs_free(&want);

    /* Cost Explorer, 60 days grouped by service and account: pages of whole days. */
    time_t now = sbx_now(s);
    time_t today = now - now % DAY;
    l = (lister){0};
    struct tm tm;
    time_t start = today - 62 * DAY, end = today - 2 * DAY;
    gmtime_r(&start, &tm);
    strftime(l.start, sizeof l.start, "%Y-%m-%d", &tm);
    gmtime_r(&end, &tm);
    strftime(l.end, sizeof l.end, "%Y-%m-%d", &tm);
    pages = sbx_page_all(s, mc, mode, &PAGING_CE_GET_COST_AND_USAGE, build_cost, &l, page_cost, &l);
    assert_true(pages > 1);
    assert_int_equal(l.items.n, 60);
    assert_string_equal(l.items.v[0], l.start);
    for (size_t i = 1; i < l.items.n; i++)
        assert_true(strcmp(l.items.v[i - 1], l.items.v[i]) < 0);
    sbx_strs_free(&l.items);

    /* CloudWatch GetMetricData, 7 datapoints a page, against the unpaged answer. */
    json_t *insts = json_object_get(sbx_world_region(mgmt, SBX_REGION1), "instances");
    const char *running = NULL;
    for (size_t i = 0; i < json_array_size(insts) && !running; i++) {
        json_t *in = json_array_get(insts, i);
        time_t launched;
        if (strcmp(json_string_value(json_object_get(in, "state")), "running") == 0 &&
            timeutil_parse_iso8601(json_string_value(json_object_get(in, "launch_time")), &launched,
                                   NULL) &&
            launched < now - DAY)
            running = json_string_value(json_object_get(in, "id"));
    }
    assert_non_null(running);
    lister whole = {.region = SBX_REGION1, .instance = running};
    timeutil_format_iso8601(now - 4 * 3600, whole.start);
    timeutil_format_iso8601(now - 3600, whole.end);
    pages = sbx_page_all(s, mc, mode, &PAGING_CW_GET_METRIC_DATA, build_metric_data, &whole,
                         page_metric_data, &whole);
    assert_int_equal(pages, 1);
    assert_true(whole.items.n >= 30);
    l = whole;
    l.items = (sbx_strs){0};
    l.max_page_items = 0;
    l.page_size = 7;
    pages = sbx_page_all(s, mc, mode, &PAGING_CW_GET_METRIC_DATA, build_metric_data, &l,
                         page_metric_data, &l);
    assert_int_equal(pages, pages_for(whole.items.n, 7));
    assert_int_equal(l.max_page_items, 7);
    sbx_assert_strs(&l.items, &whole.items, true, "paged GetMetricData");
    sbx_strs_free(&l.items);
    sbx_strs_free(&whole.items);

    /* Auto Scaling, 1 group a page, where there are most. */
    most(world, "asgs", &acct, &region);
    l = (lister){.region = region, .page_size = 1};
    sc = sbx_client_profile(s, sbx_profile_of(s, json_string_value(json_object_get(acct, "id")),
                                              profile, sizeof profile));
    pages = sbx_page_all(s, sc, mode, &PAGING_ASG_DESCRIBE, build_asgs, &l, page_asgs, &l);
    sbx_strs_from_json(&want, json_object_get(sbx_world_region(acct, region), "asgs"), "name");
    assert_true(want.n > 1);
    sbx_assert_strs(&l.items, &want, true, "paged DescribeAutoScalingGroups");
    assert_int_equal(pages, (int)want.n);
    sbx_strs_free(&l.items);
    sbx_strs_free(&want);
    json_decref(world);
}
