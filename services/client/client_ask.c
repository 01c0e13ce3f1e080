/* Queries with the local credentials. See client_ask.h. The instance
 * listing reuses lib/ops's DescribeInstances request builder
 * (ops_ec2_list_request), so the client filters exactly as the server's
 * executors do; the instance type, which that builder does not filter on, is
 * checked on the answer. */
#include "client_ask.h"

#include "client_cmd.h"
#include "client_plan.h"
#include "client_query.h"

#include "aws/aws_client.h"
#include "aws/aws_opts.h"
#include "aws/awsconfig.h"
#include "aws/credprov.h"
#include "aws/paging.h"
#include "aws/xml.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "ops/ops_ec2.h"
#include "ops/target.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *client_ask_default_region(const opts *o)
{
    const char *r = opts_get_string(o, "region");
    if (!r || !r[0])
        r = getenv("AWS_REGION");
    if (!r || !r[0])
        r = getenv("AWS_DEFAULT_REGION");
    if (r && r[0])
        return xstrdup(r);
    const char *profile = opts_get_string(o, "profile");
    if (!profile || !profile[0])
        profile = getenv("AWS_DEFAULT_PROFILE");
    if (!profile || !profile[0])
        profile = getenv("AWS_PROFILE");
    if (!profile || !profile[0])
        profile = "default";
    const char *file = getenv("AWS_CONFIG_FILE"), *home = getenv("HOME");
    char *path = file && file[0] ? xstrdup(file) : home ? xasprintf("%s/.aws/config", home) : NULL;
    awsconfig *c = NULL;
    err e;
    err_clear(&e);
    char *region = NULL;
    /* An unreadable config file is the credential chain's to report. */
    if (path && awsconfig_load(path, &c, &e) && c) {
        const char *v = awsconfig_get(c, awsconfig_profile_section(c, profile), "region");
        if (v && v[0])
            region = xstrdup(v);
    }
    awsconfig_free(c);
    free(path);
    return region ? region : xstrdup("us-east-1");
}

void client_ask_selector(const json_t *filters, target_selector *sel)
{
    memset(sel, 0, sizeof *sel);
    sel->state = (char *)json_string_value(json_object_get(filters, "state"));
    sel->name = (char *)json_string_value(json_object_get(filters, "name"));
    const json_t *tags = json_object_get(filters, "tags");
    sel->tags = xcalloc(json_object_size(tags) + 1, sizeof *sel->tags);
    const char *key;
    json_t *vals;
    json_object_foreach((json_t *)tags, key, vals)
    {
        target_tag *t = &sel->tags[sel->ntags++];
        t->key = (char *)key;
        size_t n = json_array_size(vals);
        if (n == 0)
            continue;
        t->values = xcalloc(n, sizeof *t->values);
        for (size_t i = 0; i < n; i++)
            if (json_is_string(json_array_get(vals, i)))
                t->values[t->nvalues++] = (char *)json_string_value(json_array_get(vals, i));
    }
    const json_t *ids = json_object_get(filters, "ids");
    sel->ids = xcalloc(json_array_size(ids) + 1, sizeof *sel->ids);
    for (size_t i = 0; i < json_array_size(ids); i++)
        if (json_is_string(json_array_get(ids, i)))
            sel->ids[sel->nids++] = (char *)json_string_value(json_array_get(ids, i));
}

void client_ask_selector_clear(target_selector *sel)
{
    for (size_t i = 0; i < sel->ntags; i++)
        free(sel->tags[i].values);
    free(sel->tags);
    free(sel->ids);
}

typedef struct client_ask_page {
    const target_selector *sel;
    const char *region;
} client_ask_page;

static bool client_ask_build(void *arg, const char *token, aws_request *req, err *e)
{
    (void)e;
    const client_ask_page *pg = arg;
    ops_ec2_list_request(pg->sel, pg->region, token, req);
    return true;
}

