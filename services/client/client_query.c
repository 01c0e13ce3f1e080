/* Queries on volumes, snapshots, buckets, databases, security groups and
 * Elastic IPs with the local credentials. See client_query.h.
 *
 * Each resource is a row of one table: the AWS call that lists it, its
 * paging, where its items are in the answer, which of the plan's filters
 * AWS can apply (EC2 Filter.N), which ones the resource has at all, its
 * columns and a reader turning one item into a row. Filters AWS applies are
 * matched again on the answer, so every filter holds whatever the service
 * did with it. Wire shapes from botocore's ec2 2016-11-15, rds 2014-10-31 and
 * s3 2006-03-01 models. */
#include "client_query.h"

#include "client_ask.h"
#include "client_cmd.h"
#include "client_plan.h"

#include "aws/aws_client.h"
#include "aws/paging.h"
#include "aws/query.h"
#include "aws/restxml.h"
#include "aws/sts.h"
#include "aws/xml.h"
#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "ops/ops_catalog.h"
#include "ops/ops_ec2.h"
#include "ops/target.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CQ_EC2_VERSION "2016-11-15"
#define CQ_RDS_VERSION "2014-10-31"
/* AWS allows 50 tags per resource. */
#define CQ_MAX_TAGS 64
/* Buckets are one global listing; their regions cost a GetBucketLocation
 * each, looked up when a region is named or the account has at most this
 * many buckets. */
#define CQ_BUCKET_LOCATIONS_MAX 100

/* What one item of an answer says, for the filters. Strings are borrowed
 * from the page. */
typedef struct cq_item {
    const char *id;
    const char *name;     /* what the name glob matches (the name column) */
    const char *alt_name; /* a second name the glob may match, or NULL */
    const char *state;
    const char *type;
    const char *created; /* ISO 8601 */
    const char *keys[CQ_MAX_TAGS], *values[CQ_MAX_TAGS];
    size_t ntags;
} cq_item;

/* Reads one item into it and fills row's columns (account and region are
 * there already). */
typedef void (*cq_read_fn)(const xml_node *n, cq_item *it, json_t *row);

typedef struct cq_resource {
    const char *resource; /* the plan's word */
    const char *noun;     /* for messages */
    const char *service;  /* "ec2" or "rds" (buckets have their own path) */
    const char *operation;
    const paging_spec *paging;
    const char *items;       /* path of the items from the answer's root */
    const char *max_results; /* MaxResults (EC2) / MaxRecords (RDS); NULL: none */
    bool owner_self;         /* Owner.1=self: the account's own, not public ones */
    /* EC2 filter names AWS applies for the plan's state, ids and name;
     * NULL: matched on the answer only. */
    const char *state_filter, *id_filter, *name_filter;
    bool tags;                  /* has tags: tag filters apply */
    bool state;                 /* has a state */
    const char *const *states;  /* the states it can be in; NULL: any word */
    const char *const *aliases; /* pairs: the engine's word, the resource's */
    bool type;                  /* has a type the type filter matches */
    bool created;               /* has a creation time the age filter reads */
    const char *const *columns;
    cq_read_fn read;
} cq_resource;

/* ---- reading items ---- */

static json_t *cq_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *cq_int(const xml_node *n, const char *path)
{
    int64_t v = 0;
    err e;
    return xml_find_int64(n, path, &v, &e) ? json_integer((json_int_t)v) : json_null();
}

/* Tags at path (items of key/value children): into it, the Name tag as
 * it->name. */
static void cq_tags(const xml_node *n, const char *path, const char *k, const char *v, cq_item *it)
{
    for (const xml_node *t = xml_find(n, path); t && it->ntags < CQ_MAX_TAGS; t = xml_next(t)) {
        const char *key = xml_find_text(t, k), *value = xml_find_text(t, v);
        if (!key)
            continue;
        it->keys[it->ntags] = key;
        it->values[it->ntags++] = value ? value : "";
        if (strcmp(key, "Name") == 0)
            it->name = value ? value : "";
    }
}

