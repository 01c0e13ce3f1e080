/* Every read-only API Escher calls, built with lib/aws's protocol modules,
 * sent through the mode's call (blocking one after the other, or all at
 * once asynchronously on one event_base), parsed with lib/aws's readers
 * and checked against the world (GET /state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sbx_fixture.h"
#include "sbx_tests.h"

#include "aws/awsjson.h"
#include "aws/restxml.h"
#include "aws/sts.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400

/* What the probes read, chosen from the world so every probe has data. */
typedef struct ro {
    sbx *s;
    json_t *world;
    time_t now;
    json_t *mgmt;    /* the management account */
    json_t *mgmt_r1; /* its first region */
    json_t *db_acct; /* an account with databases in db_region */
    const char *db_region;
    json_t *asg_acct; /* an account with Auto Scaling groups in asg_region */
    const char *asg_region;
    json_t *pab_acct, *pab_bucket; /* a bucket with a public access block */
    json_t *pol_acct, *pol_bucket; /* a bucket with a policy */
    json_t *enc_acct, *enc_bucket; /* a bucket with default encryption */
    json_t *loc_acct, *loc_bucket; /* a bucket outside us-east-1 */
    json_t *trail_acct, *trail;
    json_t *pp_acct;             /* an account with a password policy */
    json_t *ebs_acct;            /* an account whose regions differ in EBS encryption by default */
    json_t *key_user, *mfa_user; /* users of the management account */
    const char *cpu_instance;    /* a running instance of mgmt_r1 */
    const char *member_ou;       /* the OU of the first member */
    char ce_start[16], ce_end[16], fc_start[16], fc_end[16];
} ro;

static const char *jstr(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (v == NULL)
        fail_msg("world object has no string %s", key);
    return v;
}

static const char *acct_id(const json_t *a)
{
    return jstr(a, "id");
}

static sbx_client *client_of(ro *r, const json_t *account)
{
    char buf[32];
    return sbx_client_profile(r->s, sbx_profile_of(r->s, acct_id(account), buf, sizeof buf));
}

static void day_string(time_t t, char out[16])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/* First bucket of any organization account for which pred holds. */
static void find_bucket(ro *r, bool (*pred)(const json_t *b), json_t **acct, json_t **bucket)
{
    json_t *accounts = json_object_get(r->world, "accounts");
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        json_t *a = json_array_get(accounts, i);
        json_t *bs = json_object_get(a, "buckets");
        for (size_t k = 0; k < json_array_size(bs); k++)
            if (pred(json_array_get(bs, k))) {
                *acct = a;
                *bucket = json_array_get(bs, k);
                return;
            }
    }
    fail_msg("no bucket in the world fits");
}

static bool has_pab(const json_t *b)
{
    return json_is_true(json_object_get(b, "has_pab"));
}

static bool has_policy(const json_t *b)
{
    return json_is_true(json_object_get(b, "has_policy"));
}

static bool has_encryption(const json_t *b)
{
    return json_is_string(json_object_get(b, "encryption"));
}

static bool outside_us_east_1(const json_t *b)
{
    return strcmp(json_string_value(json_object_get(b, "region")), "us-east-1") != 0;
}

static void ro_init(ro *r, sbx *s)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->world = sbx_state(s);
    r->now = sbx_now(s);
    r->mgmt = sbx_world_account(r->world, s->mgmt_id);
    r->mgmt_r1 = sbx_world_region(r->mgmt, SBX_REGION1);
    json_t *accounts = json_object_get(r->world, "accounts");
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        json_t *a = json_array_get(accounts, i);
        json_t *regions = json_object_get(a, "regions");
        for (size_t k = 0; k < json_array_size(regions) && !r->db_acct; k++) {
            json_t *reg = json_array_get(regions, k);
            if (json_array_size(json_object_get(reg, "dbs")) > 0) {
                r->db_acct = a;
                r->db_region = jstr(reg, "name");
            }
        }
        for (size_t k = 0; k < json_array_size(regions) && !r->asg_acct; k++) {
            json_t *reg = json_array_get(regions, k);
            if (json_array_size(json_object_get(reg, "asgs")) > 0) {
                r->asg_acct = a;
                r->asg_region = jstr(reg, "name");
            }
        }
        if (!r->trail_acct && json_array_size(json_object_get(a, "trails")) > 0) {
            r->trail_acct = a;
            r->trail = json_array_get(json_object_get(a, "trails"), 0);
        }
        if (!r->pp_acct &&
            json_is_true(json_object_get(json_object_get(a, "password_policy"), "present")))
            r->pp_acct = a;
        json_t *e1 = json_object_get(sbx_world_region(a, SBX_REGION1), "ebs_encryption_by_default");
        json_t *e2 = json_object_get(sbx_world_region(a, SBX_REGION2), "ebs_encryption_by_default");
        if (!r->ebs_acct && json_is_true(e1) != json_is_true(e2))
            r->ebs_acct = a;
    }
    assert_non_null(r->db_acct);
    assert_non_null(r->asg_acct);
    assert_non_null(r->trail_acct);
    assert_non_null(r->pp_acct);
    assert_non_null(r->ebs_acct);
    find_bucket(r, has_pab, &r->pab_acct, &r->pab_bucket);
    find_bucket(r, has_policy, &r->pol_acct, &r->pol_bucket);
    find_bucket(r, has_encryption, &r->enc_acct, &r->enc_bucket);
    find_bucket(r, outside_us_east_1, &r->loc_acct, &r->loc_bucket);
    json_t *users = json_object_get(r->mgmt, "users");
    for (size_t i = 0; i < json_array_size(users); i++) {
        json_t *u = json_array_get(users, i);
        if (!r->key_user && json_array_size(json_object_get(u, "keys")) > 0)
            r->key_user = u;
        if (!r->mfa_user && json_array_size(json_object_get(u, "mfa")) > 0)
            r->mfa_user = u;
    }
    assert_non_null(r->key_user);
    assert_non_null(r->mfa_user);
    /* Running and launched over a day ago: a full series of samples. */
    json_t *insts = json_object_get(r->mgmt_r1, "instances");
    for (size_t i = 0; i < json_array_size(insts) && !r->cpu_instance; i++) {
        json_t *in = json_array_get(insts, i);
        time_t launched;
        if (strcmp(jstr(in, "state"), "running") == 0 &&
            timeutil_parse_iso8601(jstr(in, "launch_time"), &launched, NULL) &&
            launched < r->now - DAY)
            r->cpu_instance = jstr(in, "id");
    }
    assert_non_null(r->cpu_instance);
    r->member_ou = jstr(sbx_world_account(r->world, s->member_ids[0]), "ou_id");
    time_t today = r->now - r->now % DAY;
    day_string(today - 9 * DAY, r->ce_start);
    day_string(today - 2 * DAY, r->ce_end);
    day_string(today + 1 * DAY, r->fc_start);
    day_string(today + 8 * DAY, r->fc_end);
}

/* ---- probes: build a job, check its answer ---- */

