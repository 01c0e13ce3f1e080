/* RDS executors. See ops_rds.h. Wire shapes from botocore's rds 2014-10-31
 * model (query protocol): Filters.Filter.N.Name / Values.Value.M, Marker,
 * MaxRecords 20..100; answers <OpResponse><OpResult><DBInstances>
 * <DBInstance> with DBInstanceIdentifier, DBInstanceStatus and
 * TagList/Tag/{Key,Value}; CreateDBSnapshot's DBSnapshot/DBSnapshotIdentifier. */
#include "ops/ops_rds.h"

#include "aws/paging.h"
#include "aws/query.h"
#include "aws/xml.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RDS_VERSION "2014-10-31"

static void list_request(const target_selector *sel, const char *region, const char *token,
                         aws_request *req)
{
    query_params q;
    query_init(&q, "DescribeDBInstances", RDS_VERSION);
    if (sel->nids) {
        query_add(&q, "Filters.Filter.1.Name", "db-instance-id");
        char key[64];
        for (size_t i = 0; i < sel->nids; i++) {
            snprintf(key, sizeof key, "Filters.Filter.1.Values.Value.%zu", i + 1);
            query_add(&q, key, sel->ids[i]);
        }
    }
    query_add(&q, "MaxRecords", "100");
    if (token)
        query_add(&q, "Marker", token);
    query_to_request(&q, "rds", "DescribeDBInstances", AWS_PROTO_QUERY, req);
    req->region = region;
    query_free(&q);
}

/* The DB instances of an answer (the listing's or a re-check's), those sel
 * matches when sel is given. Name: the Name tag. */
static bool list_parse(const xml_node *root, const target_selector *sel, ops_resource **out,
                       size_t *n, size_t *cap, err *e)
{
    (void)e;
    for (const xml_node *d = xml_find(root, "DescribeDBInstancesResult/DBInstances/DBInstance"); d;
         d = xml_next(d)) {
        const char *id = xml_find_text(d, "DBInstanceIdentifier");
        const char *status = xml_find_text(d, "DBInstanceStatus");
        if (id == NULL)
            continue;
        const char *keys[64], *values[64], *name = "";
        size_t nt = 0;
        for (const xml_node *t = xml_find(d, "TagList/Tag"); t && nt < 64; t = xml_next(t)) {
            const char *k = xml_find_text(t, "Key"), *v = xml_find_text(t, "Value");
            if (k == NULL)
                continue;
            keys[nt] = k;
            values[nt++] = v ? v : "";
            if (strcmp(k, "Name") == 0)
                name = v ? v : "";
        }
        if (sel && !ops_selector_match(sel, id, name, status, keys, values, nt))
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *out = xreallocarray(*out, *cap, sizeof **out);
        }
        ops_resource *r = &(*out)[(*n)++];
        memset(r, 0, sizeof *r);
        r->id = xstrdup(id);
        r->name = xstrdup(name);
        r->state = xstrdup(status ? status : "");
    }
    return true;
}

static void get_request(const char *region, const ops_resource *r, aws_request *req)
{
    query_params q;
    query_init(&q, "DescribeDBInstances", RDS_VERSION);
    query_add(&q, "DBInstanceIdentifier", r->id);
    query_to_request(&q, "rds", "DescribeDBInstances", AWS_PROTO_QUERY, req);
    req->region = region;
    query_free(&q);
}

static bool is(const ops_resource *r, const char *a, const char *b)
{
    return strcmp(r->state, a) == 0 || (b && strcmp(r->state, b) == 0);
}

static ops_decision decide_stop(const ops_resource *r, const json_t *params, unsigned phase,
                                const char **why)
{
    (void)params;
    (void)phase;
    if (is(r, "available", NULL))
        return OPS_ACT;
    if (is(r, "stopped", "stopping")) {
        *why = "already stopped";
        return OPS_NOTHING;
    }
    if (is(r, "deleting", NULL)) {
        *why = "being deleted";
        return OPS_NOTHING;
    }
    *why = "not available: RDS stops only an available instance";
    return OPS_CANNOT;
}