static void read_volume(const xml_node *v, cq_item *it, json_t *row)
{
    it->id = xml_find_text(v, "volumeId");
    it->state = xml_find_text(v, "status");
    it->type = xml_find_text(v, "volumeType");
    it->created = xml_find_text(v, "createTime");
    cq_tags(v, "tagSet/item", "key", "value", it);
    json_object_set_new(row, "id", cq_str(it->id));
    json_object_set_new(row, "name", cq_str(it->name));
    json_object_set_new(row, "state", cq_str(it->state));
    json_object_set_new(row, "size", cq_int(v, "size"));
    json_object_set_new(row, "type", cq_str(it->type));
    json_object_set_new(row, "instance", cq_str(xml_find_text(v, "attachmentSet/item/instanceId")));
    json_object_set_new(row, "created", cq_str(it->created));
}

static void read_snapshot(const xml_node *s, cq_item *it, json_t *row)
{
    it->id = xml_find_text(s, "snapshotId");
    it->state = xml_find_text(s, "status");
    it->created = xml_find_text(s, "startTime");
    cq_tags(s, "tagSet/item", "key", "value", it);
    json_object_set_new(row, "id", cq_str(it->id));
    json_object_set_new(row, "name", cq_str(it->name));
    json_object_set_new(row, "volume", cq_str(xml_find_text(s, "volumeId")));
    json_object_set_new(row, "state", cq_str(it->state));
    json_object_set_new(row, "size", cq_int(s, "volumeSize"));
    json_object_set_new(row, "started", cq_str(it->created));
}

static void read_database(const xml_node *d, cq_item *it, json_t *row)
{
    it->id = xml_find_text(d, "DBInstanceIdentifier");
    it->state = xml_find_text(d, "DBInstanceStatus");
    it->type = xml_find_text(d, "DBInstanceClass");
    it->created = xml_find_text(d, "InstanceCreateTime");
    cq_tags(d, "TagList/Tag", "Key", "Value", it);
    /* "the database called orders": the identifier, or a Name tag. */
    it->alt_name = it->id;
    json_object_set_new(row, "id", cq_str(it->id));
    json_object_set_new(row, "engine", cq_str(xml_find_text(d, "Engine")));
    json_object_set_new(row, "class", cq_str(it->type));
    json_object_set_new(row, "state", cq_str(it->state));
    json_object_set_new(row, "created", cq_str(it->created));
}

/* Rules as the console counts them: one per source (CIDR, IPv6 range,
 * group, prefix list) of each permission. */
static json_int_t cq_rules(const xml_node *g, const char *path)
{
    json_int_t n = 0;
    for (const xml_node *p = xml_find(g, path); p; p = xml_next(p)) {
        size_t k = xml_count(xml_child(p, "ipRanges"), "item") +
                   xml_count(xml_child(p, "ipv6Ranges"), "item") +
                   xml_count(xml_child(p, "groups"), "item") +
                   xml_count(xml_child(p, "prefixListIds"), "item");
        n += k ? (json_int_t)k : 1;
    }
    return n;
}

static void read_security_group(const xml_node *g, cq_item *it, json_t *row)
{
    it->id = xml_find_text(g, "groupId");
    cq_tags(g, "tagSet/item", "key", "value", it);
    /* The group's name is its name; a Name tag is a second one. */
    it->alt_name = it->name;
    it->name = xml_find_text(g, "groupName");
    json_object_set_new(row, "id", cq_str(it->id));
    json_object_set_new(row, "name", cq_str(it->name));
    json_object_set_new(row, "vpc", cq_str(xml_find_text(g, "vpcId")));
    json_object_set_new(row, "description", cq_str(xml_find_text(g, "groupDescription")));
    json_object_set_new(row, "inbound", json_integer(cq_rules(g, "ipPermissions/item")));
    json_object_set_new(row, "outbound", json_integer(cq_rules(g, "ipPermissionsEgress/item")));
}

static void read_address(const xml_node *a, cq_item *it, json_t *row)
{
    it->id = xml_find_text(a, "allocationId");
    const char *instance = xml_find_text(a, "instanceId");
    const char *assoc = xml_find_text(a, "associationId");
    /* As the engine words volumes: associated is in-use, else available. */
    it->state = (instance && instance[0]) || (assoc && assoc[0]) ? "in-use" : "available";
    cq_tags(a, "tagSet/item", "key", "value", it);
    json_object_set_new(row, "public_ip", cq_str(xml_find_text(a, "publicIp")));
    json_object_set_new(row, "allocation_id", cq_str(it->id));
    json_object_set_new(row, "name", cq_str(it->name));
    json_object_set_new(row, "state", cq_str(it->state));
    json_object_set_new(row, "instance", cq_str(instance && instance[0] ? instance : NULL));
}

/* ---- the table ---- */