typedef struct probe {
    const char *name;
    void (*build)(ro *r, sbx_job *j);
    void (*check)(ro *r, const http_response *resp);
} probe;

#define EC2_VERSION "2016-11-15"

static void ec2_job(ro *r, sbx_job *j, query_params *q, const char *op, json_t *acct,
                    const char *region)
{
    j->client = client_of(r, acct);
    sbx_query_request(q, "ec2", op, AWS_PROTO_EC2, region, &j->req);
}

/* STS */

static void b_get_caller_identity(ro *r, sbx_job *j)
{
    j->client = client_of(r, r->mgmt);
    sts_get_caller_identity_request(&j->req);
}

static void c_get_caller_identity(ro *r, const http_response *resp)
{
    sts_identity id = {0};
    err e = {0};
    bool ok = sts_get_caller_identity_parse(resp->body.buf, resp->body.len, &id, &e);
    SBX_ASSERT_OK(ok, e);
    assert_string_equal(id.account, r->s->mgmt_id);
    assert_non_null(strstr(id.arn, ":user/"));
    sts_identity_free(&id);
}

static char probe_role[128];

static void b_assume_role(ro *r, sbx_job *j)
{
    snprintf(probe_role, sizeof probe_role, "arn:aws:iam::%s:role/EscherOperator",
             r->s->member_ids[2]);
    sts_assume_role_params p = {0};
    p.role_arn = probe_role;
    p.session_name = "escher-libaws-probe";
    p.external_id = SBX_EXTERNAL_ID;
    err e = {0};
    bool ok = sts_assume_role_request(&p, &j->req, &e);
    SBX_ASSERT_OK(ok, e);
    j->client = sbx_client_profile(r->s, "hub");
}

static void c_assume_role(ro *r, const http_response *resp)
{
    aws_creds *cr = NULL;
    err e = {0};
    bool ok = sts_assume_role_parse(resp->body.buf, resp->body.len, "sts", &cr, &e);
    SBX_ASSERT_OK(ok, e);
    assert_memory_equal(cr->access_key_id, "ASIA", 4);
    assert_non_null(cr->session_token);
    assert_true(cr->expiration > r->now);
    creds_free(cr);
}

/* Organizations */

static void org_job(ro *r, sbx_job *j, const char *op, json_t *body)
{
    j->client = client_of(r, r->mgmt);
    awsjson_request(&AWSJSON_ORGANIZATIONS, op, body, &j->req);
    json_decref(body);
}

static void b_describe_organization(ro *r, sbx_job *j)
{
    org_job(r, j, "DescribeOrganization", NULL);
}

static void c_describe_organization(ro *r, const http_response *resp)
{
    json_t *o = sbx_json(resp);
    assert_string_equal(awsjson_get_string(awsjson_find(o, "Organization"), "Id"), r->s->org_id);
    assert_string_equal(awsjson_get_string(awsjson_find(o, "Organization"), "MasterAccountId"),
                        r->s->mgmt_id);
    assert_string_equal(awsjson_get_string(awsjson_find(o, "Organization"), "FeatureSet"), "ALL");
    json_decref(o);
}

static void b_list_accounts(ro *r, sbx_job *j)
{
    org_job(r, j, "ListAccounts", NULL);
}

static void c_list_accounts(ro *r, const http_response *resp)
{
    json_t *o = sbx_json(resp);
    sbx_strs got = {0}, want = {0};
    json_t *list = json_object_get(o, "Accounts");
    sbx_strs_from_json(&got, list, "Id");
    sbx_strs_from_json(&want, json_object_get(r->world, "accounts"), "id");
    sbx_assert_strs(&got, &want, false, "ListAccounts");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *a = json_array_get(list, i);
        assert_string_equal(awsjson_get_string(a, "Status"), "ACTIVE");
        time_t joined;
        err e = {0};
        bool ok = awsjson_get_time(a, "JoinedTimestamp", &joined, &e);
        SBX_ASSERT_OK(ok, e);
        assert_true(joined > 1000000000 && joined <= r->now);
    }
    assert_null(json_object_get(o, "NextToken"));
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    json_decref(o);
}

static void b_list_roots(ro *r, sbx_job *j)
{
    org_job(r, j, "ListRoots", NULL);
}

static void c_list_roots(ro *r, const http_response *resp)
{
    json_t *o = sbx_json(resp);
    json_t *roots = json_object_get(o, "Roots");
    assert_int_equal(json_array_size(roots), 1);
    assert_string_equal(awsjson_get_string(json_array_get(roots, 0), "Id"), r->s->root_id);
    json_decref(o);
}

static void b_list_ous(ro *r, sbx_job *j)
{
    org_job(r, j, "ListOrganizationalUnitsForParent",
            json_pack("{s:s}", "ParentId", r->s->root_id));
}

static void c_list_ous(ro *r, const http_response *resp)
{
    json_t *o = sbx_json(resp);
    sbx_strs got = {0}, want = {0};
    sbx_strs_from_json(&got, json_object_get(o, "OrganizationalUnits"), "Id");
    json_t *ous = json_object_get(r->world, "ous");
    for (size_t i = 0; i < json_array_size(ous); i++)
        if (strcmp(jstr(json_array_get(ous, i), "parent_id"), r->s->root_id) == 0)
            sbx_strs_add(&want, jstr(json_array_get(ous, i), "id"));
    assert_true(want.n > 0);
    sbx_assert_strs(&got, &want, false, "ListOrganizationalUnitsForParent");
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    json_decref(o);
}

static void b_list_accounts_for_parent(ro *r, sbx_job *j)
{
    org_job(r, j, "ListAccountsForParent", json_pack("{s:s}", "ParentId", r->member_ou));
}

static void c_list_accounts_for_parent(ro *r, const http_response *resp)
{
    json_t *o = sbx_json(resp);
    sbx_strs got = {0}, want = {0};
    sbx_strs_from_json(&got, json_object_get(o, "Accounts"), "Id");
    json_t *accounts = json_object_get(r->world, "accounts");
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        json_t *a = json_array_get(accounts, i);
        const char *ou = json_string_value(json_object_get(a, "ou_id"));
        if (ou && strcmp(ou, r->member_ou) == 0)
            sbx_strs_add(&want, acct_id(a));
    }
    assert_true(sbx_strs_has(&want, r->s->member_ids[0]));
    sbx_assert_strs(&got, &want, false, "ListAccountsForParent");
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    json_decref(o);
}

/* EC2 */

static void b_describe_regions(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "DescribeRegions", EC2_VERSION);
    ec2_job(r, j, &q, "DescribeRegions", r->mgmt, NULL);
}

static void c_describe_regions(ro *r, const http_response *resp)
{
    (void)r;
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    sbx_strs got = {0}, want = {0};
    sbx_strs_from_xml(&got, xml_find(root, "regionInfo/item"), "regionName");
    sbx_strs_add(&want, SBX_REGION1);
    sbx_strs_add(&want, SBX_REGION2);
    sbx_assert_strs(&got, &want, false, "DescribeRegions");
    for (const xml_node *i = xml_find(root, "regionInfo/item"); i; i = xml_next(i))
        assert_non_null(strstr(sbx_text(i, "regionEndpoint"), sbx_text(i, "regionName")));
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    xml_free(doc);
}

