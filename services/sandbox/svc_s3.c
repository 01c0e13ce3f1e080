/* Amazon S3 (REST-XML): the bucket-level reads Escher's checks use.
 *
 * Buckets are global names owned by one account: a bucket of another
 * account answers AccessDenied (as S3 does without a bucket policy granting
 * the caller), an unknown one NoSuchBucket. Requests are served whatever
 * the signing region, with the bucket's region in x-amz-bucket-region, so
 * clients that probe the region (GetBucketLocation, HeadBucket) find it. */
#include "call.h"

#include "core/xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

/* The bucket named by the request, owned by the caller's account; sets
 * NoSuchBucket / AccessDenied and returns NULL otherwise. */
static sbx_bucket *s3_bucket(sbx_call *c)
{
    const char *name = call_bucket(c);
    world *w = call_world(c);
    sbx_account *mine = call_account(c);
    for (size_t i = 0; i < w->naccounts + 1; i++) {
        sbx_account *a = i < w->naccounts ? w->accounts[i] : w->hub;
        if (!a)
            continue;
        for (size_t j = 0; j < a->nbuckets; j++) {
            sbx_bucket *b = a->buckets[j];
            if (strcmp(b->name, name) != 0)
                continue;
            if (a != mine) {
                call_error(c, 403, "AccessDenied", "Access Denied");
                return NULL;
            }
            call_header(c, "x-amz-bucket-region", b->region);
            return b;
        }
    }
    call_error(c, 404, "NoSuchBucket", "The specified bucket does not exist");
    return NULL;
}

/* S3's canonical user id is 64 hex digits; derived from the account id so
 * it is stable across runs of the same world. */
static void s3_canonical_id(const char *account_id, char out[65])
{
    uint64_t h = 1469598103934665603ULL;
    for (int k = 0; k < 4; k++) {
        for (const char *p = account_id; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h ^= (uint64_t)k * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        snprintf(out + 16 * k, 17, "%016llx", (unsigned long long)h);
    }
}

static bool s3_list_buckets(sbx_call *c)
{
    sbx_account *a = call_account(c);
    char owner[65];
    s3_canonical_id(a->id, owner);
    call_xml_open(c, "ListAllMyBucketsResult xmlns=\"" S3_XMLNS "\"");
    call_xml_open(c, "Owner");
    call_xml_text(c, "ID", owner);
    call_xml_text(c, "DisplayName", a->name);
    call_xml_close(c, "Owner");
    call_xml_open(c, "Buckets");
    for (size_t i = 0; i < a->nbuckets; i++) {
        call_xml_open(c, "Bucket");
        call_xml_text(c, "Name", a->buckets[i]->name);
        call_xml_time(c, "CreationDate", a->buckets[i]->create_time);
        call_xml_close(c, "Bucket");
    }
    call_xml_close(c, "Buckets");
    call_xml_close(c, "ListAllMyBucketsResult");
    call_note(c, "%zu buckets", a->nbuckets);
    return true;
}

static bool s3_get_bucket_location(sbx_call *c)
{
    sbx_bucket *b = s3_bucket(c);
    if (!b)
        return false;
    /* us-east-1 is S3's historical default: an empty constraint. */
    const char *loc = strcmp(b->region, "us-east-1") == 0 ? "" : b->region;
    call_xml_text(c, "LocationConstraint", loc);
    return true;
}

static bool s3_get_public_access_block(sbx_call *c)
{
    static const char *const names[4] = {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                         "RestrictPublicBuckets"};
    sbx_bucket *b = s3_bucket(c);
    if (!b)
        return false;
    if (!b->has_pab)
        return call_error(c, 404, "NoSuchPublicAccessBlockConfiguration",
                          "The public access block configuration was not found");
    call_xml_open(c, "PublicAccessBlockConfiguration xmlns=\"" S3_XMLNS "\"");
    for (int i = 0; i < 4; i++)
        call_xml_bool(c, names[i], b->pab[i]);
    call_xml_close(c, "PublicAccessBlockConfiguration");
    return true;
}

static bool s3_get_bucket_policy_status(sbx_call *c)
{
    sbx_bucket *b = s3_bucket(c);
    if (!b)
        return false;
    if (!b->has_policy)
        return call_error(c, 404, "NoSuchBucketPolicy", "The bucket policy does not exist");
    call_xml_open(c, "PolicyStatus xmlns=\"" S3_XMLNS "\"");
    call_xml_bool(c, "IsPublic", b->policy_public);
    call_xml_close(c, "PolicyStatus");
    return true;
}

static bool s3_get_bucket_encryption(sbx_call *c)
{
    sbx_bucket *b = s3_bucket(c);
    if (!b)
        return false;
    if (!b->encryption)
        return call_error(c, 404, "ServerSideEncryptionConfigurationNotFoundError",
                          "The server side encryption configuration was not found");
    call_xml_open(c, "ServerSideEncryptionConfiguration xmlns=\"" S3_XMLNS "\"");
    call_xml_open(c, "Rule");
    call_xml_open(c, "ApplyServerSideEncryptionByDefault");
    call_xml_text(c, "SSEAlgorithm", b->encryption);
    call_xml_close(c, "ApplyServerSideEncryptionByDefault");
    call_xml_bool(c, "BucketKeyEnabled", strcmp(b->encryption, "aws:kms") == 0);
    call_xml_close(c, "Rule");
    call_xml_close(c, "ServerSideEncryptionConfiguration");
    return true;
}

static const sbx_action s3_actions[] = {
    {"ListBuckets", SBX_DESCRIBE, s3_list_buckets, false, "GET", NULL, false},
    {"GetBucketLocation", SBX_DESCRIBE, s3_get_bucket_location, false, "GET", "location", true},
    {"GetPublicAccessBlock", SBX_DESCRIBE, s3_get_public_access_block, false, "GET",
     "publicAccessBlock", true},
    {"GetBucketPolicyStatus", SBX_DESCRIBE, s3_get_bucket_policy_status, false, "GET",
     "policyStatus", true},
    {"GetBucketEncryption", SBX_DESCRIBE, s3_get_bucket_encryption, false, "GET", "encryption",
     true},
};

/* S3's IAM action names are not its operation names. */
static const sbx_iam_name s3_iam_names[] = {
    {"ListBuckets", "ListAllMyBuckets"},
    {"GetPublicAccessBlock", "GetBucketPublicAccessBlock"},
    {"GetBucketEncryption", "GetEncryptionConfiguration"},
    {"GetBucketPolicyStatus", "GetBucketPolicyStatus"},
    {"GetBucketLocation", "GetBucketLocation"},
};

/* Amazon S3: global bucket names, regional buckets, REST-XML. */
const sbx_service svc_s3 = {
    .signing_name = "s3",
    .iam_prefix = "s3",
    .protocol = AWS_PROTO_REST_XML,
    .xml_namespace = S3_XMLNS,
    .json_target = NULL,
    .global = false,
    .actions = s3_actions,
    .nactions = sizeof s3_actions / sizeof s3_actions[0],
    .iam_names = s3_iam_names,
    .niam_names = sizeof s3_iam_names / sizeof s3_iam_names[0],
};