/* DescribeAddresses has no paging: one page, and a token would be a cut. */
static const paging_spec cq_one_page = {AWS_PROTO_EC2, "nextToken", NULL, 1};

static const char *const volume_states[] = {"creating", "available", "in-use", "deleting",
                                            "deleted",  "error",     NULL};
static const char *const snapshot_states[] = {"pending",     "completed",  "error",
                                              "recoverable", "recovering", NULL};
static const char *const snapshot_aliases[] = {"available", "completed", NULL};
static const char *const address_states[] = {"available", "in-use", NULL};
static const char *const database_aliases[] = {"running", "available", NULL};

static const char *const volume_cols[] = {"account", "region", "id",       "name",    "state",
                                          "size",    "type",   "instance", "created", NULL};
static const char *const snapshot_cols[] = {"account", "region", "id",      "name", "volume",
                                            "state",   "size",   "started", NULL};
static const char *const database_cols[] = {"account", "region", "id",      "engine",
                                            "class",   "state",  "created", NULL};
static const char *const sg_cols[] = {"account",     "region",  "id",       "name", "vpc",
                                      "description", "inbound", "outbound", NULL};
static const char *const address_cols[] = {"account", "region", "public_ip", "allocation_id",
                                           "name",    "state",  "instance",  NULL};
static const char *const bucket_cols[] = {"account", "name", "region", "created", NULL};

static const cq_resource cq_resources[] = {
    {.resource = "volumes",
     .noun = "volumes",
     .service = "ec2",
     .operation = "DescribeVolumes",
     .paging = &PAGING_EC2_DESCRIBE_VOLUMES,
     .items = "volumeSet/item",
     .max_results = "500",
     .state_filter = "status",
     .id_filter = "volume-id",
     .name_filter = "tag:Name",
     .tags = true,
     .state = true,
     .states = volume_states,
     .type = true,
     .created = true,
     .columns = volume_cols,
     .read = read_volume},
    {.resource = "snapshots",
     .noun = "snapshots",
     .service = "ec2",
     .operation = "DescribeSnapshots",
     .paging = &PAGING_EC2_DESCRIBE_SNAPSHOTS,
     .items = "snapshotSet/item",
     .max_results = "1000",
     .owner_self = true,
     .state_filter = "status",
     .id_filter = "snapshot-id",
     .name_filter = "tag:Name",
     .tags = true,
     .state = true,
     .states = snapshot_states,
     .aliases = snapshot_aliases,
     .created = true,
     .columns = snapshot_cols,
     .read = read_snapshot},
    {.resource = "databases",
     .noun = "databases",
     .service = "rds",
     .operation = "DescribeDBInstances",
     .paging = &PAGING_RDS_DESCRIBE_DB_INSTANCES,
     .items = "DescribeDBInstancesResult/DBInstances/DBInstance",
     .max_results = "100",
     .tags = true,
     .state = true,
     .aliases = database_aliases,
     .type = true,
     .created = true,
     .columns = database_cols,
     .read = read_database},
    {.resource = "security_groups",
     .noun = "security groups",
     .service = "ec2",
     .operation = "DescribeSecurityGroups",
     .paging = &PAGING_EC2_DESCRIBE_SECURITY_GROUPS,
     .items = "securityGroupInfo/item",
     .max_results = "1000",
     .id_filter = "group-id",
     .tags = true,
     .columns = sg_cols,
     .read = read_security_group},
    {.resource = "elastic_ips",
     .noun = "Elastic IPs",
     .service = "ec2",
     .operation = "DescribeAddresses",
     .paging = &cq_one_page,
     .items = "addressesSet/item",
     .id_filter = "allocation-id",
     .name_filter = "tag:Name",
     .tags = true,
     .state = true,
     .states = address_states,
     .columns = address_cols,
     .read = read_address},
};

static const cq_resource cq_buckets_res = {
    .resource = "buckets", .noun = "buckets", .created = true, .columns = bucket_cols};

static const cq_resource *cq_lookup(const char *resource)
{
    if (resource && strcmp(resource, "buckets") == 0)
        return &cq_buckets_res;
    for (size_t i = 0; resource && i < sizeof cq_resources / sizeof cq_resources[0]; i++)
        if (strcmp(cq_resources[i].resource, resource) == 0)
            return &cq_resources[i];
    return NULL;
}

/* ---- filters ---- */