static void b_describe_instances(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "DescribeInstances", EC2_VERSION);
    ec2_job(r, j, &q, "DescribeInstances", r->mgmt, SBX_REGION1);
}

static void c_describe_instances(ro *r, const http_response *resp)
{
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    json_t *insts = json_object_get(r->mgmt_r1, "instances");
    size_t i = 0;
    for (const xml_node *res = xml_find(root, "reservationSet/item"); res; res = xml_next(res)) {
        const xml_node *in = xml_find(res, "instancesSet/item");
        assert_true(i < json_array_size(insts));
        json_t *w = json_array_get(insts, i++);
        assert_string_equal(sbx_text(in, "instanceId"), jstr(w, "id"));
        assert_string_equal(sbx_text(in, "instanceState/name"), jstr(w, "state"));
        assert_string_equal(sbx_text(in, "instanceType"), jstr(w, "type"));
        assert_string_equal(sbx_text(in, "placement/availabilityZone"), jstr(w, "az"));
        assert_string_equal(sbx_text(res, "ownerId"), r->s->mgmt_id);
    }
    assert_int_equal(i, json_array_size(insts));
    assert_null(xml_find(root, "nextToken"));
    xml_free(doc);
}

static void b_describe_volumes(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "DescribeVolumes", EC2_VERSION);
    ec2_job(r, j, &q, "DescribeVolumes", r->mgmt, SBX_REGION1);
}

static void c_describe_volumes(ro *r, const http_response *resp)
{
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    json_t *vols = json_object_get(r->mgmt_r1, "volumes");
    sbx_strs got = {0}, want = {0};
    sbx_strs_from_xml(&got, xml_find(root, "volumeSet/item"), "volumeId");
    sbx_strs_from_json(&want, vols, "id");
    sbx_assert_strs(&got, &want, false, "DescribeVolumes");
    for (const xml_node *v = xml_find(root, "volumeSet/item"); v; v = xml_next(v)) {
        json_t *w = NULL;
        for (size_t i = 0; i < json_array_size(vols) && !w; i++)
            if (strcmp(jstr(json_array_get(vols, i), "id"), sbx_text(v, "volumeId")) == 0)
                w = json_array_get(vols, i);
        assert_non_null(w);
        int64_t size;
        err e = {0};
        bool ok = xml_find_int64(v, "size", &size, &e);
        SBX_ASSERT_OK(ok, e);
        assert_int_equal(size, json_integer_value(json_object_get(w, "size_gib")));
        const char *inst = json_string_value(json_object_get(w, "instance_id"));
        assert_string_equal(sbx_text(v, "status"), inst ? "in-use" : "available");
        if (inst)
            assert_string_equal(sbx_text(v, "attachmentSet/item/instanceId"), inst);
    }
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    xml_free(doc);
}

static void b_describe_snapshots(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "DescribeSnapshots", EC2_VERSION);
    query_add(&q, "Owner.1", "self");
    ec2_job(r, j, &q, "DescribeSnapshots", r->mgmt, SBX_REGION1);
}

static void c_describe_snapshots(ro *r, const http_response *resp)
{
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    sbx_strs got = {0}, want = {0};
    sbx_strs_from_xml(&got, xml_find(root, "snapshotSet/item"), "snapshotId");
    sbx_strs_from_json(&want, json_object_get(r->mgmt_r1, "snapshots"), "id");
    assert_true(want.n > 0);
    sbx_assert_strs(&got, &want, false, "DescribeSnapshots Owner=self");
    for (const xml_node *sn = xml_find(root, "snapshotSet/item"); sn; sn = xml_next(sn))
        assert_string_equal(sbx_text(sn, "ownerId"), r->s->mgmt_id);
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    xml_free(doc);
}

static void b_describe_snapshot_attribute(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "DescribeSnapshotAttribute", EC2_VERSION);
    query_add(&q, "SnapshotId",
              jstr(json_array_get(json_object_get(r->mgmt_r1, "snapshots"), 0), "id"));
    query_add(&q, "Attribute", "createVolumePermission");
    ec2_job(r, j, &q, "DescribeSnapshotAttribute", r->mgmt, SBX_REGION1);
}

static void c_describe_snapshot_attribute(ro *r, const http_response *resp)
{
    json_t *snap = json_array_get(json_object_get(r->mgmt_r1, "snapshots"), 0);
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    assert_string_equal(sbx_text(root, "snapshotId"), jstr(snap, "id"));
    bool pub = json_is_true(json_object_get(snap, "is_public"));
    const xml_node *perm = xml_find(root, "createVolumePermission");
    assert_non_null(perm);
    assert_int_equal(xml_count(perm, "item"), pub ? 1 : 0);
    if (pub)
        assert_string_equal(sbx_text(perm, "item/group"), "all");
    xml_free(doc);
}

static void b_describe_security_groups(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "DescribeSecurityGroups", EC2_VERSION);
    ec2_job(r, j, &q, "DescribeSecurityGroups", r->mgmt, SBX_REGION1);
}

static void c_describe_security_groups(ro *r, const http_response *resp)
{
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    sbx_strs got = {0}, want = {0}, names = {0}, wnames = {0};
    sbx_strs_from_xml(&got, xml_find(root, "securityGroupInfo/item"), "groupId");
    sbx_strs_from_xml(&names, xml_find(root, "securityGroupInfo/item"), "groupName");
    sbx_strs_from_json(&want, json_object_get(r->mgmt_r1, "sgs"), "id");
    sbx_strs_from_json(&wnames, json_object_get(r->mgmt_r1, "sgs"), "name");
    sbx_assert_strs(&got, &want, false, "DescribeSecurityGroups ids");
    sbx_assert_strs(&names, &wnames, false, "DescribeSecurityGroups names");
    assert_true(sbx_strs_has(&names, "default"));
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    sbx_strs_free(&names);
    sbx_strs_free(&wnames);
    xml_free(doc);
}

static void b_describe_addresses(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "DescribeAddresses", EC2_VERSION);
    ec2_job(r, j, &q, "DescribeAddresses", r->mgmt, SBX_REGION1);
}

static void c_describe_addresses(ro *r, const http_response *resp)
{
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    sbx_strs got = {0}, want = {0}, ips = {0}, wips = {0};
    sbx_strs_from_xml(&got, xml_find(root, "addressesSet/item"), "allocationId");
    sbx_strs_from_xml(&ips, xml_find(root, "addressesSet/item"), "publicIp");
    sbx_strs_from_json(&want, json_object_get(r->mgmt_r1, "addresses"), "allocation_id");
    sbx_strs_from_json(&wips, json_object_get(r->mgmt_r1, "addresses"), "public_ip");
    assert_true(want.n > 0);
    sbx_assert_strs(&got, &want, false, "DescribeAddresses allocation ids");
    sbx_assert_strs(&ips, &wips, false, "DescribeAddresses public IPs");
    for (const xml_node *a = xml_find(root, "addressesSet/item"); a; a = xml_next(a))
        assert_string_equal(sbx_text(a, "domain"), "vpc");
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    sbx_strs_free(&ips);
    sbx_strs_free(&wips);
    xml_free(doc);
}

