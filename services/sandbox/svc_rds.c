/* Amazon RDS (query protocol): describing, stopping and starting DB
 * instances and taking manual snapshots, with RDS's state rules (only an
 * available instance stops, only a stopped one starts) and its error codes
 * and messages. */
#include "call.h"

#include "core/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RDS_XMLNS "http://rds.amazonaws.com/doc/2014-10-31/"

/* Parses an optional integer parameter; a malformed value answers
 * InvalidParameterValue as RDS does. */
static bool rds_param_int(sbx_call *c, const char *name, long *out, bool *present)
{
    const char *s = call_param(c, name);
    *present = s != NULL;
    if (!s)
        return true;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return call_error(c, 400, "InvalidParameterValue", "Invalid value '%s' for parameter %s.",
                          s, name);
    *out = v;
    return true;
}

/* Finds an instance by identifier or ARN in the caller's region. */
static sbx_db *rds_find_db(sbx_region *r, const char *id)
{
    if (!r || !id)
        return NULL;
    for (size_t i = 0; i < r->ndbs; i++)
        if (strcmp(r->dbs[i]->id, id) == 0 || strcmp(r->dbs[i]->arn, id) == 0)
            return r->dbs[i];
    return NULL;
}

static sbx_db *rds_require_db(sbx_call *c, sbx_region *r)
{
    const char *id = call_param(c, "DBInstanceIdentifier");
    if (!id || !*id) {
        call_error(c, 400, "MissingParameter",
                   "The request must contain the parameter DBInstanceIdentifier");
        return NULL;
    }
    sbx_db *db = rds_find_db(r, id);
    if (!db)
        call_error(c, 404, "DBInstanceNotFound", "DBInstance %s not found.", id);
    return db;
}

/* Stable per-instance hash for the generated endpoint and resource ids. */
static uint64_t rds_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ^ (h >> 31);
}

static bool rds_is_mysql(const sbx_db *db)
{
    return strstr(db->engine, "mysql") || strstr(db->engine, "mariadb");
}

static void rds_write_db(sbx_call *c, const sbx_db *db)
{
    const char *region = call_region(c);
    uint64_t h = rds_hash(db->arn);
    char buf[160];
    int port = rds_is_mysql(db) ? 3306 : 5432;

    call_xml_open(c, "DBInstance");
    call_xml_text(c, "DBInstanceIdentifier", db->id);
    call_xml_text(c, "DBInstanceClass", db->instance_class);
    call_xml_text(c, "Engine", db->engine);
    call_xml_text(c, "DBInstanceStatus", db->status);
    call_xml_text(c, "MasterUsername", rds_is_mysql(db) ? "admin" : "postgres");
    call_xml_open(c, "Endpoint");
    snprintf(buf, sizeof buf, "%s.c%011llx.%s.rds.amazonaws.com", db->id,
             (unsigned long long)(h & 0xfffffffffffULL), region);
    call_xml_text(c, "Address", buf);
    call_xml_int(c, "Port", port);
    call_xml_text(c, "HostedZoneId", "Z2R2ITUGPM61AM");
    call_xml_close(c, "Endpoint");
    call_xml_int(c, "AllocatedStorage", db->allocated_storage);
    call_xml_time(c, "InstanceCreateTime", db->create_time);
    call_xml_text(c, "PreferredBackupWindow", "03:00-03:30");
    call_xml_int(c, "BackupRetentionPeriod", 7);
    call_xml_open(c, "DBSecurityGroups");
    call_xml_close(c, "DBSecurityGroups");
    call_xml_open(c, "VpcSecurityGroups");
    call_xml_open(c, "VpcSecurityGroupMembership");
    snprintf(buf, sizeof buf, "sg-%017llx", (unsigned long long)(h >> 4) & 0xfffffffffffffULL);
    call_xml_text(c, "VpcSecurityGroupId", buf);
    call_xml_text(c, "Status", "active");
    call_xml_close(c, "VpcSecurityGroupMembership");
    call_xml_close(c, "VpcSecurityGroups");
    call_xml_open(c, "DBParameterGroups");
    call_xml_open(c, "DBParameterGroup");
    snprintf(buf, sizeof buf, "default.%s", db->engine);
    call_xml_text(c, "DBParameterGroupName", buf);
    call_xml_text(c, "ParameterApplyStatus", "in-sync");
    call_xml_close(c, "DBParameterGroup");
    call_xml_close(c, "DBParameterGroups");
    call_xml_text(c, "AvailabilityZone", db->az);
    call_xml_text(c, "PreferredMaintenanceWindow", "sun:05:00-sun:05:30");
    call_xml_open(c, "PendingModifiedValues");
    call_xml_close(c, "PendingModifiedValues");
    call_xml_bool(c, "MultiAZ", db->multi_az);
    call_xml_text(c, "EngineVersion", db->engine_version);
    call_xml_bool(c, "AutoMinorVersionUpgrade", true);
    call_xml_open(c, "ReadReplicaDBInstanceIdentifiers");
    call_xml_close(c, "ReadReplicaDBInstanceIdentifiers");
    call_xml_text(c, "LicenseModel",
                  rds_is_mysql(db) ? "general-public-license" : "postgresql-license");
    call_xml_bool(c, "PubliclyAccessible", db->publicly_accessible);
    call_xml_text(c, "StorageType", "gp2");
    call_xml_int(c, "DbInstancePort", 0);
    call_xml_bool(c, "StorageEncrypted", db->storage_encrypted);
    if (db->storage_encrypted) {
        snprintf(buf, sizeof buf, "arn:aws:kms:%s:%s:key/%08llx-0000-4000-8000-%012llx", region,
                 call_account(c)->id, (unsigned long long)(h >> 32),
                 (unsigned long long)(h & 0xffffffffffffULL));
        call_xml_text(c, "KmsKeyId", buf);
    }
    snprintf(buf, sizeof buf, "db-%026llX", (unsigned long long)h);
    call_xml_text(c, "DbiResourceId", buf);
    call_xml_text(c, "CACertificateIdentifier", "rds-ca-rsa2048-g1");
    call_xml_bool(c, "CopyTagsToSnapshot", false);
    call_xml_int(c, "MonitoringInterval", 0);
    call_xml_text(c, "DBInstanceArn", db->arn);
    call_xml_bool(c, "IAMDatabaseAuthenticationEnabled", false);
    call_xml_bool(c, "PerformanceInsightsEnabled", false);
    call_xml_bool(c, "DeletionProtection", false);
    call_xml_tags(c, "TagList", "Tag", &db->tags);
    call_xml_bool(c, "CustomerOwnedIpEnabled", false);
    call_xml_text(c, "BackupTarget", "region");
    call_xml_text(c, "NetworkType", "IPV4");
    call_xml_close(c, "DBInstance");
}