static bool client_ask_in(const json_t *list, const char *s)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (s && json_is_string(v) &&
                                       strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

/* An instance's tags as an object. */
static json_t *client_ask_tags(const xml_node *i)
{
    json_t *tags = json_object();
    for (const xml_node *t = xml_find(i, "tagSet/item"); t; t = xml_next(t)) {
        const char *k = xml_find_text(t, "key"), *v = xml_find_text(t, "value");
        if (k)
            json_object_set_new(tags, k, json_string(v ? v : ""));
    }
    return tags;
}

/* Appends one page's matching instances to items; full adds the tags and
 * launch time (for the estate cache and ages). */
static void client_ask_page_items(const xml_node *root, const json_t *filters, const char *region,
                                  bool full, json_t *items)
{
    const char *type = json_string_value(json_object_get(filters, "type"));
    for (const xml_node *r = xml_find(root, "reservationSet/item"); r; r = xml_next(r)) {
        const char *owner = xml_find_text(r, "ownerId");
        if (!client_ask_in(json_object_get(filters, "accounts"), owner))
            continue;
        for (const xml_node *i = xml_find(r, "instancesSet/item"); i; i = xml_next(i)) {
            const char *id = xml_find_text(i, "instanceId");
            const char *itype = xml_find_text(i, "instanceType");
            const char *state = xml_find_text(i, "instanceState/name");
            if (!id || (type && (!itype || strcmp(type, itype) != 0)))
                continue;
            json_t *item =
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "account", owner ? owner : "", "region",
                          region, "id", id, "name", ops_ec2_name_tag(i), "state",
                          state ? state : "", "type", itype ? itype : "");
            if (full) {
                const char *lt = xml_find_text(i, "launchTime");
                json_object_set_new(item, "tags", client_ask_tags(i));
                json_object_set_new(item, "launch_time", lt ? json_string(lt) : json_null());
            }
            json_array_append_new(items, item);
        }
    }
}

/* Appends the region's matching instances to items (blocking). */
static bool client_ask_region(aws_client *aws, const json_t *filters, const target_selector *sel,
                              const char *region, bool full, json_t *items, err *e)
{
    client_ask_page pg = {sel, region};
    paginator *p = paginator_new(&PAGING_EC2_DESCRIBE_INSTANCES);
    bool ok = true;
    for (;;) {
        bool got = false;
        if (!paginator_fetch(p, aws, client_ask_build, &pg, &got, e)) {
            ok = err_prefix(e, "DescribeInstances in %s", region);
            break;
        }
        if (!got)
            break;
        client_ask_page_items(paginator_xml(p), filters, region, full, items);
        if (paginator_done(p))
            break;
    }
    if (ok && paginator_truncated(p))
        fprintf(stderr, "escher: the listing of %s stopped early (paging limit)\n", region);
    paginator_free(p);
    return ok;
}

/* One region's listing on the loop: its pages one after another, the
 * regions side by side, so the answer waits for the slowest region rather
 * than the sum of them (tests/bench/client, docs/performance.md). */
typedef struct client_ask_run {
    aws_client *aws;
    const json_t *filters;
    const target_selector *sel;
    const char *region;
    bool full;
    paginator *p;
    json_t *items;
    bool ok;
    err e;
} client_ask_run;

static void client_ask_run_next(client_ask_run *r);

static void client_ask_run_done(const http_response *resp, const err *e, void *arg)
{
    client_ask_run *r = arg;
    if (!resp) {
        r->e = *e;
        err_prefix(&r->e, "DescribeInstances in %s", r->region);
        return;
    }
    if (!paginator_feed_copy(r->p, resp, &r->e)) {
        err_prefix(&r->e, "DescribeInstances in %s", r->region);
        return;
    }
    client_ask_page_items(paginator_xml(r->p), r->filters, r->region, r->full, r->items);
    if (paginator_done(r->p)) {
        r->ok = true;
        if (paginator_truncated(r->p))
            fprintf(stderr, "escher: the listing of %s stopped early (paging limit)\n", r->region);
        return;
    }
    client_ask_run_next(r);
}

static void client_ask_run_next(client_ask_run *r)
{
    aws_request req;
    ops_ec2_list_request(r->sel, r->region, paginator_token(r->p), &req);
    if (!aws_client_call_async(r->aws, &req, client_ask_run_done, r, &r->e))
        err_prefix(&r->e, "DescribeInstances in %s", r->region);
    aws_request_free(&req);
}

/* Lists every region of regions at once on base, appending to items in the
 * order the regions are named; returns how many regions answered (the
 * others' errors on stderr). */