bool client_query_older(const char *when, long long days, time_t now)
{
    time_t t;
    err e;
    if (!when || !timeutil_parse_iso8601(when, &t, &e))
        return false;
    return (long long)now - (long long)t > days * 86400LL;
}

/* Checks that the resource has what the plan filters on and maps the
 * engine's state words to the resource's (sel->state may then point at a
 * static string). Says why on stderr and returns false otherwise. */
static bool cq_filters_apply(const cq_resource *r, const json_t *filters, target_selector *sel)
{
    const char *state = sel->state;
    if (state && !r->state) {
        fprintf(stderr, "escher: %s have no state to filter on ('%s')\n", r->noun, state);
        return false;
    }
    for (size_t i = 0; state && r->aliases && r->aliases[i]; i += 2)
        if (strcmp(r->aliases[i], state) == 0)
            sel->state = (char *)r->aliases[i + 1];
    if (sel->state && r->states) {
        bool known = false;
        strbuf list = STRBUF_INIT;
        for (size_t i = 0; r->states[i]; i++) {
            known = known || strcmp(r->states[i], sel->state) == 0;
            strbuf_printf(&list, "%s%s", i ? ", " : "", r->states[i]);
        }
        if (!known)
            fprintf(stderr, "escher: '%s' is not a state of %s (they are %s)\n", state, r->noun,
                    strbuf_str(&list));
        strbuf_free(&list);
        if (!known)
            return false;
    }
    if (sel->ntags && !r->tags) {
        /* Buckets: S3 has a GetBucketTagging call per bucket, no listing by tag. */
        fprintf(stderr,
                "escher: the client does not read the tags of %s; ask without the tag or "
                "environment\n",
                r->noun);
        return false;
    }
    const char *type = json_string_value(json_object_get(filters, "type"));
    if (type && !r->type) {
        fprintf(stderr, "escher: %s have no type to filter on ('%s')\n", r->noun, type);
        return false;
    }
    if (json_object_get(filters, "older_than_days") && !r->created) {
        fprintf(stderr,
                "escher: AWS does not say when %s were created, so they cannot be "
                "filtered by age\n",
                r->noun);
        return false;
    }
    return true;
}

/* Does the item hold every filter of the plan (sel, type, age)? */
static bool cq_match(const target_selector *sel, const json_t *filters, const cq_item *it,
                     time_t now)
{
    if (!it->id)
        return false;
    if (sel->name && fnmatch(sel->name, it->name ? it->name : "", 0) != 0 &&
        (!it->alt_name || fnmatch(sel->name, it->alt_name, 0) != 0))
        return false;
    target_selector rest = *sel;
    rest.name = NULL;
    if (!ops_selector_match(&rest, it->id, it->name, it->state, it->keys, it->values, it->ntags))
        return false;
    const char *type = json_string_value(json_object_get(filters, "type"));
    if (type && (!it->type || strcmp(type, it->type) != 0))
        return false;
    const json_t *age = json_object_get(filters, "older_than_days");
    if (json_is_integer(age) && !client_query_older(it->created, json_integer_value(age), now))
        return false;
    return true;
}

/* ---- regional listings (EC2, RDS) ---- */

typedef struct cq_page {
    const cq_resource *r;
    const target_selector *sel;
    const char *region;
} cq_page;

static bool cq_build(void *arg, const char *token, aws_request *req, err *e)
{
    (void)e;
    const cq_page *pg = arg;
    const cq_resource *r = pg->r;
    const target_selector *sel = pg->sel;
    query_params q;
    if (strcmp(r->service, "rds") == 0) {
        query_init(&q, r->operation, CQ_RDS_VERSION);
        for (size_t i = 0; i < sel->nids; i++) {
            char key[64];
            if (i == 0)
                query_add(&q, "Filters.Filter.1.Name", "db-instance-id");
            snprintf(key, sizeof key, "Filters.Filter.1.Values.Value.%zu", i + 1);
            query_add(&q, key, sel->ids[i]);
        }
        query_add(&q, "MaxRecords", r->max_results);
        if (token)
            query_add(&q, "Marker", token);
        query_to_request(&q, "rds", r->operation, AWS_PROTO_QUERY, req);
    } else {
        query_init(&q, r->operation, CQ_EC2_VERSION);
        size_t nf = 0;
        ops_ec2_add_tag_filters(&q, &nf, sel);
        char *v = sel->state;
        if (v && r->state_filter)
            ops_ec2_add_filter(&q, &nf, r->state_filter, &v, 1);
        v = sel->name;
        if (v && r->name_filter)
            ops_ec2_add_filter(&q, &nf, r->name_filter, &v, 1);
        /* Ids as a filter: an id that does not exist matches nothing
         * rather than failing the listing (InvalidVolume.NotFound). */
        if (sel->nids && r->id_filter)
            ops_ec2_add_filter(&q, &nf, r->id_filter, sel->ids, sel->nids);
        if (r->owner_self)
            query_add(&q, "Owner.1", "self");
        if (r->max_results)
            query_add(&q, "MaxResults", r->max_results);
        if (token)
            query_add(&q, "NextToken", token);
        query_to_request(&q, "ec2", r->operation, AWS_PROTO_EC2, req);
    }
    req->region = pg->region;
    query_free(&q);
    return true;
}

