/* The world's layout as data: every struct of world.h described once, for
 * JSON save/load (world_json.c) and for freeing (world.c). */
#include "world_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARR(x) (sizeof(x) / sizeof((x)[0]))
#define F(T, name, kind)                                                                           \
    {                                                                                              \
#name, kind, offsetof(T, name), 0, NULL, NULL                                              \
    }
#define FC(T, name, kind, check)                                                                   \
    {                                                                                              \
#name, kind, offsetof(T, name), 0, NULL, check                                             \
    }
#define FN(T, name, count, kind, sub)                                                              \
    {                                                                                              \
#name, kind, offsetof(T, name), offsetof(T, count), sub, NULL                              \
    }
#define FS(T, name, kind, sub)                                                                     \
    {                                                                                              \
#name, kind, offsetof(T, name), 0, sub, NULL                                               \
    }
#define SCHEMA(var, T, fields) const wschema var = {#T, sizeof(T), fields, ARR(fields)}

/* ---- checks: the values handlers switch on must be ones they know ---- */

static bool one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, set[i]) == 0)
            return true;
    return false;
}

static bool check_digits12(const void *field, char *why, size_t whylen)
{
    const char *v = *(char *const *)field;
    size_t n = strlen(v);
    bool ok = n == 12;
    for (size_t i = 0; ok && i < n; i++)
        ok = isdigit((unsigned char)v[i]) != 0;
    if (!ok)
        snprintf(why, whylen, "'%s' is not a 12-digit account id", v);
    return ok;
}

static bool check_db_status(const void *field, char *why, size_t whylen)
{
    static const char *const set[] = {"available", "stopping",  "stopped",
                                      "starting",  "creating",  "deleting",
                                      "modifying", "rebooting", "backing-up"};
    const char *v = *(char *const *)field;
    if (one_of(v, set, ARR(set)))
        return true;
    snprintf(why, whylen, "'%s' is not a DB instance status", v);
    return false;
}

static bool check_encryption(const void *field, char *why, size_t whylen)
{
    static const char *const set[] = {"AES256", "aws:kms", "aws:kms:dsse"};
    const char *v = *(char *const *)field;
    if (v == NULL || one_of(v, set, ARR(set)))
        return true;
    snprintf(why, whylen, "'%s' is not an S3 encryption algorithm (AES256, aws:kms)", v);
    return false;
}

static bool check_session_duration(const void *field, char *why, size_t whylen)
{
    int v = *(const int *)field;
    if (v >= 3600 && v <= 43200)
        return true;
    snprintf(why, whylen, "%d is outside 3600..43200 seconds", v);
    return false;
}

static bool check_nonneg(const void *field, char *why, size_t whylen)
{
    int v = *(const int *)field;
    if (v >= 0)
        return true;
    snprintf(why, whylen, "%d is negative", v);
    return false;
}

static bool check_protocol(const void *field, char *why, size_t whylen)
{
    static const char *const set[] = {"tcp", "udp", "icmp", "icmpv6", "-1"};
    const char *v = *(char *const *)field;
    if (one_of(v, set, ARR(set)))
        return true;
    snprintf(why, whylen, "'%s' is not an IP protocol (tcp, udp, icmp, -1)", v);
    return false;
}

static bool check_factor(const void *field, char *why, size_t whylen)
{
    double v = *(const double *)field;
    if (v > 0 && v <= 1000)
        return true;
    snprintf(why, whylen, "%g is not a cost factor in (0, 1000]", v);
    return false;
}

/* ---- EC2 ---- */

static const wfield instance_fields[] = {
    F(sbx_instance, id, WF_STR),
    F(sbx_instance, type, WF_STR),
    F(sbx_instance, state, WF_ISTATE),
    F(sbx_instance, transition_at, WF_TIME),
    F(sbx_instance, launch_time, WF_TIME),
    F(sbx_instance, image_id, WF_STR),
    F(sbx_instance, az, WF_STR),
    F(sbx_instance, vpc_id, WF_OSTR),
    F(sbx_instance, subnet_id, WF_OSTR),
    F(sbx_instance, private_ip, WF_OSTR),
    F(sbx_instance, public_ip, WF_OSTR),
    F(sbx_instance, key_name, WF_OSTR),
    F(sbx_instance, imds_v2_required, WF_BOOL),
    FN(sbx_instance, sg_ids, nsg, WF_STRS, NULL),
    F(sbx_instance, tags, WF_TAGS),
};
SCHEMA(world_instance_schema, sbx_instance, instance_fields);