static size_t client_ask_regions(aws_client *aws, struct event_base *base, const json_t *regions,
                                 const json_t *filters, const target_selector *sel, bool full,
                                 json_t *items)
{
    size_t n = json_array_size(regions), nok = 0;
    client_ask_run *runs = xcalloc(n ? n : 1, sizeof *runs);
    for (size_t i = 0; i < n; i++) {
        client_ask_run *r = &runs[i];
        *r = (client_ask_run){.aws = aws, .filters = filters, .sel = sel, .full = full};
        r->region = json_string_value(json_array_get(regions, i));
        r->items = json_array();
        err_clear(&r->e);
        if (!r->region)
            continue;
        r->p = paginator_new(&PAGING_EC2_DESCRIBE_INSTANCES);
        client_ask_run_next(r);
    }
    event_base_dispatch(base);
    for (size_t i = 0; i < n; i++) {
        client_ask_run *r = &runs[i];
        if (r->ok) {
            nok++;
            json_array_extend(items, r->items);
        } else if (r->region) {
            fprintf(stderr, "escher: %s\n", r->e.message);
        }
        json_decref(r->items);
        paginator_free(r->p);
    }
    free(runs);
    return nok;
}

bool client_aws_open(const opts *o, client_aws *ca)
{
    memset(ca, 0, sizeof *ca);
    aws_client_options copts;
    aws_opts_client_options(o, &copts);
    ca->region = client_ask_default_region(o);
    copts.region = ca->region;
    credprov_options po = {0};
    po.profile = opts_get_string(o, "profile");
    po.endpoint_url = copts.endpoint_url;
    po.region = ca->region;
    po.ca_file = copts.ca_file;
    err e;
    err_clear(&e);
    ca->base = event_base_new();
    ca->creds = ca->base ? credprov_default_chain(&po, &e) : NULL;
    ca->aws = ca->creds ? aws_client_new(&copts, ca->creds, ca->base, &e) : NULL;
    if (!ca->aws) {
        fprintf(stderr, "escher: local AWS credentials: %s\n",
                ca->base ? e.message : "cannot make an event base");
        client_aws_close(ca);
        return false;
    }
    return true;
}

void client_aws_close(client_aws *ca)
{
    aws_client_free(ca->aws);
    credprov_free(ca->creds);
    if (ca->base)
        event_base_free(ca->base);
    free(ca->region);
    memset(ca, 0, sizeof *ca);
}

bool client_ask_instances(aws_client *aws, const char *region, json_t *items, err *e)
{
    target_selector sel;
    memset(&sel, 0, sizeof sel);
    return client_ask_region(aws, NULL, &sel, region, true, items, e);
}

int client_ask_query(client_aws *ca, const json_t *plan, client_out_format out, json_t *seen)
{
    const char *resource = json_string_value(json_object_get(plan, "resource"));
    const json_t *filters = json_object_get(plan, "filters");
    if (!resource || strcmp(resource, "instances") != 0)
        return client_query_answer(ca, plan, out, seen);
    /* An age is read on the launch time, which the full listing carries. */
    const json_t *age = json_object_get(filters, "older_than_days");
    aws_client *aws = ca->aws;
    err e;
    target_selector sel;
    client_ask_selector(filters, &sel);
    json_t *items = json_array();
    int rc = CLIENT_EXIT_OK;
    err_clear(&e);
    json_t *regions = client_plan_query_regions(aws, filters, ca->region, &e);
    if (!regions)
        fprintf(stderr, "escher: %s\n", e.message);
    size_t nregions = json_array_size(regions);
    size_t nok = client_ask_regions(aws, ca->base, regions, filters, &sel, age != NULL, items);
    if (nok == 0)
        rc = CLIENT_EXIT_FAILED;
    else if (nok < nregions)
        rc = CLIENT_EXIT_PARTIAL;
    json_decref(regions);
    if (age) {
        json_t *older = json_array();
        time_t now = timeutil_now();
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
        {
            const char *lt = json_string_value(json_object_get(item, "launch_time"));
            if (client_query_older(lt, json_integer_value(age), now))
                json_array_append(older, item);
            /* The listing's columns, as without an age. */
            json_object_del(item, "tags");
            json_object_del(item, "launch_time");
        }
        json_decref(items);
        items = older;
    }
    if (nok > 0) {
        const char *action = json_string_value(json_object_get(plan, "action"));
        if (action && strcmp(action, "count") == 0) {
            json_t *c = json_pack("{s:I}", "count", (json_int_t)json_array_size(items));
            client_out_object(stdout, out, c);
            json_decref(c);
        } else {
            static const char *const cols[] = {"account", "region", "id", "name",
                                               "state",   "type",   NULL};
            client_out_items(stdout, out, items, cols);
        }
        client_query_seen(items, seen);
    }
    json_decref(items);
    client_ask_selector_clear(&sel);
    return rc;
}