/* DescribeDBInstances' Filters.Filter.N.Name / Values.Value.M: a filter
 * matches when any value does; all filters must match. */
typedef struct rds_filter {
    const char *name;
    const char *(*field)(const sbx_db *db, int k); /* k-th value to compare, NULL past the end */
} rds_filter;

static const char *rds_f_id(const sbx_db *db, int k)
{
    return k == 0 ? db->id : k == 1 ? db->arn : NULL;
}

static const char *rds_f_engine(const sbx_db *db, int k)
{
    return k == 0 ? db->engine : NULL;
}

static const char *rds_f_none(const sbx_db *db, int k)
{
    (void)db;
    (void)k;
    return NULL;
}

static const rds_filter rds_filters[] = {
    {"db-instance-id", rds_f_id},
    {"engine", rds_f_engine},
    {"db-cluster-id", rds_f_none},
};

typedef struct rds_given {
    const rds_filter *f;
    const char *const *values;
    size_t nvalues;
} rds_given;

/* Reads the filters (at most 10); unknown names answer InvalidParameterValue. */
static bool rds_parse_filters(sbx_call *c, rds_given *out, size_t *n)
{
    *n = 0;
    for (size_t i = 1; i <= 10; i++) {
        char key[64];
        snprintf(key, sizeof key, "Filters.Filter.%zu.Name", i);
        const char *name = call_param(c, key);
        if (!name)
            break;
        const rds_filter *f = NULL;
        for (size_t k = 0; k < sizeof rds_filters / sizeof rds_filters[0]; k++)
            if (strcmp(rds_filters[k].name, name) == 0)
                f = &rds_filters[k];
        if (!f)
            return call_error(c, 400, "InvalidParameterValue", "Unrecognized filter name: %s.",
                              name);
        snprintf(key, sizeof key, "Filters.Filter.%zu.Values.Value", i);
        size_t nv;
        const char *const *vals = call_param_list(c, key, &nv);
        if (nv == 0)
            return call_error(c, 400, "InvalidParameterCombination",
                              "At least one value must be specified for filter %s.", name);
        out[(*n)++] = (rds_given){f, vals, nv};
    }
    return true;
}

static bool rds_filters_match(const rds_given *g, size_t n, const sbx_db *db)
{
    for (size_t i = 0; i < n; i++) {
        bool any = false;
        for (int k = 0; !any && g[i].f->field(db, k); k++)
            for (size_t v = 0; !any && v < g[i].nvalues; v++)
                any = strcmp(g[i].f->field(db, k), g[i].values[v]) == 0;
        if (!any)
            return false;
    }
    return true;
}