static const wfield volume_fields[] = {
    F(sbx_volume, id, WF_STR),         FC(sbx_volume, size_gib, WF_INT, check_nonneg),
    F(sbx_volume, type, WF_STR),       F(sbx_volume, az, WF_STR),
    F(sbx_volume, encrypted, WF_BOOL), F(sbx_volume, instance_id, WF_OSTR),
    F(sbx_volume, device, WF_OSTR),    F(sbx_volume, create_time, WF_TIME),
    F(sbx_volume, tags, WF_TAGS),
};
SCHEMA(world_volume_schema, sbx_volume, volume_fields);

static const wfield snapshot_fields[] = {
    F(sbx_snapshot, id, WF_STR),
    F(sbx_snapshot, volume_id, WF_OSTR),
    FC(sbx_snapshot, size_gib, WF_INT, check_nonneg),
    F(sbx_snapshot, encrypted, WF_BOOL),
    F(sbx_snapshot, is_public, WF_BOOL),
    F(sbx_snapshot, description, WF_OSTR),
    F(sbx_snapshot, start_time, WF_TIME),
    F(sbx_snapshot, complete_at, WF_TIME),
    F(sbx_snapshot, tags, WF_TAGS),
};
SCHEMA(world_snapshot_schema, sbx_snapshot, snapshot_fields);

static const wfield rule_fields[] = {
    FC(sbx_sg_rule, protocol, WF_STR, check_protocol),
    F(sbx_sg_rule, from_port, WF_INT),
    F(sbx_sg_rule, to_port, WF_INT),
    F(sbx_sg_rule, cidr, WF_STR),
};
static SCHEMA(rule_schema, sbx_sg_rule, rule_fields);

static const wfield sg_fields[] = {
    F(sbx_sg, id, WF_STR),
    F(sbx_sg, name, WF_STR),
    F(sbx_sg, description, WF_OSTR),
    F(sbx_sg, vpc_id, WF_OSTR),
    FN(sbx_sg, ingress, ningress, WF_ARRAY, &rule_schema),
    FN(sbx_sg, egress, negress, WF_ARRAY, &rule_schema),
    F(sbx_sg, tags, WF_TAGS),
};
SCHEMA(world_sg_schema, sbx_sg, sg_fields);

static const wfield address_fields[] = {
    F(sbx_address, allocation_id, WF_STR), F(sbx_address, public_ip, WF_STR),
    F(sbx_address, instance_id, WF_OSTR),  F(sbx_address, association_id, WF_OSTR),
    F(sbx_address, tags, WF_TAGS),
};
SCHEMA(world_address_schema, sbx_address, address_fields);

/* ---- RDS, Auto Scaling ---- */

static const wfield db_fields[] = {
    F(sbx_db, id, WF_STR),
    F(sbx_db, arn, WF_STR),
    F(sbx_db, instance_class, WF_STR),
    F(sbx_db, engine, WF_STR),
    F(sbx_db, engine_version, WF_STR),
    FC(sbx_db, status, WF_STR, check_db_status),
    F(sbx_db, transition_at, WF_TIME),
    F(sbx_db, publicly_accessible, WF_BOOL),
    F(sbx_db, storage_encrypted, WF_BOOL),
    F(sbx_db, multi_az, WF_BOOL),
    FC(sbx_db, allocated_storage, WF_INT, check_nonneg),
    F(sbx_db, az, WF_OSTR),
    F(sbx_db, create_time, WF_TIME),
    F(sbx_db, tags, WF_TAGS),
};
SCHEMA(world_db_schema, sbx_db, db_fields);