/* Appends the region's matching items to rows. */
static bool cq_region(aws_client *aws, const cq_resource *r, const json_t *filters,
                      const target_selector *sel, const char *account, const char *region,
                      time_t now, json_t *rows, err *e)
{
    cq_page pg = {r, sel, region};
    paginator *p = paginator_new(r->paging);
    bool ok = true;
    for (;;) {
        bool got = false;
        if (!paginator_fetch(p, aws, cq_build, &pg, &got, e)) {
            ok = err_prefix(e, "%s in %s", r->operation, region);
            break;
        }
        if (!got)
            break;
        for (const xml_node *n = xml_find(paginator_xml(p), r->items); n; n = xml_next(n)) {
            cq_item it;
            memset(&it, 0, sizeof it);
            json_t *row = json_pack("{s:s, s:s}", "account", account, "region", region);
            r->read(n, &it, row);
            if (cq_match(sel, filters, &it, now))
                json_array_append(rows, row);
            json_decref(row);
        }
        if (paginator_done(p))
            break;
    }
    if (ok && paginator_truncated(p))
        fprintf(stderr, "escher: the listing of %s in %s stopped early (paging limit)\n", r->noun,
                region);
    paginator_free(p);
    return ok;
}

/* ---- buckets ---- */

/* One global listing; rc as client_query_answer. */
static int cq_buckets(aws_client *aws, const json_t *filters, const target_selector *sel,
                      const char *account, const char *def_region, time_t now, json_t *rows)
{
    /* GetBucketLocation answers for any bucket from the partition's first
     * region (us-east-1 for aws), not from every regional endpoint. */
    const char *home = strncmp(def_region, "cn-", 3) == 0 || strncmp(def_region, "us-gov-", 7) == 0
                           ? def_region
                           : "us-east-1";
    err e;
    err_clear(&e);
    restxml_bucket_list list;
    if (!restxml_list_buckets(aws, &list, &e)) {
        fprintf(stderr, "escher: ListBuckets: %s\n", e.message);
        restxml_bucket_list_free(&list);
        return CLIENT_EXIT_FAILED;
    }
    const json_t *regions = json_object_get(filters, "regions");
    size_t nregions = json_array_size(regions);
    json_t *matched = json_array();
    for (size_t i = 0; i < list.count; i++) {
        const restxml_bucket *b = &list.items[i];
        cq_item it;
        memset(&it, 0, sizeof it);
        it.id = it.name = b->name;
        it.created = b->creation_date;
        if (!cq_match(sel, filters, &it, now))
            continue;
        json_array_append_new(matched, json_pack("{s:s, s:s, s:n, s:s}", "account", account, "name",
                                                 b->name, "region", "created", b->creation_date));
    }
    restxml_bucket_list_free(&list);
    bool locate = nregions > 0 || json_array_size(matched) <= CQ_BUCKET_LOCATIONS_MAX;
    if (nregions == 0)
        fprintf(stderr, "escher: buckets are global: every bucket of the account is listed%s\n",
                locate ? "" : " (regions not looked up for so many: name one to filter by it)");
    int rc = CLIENT_EXIT_OK;
    size_t i;
    json_t *row;
    json_array_foreach(matched, i, row)
    {
        char *where = NULL;
        const char *name = json_string_value(json_object_get(row, "name"));
        if (locate) {
            err_clear(&e);
            if (restxml_get_bucket_location(aws, name, home, &where, &e))
                json_object_set_new(row, "region", json_string(where));
            else {
                fprintf(stderr, "escher: GetBucketLocation of %s: %s\n", name, e.message);
                /* Named regions: whether it belongs is unknown. */
                if (nregions)
                    rc = CLIENT_EXIT_PARTIAL;
            }
        }
        bool keep = nregions == 0;
        for (size_t k = 0; where && k < nregions; k++)
            keep = keep || strcmp(json_string_value(json_array_get(regions, k)), where) == 0;
        if (keep)
            json_array_append(rows, row);
        free(where);
    }
    json_decref(matched);
    return rc;
}