static bool rds_describe_db_instances(sbx_call *c)
{
    sbx_region *r = call_region_state(c);
    const char *id = call_param(c, "DBInstanceIdentifier");
    long max = 100;
    bool has_max;
    if (!rds_param_int(c, "MaxRecords", &max, &has_max))
        return false;
    if (has_max && (max < 20 || max > 100))
        return call_error(c, 400, "InvalidParameterValue",
                          "Invalid value %ld for MaxRecords. Must be between 20 and 100", max);
    if (id) {
        sbx_db *db = rds_find_db(r, id);
        if (!db)
            return call_error(c, 404, "DBInstanceNotFound", "DBInstance %s not found.", id);
        call_xml_open(c, "DBInstances");
        rds_write_db(c, db);
        call_xml_close(c, "DBInstances");
        return true;
    }
    size_t offset = 0;
    const char *marker = call_param(c, "Marker");
    if (marker && !call_page_offset(c, marker, &offset))
        return false;
    rds_given filters[10];
    size_t nfilters;
    if (!rds_parse_filters(c, filters, &nfilters))
        return false;
    /* Matches in the region's order; the page is matches [offset, offset + max). */
    size_t matched = 0, written = 0;
    call_xml_open(c, "DBInstances");
    for (size_t i = 0; r && i < r->ndbs; i++) {
        if (!rds_filters_match(filters, nfilters, r->dbs[i]))
            continue;
        if (matched++ < offset || written == (size_t)max)
            continue;
        rds_write_db(c, r->dbs[i]);
        written++;
    }
    call_xml_close(c, "DBInstances");
    if (offset + written < matched)
        call_xml_text(c, "Marker", call_page_token(c, offset + written));
    call_note(c, "%zu of %zu instances", written, matched);
    return true;
}

static bool rds_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 255 || !isalpha((unsigned char)s[0]) || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
        if (s[i] == '-' && s[i + 1] == '-')
            return false;
    }
    return true;
}

static sbx_db_snapshot *rds_find_snapshot(sbx_region *r, const char *id)
{
    for (size_t i = 0; r && i < r->ndb_snapshots; i++)
        if (strcmp(r->db_snapshots[i]->id, id) == 0)
            return r->db_snapshots[i];
    return NULL;
}

/* Checks a new snapshot identifier; sets the error and returns false. */
static bool rds_snapshot_id_ok(sbx_call *c, sbx_region *r, const char *sid)
{
    if (!rds_id_valid(sid))
        return call_error(c, 400, "InvalidParameterValue",
                          "The parameter DBSnapshotIdentifier is not a valid identifier. "
                          "Identifiers must begin with a letter; must contain only ASCII "
                          "letters, digits, and hyphens; and must not end with a hyphen or "
                          "contain two consecutive hyphens.");
    if (rds_find_snapshot(r, sid))
        return call_error(c, 400, "DBSnapshotAlreadyExists",
                          "Cannot create the snapshot because a snapshot with the identifier "
                          "%s already exists.",
                          sid);
    return true;
}

static sbx_db_snapshot *rds_add_snapshot(sbx_call *c, sbx_region *r, const sbx_db *db,
                                         const char *sid)
{
    sbx_db_snapshot *s = xcalloc(1, sizeof *s);
    s->id = xstrdup(sid);
    s->db_id = xstrdup(db->id);
    s->arn = xasprintf("arn:aws:rds:%s:%s:snapshot:%s", call_region(c), call_account(c)->id, sid);
    s->create_time = call_now(c);
    s->encrypted = db->storage_encrypted;
    r->db_snapshots = xreallocarray(r->db_snapshots, r->ndb_snapshots + 1, sizeof *r->db_snapshots);
    r->db_snapshots[r->ndb_snapshots++] = s;
    return s;
}

static bool rds_stop_db_instance(sbx_call *c)
{
    sbx_region *r = call_region_state(c);
    sbx_db *db = rds_require_db(c, r);
    if (!db || !call_authorize(c, db->arn))
        return false;
    if (strcmp(db->status, "available") != 0)
        return call_error(c, 400, "InvalidDBInstanceState",
                          "Instance %s is not in available state.", db->id);
    const char *sid = call_param(c, "DBSnapshotIdentifier");
    if (sid && !rds_snapshot_id_ok(c, r, sid))
        return false;
    if (sid)
        rds_add_snapshot(c, r, db, sid);
    free(db->status);
    db->status = xstrdup("stopping");
    db->transition_at = call_now(c) + call_state_delay(c);
    rds_write_db(c, db);
    call_note(c, "stopping %s", db->id);
    return true;
}