static const wfield db_snapshot_fields[] = {
    F(sbx_db_snapshot, id, WF_STR),         F(sbx_db_snapshot, db_id, WF_STR),
    F(sbx_db_snapshot, arn, WF_STR),        F(sbx_db_snapshot, create_time, WF_TIME),
    F(sbx_db_snapshot, encrypted, WF_BOOL),
};
SCHEMA(world_db_snapshot_schema, sbx_db_snapshot, db_snapshot_fields);

static const wfield asg_fields[] = {
    F(sbx_asg, name, WF_STR),
    F(sbx_asg, arn, WF_STR),
    FC(sbx_asg, min_size, WF_INT, check_nonneg),
    FC(sbx_asg, max_size, WF_INT, check_nonneg),
    FC(sbx_asg, desired, WF_INT, check_nonneg),
    FN(sbx_asg, instance_ids, ninstances, WF_STRS, NULL),
    F(sbx_asg, launch_template, WF_OSTR),
    F(sbx_asg, create_time, WF_TIME),
    F(sbx_asg, tags, WF_TAGS),
};
SCHEMA(world_asg_schema, sbx_asg, asg_fields);

static const wfield region_fields[] = {
    F(sbx_region, name, WF_STR),
    F(sbx_region, ebs_encryption_by_default, WF_BOOL),
    F(sbx_region, default_vpc_id, WF_OSTR),
    FN(sbx_region, subnet_ids, nsubnets, WF_STRS, NULL),
    FN(sbx_region, instances, ninstances, WF_PTRS, &world_instance_schema),
    FN(sbx_region, volumes, nvolumes, WF_PTRS, &world_volume_schema),
    FN(sbx_region, snapshots, nsnapshots, WF_PTRS, &world_snapshot_schema),
    FN(sbx_region, sgs, nsgs, WF_PTRS, &world_sg_schema),
    FN(sbx_region, addresses, naddresses, WF_PTRS, &world_address_schema),
    FN(sbx_region, dbs, ndbs, WF_PTRS, &world_db_schema),
    FN(sbx_region, db_snapshots, ndb_snapshots, WF_PTRS, &world_db_snapshot_schema),
    FN(sbx_region, asgs, nasgs, WF_PTRS, &world_asg_schema),
};
static SCHEMA(region_schema, sbx_region, region_fields);

/* ---- IAM, S3, CloudTrail ---- */

static const wfield key_fields[] = {
    F(sbx_access_key, id, WF_STR),         F(sbx_access_key, secret, WF_STR),
    F(sbx_access_key, active, WF_BOOL),    F(sbx_access_key, create_time, WF_TIME),
    F(sbx_access_key, last_used, WF_TIME),
};
static SCHEMA(key_schema, sbx_access_key, key_fields);

static const wfield mfa_fields[] = {
    F(sbx_mfa, serial, WF_STR),
    F(sbx_mfa, enable_date, WF_TIME),
};
static SCHEMA(mfa_schema, sbx_mfa, mfa_fields);

static const wfield user_fields[] = {
    F(sbx_user, name, WF_STR),
    F(sbx_user, id, WF_STR),
    F(sbx_user, arn, WF_STR),
    F(sbx_user, create_time, WF_TIME),
    F(sbx_user, console, WF_BOOL),
    F(sbx_user, password_last_used, WF_TIME),
    FN(sbx_user, mfa, nmfa, WF_ARRAY, &mfa_schema),
    FN(sbx_user, keys, nkeys, WF_PTRS, &key_schema),
    FN(sbx_user, policies, npolicies, WF_STRS, NULL),
};
static SCHEMA(user_schema, sbx_user, user_fields);

static const wfield role_fields[] = {
    F(sbx_role, name, WF_STR),
    F(sbx_role, id, WF_STR),
    F(sbx_role, arn, WF_STR),
    F(sbx_role, trust_policy, WF_STR),
    FN(sbx_role, policies, npolicies, WF_STRS, NULL),
    FC(sbx_role, max_session_duration, WF_INT, check_session_duration),
    F(sbx_role, create_time, WF_TIME),
};
static SCHEMA(role_schema, sbx_role, role_fields);