static ops_decision decide_start(const ops_resource *r, const json_t *params, unsigned phase,
                                 const char **why)
{
    (void)params;
    (void)phase;
    if (is(r, "stopped", NULL))
        return OPS_ACT;
    if (is(r, "available", "starting")) {
        *why = "already running";
        return OPS_NOTHING;
    }
    if (is(r, "deleting", NULL)) {
        *why = "being deleted";
        return OPS_NOTHING;
    }
    *why = "not stopped: RDS starts only a stopped instance";
    return OPS_CANNOT;
}

static ops_decision decide_snapshot(const ops_resource *r, const json_t *params, unsigned phase,
                                    const char **why)
{
    (void)params;
    (void)phase;
    if (is(r, "available", "stopped"))
        return OPS_ACT;
    if (is(r, "deleting", NULL)) {
        *why = "being deleted";
        return OPS_NOTHING;
    }
    *why = "neither available nor stopped: RDS snapshots an instance only then";
    return OPS_CANNOT;
}

static void one(const char *op, const ops_resource *r, const ops_call *c, aws_request *req)
{
    query_params q;
    query_init(&q, op, RDS_VERSION);
    query_add(&q, "DBInstanceIdentifier", r->id);
    query_to_request(&q, "rds", op, AWS_PROTO_QUERY, req);
    req->region = c->region;
    query_free(&q);
}

static bool stop_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    one("StopDBInstance", r, c, req);
    return true;
}

static bool start_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    one("StartDBInstance", r, c, req);
    return true;
}

/* <prefix>-<db>-<job's UTC creation time>: the same on every attempt of the
 * job, so a retry after an interrupted call meets DBSnapshotAlreadyExists
 * (already_code) instead of making a second snapshot. */
static bool snapshot_request(const ops_resource *r, const ops_call *c, aws_request *req)
{
    const char *prefix = json_string_value(json_object_get(c->params, "snapshot_prefix"));
    char *sid = xasprintf("%s-%s-%s", prefix ? prefix : "escher", r->id,
                          c->stamp && *c->stamp ? c->stamp : "now");
    query_params q;
    query_init(&q, "CreateDBSnapshot", RDS_VERSION);
    query_add(&q, "DBSnapshotIdentifier", sid);
    query_add(&q, "DBInstanceIdentifier", r->id);
    query_to_request(&q, "rds", "CreateDBSnapshot", AWS_PROTO_QUERY, req);
    req->region = c->region;
    query_free(&q);
    free(sid);
    return true;
}

#define DB_LISTING                                                                                 \
    .paging = &PAGING_RDS_DESCRIBE_DB_INSTANCES, .list_request = list_request,                     \
    .list_parse = list_parse, .get_request = get_request, .nphases = 1

const ops_executor OPS_RDS_STOP = {.verb = "stop",
                                   DB_LISTING,
                                   .decide = decide_stop,
                                   .action_request = stop_request,
                                   .after_path =
                                       "StopDBInstanceResult/DBInstance/DBInstanceStatus"};
const ops_executor OPS_RDS_START = {.verb = "start",
                                    DB_LISTING,
                                    .decide = decide_start,
                                    .action_request = start_request,
                                    .after_path =
                                        "StartDBInstanceResult/DBInstance/DBInstanceStatus"};
const ops_executor OPS_RDS_SNAPSHOT = {.verb = "snapshot",
                                       DB_LISTING,
                                       .decide = decide_snapshot,
                                       .action_request = snapshot_request,
                                       .after_path = "CreateDBSnapshotResult/DBSnapshot/Status",
                                       .created_path =
                                           "CreateDBSnapshotResult/DBSnapshot/DBSnapshotIdentifier",
                                       .already_code = "DBSnapshotAlreadyExists"};