static void ebs_job(ro *r, sbx_job *j, const char *region)
{
    query_params q;
    query_init(&q, "GetEbsEncryptionByDefault", EC2_VERSION);
    ec2_job(r, j, &q, "GetEbsEncryptionByDefault", r->ebs_acct, region);
}

static void ebs_check(ro *r, const http_response *resp, const char *region)
{
    const xml_node *root;
    xml_doc *doc = sbx_xml(resp, NULL, &root);
    bool on;
    err e = {0};
    bool ok = xml_find_bool(root, "ebsEncryptionByDefault", &on, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(on, json_is_true(json_object_get(sbx_world_region(r->ebs_acct, region),
                                                      "ebs_encryption_by_default")));
    xml_free(doc);
}

static void b_ebs_r1(ro *r, sbx_job *j)
{
    ebs_job(r, j, SBX_REGION1);
}

static void c_ebs_r1(ro *r, const http_response *resp)
{
    ebs_check(r, resp, SBX_REGION1);
}

static void b_ebs_r2(ro *r, sbx_job *j)
{
    ebs_job(r, j, SBX_REGION2);
}

static void c_ebs_r2(ro *r, const http_response *resp)
{
    ebs_check(r, resp, SBX_REGION2);
}

/* RDS */

static void b_describe_db_instances(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "DescribeDBInstances", "2014-10-31");
    j->client = client_of(r, r->db_acct);
    sbx_query_request(&q, "rds", "DescribeDBInstances", AWS_PROTO_QUERY, r->db_region, &j->req);
}

static void c_describe_db_instances(ro *r, const http_response *resp)
{
    const xml_node *res;
    xml_doc *doc = sbx_xml(resp, "DescribeDBInstancesResult", &res);
    json_t *dbs = json_object_get(sbx_world_region(r->db_acct, r->db_region), "dbs");
    size_t i = 0;
    for (const xml_node *d = xml_find(res, "DBInstances/DBInstance"); d; d = xml_next(d)) {
        assert_true(i < json_array_size(dbs));
        json_t *w = json_array_get(dbs, i++);
        assert_string_equal(sbx_text(d, "DBInstanceIdentifier"), jstr(w, "id"));
        assert_string_equal(sbx_text(d, "DBInstanceStatus"), jstr(w, "status"));
        assert_string_equal(sbx_text(d, "Engine"), jstr(w, "engine"));
        assert_string_equal(sbx_text(d, "DBInstanceArn"), jstr(w, "arn"));
        int64_t storage;
        err e = {0};
        bool ok = xml_find_int64(d, "AllocatedStorage", &storage, &e);
        SBX_ASSERT_OK(ok, e);
        assert_int_equal(storage, json_integer_value(json_object_get(w, "allocated_storage")));
    }
    assert_int_equal(i, json_array_size(dbs));
    assert_null(xml_find(res, "Marker"));
    xml_free(doc);
}

/* S3 */

static void b_list_buckets(ro *r, sbx_job *j)
{
    j->client = client_of(r, r->mgmt);
    j->rx = xcalloc(1, sizeof *j->rx);
    restxml_list_buckets_request(j->rx);
}

static void c_list_buckets(ro *r, const http_response *resp)
{
    restxml_bucket_list l = {0};
    err e = {0};
    bool ok = restxml_list_buckets_parse(resp->body.buf, resp->body.len, &l, &e);
    SBX_ASSERT_OK(ok, e);
    sbx_strs got = {0}, want = {0};
    for (size_t i = 0; i < l.count; i++) {
        sbx_strs_add(&got, l.items[i].name);
        assert_true(l.items[i].created > 1000000000 && l.items[i].created <= r->now);
    }
    sbx_strs_from_json(&want, json_object_get(r->mgmt, "buckets"), "name");
    assert_true(want.n > 0);
    sbx_assert_strs(&got, &want, true, "ListBuckets");
    assert_non_null(l.owner_id);
    assert_int_equal(strlen(l.owner_id), 64);
    assert_string_equal(l.owner_display_name, jstr(r->mgmt, "name"));
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    restxml_bucket_list_free(&l);
}

static void b_get_bucket_location(ro *r, sbx_job *j)
{
    j->client = client_of(r, r->loc_acct);
    j->rx = xcalloc(1, sizeof *j->rx);
    err e = {0};
    bool ok = restxml_get_bucket_location_request(jstr(r->loc_bucket, "name"), NULL, j->rx, &e);
    SBX_ASSERT_OK(ok, e);
}

static void c_get_bucket_location(ro *r, const http_response *resp)
{
    char *region = NULL;
    err e = {0};
    bool ok = restxml_get_bucket_location_parse(resp->body.buf, resp->body.len, &region, &e);
    SBX_ASSERT_OK(ok, e);
    assert_string_equal(region, jstr(r->loc_bucket, "region"));
    assert_string_equal(http_headers_get(&resp->headers, "x-amz-bucket-region"),
                        jstr(r->loc_bucket, "region"));
    free(region);
}

static void b_get_public_access_block(ro *r, sbx_job *j)
{
    j->client = client_of(r, r->pab_acct);
    j->rx = xcalloc(1, sizeof *j->rx);
    err e = {0};
    bool ok = restxml_get_public_access_block_request(jstr(r->pab_bucket, "name"),
                                                      jstr(r->pab_bucket, "region"), j->rx, &e);
    SBX_ASSERT_OK(ok, e);
}

static void c_get_public_access_block(ro *r, const http_response *resp)
{
    restxml_public_access_block pab;
    err e = {0};
    bool ok = restxml_get_public_access_block_parse(resp->body.buf, resp->body.len, &pab, &e);
    SBX_ASSERT_OK(ok, e);
    json_t *w = json_object_get(r->pab_bucket, "pab");
    assert_int_equal(pab.block_public_acls, json_is_true(json_array_get(w, 0)));
    assert_int_equal(pab.ignore_public_acls, json_is_true(json_array_get(w, 1)));
    assert_int_equal(pab.block_public_policy, json_is_true(json_array_get(w, 2)));
    assert_int_equal(pab.restrict_public_buckets, json_is_true(json_array_get(w, 3)));
}

static void b_get_bucket_policy_status(ro *r, sbx_job *j)
{
    j->client = client_of(r, r->pol_acct);
    j->rx = xcalloc(1, sizeof *j->rx);
    err e = {0};
    bool ok = restxml_get_bucket_policy_status_request(jstr(r->pol_bucket, "name"),
                                                       jstr(r->pol_bucket, "region"), j->rx, &e);
    SBX_ASSERT_OK(ok, e);
}