static const wfield bucket_fields[] = {
    F(sbx_bucket, name, WF_STR),           F(sbx_bucket, region, WF_STR),
    F(sbx_bucket, create_time, WF_TIME),   F(sbx_bucket, has_pab, WF_BOOL),
    F(sbx_bucket, pab, WF_BOOLS4),         F(sbx_bucket, has_policy, WF_BOOL),
    F(sbx_bucket, policy_public, WF_BOOL), FC(sbx_bucket, encryption, WF_OSTR, check_encryption),
};
static SCHEMA(bucket_schema, sbx_bucket, bucket_fields);

static const wfield trail_fields[] = {
    F(sbx_trail, name, WF_STR),        F(sbx_trail, arn, WF_STR),
    F(sbx_trail, home_region, WF_STR), F(sbx_trail, multi_region, WF_BOOL),
    F(sbx_trail, logging, WF_BOOL),    F(sbx_trail, log_file_validation, WF_BOOL),
    F(sbx_trail, s3_bucket, WF_STR),   F(sbx_trail, kms_key_id, WF_OSTR),
};
static SCHEMA(trail_schema, sbx_trail, trail_fields);

static const wfield password_policy_fields[] = {
    F(sbx_password_policy, present, WF_BOOL),
    FC(sbx_password_policy, min_length, WF_INT, check_nonneg),
    F(sbx_password_policy, require_symbols, WF_BOOL),
    F(sbx_password_policy, require_numbers, WF_BOOL),
    F(sbx_password_policy, require_upper, WF_BOOL),
    F(sbx_password_policy, require_lower, WF_BOOL),
    FC(sbx_password_policy, max_age_days, WF_INT, check_nonneg),
    FC(sbx_password_policy, reuse_prevention, WF_INT, check_nonneg),
};
static SCHEMA(password_policy_schema, sbx_password_policy, password_policy_fields);

static const wfield account_fields[] = {
    FC(sbx_account, id, WF_STR, check_digits12),
    F(sbx_account, name, WF_STR),
    F(sbx_account, email, WF_STR),
    F(sbx_account, ou_id, WF_OSTR),
    F(sbx_account, status, WF_STR),
    F(sbx_account, joined, WF_TIME),
    F(sbx_account, is_management, WF_BOOL),
    FN(sbx_account, users, nusers, WF_PTRS, &user_schema),
    FN(sbx_account, roles, nroles, WF_PTRS, &role_schema),
    FN(sbx_account, buckets, nbuckets, WF_PTRS, &bucket_schema),
    FN(sbx_account, trails, ntrails, WF_PTRS, &trail_schema),
    FS(sbx_account, password_policy, WF_STRUCT, &password_policy_schema),
    F(sbx_account, root_mfa, WF_BOOL),
    F(sbx_account, credential_report_at, WF_TIME),
    FN(sbx_account, regions, nregions, WF_PTRS, &region_schema),
};
SCHEMA(world_account_schema, sbx_account, account_fields);

static const wfield ou_fields[] = {
    F(sbx_ou, id, WF_STR),
    F(sbx_ou, name, WF_STR),
    F(sbx_ou, arn, WF_STR),
    F(sbx_ou, parent_id, WF_STR),
};
static SCHEMA(ou_schema, sbx_ou, ou_fields);

static const wfield session_fields[] = {
    F(sbx_session, access_key_id, WF_STR),
    F(sbx_session, secret, WF_STR),
    F(sbx_session, token, WF_STR),
    FC(sbx_session, account_id, WF_STR, check_digits12),
    F(sbx_session, role_name, WF_STR),
    F(sbx_session, role_arn, WF_STR),
    F(sbx_session, session_name, WF_STR),
    F(sbx_session, assumed_role_id, WF_STR),
    F(sbx_session, arn, WF_OSTR),
    F(sbx_session, policy, WF_OSTR),
    F(sbx_session, source_identity, WF_OSTR),
    F(sbx_session, external_id, WF_OSTR),
    F(sbx_session, chained, WF_BOOL),
    F(sbx_session, expiration, WF_TIME),
};
SCHEMA(world_session_schema, sbx_session, session_fields);