static bool rds_start_db_instance(sbx_call *c)
{
    sbx_region *r = call_region_state(c);
    sbx_db *db = rds_require_db(c, r);
    if (!db || !call_authorize(c, db->arn))
        return false;
    if (strcmp(db->status, "stopped") != 0)
        return call_error(c, 400, "InvalidDBInstanceState",
                          "Instance %s is not stopped, cannot be started.", db->id);
    free(db->status);
    db->status = xstrdup("starting");
    db->transition_at = call_now(c) + call_state_delay(c);
    rds_write_db(c, db);
    call_note(c, "starting %s", db->id);
    return true;
}

static void rds_write_snapshot(sbx_call *c, const sbx_db_snapshot *s, const sbx_db *db)
{
    /* A new manual snapshot is "creating" for the state delay, then "available". */
    bool done = call_now(c) >= s->create_time + call_state_delay(c);
    call_xml_open(c, "DBSnapshot");
    call_xml_text(c, "DBSnapshotIdentifier", s->id);
    call_xml_text(c, "DBInstanceIdentifier", s->db_id);
    if (done)
        call_xml_time(c, "SnapshotCreateTime", s->create_time);
    call_xml_text(c, "Engine", db->engine);
    call_xml_int(c, "AllocatedStorage", db->allocated_storage);
    call_xml_text(c, "Status", done ? "available" : "creating");
    call_xml_int(c, "Port", rds_is_mysql(db) ? 3306 : 5432);
    call_xml_text(c, "AvailabilityZone", db->az);
    call_xml_time(c, "InstanceCreateTime", db->create_time);
    call_xml_text(c, "MasterUsername", rds_is_mysql(db) ? "admin" : "postgres");
    call_xml_text(c, "EngineVersion", db->engine_version);
    call_xml_text(c, "LicenseModel",
                  rds_is_mysql(db) ? "general-public-license" : "postgresql-license");
    call_xml_text(c, "SnapshotType", "manual");
    call_xml_int(c, "PercentProgress", done ? 100 : 0);
    call_xml_text(c, "StorageType", "gp2");
    call_xml_bool(c, "Encrypted", s->encrypted);
    call_xml_text(c, "DBSnapshotArn", s->arn);
    call_xml_bool(c, "IAMDatabaseAuthenticationEnabled", false);
    call_xml_open(c, "TagList");
    call_xml_close(c, "TagList");
    call_xml_close(c, "DBSnapshot");
}

static bool rds_create_db_snapshot(sbx_call *c)
{
    sbx_region *r = call_region_state(c);
    const char *sid = call_param(c, "DBSnapshotIdentifier");
    if (!sid || !*sid)
        return call_error(c, 400, "MissingParameter",
                          "The request must contain the parameter DBSnapshotIdentifier");
    sbx_db *db = rds_require_db(c, r);
    if (!db || !call_authorize(c, db->arn))
        return false;
    if (!rds_snapshot_id_ok(c, r, sid))
        return false;
    /* RDS snapshots an available or a stopped instance, nothing in between. */
    if (strcmp(db->status, "available") != 0 && strcmp(db->status, "stopped") != 0)
        return call_error(c, 400, "InvalidDBInstanceState",
                          "Cannot create a snapshot because the database instance %s is not "
                          "currently in the available state.",
                          db->id);
    sbx_db_snapshot *s = rds_add_snapshot(c, r, db, sid);
    rds_write_snapshot(c, s, db);
    call_note(c, "snapshot %s of %s", sid, db->id);
    return true;
}

static const sbx_action rds_actions[] = {
    {"DescribeDBInstances", SBX_DESCRIBE, rds_describe_db_instances, false, NULL, NULL, false},
    {"StartDBInstance", SBX_MUTATE, rds_start_db_instance, true, NULL, NULL, false},
    {"StopDBInstance", SBX_MUTATE, rds_stop_db_instance, true, NULL, NULL, false},
    {"CreateDBSnapshot", SBX_MUTATE, rds_create_db_snapshot, true, NULL, NULL, false},
};

/* Amazon RDS, API version 2014-10-31. */
const sbx_service svc_rds = {
    .signing_name = "rds",
    .iam_prefix = "rds",
    .protocol = AWS_PROTO_QUERY,
    .xml_namespace = RDS_XMLNS,
    .json_target = NULL,
    .global = false,
    .actions = rds_actions,
    .nactions = sizeof rds_actions / sizeof rds_actions[0],
};