static void c_get_bucket_policy_status(ro *r, const http_response *resp)
{
    bool pub = true;
    err e = {0};
    bool ok = restxml_get_bucket_policy_status_parse(resp->body.buf, resp->body.len, &pub, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(pub, json_is_true(json_object_get(r->pol_bucket, "policy_public")));
}

static void b_get_bucket_encryption(ro *r, sbx_job *j)
{
    j->client = client_of(r, r->enc_acct);
    j->rx = xcalloc(1, sizeof *j->rx);
    err e = {0};
    bool ok = restxml_get_bucket_encryption_request(jstr(r->enc_bucket, "name"),
                                                    jstr(r->enc_bucket, "region"), j->rx, &e);
    SBX_ASSERT_OK(ok, e);
}

static void c_get_bucket_encryption(ro *r, const http_response *resp)
{
    restxml_encryption enc = {0};
    err e = {0};
    bool ok = restxml_get_bucket_encryption_parse(resp->body.buf, resp->body.len, &enc, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(enc.count, 1);
    const char *alg = jstr(r->enc_bucket, "encryption");
    assert_string_equal(enc.rules[0].sse_algorithm, alg);
    assert_int_equal(enc.rules[0].bucket_key_enabled, strcmp(alg, "aws:kms") == 0);
    restxml_encryption_free(&enc);
}

/* IAM */

static void iam_job(ro *r, sbx_job *j, query_params *q, const char *op, json_t *acct)
{
    j->client = client_of(r, acct);
    sbx_query_request(q, "iam", op, AWS_PROTO_QUERY, NULL, &j->req);
}

static void b_list_users(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "ListUsers", "2010-05-08");
    iam_job(r, j, &q, "ListUsers", r->mgmt);
}

static void c_list_users(ro *r, const http_response *resp)
{
    const xml_node *res;
    xml_doc *doc = sbx_xml(resp, "ListUsersResult", &res);
    sbx_strs got = {0}, want = {0}, ids = {0}, wids = {0};
    sbx_strs_from_xml(&got, xml_find(res, "Users/member"), "UserName");
    sbx_strs_from_xml(&ids, xml_find(res, "Users/member"), "UserId");
    sbx_strs_from_json(&want, json_object_get(r->mgmt, "users"), "name");
    sbx_strs_from_json(&wids, json_object_get(r->mgmt, "users"), "id");
    sbx_assert_strs(&got, &want, true, "ListUsers names");
    sbx_assert_strs(&ids, &wids, true, "ListUsers ids");
    bool truncated = true;
    err e = {0};
    bool ok = xml_find_bool(res, "IsTruncated", &truncated, &e);
    SBX_ASSERT_OK(ok, e);
    assert_false(truncated);
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    sbx_strs_free(&ids);
    sbx_strs_free(&wids);
    xml_free(doc);
}

static void b_list_access_keys(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "ListAccessKeys", "2010-05-08");
    query_add(&q, "UserName", jstr(r->key_user, "name"));
    iam_job(r, j, &q, "ListAccessKeys", r->mgmt);
}

static void c_list_access_keys(ro *r, const http_response *resp)
{
    const xml_node *res;
    xml_doc *doc = sbx_xml(resp, "ListAccessKeysResult", &res);
    json_t *keys = json_object_get(r->key_user, "keys");
    size_t i = 0;
    for (const xml_node *k = xml_find(res, "AccessKeyMetadata/member"); k; k = xml_next(k)) {
        json_t *w = json_array_get(keys, i++);
        assert_non_null(w);
        assert_string_equal(sbx_text(k, "AccessKeyId"), jstr(w, "id"));
        assert_string_equal(sbx_text(k, "UserName"), jstr(r->key_user, "name"));
        assert_string_equal(sbx_text(k, "Status"),
                            json_is_true(json_object_get(w, "active")) ? "Active" : "Inactive");
    }
    assert_int_equal(i, json_array_size(keys));
    xml_free(doc);
}

static void b_list_mfa_devices(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "ListMFADevices", "2010-05-08");
    query_add(&q, "UserName", jstr(r->mfa_user, "name"));
    iam_job(r, j, &q, "ListMFADevices", r->mgmt);
}

static void c_list_mfa_devices(ro *r, const http_response *resp)
{
    const xml_node *res;
    xml_doc *doc = sbx_xml(resp, "ListMFADevicesResult", &res);
    sbx_strs got = {0}, want = {0};
    sbx_strs_from_xml(&got, xml_find(res, "MFADevices/member"), "SerialNumber");
    sbx_strs_from_json(&want, json_object_get(r->mfa_user, "mfa"), "serial");
    sbx_assert_strs(&got, &want, true, "ListMFADevices");
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    xml_free(doc);
}

static void b_get_password_policy(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "GetAccountPasswordPolicy", "2010-05-08");
    iam_job(r, j, &q, "GetAccountPasswordPolicy", r->pp_acct);
}

static void c_get_password_policy(ro *r, const http_response *resp)
{
    const xml_node *res;
    xml_doc *doc = sbx_xml(resp, "GetAccountPasswordPolicyResult", &res);
    json_t *pp = json_object_get(r->pp_acct, "password_policy");
    int64_t len;
    bool sym;
    err e = {0};
    bool ok = xml_find_int64(res, "PasswordPolicy/MinimumPasswordLength", &len, &e) &&
              xml_find_bool(res, "PasswordPolicy/RequireSymbols", &sym, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(len, json_integer_value(json_object_get(pp, "min_length")));
    assert_int_equal(sym, json_is_true(json_object_get(pp, "require_symbols")));
    xml_free(doc);
}

static void b_get_account_summary(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "GetAccountSummary", "2010-05-08");
    iam_job(r, j, &q, "GetAccountSummary", r->mgmt);
}

static long long summary_value(const xml_node *res, const char *key)
{
    for (const xml_node *en = xml_find(res, "SummaryMap/entry"); en; en = xml_next(en))
        if (strcmp(sbx_text(en, "key"), key) == 0) {
            int64_t v;
            err e = {0};
            bool ok = xml_find_int64(en, "value", &v, &e);
            SBX_ASSERT_OK(ok, e);
            return (long long)v;
        }
    fail_msg("SummaryMap has no %s", key);
    return -1;
}

static void c_get_account_summary(ro *r, const http_response *resp)
{
    const xml_node *res;
    xml_doc *doc = sbx_xml(resp, "GetAccountSummaryResult", &res);
    assert_int_equal(summary_value(res, "Users"),
                     json_array_size(json_object_get(r->mgmt, "users")));
    assert_int_equal(summary_value(res, "Roles"),
                     json_array_size(json_object_get(r->mgmt, "roles")));
    assert_int_equal(summary_value(res, "AccountMFAEnabled"),
                     json_is_true(json_object_get(r->mgmt, "root_mfa")) ? 1 : 0);
    assert_int_equal(summary_value(res, "UsersQuota"), 5000);
    xml_free(doc);
}

/* CloudTrail */