static const wfield anomaly_fields[] = {
    FC(sbx_anomaly, account_id, WF_STR, check_digits12),
    F(sbx_anomaly, service, WF_STR),
    F(sbx_anomaly, region, WF_STR),
    F(sbx_anomaly, day, WF_TIME),
    FC(sbx_anomaly, factor, WF_DOUBLE, check_factor),
};
static SCHEMA(anomaly_schema, sbx_anomaly, anomaly_fields);

static const wfield world_fields[] = {
    F(world, seed, WF_U64),
    F(world, org_id, WF_STR),
    F(world, root_id, WF_STR),
    F(world, external_id, WF_STR),
    FN(world, region_names, nregions, WF_STRS, NULL),
    FN(world, accounts, naccounts, WF_PTRS, &world_account_schema),
    FN(world, ous, nous, WF_PTRS, &ou_schema),
    FS(world, hub, WF_OBJ, &world_account_schema),
    FN(world, sessions, nsessions, WF_PTRS, &world_session_schema),
    FN(world, anomalies, nanomalies, WF_ARRAY, &anomaly_schema),
    F(world, generated_at, WF_TIME),
    F(world, clock_offset, WF_LONG),
    F(world, id_counter, WF_U64),
};
SCHEMA(world_schema, world, world_fields);

/* ---- freeing by the schema ---- */

static void free_tags(sbx_tags *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->items[i].key);
        free(t->items[i].value);
    }
    free(t->items);
    t->items = NULL;
    t->n = 0;
}

void wschema_free_fields(const wschema *s, void *obj)
{
    char *base = obj;
    for (size_t i = 0; i < s->nfields; i++) {
        const wfield *f = &s->fields[i];
        void *p = base + f->off;
        size_t *count = (size_t *)(base + f->count_off);
        switch (f->kind) {
        case WF_STR:
        case WF_OSTR:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case WF_TAGS:
            free_tags(p);
            break;
        case WF_STRS: {
            char **v = *(char ***)p;
            for (size_t j = 0; j < *count; j++)
                free(v[j]);
            free(v);
            *(char ***)p = NULL;
            *count = 0;
            break;
        }
        case WF_PTRS: {
            void **v = *(void ***)p;
            for (size_t j = 0; j < *count; j++) {
                if (v[j] != NULL)
                    wschema_free_fields(f->sub, v[j]);
                free(v[j]);
            }
            free(v);
            *(void ***)p = NULL;
            *count = 0;
            break;
        }
        case WF_ARRAY: {
            char *v = *(char **)p;
            for (size_t j = 0; j < *count; j++)
                wschema_free_fields(f->sub, v + j * f->sub->size);
            free(v);
            *(char **)p = NULL;
            *count = 0;
            break;
        }
        case WF_STRUCT:
            wschema_free_fields(f->sub, p);
            break;
        case WF_OBJ: {
            void *o = *(void **)p;
            if (o != NULL)
                wschema_free_fields(f->sub, o);
            free(o);
            *(void **)p = NULL;
            break;
        }
        default:
            break;
        }
    }
}

/* ---- freeing single resources for the handlers that delete them ---- */

#define FREE_ONE(fn, T, schema)                                                                    \
    void fn(T *x)                                                                                  \
    {                                                                                              \
        if (x == NULL)                                                                             \
            return;                                                                                \
        wschema_free_fields(&schema, x);                                                           \
        free(x);                                                                                   \
    }

FREE_ONE(world_free_instance, sbx_instance, world_instance_schema)
FREE_ONE(world_free_volume, sbx_volume, world_volume_schema)
FREE_ONE(world_free_snapshot, sbx_snapshot, world_snapshot_schema)
FREE_ONE(world_free_sg, sbx_sg, world_sg_schema)
FREE_ONE(world_free_address, sbx_address, world_address_schema)
FREE_ONE(world_free_db, sbx_db, world_db_schema)
FREE_ONE(world_free_db_snapshot, sbx_db_snapshot, world_db_snapshot_schema)
FREE_ONE(world_free_asg, sbx_asg, world_asg_schema)
FREE_ONE(world_free_session, sbx_session, world_session_schema)

void world_free_tags(sbx_tags *t)
{
    free_tags(t);
}