/* ---- the answer ---- */

void client_query_seen(const json_t *rows, json_t *seen)
{
    if (!seen)
        return;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const json_t *id = json_object_get(row, "id");
        const json_t *region = json_object_get(row, "region");
        if (json_is_string(id))
            json_array_append_new(
                seen, json_pack("{s:O, s:s}", "id", id, "region",
                                json_is_string(region) ? json_string_value(region) : ""));
    }
}

int client_query_answer(client_aws *ca, const json_t *plan, client_out_format out, json_t *seen)
{
    const char *resource = json_string_value(json_object_get(plan, "resource"));
    const json_t *filters = json_object_get(plan, "filters");
    const cq_resource *r = cq_lookup(resource);
    if (!r) {
        fprintf(stderr, "escher: understood a query on %s, which the client cannot answer\n",
                resource ? resource : "?");
        return CLIENT_EXIT_USAGE;
    }
    target_selector sel;
    client_ask_selector(filters, &sel);
    if (!cq_filters_apply(r, filters, &sel)) {
        client_ask_selector_clear(&sel);
        return CLIENT_EXIT_USAGE;
    }
    aws_client *aws = ca->aws;
    const char *def_region = ca->region;
    int rc = CLIENT_EXIT_OK;
    err e;
    err_clear(&e);
    /* The local credentials act in one account: name it for the rows, and
     * answer nothing for other accounts the sentence names. */
    sts_identity id = {0};
    const json_t *accounts = json_object_get(filters, "accounts");
    bool mine = true;
    if (!sts_get_caller_identity(aws, &id, &e)) {
        fprintf(stderr, "escher: GetCallerIdentity: %s\n", e.message);
        rc = CLIENT_EXIT_FAILED;
    } else if (json_array_size(accounts)) {
        mine = false;
        size_t i;
        json_t *a;
        json_array_foreach(accounts, i, a)
        {
            if (json_is_string(a) && strcmp(json_string_value(a), id.account) == 0)
                mine = true;
        }
        if (!mine || json_array_size(accounts) > 1)
            fprintf(stderr,
                    "escher: the local credentials are in account %s; other accounts are not "
                    "answered here\n",
                    id.account);
    }
    json_t *rows = json_array();
    time_t now = timeutil_now();
    const char *account = id.account ? id.account : "";
    if (rc == CLIENT_EXIT_OK && mine && r == &cq_buckets_res) {
        rc = cq_buckets(aws, filters, &sel, account, def_region, now, rows);
    } else if (rc == CLIENT_EXIT_OK && mine) {
        err_clear(&e);
        json_t *regions = client_plan_query_regions(aws, filters, def_region, &e);
        if (!regions)
            fprintf(stderr, "escher: %s\n", e.message);
        size_t nregions = json_array_size(regions), nok = 0;
        for (size_t i = 0; i < nregions; i++) {
            const char *region = json_string_value(json_array_get(regions, i));
            if (!region)
                continue;
            err_clear(&e);
            if (cq_region(aws, r, filters, &sel, account, region, now, rows, &e))
                nok++;
            else
                fprintf(stderr, "escher: %s\n", e.message);
        }
        rc = nok == 0 ? CLIENT_EXIT_FAILED : nok < nregions ? CLIENT_EXIT_PARTIAL : CLIENT_EXIT_OK;
        json_decref(regions);
    }
    if (rc != CLIENT_EXIT_FAILED) {
        const char *action = json_string_value(json_object_get(plan, "action"));
        if (action && strcmp(action, "count") == 0) {
            json_t *c = json_pack("{s:I}", "count", (json_int_t)json_array_size(rows));
            client_out_object(stdout, out, c);
            json_decref(c);
        } else {
            client_out_items(stdout, out, rows, r->columns);
        }
        client_query_seen(rows, seen);
    }
    json_decref(rows);
    sts_identity_free(&id);
    client_ask_selector_clear(&sel);
    return rc;
}