static void b_describe_trails(ro *r, sbx_job *j)
{
    j->client = client_of(r, r->trail_acct);
    awsjson_request(&AWSJSON_CLOUDTRAIL, "DescribeTrails", NULL, &j->req);
    j->req.region = jstr(r->trail, "home_region");
}

static void c_describe_trails(ro *r, const http_response *resp)
{
    json_t *o = sbx_json(resp);
    json_t *list = json_object_get(o, "trailList");
    json_t *found = NULL;
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(awsjson_get_string(json_array_get(list, i), "TrailARN"),
                   jstr(r->trail, "arn")) == 0)
            found = json_array_get(list, i);
    assert_non_null(found);
    assert_string_equal(awsjson_get_string(found, "Name"), jstr(r->trail, "name"));
    assert_string_equal(awsjson_get_string(found, "S3BucketName"), jstr(r->trail, "s3_bucket"));
    assert_string_equal(awsjson_get_string(found, "HomeRegion"), jstr(r->trail, "home_region"));
    assert_int_equal(json_is_true(json_object_get(found, "IsMultiRegionTrail")),
                     json_is_true(json_object_get(r->trail, "multi_region")));
    json_decref(o);
}

static void b_get_trail_status(ro *r, sbx_job *j)
{
    j->client = client_of(r, r->trail_acct);
    json_t *body = json_pack("{s:s}", "Name", jstr(r->trail, "name"));
    awsjson_request(&AWSJSON_CLOUDTRAIL, "GetTrailStatus", body, &j->req);
    json_decref(body);
    j->req.region = jstr(r->trail, "home_region");
}

static void c_get_trail_status(ro *r, const http_response *resp)
{
    json_t *o = sbx_json(resp);
    bool logging = json_is_true(json_object_get(r->trail, "logging"));
    assert_int_equal(json_is_true(json_object_get(o, "IsLogging")), logging);
    time_t t;
    err e = {0};
    bool ok = awsjson_get_time(o, logging ? "LatestDeliveryTime" : "StopLoggingTime", &t, &e);
    SBX_ASSERT_OK(ok, e);
    assert_true(t < r->now + 5 && t > r->now - 400 * DAY);
    json_decref(o);
}

/* CloudWatch */

static void b_get_metric_data(ro *r, sbx_job *j)
{
    char start[TIMEUTIL_ISO8601_LEN], end[TIMEUTIL_ISO8601_LEN];
    timeutil_format_iso8601(r->now - 3 * 3600, start);
    timeutil_format_iso8601(r->now, end);
    query_params q;
    query_init(&q, "GetMetricData", "2010-08-01");
    query_add(&q, "MetricDataQueries.member.1.Id", "cpu");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Metric.Namespace", "AWS/EC2");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Metric.MetricName", "CPUUtilization");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name",
              "InstanceId");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value",
              r->cpu_instance);
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Period", "300");
    query_add(&q, "MetricDataQueries.member.1.MetricStat.Stat", "Average");
    query_add(&q, "StartTime", start);
    query_add(&q, "EndTime", end);
    query_add(&q, "ScanBy", "TimestampAscending");
    j->client = client_of(r, r->mgmt);
    sbx_query_request(&q, "monitoring", "GetMetricData", AWS_PROTO_QUERY, SBX_REGION1, &j->req);
}

static void c_get_metric_data(ro *r, const http_response *resp)
{
    const xml_node *res;
    xml_doc *doc = sbx_xml(resp, "GetMetricDataResult", &res);
    const xml_node *m = xml_find(res, "MetricDataResults/member");
    assert_non_null(m);
    assert_null(xml_next(m));
    assert_string_equal(sbx_text(m, "Id"), "cpu");
    assert_string_equal(sbx_text(m, "StatusCode"), "Complete");
    size_t nts = xml_count(xml_find(m, "Timestamps"), "member");
    size_t nv = xml_count(xml_find(m, "Values"), "member");
    assert_int_equal(nts, nv);
    assert_true(nts >= 30 && nts <= 37); /* 3 h of 5-minute buckets */
    time_t prev = 0;
    for (const xml_node *t = xml_find(m, "Timestamps/member"); t; t = xml_next(t)) {
        time_t ts;
        err e = {0};
        bool ok = timeutil_parse_iso8601(t->text, &ts, &e);
        SBX_ASSERT_OK(ok, e);
        assert_true(ts > prev && ts % 300 == 0 && ts <= r->now);
        prev = ts;
    }
    for (const xml_node *v = xml_find(m, "Values/member"); v; v = xml_next(v)) {
        double d = strtod(v->text, NULL);
        assert_true(d >= 0.0 && d <= 100.0);
    }
    assert_null(xml_find(res, "NextToken"));
    xml_free(doc);
}

/* Cost Explorer */

static void b_get_cost_and_usage(ro *r, sbx_job *j)
{
    json_t *body =
        json_pack("{s:{s:s,s:s},s:s,s:[s,s]}", "TimePeriod", "Start", r->ce_start, "End", r->ce_end,
                  "Granularity", "DAILY", "Metrics", "UnblendedCost", "BlendedCost");
    j->client = client_of(r, r->mgmt);
    awsjson_request(&AWSJSON_CE, "GetCostAndUsage", body, &j->req);
    json_decref(body);
}

static double amount(const json_t *metric)
{
    const char *a = awsjson_get_string(metric, "Amount");
    assert_non_null(a);
    char *end;
    double d = strtod(a, &end);
    assert_true(end != a && *end == '\0');
    return d;
}

static void c_get_cost_and_usage(ro *r, const http_response *resp)
{
    json_t *o = sbx_json(resp);
    json_t *res = json_object_get(o, "ResultsByTime");
    assert_int_equal(json_array_size(res), 7);
    assert_string_equal(
        awsjson_get_string(awsjson_find(json_array_get(res, 0), "TimePeriod"), "Start"),
        r->ce_start);
    assert_string_equal(
        awsjson_get_string(awsjson_find(json_array_get(res, 6), "TimePeriod"), "End"), r->ce_end);
    for (size_t i = 0; i < 7; i++) {
        json_t *p = json_array_get(res, i);
        assert_true(amount(awsjson_find(p, "Total.UnblendedCost")) > 0);
        assert_true(amount(awsjson_find(p, "Total.BlendedCost")) > 0);
        assert_string_equal(awsjson_get_string(awsjson_find(p, "Total.UnblendedCost"), "Unit"),
                            "USD");
        if (i > 0)
            assert_string_equal(
                awsjson_get_string(awsjson_find(p, "TimePeriod"), "Start"),
                awsjson_get_string(awsjson_find(json_array_get(res, i - 1), "TimePeriod"), "End"));
    }
    assert_null(json_object_get(o, "NextPageToken"));
    json_decref(o);
}

static void b_get_cost_forecast(ro *r, sbx_job *j)
{
    json_t *body = json_pack("{s:{s:s,s:s},s:s,s:s}", "TimePeriod", "Start", r->fc_start, "End",
                             r->fc_end, "Granularity", "DAILY", "Metric", "UNBLENDED_COST");
    j->client = client_of(r, r->mgmt);
    awsjson_request(&AWSJSON_CE, "GetCostForecast", body, &j->req);
    json_decref(body);
}

static void c_get_cost_forecast(ro *r, const http_response *resp)
{
    json_t *o = sbx_json(resp);
    json_t *res = json_object_get(o, "ForecastResultsByTime");
    assert_int_equal(json_array_size(res), 7);
    assert_string_equal(
        awsjson_get_string(awsjson_find(json_array_get(res, 0), "TimePeriod"), "Start"),
        r->fc_start);
    double sum = 0;
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *p = json_array_get(res, i);
        const char *mean = awsjson_get_string(p, "MeanValue");
        const char *lo = awsjson_get_string(p, "PredictionIntervalLowerBound");
        const char *hi = awsjson_get_string(p, "PredictionIntervalUpperBound");
        assert_non_null(mean);
        assert_non_null(lo);
        assert_non_null(hi);
        assert_true(strtod(lo, NULL) <= strtod(mean, NULL) + 1e-6);
        assert_true(strtod(mean, NULL) <= strtod(hi, NULL) + 1e-6);
        sum += strtod(mean, NULL);
    }
    double total = amount(json_object_get(o, "Total"));
    assert_true(fabs(total - sum) < 0.05 + sum * 1e-6);
    json_decref(o);
}

/* Auto Scaling */

static void b_describe_asgs(ro *r, sbx_job *j)
{
    query_params q;
    query_init(&q, "DescribeAutoScalingGroups", "2011-01-01");
    j->client = client_of(r, r->asg_acct);
    sbx_query_request(&q, "autoscaling", "DescribeAutoScalingGroups", AWS_PROTO_QUERY,
                      r->asg_region, &j->req);
}

static void c_describe_asgs(ro *r, const http_response *resp)
{
    const xml_node *res;
    xml_doc *doc = sbx_xml(resp, "DescribeAutoScalingGroupsResult", &res);
    json_t *asgs = json_object_get(sbx_world_region(r->asg_acct, r->asg_region), "asgs");
    size_t i = 0;
    for (const xml_node *g = xml_find(res, "AutoScalingGroups/member"); g; g = xml_next(g)) {
        json_t *w = json_array_get(asgs, i++);
        assert_non_null(w);
        assert_string_equal(sbx_text(g, "AutoScalingGroupName"), jstr(w, "name"));
        assert_string_equal(sbx_text(g, "AutoScalingGroupARN"), jstr(w, "arn"));
        int64_t mn, mx, want;
        err e = {0};
        bool ok = xml_find_int64(g, "MinSize", &mn, &e) && xml_find_int64(g, "MaxSize", &mx, &e) &&
                  xml_find_int64(g, "DesiredCapacity", &want, &e);
        SBX_ASSERT_OK(ok, e);
        assert_int_equal(mn, json_integer_value(json_object_get(w, "min_size")));
        assert_int_equal(mx, json_integer_value(json_object_get(w, "max_size")));
        assert_int_equal(want, json_integer_value(json_object_get(w, "desired")));
        sbx_strs got = {0}, wids = {0};
        sbx_strs_from_xml(&got, xml_find(g, "Instances/member"), "InstanceId");
        sbx_strs_from_json(&wids, json_object_get(w, "instance_ids"), NULL);
        sbx_assert_strs(&got, &wids, false, "Auto Scaling group instances");
        sbx_strs_free(&got);
        sbx_strs_free(&wids);
    }
    assert_true(i > 0);
    assert_int_equal(i, json_array_size(asgs));
    xml_free(doc);
}

static const probe PROBES[] = {
    {"sts:GetCallerIdentity", b_get_caller_identity, c_get_caller_identity},
    {"sts:AssumeRole", b_assume_role, c_assume_role},
    {"organizations:DescribeOrganization", b_describe_organization, c_describe_organization},
    {"organizations:ListAccounts", b_list_accounts, c_list_accounts},
    {"organizations:ListRoots", b_list_roots, c_list_roots},
    {"organizations:ListOrganizationalUnitsForParent", b_list_ous, c_list_ous},
    {"organizations:ListAccountsForParent", b_list_accounts_for_parent, c_list_accounts_for_parent},
    {"ec2:DescribeRegions", b_describe_regions, c_describe_regions},
    {"ec2:DescribeInstances", b_describe_instances, c_describe_instances},
    {"ec2:DescribeVolumes", b_describe_volumes, c_describe_volumes},
    {"ec2:DescribeSnapshots", b_describe_snapshots, c_describe_snapshots},
    {"ec2:DescribeSnapshotAttribute", b_describe_snapshot_attribute, c_describe_snapshot_attribute},
    {"ec2:DescribeSecurityGroups", b_describe_security_groups, c_describe_security_groups},
    {"ec2:DescribeAddresses", b_describe_addresses, c_describe_addresses},
    {"ec2:GetEbsEncryptionByDefault " SBX_REGION1, b_ebs_r1, c_ebs_r1},
    {"ec2:GetEbsEncryptionByDefault " SBX_REGION2, b_ebs_r2, c_ebs_r2},
    {"rds:DescribeDBInstances", b_describe_db_instances, c_describe_db_instances},
    {"s3:ListBuckets", b_list_buckets, c_list_buckets},
    {"s3:GetBucketLocation", b_get_bucket_location, c_get_bucket_location},
    {"s3:GetPublicAccessBlock", b_get_public_access_block, c_get_public_access_block},
    {"s3:GetBucketPolicyStatus", b_get_bucket_policy_status, c_get_bucket_policy_status},
    {"s3:GetBucketEncryption", b_get_bucket_encryption, c_get_bucket_encryption},
    {"iam:ListUsers", b_list_users, c_list_users},
    {"iam:ListAccessKeys", b_list_access_keys, c_list_access_keys},
    {"iam:ListMFADevices", b_list_mfa_devices, c_list_mfa_devices},
    {"iam:GetAccountPasswordPolicy", b_get_password_policy, c_get_password_policy},
    {"iam:GetAccountSummary", b_get_account_summary, c_get_account_summary},
    {"cloudtrail:DescribeTrails", b_describe_trails, c_describe_trails},
    {"cloudtrail:GetTrailStatus", b_get_trail_status, c_get_trail_status},
    {"monitoring:GetMetricData", b_get_metric_data, c_get_metric_data},
    {"ce:GetCostAndUsage", b_get_cost_and_usage, c_get_cost_and_usage},
    {"ce:GetCostForecast", b_get_cost_forecast, c_get_cost_forecast},
    {"autoscaling:DescribeAutoScalingGroups", b_describe_asgs, c_describe_asgs},
};

#define NPROBES (sizeof PROBES / sizeof PROBES[0])

/* All the probes in the mode: blocking one by one, or fired together on
 * the loop. Then the sandbox's call log must hold each operation once,
 * answered 200, under the expected service. */
void test_readonly(void **state)
{
    sbx_mode mode = *(sbx_mode *)*state;
    sbx *s = g_sbx;
    ro r;
    ro_init(&r, s);
    json_t *before = sbx_admin(s, "GET", "/calls?since=0&limit=0", NULL);
    json_int_t since = json_integer_value(json_object_get(before, "next"));
    json_decref(before);

    sbx_job jobs[NPROBES];
    memset(jobs, 0, sizeof jobs);
    for (size_t i = 0; i < NPROBES; i++)
        PROBES[i].build(&r, &jobs[i]);
    sbx_run_jobs(s, mode, jobs, NPROBES);
    for (size_t i = 0; i < NPROBES; i++) {
        if (!jobs[i].ok)
            fail_msg("%s (%s): [%s] %s", PROBES[i].name, sbx_mode_name(mode),
                     err_code_name(jobs[i].e.code), jobs[i].e.message);
        PROBES[i].check(&r, &jobs[i].resp);
    }
    sbx_jobs_free(jobs, NPROBES);

    char path[64];
    snprintf(path, sizeof path, "/calls?since=%lld", (long long)since);
    json_t *log = sbx_admin(s, "GET", path, NULL);
    json_t *calls = json_object_get(log, "calls");
    assert_int_equal(json_array_size(calls), NPROBES);
    sbx_strs got = {0}, want = {0};
    for (size_t i = 0; i < json_array_size(calls); i++) {
        json_t *c = json_array_get(calls, i);
        assert_int_equal(json_integer_value(json_object_get(c, "status")), 200);
        char op[128];
        snprintf(op, sizeof op, "%s:%s", jstr(c, "service"), jstr(c, "action"));
        sbx_strs_add(&got, op);
    }
    for (size_t i = 0; i < NPROBES; i++) {
        char op[128];
        snprintf(op, sizeof op, "%s", PROBES[i].name);
        char *sp = strchr(op, ' ');
        if (sp)
            *sp = '\0';
        sbx_strs_add(&want, op);
    }
    sbx_assert_strs(&got, &want, false, "operations in the sandbox's call log");
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    json_decref(log);
    json_decref(r.world);
}

static bool no_pab(const json_t *b)
{
    return !has_pab(b);
}

static bool no_policy(const json_t *b)
{
    return !has_policy(b);
}

static bool no_encryption(const json_t *b)
{
    return !has_encryption(b);
}

/* lib/aws's blocking convenience wrappers (request, aws_client_call and
 * parser in one) on the same data, and S3's "not configured" answers. */
void test_blocking_wrappers(void **state)
{
    (void)state;
    sbx *s = g_sbx;
    ro r;
    ro_init(&r, s);
    err e = {0};

    restxml_bucket_list l = {0};
    bool ok = restxml_list_buckets(client_of(&r, r.mgmt)->aws, &l, &e);
    SBX_ASSERT_OK(ok, e);
    sbx_strs got = {0}, want = {0};
    for (size_t i = 0; i < l.count; i++)
        sbx_strs_add(&got, l.items[i].name);
    sbx_strs_from_json(&want, json_object_get(r.mgmt, "buckets"), "name");
    sbx_assert_strs(&got, &want, true, "restxml_list_buckets");
    sbx_strs_free(&got);
    sbx_strs_free(&want);
    restxml_bucket_list_free(&l);

    char *region = NULL;
    ok = restxml_get_bucket_location(client_of(&r, r.loc_acct)->aws, jstr(r.loc_bucket, "name"),
                                     NULL, &region, &e);
    SBX_ASSERT_OK(ok, e);
    assert_string_equal(region, jstr(r.loc_bucket, "region"));
    free(region);

    restxml_public_access_block pab;
    ok = restxml_get_public_access_block(client_of(&r, r.pab_acct)->aws, jstr(r.pab_bucket, "name"),
                                         jstr(r.pab_bucket, "region"), &pab, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(pab.restrict_public_buckets,
                     json_is_true(json_array_get(json_object_get(r.pab_bucket, "pab"), 3)));
    bool pub;
    ok =
        restxml_get_bucket_policy_status(client_of(&r, r.pol_acct)->aws, jstr(r.pol_bucket, "name"),
                                         jstr(r.pol_bucket, "region"), &pub, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(pub, json_is_true(json_object_get(r.pol_bucket, "policy_public")));
    restxml_encryption enc = {0};
    ok = restxml_get_bucket_encryption(client_of(&r, r.enc_acct)->aws, jstr(r.enc_bucket, "name"),
                                       jstr(r.enc_bucket, "region"), &enc, &e);
    SBX_ASSERT_OK(ok, e);
    assert_int_equal(enc.count, 1);
    assert_string_equal(enc.rules[0].sse_algorithm, jstr(r.enc_bucket, "encryption"));
    restxml_encryption_free(&enc);

    /* Buckets without the configuration answer 404 with S3's codes. */
    json_t *acct = NULL, *b = NULL;
    find_bucket(&r, no_pab, &acct, &b);
    ok = restxml_get_public_access_block(client_of(&r, acct)->aws, jstr(b, "name"),
                                         jstr(b, "region"), &pab, &e);
    sbx_assert_aws_error(s, ok, &e, 404, "NoSuchPublicAccessBlockConfiguration");
    find_bucket(&r, no_policy, &acct, &b);
    ok = restxml_get_bucket_policy_status(client_of(&r, acct)->aws, jstr(b, "name"),
                                          jstr(b, "region"), &pub, &e);
    sbx_assert_aws_error(s, ok, &e, 404, "NoSuchBucketPolicy");
    find_bucket(&r, no_encryption, &acct, &b);
    enc = (restxml_encryption){0};
    ok = restxml_get_bucket_encryption(client_of(&r, acct)->aws, jstr(b, "name"), jstr(b, "region"),
                                       &enc, &e);
    sbx_assert_aws_error(s, ok, &e, 404, "ServerSideEncryptionConfigurationNotFoundError");
    restxml_encryption_free(&enc);

    /* STS: AssumeRole from the hub, then who the session is. */
    char role[128];
    snprintf(role, sizeof role, "arn:aws:iam::%s:role/EscherOperator", s->member_ids[2]);
    sts_assume_role_params p = {0};
    p.role_arn = role;
    p.session_name = "escher-libaws-wrapper";
    p.external_id = SBX_EXTERNAL_ID;
    aws_creds *cr = NULL;
    ok = sts_assume_role(sbx_client_profile(s, "hub")->aws, &p, &cr, &e);
    SBX_ASSERT_OK(ok, e);
    sbx_client *sc = sbx_client_static(s, "sts-wrapper", cr);
    creds_free(cr);
    sts_identity id = {0};
    ok = sts_get_caller_identity(sc->aws, &id, &e);
    SBX_ASSERT_OK(ok, e);
    assert_string_equal(id.account, s->member_ids[2]);
    assert_non_null(strstr(id.arn, ":assumed-role/EscherOperator/escher-libaws-wrapper"));
    sts_identity_free(&id);
    json_decref(r.world);
}
