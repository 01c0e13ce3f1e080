#include "aws/credprov.h"
#include "aws/paging.h"
#include "aws/restxml.h"
#include "aws/sigv4.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "fixture.h"
#include "support/responder.h"

#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* ---- builders ---- */

static void expect_bucket_invalid(const char *bucket, const char *needle)
{
    err e;
    err_clear(&e);
    if (restxml_bucket_name_valid(bucket, &e))
        fail_msg("bucket \"%s\" accepted", bucket ? bucket : "(null)");
    assert_int_equal(e.code, ERR_INVALID);
    if (strstr(e.message, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.message, needle);
}

static void test_bucket_names(void **state)
{
    (void)state;
    const char *good[] = {"abc",
                          "escher-logs",
                          "escher.reports.eu",
                          "0bucket9",
                          "a-b.c-d",
                          "123456789012-backups",
                          "xn-single-dash",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        err e;
        if (!restxml_bucket_name_valid(good[i], &e))
            fail_msg("\"%s\" refused: %s", good[i], e.message);
    }
    struct {
        const char *name, *needle;
    } bad[] = {
        {NULL, "empty"},
        {"", "empty"},
        {"ab", "\"ab\" has 2 characters; it must have 3 to 63"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "has 64 characters"},
        {"Escher-Logs", "\"Escher-Logs\" contains 'E'"},
        {"escher_logs", "contains '_'"},
        {"escher logs", "contains ' '"},
        {"escher/logs", "contains '/'"},
        {"caf\xc3\xa9s", "contains byte 0xc3"},
        {"-escher", "must begin and end with a letter or digit"},
        {"escher.", "must begin and end"},
        {"escher..logs", "\"escher..logs\" contains \"..\""},
        {"192.168.5.4", "\"192.168.5.4\" is formatted as an IP address"},
        {"xn--bcher-kva", "reserved prefix \"xn--\""},
        {"sthree-bucket", "reserved prefix \"sthree-\""},
        {"amzn-s3-demo-bucket", "reserved prefix"},
        {"escher-s3alias", "reserved suffix \"-s3alias\""},
        {"escher--ol-s3", "reserved suffix"},
        {"escher.mrap", "reserved suffix \".mrap\""},
        {"escher--x-s3", "reserved suffix"},
        {"escher--table-s3", "reserved suffix"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bucket_invalid(bad[i].name, bad[i].needle);
}

static void expect_path(const char *bucket, const char *key, const char *want)
{
    strbuf sb = STRBUF_INIT;
    err e;
    if (!restxml_path(bucket, key, &sb, &e))
        fail_msg("path(%s, %s) failed: %s", bucket ? bucket : "NULL", key ? key : "NULL",
                 e.message);
    assert_string_equal(strbuf_str(&sb), want);
    strbuf_free(&sb);
}

static void expect_path_invalid(const char *bucket, const char *key, const char *needle)
{
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "keep");
    err e;
    err_clear(&e);
    assert_false(restxml_path(bucket, key, &sb, &e));
    assert_int_equal(e.code, ERR_INVALID);
    if (strstr(e.message, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.message, needle);
    assert_string_equal(strbuf_str(&sb), "keep");
    strbuf_free(&sb);
}

static void test_paths(void **state)
{
    (void)state;
    expect_path(NULL, NULL, "/");
    expect_path("escher-logs", NULL, "/escher-logs");
    expect_path("escher-logs", "a.gz", "/escher-logs/a.gz");
    expect_path("escher-logs", "logs/2024/01/a.gz", "/escher-logs/logs/2024/01/a.gz");
    /* RFC 3986 unreserved kept; '/' kept; everything else %XX upper case. */
    expect_path("escher-logs", "AZaz09-._~", "/escher-logs/AZaz09-._~");
    expect_path("escher-logs", "b & c.gz", "/escher-logs/b%20%26%20c.gz");
    expect_path("escher-logs", "q?x=1#y+z", "/escher-logs/q%3Fx%3D1%23y%2Bz");
    expect_path("escher-logs", "100%/a;b,c:d@e$f", "/escher-logs/100%25/a%3Bb%2Cc%3Ad%40e%24f");
    expect_path("escher-logs", "caf\xc3\xa9/d\xc3\xa9j\xc3\xa0",
                "/escher-logs/caf%C3%A9/d%C3%A9j%C3%A0");
    expect_path("escher-logs", "\xf0\x9f\x98\x80.txt", "/escher-logs/%F0%9F%98%80.txt");
    expect_path("escher-logs", "/leading//double/", "/escher-logs//leading//double/");
    expect_path("escher-logs", "..a/b..", "/escher-logs/..a/b..");

    expect_path_invalid("Bad_Bucket", "k", "\"Bad_Bucket\"");
    expect_path_invalid("escher-logs", "", "key is empty");
    expect_path_invalid("escher-logs", "a/../b", "\"a/../b\" has a \".\" or \"..\" segment");
    expect_path_invalid("escher-logs", "./a", "segment");
    expect_path_invalid("escher-logs", "a/.", "segment");
    expect_path_invalid("escher-logs", "..", "segment");
    expect_path_invalid(NULL, "k", "without a bucket");
    char big[RESTXML_KEY_MAX + 2];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_path_invalid("escher-logs", big, "has 1025 bytes");
    big[RESTXML_KEY_MAX] = '\0';
    strbuf sb = STRBUF_INIT;
    assert_true(restxml_path("escher-logs", big, &sb, NULL));
    assert_int_equal(sb.len, strlen("/escher-logs/") + RESTXML_KEY_MAX);
    strbuf_free(&sb);
}

static void test_query(void **state)
{
    (void)state;
    strbuf sb = STRBUF_INIT;
    restxml_query(NULL, 0, &sb);
    assert_int_equal(sb.len, 0);
    restxml_param marker = {"location", NULL};
    restxml_query(&marker, 1, &sb);
    assert_string_equal(strbuf_str(&sb), "location");
    strbuf_reset(&sb);
    restxml_param ps[] = {{"prefix", "logs/ b&c"},
                          {"list-type", "2"},
                          {"max-keys", "5"},
                          {"continuation-token", "1ue+Gc/x=="},
                          {"empty", ""},
                          {"b", "2"},
                          {"b", "1"},
                          {"na me", "\xc3\xbc"}};
    restxml_query(ps, sizeof ps / sizeof ps[0], &sb);
    assert_string_equal(strbuf_str(&sb), "b=1&b=2&continuation-token=1ue%2BGc%2Fx%3D%3D&empty=&"
                                         "list-type=2&max-keys=5&na%20me=%C3%BC&"
                                         "prefix=logs%2F%20b%26c");
    strbuf_free(&sb);
}

static void expect_request(const restxml_request *r, const char *op, const char *path,
                           const char *query, const char *region)
{
    assert_string_equal(r->req.service, "s3");
    assert_string_equal(r->req.operation, op);
    assert_string_equal(r->req.method, "GET");
    assert_int_equal(r->req.protocol, AWS_PROTO_REST_XML);
    assert_string_equal(r->req.path, path);
    if (query)
        assert_string_equal(r->req.query, query);
    else
        assert_null(r->req.query);
    if (region)
        assert_string_equal(r->req.region, region);
    else
        assert_null(r->req.region);
    assert_int_equal(r->req.body.len, 0);
    assert_int_equal(r->req.headers.count, 0);
}

static void test_request_builders(void **state)
{
    (void)state;
    restxml_request r;
    restxml_list_buckets_request(&r);
    expect_request(&r, "ListBuckets", "/", NULL, NULL);
    restxml_request_free(&r);

    assert_true(restxml_get_bucket_location_request("escher-logs", NULL, &r, NULL));
    expect_request(&r, "GetBucketLocation", "/escher-logs", "location", NULL);
    restxml_request_free(&r);
    assert_true(restxml_get_public_access_block_request("escher-logs", "eu-west-1", &r, NULL));
    expect_request(&r, "GetPublicAccessBlock", "/escher-logs", "publicAccessBlock", "eu-west-1");
    restxml_request_free(&r);
    assert_true(
        restxml_get_bucket_policy_status_request("escher.reports.eu", "eu-west-1", &r, NULL));
    expect_request(&r, "GetBucketPolicyStatus", "/escher.reports.eu", "policyStatus", "eu-west-1");
    restxml_request_free(&r);
    assert_true(restxml_get_bucket_encryption_request("escher-logs", "", &r, NULL));
    expect_request(&r, "GetBucketEncryption", "/escher-logs", "encryption", NULL);
    restxml_request_free(&r);

    restxml_list_objects_params p = {0};
    p.bucket = "escher-logs";
    assert_true(restxml_list_objects_v2_request(&p, &r, NULL));
    expect_request(&r, "ListObjectsV2", "/escher-logs", "list-type=2", NULL);
    restxml_request_free(&r);
    p.prefix = "logs/2024 01/";
    p.max_keys = 1000;
    p.continuation_token = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=";
    p.region = "eu-central-1";
    assert_true(restxml_list_objects_v2_request(&p, &r, NULL));
    expect_request(&r, "ListObjectsV2", "/escher-logs",
                   "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D&"
                   "list-type=2&max-keys=1000&prefix=logs%2F2024%2001%2F",
                   "eu-central-1");
    restxml_request_free(&r);
    /* An empty prefix is still sent: it is not the same as none to a reader of logs. */
    p.prefix = "";
    p.continuation_token = NULL;
    p.max_keys = 0;
    p.region = NULL;
    assert_true(restxml_list_objects_v2_request(&p, &r, NULL));
    assert_string_equal(r.req.query, "list-type=2&prefix=");
    restxml_request_free(&r);

    err e;
    p.max_keys = 1001;
    assert_false(restxml_list_objects_v2_request(&p, &r, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "max-keys 1001"));
    p.max_keys = -1;
    assert_false(restxml_list_objects_v2_request(&p, &r, &e));
    assert_non_null(strstr(e.message, "max-keys -1"));
    p.max_keys = 0;
    p.bucket = "Escher_Logs";
    assert_false(restxml_list_objects_v2_request(&p, &r, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "ListObjectsV2: S3 bucket name \"Escher_Logs\""));

    assert_false(restxml_get_bucket_location_request("no", NULL, &r, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "GetBucketLocation: S3 bucket name \"no\""));
    assert_false(restxml_get_public_access_block_request("escher-logs", "EU West", &r, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "\"EU West\""));
    assert_false(restxml_get_bucket_encryption_request(NULL, NULL, &r, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "GetBucketEncryption: S3 bucket name is empty"));
    p.bucket = NULL;
    assert_false(restxml_list_objects_v2_request(&p, &r, &e));
    assert_int_equal(e.code, ERR_INVALID);

    /* Generic builder: object path plus parameters. */
    restxml_param q[] = {{"versionId", "v 1"}, {"tagging", NULL}};
    assert_true(restxml_request_init(&r, "GetObjectTagging", "GET", NULL, "escher-logs",
                                     "dir/caf\xc3\xa9 1.txt", q, 2, NULL));
    assert_string_equal(r.req.path, "/escher-logs/dir/caf%C3%A9%201.txt");
    assert_string_equal(r.req.query, "tagging&versionId=v%201");
    restxml_request_free(&r);
    restxml_request_free(NULL);
}

/* ---- parsers on fixtures ---- */

static char *load(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "s3/%s", name);
    return fixture_load(rel, len);
}

static void test_parse_list_buckets(void **state)
{
    (void)state;
    size_t len;
    char *b = load("list_buckets.xml", &len);
    restxml_bucket_list l;
    err e;
    if (!restxml_list_buckets_parse(b, len, &l, &e))
        fail_msg("%s", e.message);
    assert_string_equal(l.owner_id,
                        "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a");
    assert_string_equal(l.owner_display_name, "escher-audit");
    assert_int_equal(l.count, 3);
    assert_string_equal(l.items[0].name, "escher-logs");
    assert_string_equal(l.items[0].creation_date, "2019-10-12T17:50:30.000Z");
    assert_int_equal(l.items[0].created, 1570902630);
    assert_string_equal(l.items[1].name, "escher.reports.eu");
    assert_string_equal(l.items[2].name, "escher-backups-2024");
    assert_int_equal(l.items[2].created, 1709251199);
    restxml_bucket_list_free(&l);
    restxml_bucket_list_free(&l); /* idempotent after free */
    free(b);

    b = load("list_buckets_empty.xml", &len);
    assert_true(restxml_list_buckets_parse(b, len, &l, NULL));
    assert_int_equal(l.count, 0);
    assert_null(l.items);
    assert_null(l.owner_display_name);
    assert_non_null(l.owner_id);
    restxml_bucket_list_free(&l);
    free(b);
}

static void test_parse_location(void **state)
{
    (void)state;
    struct {
        const char *fixture, *region;
    } cases[] = {
        {"get_bucket_location.xml", "eu-central-1"},
        {"get_bucket_location_us_east_1.xml", "us-east-1"},
        {"get_bucket_location_eu.xml", "eu-west-1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *b = load(cases[i].fixture, &len);
        char *region = NULL;
        err e;
        if (!restxml_get_bucket_location_parse(b, len, &region, &e))
            fail_msg("%s: %s", cases[i].fixture, e.message);
        assert_string_equal(region, cases[i].region);
        free(region);
        free(b);
    }
}

static void test_parse_bucket_settings(void **state)
{
    (void)state;
    size_t len;
    err e;
    char *b = load("get_public_access_block.xml", &len);
    restxml_public_access_block pab;
    memset(&pab, 0xff, sizeof pab);
    assert_true(restxml_get_public_access_block_parse(b, len, &pab, &e));
    assert_true(pab.block_public_acls);
    assert_true(pab.ignore_public_acls);
    assert_false(pab.block_public_policy);
    assert_true(pab.restrict_public_buckets);
    free(b);

    b = load("get_bucket_policy_status.xml", &len);
    bool pub = false;
    assert_true(restxml_get_bucket_policy_status_parse(b, len, &pub, &e));
    assert_true(pub);
    free(b);

    b = load("get_bucket_encryption_kms.xml", &len);
    restxml_encryption enc;
    assert_true(restxml_get_bucket_encryption_parse(b, len, &enc, &e));
    assert_int_equal(enc.count, 1);
    assert_string_equal(enc.rules[0].sse_algorithm, "aws:kms");
    assert_string_equal(enc.rules[0].kms_master_key_id, "arn:aws:kms:eu-central-1:123456789012:key/"
                                                        "1234abcd-12ab-34cd-56ef-1234567890ab");
    assert_true(enc.rules[0].bucket_key_enabled);
    restxml_encryption_free(&enc);
    free(b);

    b = load("get_bucket_encryption_sse_s3.xml", &len);
    assert_true(restxml_get_bucket_encryption_parse(b, len, &enc, &e));
    assert_int_equal(enc.count, 1);
    assert_string_equal(enc.rules[0].sse_algorithm, "AES256");
    assert_null(enc.rules[0].kms_master_key_id);
    assert_false(enc.rules[0].bucket_key_enabled);
    restxml_encryption_free(&enc);
    free(b);
}

static void test_parse_list_objects(void **state)
{
    (void)state;
    size_t len;
    err e;
    char *b = load("list_objects_v2_1.xml", &len);
    restxml_object_list l;
    if (!restxml_list_objects_v2_parse(b, len, &l, &e))
        fail_msg("%s", e.message);
    free(b);
    assert_int_equal(l.count, 2);
    assert_true(l.is_truncated);
    assert_int_equal(l.key_count, 2);
    assert_string_equal(l.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    assert_string_equal(l.items[0].key, "logs/2024/01/a.gz");
    assert_int_equal(l.items[0].size, 857);
    assert_string_equal(l.items[0].etag, "\"599bab3ed2c697f1d26842727561fd94\"");
    assert_string_equal(l.items[0].storage_class, "STANDARD");
    assert_string_equal(l.items[0].last_modified, "2024-01-01T00:00:01.000Z");
    assert_int_equal(l.items[0].modified, 1704067201);
    assert_string_equal(l.items[1].key, "logs/2024/01/b & c.gz");
    assert_string_equal(l.items[1].storage_class, "STANDARD_IA");

    /* Reading more pages appends and replaces the page state. */
    const char *more[] = {"list_objects_v2_2.xml", "list_objects_v2_3.xml"};
    for (int i = 0; i < 2; i++) {
        b = load(more[i], &len);
        xml_doc *doc;
        const xml_node *root;
        assert_true(restxml_parse_root(b, len, "ListBucketResult", &doc, &root, &e));
        assert_true(restxml_list_objects_v2_read(root, &l, &e));
        xml_free(doc);
        free(b);
    }
    assert_int_equal(l.count, 5);
    assert_int_equal(l.key_count, 5);
    assert_false(l.is_truncated);
    assert_null(l.next_token);
    assert_string_equal(l.items[2].key, "logs/2024/02/caf\xc3\xa9 d\xc3\xa9j\xc3\xa0.gz");
    assert_int_equal(l.items[2].size, 10485760);
    assert_string_equal(l.items[3].key, "logs/2024/02/q?x=1#y+z.gz");
    assert_int_equal(l.items[3].size, 0);
    assert_string_equal(l.items[4].storage_class, "DEEP_ARCHIVE");
    restxml_object_list_free(&l);

    b = load("list_objects_v2_empty.xml", &len);
    assert_true(restxml_list_objects_v2_parse(b, len, &l, &e));
    assert_int_equal(l.count, 0);
    assert_false(l.is_truncated);
    assert_null(l.next_token);
    restxml_object_list_free(&l);
    free(b);
}

/* ---- malformed answers ---- */

static void expect_parse_fail(bool ok, const err *e, const char *needle)
{
    if (ok)
        fail_msg("parsed; expected a failure mentioning %s", needle);
    assert_int_equal(e->code, ERR_PARSE);
    if (strstr(e->message, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e->message, needle);
}

#define S3NS "<?xml version=\"1.0\"?>"

static void test_malformed(void **state)
{
    (void)state;
    err e;
    size_t len;
    restxml_bucket_list bl;
    restxml_object_list ol;
    restxml_encryption enc;
    restxml_public_access_block pab;
    bool pub;
    char *region;

    char *trunc = fixture_load("malformed/truncated.xml", &len);
    expect_parse_fail(restxml_list_buckets_parse(trunc, len, &bl, &e), &e,
                      "ListAllMyBucketsResult");
    restxml_bucket_list_free(&bl);
    expect_parse_fail(restxml_list_objects_v2_parse(trunc, len, &ol, &e), &e, "line");
    restxml_object_list_free(&ol);
    free(trunc);
    char *doctype = fixture_load("malformed/doctype_entities.xml", &len);
    expect_parse_fail(restxml_get_bucket_policy_status_parse(doctype, len, &pub, &e), &e, "");
    free(doctype);

    /* An error document handed to a success parser names the root it found. */
    char *errdoc = load("error_no_such_bucket.xml", &len);
    expect_parse_fail(restxml_list_objects_v2_parse(errdoc, len, &ol, &e), &e,
                      "root <Error>, expected <ListBucketResult>");
    restxml_object_list_free(&ol);
    expect_parse_fail(restxml_get_public_access_block_parse(errdoc, len, &pab, &e), &e,
                      "expected <PublicAccessBlockConfiguration>");
    free(errdoc);

    const char *s;
    s = S3NS "<ListAllMyBucketsResult><Buckets><Bucket><CreationDate>2019-10-12T17:50:30.000Z"
             "</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>";
    expect_parse_fail(restxml_list_buckets_parse(s, strlen(s), &bl, &e), &e,
                      "bucket 1 (line 1) has no <Name>");
    restxml_bucket_list_free(&bl);
    s = S3NS "<ListAllMyBucketsResult><Buckets><Bucket><Name>a-b-c</Name><CreationDate>yesterday"
             "</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>";
    expect_parse_fail(restxml_list_buckets_parse(s, strlen(s), &bl, &e), &e,
                      "bucket \"a-b-c\" <CreationDate> is not a timestamp: \"yesterday\"");
    assert_int_equal(bl.count, 1); /* what was read is kept for the free */
    restxml_bucket_list_free(&bl);

    s = S3NS "<LocationConstraint>Mars Base 1</LocationConstraint>";
    expect_parse_fail(restxml_get_bucket_location_parse(s, strlen(s), &region, &e), &e,
                      "\"Mars Base 1\" is not a region name");
    assert_null(region);
    s = S3NS "<LocationConstraint><Region>eu-west-1</Region></LocationConstraint>";
    expect_parse_fail(restxml_get_bucket_location_parse(s, strlen(s), &region, &e), &e,
                      "has child <Region>");
    s = S3NS "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
             "</CreateBucketConfiguration>";
    expect_parse_fail(restxml_get_bucket_location_parse(s, strlen(s), &region, &e), &e,
                      "root <CreateBucketConfiguration>");

    s = S3NS "<PublicAccessBlockConfiguration><BlockPublicAcls>TRUE</BlockPublicAcls>"
             "</PublicAccessBlockConfiguration>";
    expect_parse_fail(restxml_get_public_access_block_parse(s, strlen(s), &pab, &e), &e,
                      "\"TRUE\"");
    /* Absent settings are off. */
    s = S3NS "<PublicAccessBlockConfiguration><BlockPublicPolicy>true</BlockPublicPolicy>"
             "</PublicAccessBlockConfiguration>";
    assert_true(restxml_get_public_access_block_parse(s, strlen(s), &pab, &e));
    assert_true(pab.block_public_policy);
    assert_false(pab.block_public_acls || pab.ignore_public_acls || pab.restrict_public_buckets);

    s = S3NS "<PolicyStatus></PolicyStatus>";
    expect_parse_fail(restxml_get_bucket_policy_status_parse(s, strlen(s), &pub, &e), &e,
                      "\"IsPublic\" is missing");
    s = S3NS "<PolicyStatus><IsPublic>1</IsPublic></PolicyStatus>";
    expect_parse_fail(restxml_get_bucket_policy_status_parse(s, strlen(s), &pub, &e), &e, "\"1\"");

    s = S3NS "<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>";
    expect_parse_fail(restxml_get_bucket_encryption_parse(s, strlen(s), &enc, &e), &e, "no <Rule>");
    restxml_encryption_free(&enc);
    /* The list is flattened: a <Rules> wrapper is not S3's shape. */
    s = S3NS "<ServerSideEncryptionConfiguration><Rules><Rule><ApplyServerSideEncryptionByDefault>"
             "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
             "</Rules></ServerSideEncryptionConfiguration>";
    expect_parse_fail(restxml_get_bucket_encryption_parse(s, strlen(s), &enc, &e), &e, "no <Rule>");
    restxml_encryption_free(&enc);
    s = S3NS "<ServerSideEncryptionConfiguration><Rule><BucketKeyEnabled>true</BucketKeyEnabled>"
             "</Rule></ServerSideEncryptionConfiguration>";
    expect_parse_fail(restxml_get_bucket_encryption_parse(s, strlen(s), &enc, &e), &e,
                      "rule 1 (line 1) has no");
    restxml_encryption_free(&enc);
    s = S3NS "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
             "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
             "<BucketKeyEnabled>on</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";
    expect_parse_fail(restxml_get_bucket_encryption_parse(s, strlen(s), &enc, &e), &e,
                      "rule 1: element \"BucketKeyEnabled\" is not a boolean: \"on\"");
    restxml_encryption_free(&enc);

    s = S3NS "<ListBucketResult><Contents><Key>k</Key><Size>12kB</Size>"
             "<LastModified>2024-01-01T00:00:01.000Z</LastModified></Contents></ListBucketResult>";
    expect_parse_fail(restxml_list_objects_v2_parse(s, strlen(s), &ol, &e), &e,
                      "object \"k\": element \"Size\" is not an integer: \"12kB\"");
    restxml_object_list_free(&ol);
    s = S3NS "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
             "<LastModified>2024-01-01T00:00:01.000Z</LastModified></Contents></ListBucketResult>";
    expect_parse_fail(restxml_list_objects_v2_parse(s, strlen(s), &ol, &e), &e, "negative");
    restxml_object_list_free(&ol);
    s = S3NS "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>";
    expect_parse_fail(restxml_list_objects_v2_parse(s, strlen(s), &ol, &e), &e, "has no <Key>");
    restxml_object_list_free(&ol);
    s = S3NS "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>";
    expect_parse_fail(restxml_list_objects_v2_parse(s, strlen(s), &ol, &e), &e, "\"Size\"");
    restxml_object_list_free(&ol);
    s = S3NS "<ListBucketResult><Contents><Key>k</Key><Size>1</Size><LastModified>never"
             "</LastModified></Contents></ListBucketResult>";
    expect_parse_fail(restxml_list_objects_v2_parse(s, strlen(s), &ol, &e), &e, "\"never\"");
    restxml_object_list_free(&ol);
    s = S3NS "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>";
    expect_parse_fail(restxml_list_objects_v2_parse(s, strlen(s), &ol, &e), &e, "\"maybe\"");
    restxml_object_list_free(&ol);
    s = S3NS "<ListBucketResult><KeyCount>two</KeyCount></ListBucketResult>";
    expect_parse_fail(restxml_list_objects_v2_parse(s, strlen(s), &ol, &e), &e, "\"two\"");
    restxml_object_list_free(&ol);
    memset(&ol, 0, sizeof ol);
    expect_parse_fail(restxml_list_objects_v2_read(NULL, &ol, &e), &e, "(none)");
}

static void test_error_region(void **state)
{
    (void)state;
    http_response r = HTTP_RESPONSE_INIT;
    r.status = 301;
    char region[32];
    size_t len;
    char *b = load("error_permanent_redirect.xml", &len);
    strbuf_append(&r.body, b, len);
    free(b);
    /* The body of a PermanentRedirect names an endpoint, not a region. */
    assert_false(restxml_error_region(&r, region, sizeof region));
    http_headers_add(&r.headers, "x-amz-bucket-region", "eu-west-1");
    assert_true(restxml_error_region(&r, region, sizeof region));
    assert_string_equal(region, "eu-west-1");
    assert_false(restxml_error_region(&r, region, 5)); /* does not fit */
    http_response_free(&r);

    http_response a = HTTP_RESPONSE_INIT;
    a.status = 400;
    strbuf_puts(&a.body, "<Error><Code>AuthorizationHeaderMalformed</Code><Message>m</Message>"
                         "<Region>ap-southeast-2</Region><RequestId>1</RequestId></Error>");
    assert_true(restxml_error_region(&a, region, sizeof region));
    assert_string_equal(region, "ap-southeast-2");
    http_headers_add(&a.headers, "x-amz-bucket-region", "not a region");
    assert_true(restxml_error_region(&a, region, sizeof region));
    assert_string_equal(region, "ap-southeast-2");
    strbuf_reset(&a.body);
    strbuf_puts(&a.body, "<Error><Region>Not/A/Region</Region></Error>");
    assert_false(restxml_error_region(&a, region, sizeof region));
    http_response_free(&a);
}

/* ---- end to end through aws_client and the responder ---- */

typedef struct answer {
    int status;
    const char *fixture; /* under s3/, or NULL for an empty body */
    const char *headers;
} answer;

#define MAX_HITS 8

typedef struct hit {
    char method[8];
    char uri[512];
    char sha256[80];
    char problem[256]; /* "" when the signature checked out */
} hit;

typedef struct server {
    pthread_mutex_t lock;
    const char *region; /* the region requests must be signed for */
    answer plan[MAX_HITS];
    int nplan;
    hit hits[MAX_HITS];
    int nhits;
    int base; /* responder requests answered before this plan */
} server;

/* Re-signs what arrived and compares with its Authorization: proves the
 * request is SigV4 for s3 in the expected region, and that the path and
 * query as received are the ones that were signed (no re-encoding on the
 * way). */
static void check_signature(const responder_req *req, const char *region, hit *h)
{
    const char *auth = req->header(req, "Authorization");
    const char *date = req->header(req, "X-Amz-Date");
    const char *host = req->header(req, "Host");
    if (auth == NULL || date == NULL || host == NULL) {
        snprintf(h->problem, sizeof h->problem, "missing Authorization, X-Amz-Date or Host");
        return;
    }
    char scope[128];
    snprintf(scope, sizeof scope, "Credential=" AKID "/%.8s/%s/s3/aws4_request", date, region);
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 || strstr(auth, scope) == NULL ||
        strstr(auth, "x-amz-content-sha256") == NULL) {
        snprintf(h->problem, sizeof h->problem, "Authorization \"%.200s\"", auth);
        return;
    }
    time_t when;
    if (!timeutil_parse_iso8601(date, &when, NULL)) {
        snprintf(h->problem, sizeof h->problem, "X-Amz-Date \"%s\"", date);
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s", req->uri);
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    http_headers hs = HTTP_HEADERS_INIT;
    http_headers_add(&hs, "Host", host);
    aws_creds *cr = creds_new(AKID, SECRET, NULL, 0, "test");
    sigv4_request sr = {
        .method = req->method, .path = path, .query = q, .headers = &hs, .body = "", .body_len = 0};
    sigv4_config cfg = {.creds = cr,
                        .region = region,
                        .service = "s3",
                        .when = when,
                        .normalize_path = false,
                        .double_encode = false,
                        .add_content_sha256 = true};
    http_headers add = HTTP_HEADERS_INIT;
    err e;
    if (!sigv4_sign_headers(&sr, &cfg, &add, NULL, NULL, &e))
        snprintf(h->problem, sizeof h->problem, "re-signing: %.200s", e.message);
    else if (strcmp(http_headers_get(&add, "Authorization"), auth) != 0)
        snprintf(h->problem, sizeof h->problem, "signature differs for %s", req->uri);
    http_headers_free(&add);
    http_headers_free(&hs);
    creds_free(cr);
}

static void s3_handler(const responder_req *req, responder_reply *reply, int n, void *arg)
{
    server *s = arg;
    pthread_mutex_lock(&s->lock);
    n -= s->base; /* the responder counts over its lifetime; plans count from 1 */
    if (n <= MAX_HITS) {
        hit *h = &s->hits[n - 1];
        snprintf(h->method, sizeof h->method, "%s", req->method);
        snprintf(h->uri, sizeof h->uri, "%s", req->uri);
        const char *sha = req->header(req, "x-amz-content-sha256");
        snprintf(h->sha256, sizeof h->sha256, "%s", sha ? sha : "(absent)");
        check_signature(req, s->region, h);
        s->nhits = n;
    }
    answer a = s->plan[(n <= s->nplan ? n : s->nplan) - 1];
    pthread_mutex_unlock(&s->lock);
    reply->status = a.status;
    if (a.headers)
        snprintf(reply->headers, sizeof reply->headers, "%s", a.headers);
    if (a.fixture)
        reply->body = load(a.fixture, NULL);
}

typedef struct rig {
    server s;
    responder *r;
    credprov *cp;
    aws_client *c;
    struct event_base *base;
} rig;

static rig *rig_start(const char *region)
{
    rig *g = xcalloc(1, sizeof *g);
    pthread_mutex_init(&g->s.lock, NULL);
    g->s.region = region;
    g->r = responder_start(s3_handler, &g->s);
    aws_creds *cr = creds_new(AKID, SECRET, NULL, 0, "test");
    g->cp = credprov_static(cr);
    creds_free(cr);
    g->base = event_base_new();
    aws_client_options o = {0};
    o.endpoint_url = responder_url(g->r);
    o.region = "us-east-1";
    o.max_attempts = 1;
    err e;
    g->c = aws_client_new(&o, g->cp, g->base, &e);
    if (g->c == NULL)
        fail_msg("aws_client_new: %s", e.message);
    return g;
}

static void rig_plan(rig *g, const char *region, int n, const answer *plan)
{
    int answered = responder_count(g->r);
    pthread_mutex_lock(&g->s.lock);
    g->s.region = region;
    g->s.nplan = n;
    for (int i = 0; i < n; i++)
        g->s.plan[i] = plan[i];
    memset(g->s.hits, 0, sizeof g->s.hits);
    g->s.nhits = 0;
    g->s.base = answered;
    pthread_mutex_unlock(&g->s.lock);
}

/* Asserts the i-th request seen since the last plan. */
static void expect_hit(rig *g, int i, const char *uri)
{
    pthread_mutex_lock(&g->s.lock);
    hit h = g->s.hits[i];
    int n = g->s.nhits;
    pthread_mutex_unlock(&g->s.lock);
    if (i >= n)
        fail_msg("request %d not seen (%d seen)", i + 1, n);
    assert_string_equal(h.method, "GET");
    assert_string_equal(h.uri, uri);
    assert_string_equal(h.sha256, SIGV4_EMPTY_PAYLOAD_SHA256);
    if (h.problem[0])
        fail_msg("request %d (%s): %s", i + 1, h.uri, h.problem);
}

static void rig_stop(rig *g)
{
    aws_client_free(g->c);
    event_base_free(g->base);
    credprov_free(g->cp);
    responder_stop(g->r);
    pthread_mutex_destroy(&g->s.lock);
    free(g);
}

static void test_e2e_bucket_calls(void **state)
{
    (void)state;
    rig *g = rig_start("us-east-1");
    err e;

    rig_plan(g, "us-east-1", 1, (answer[]){{200, "list_buckets.xml", NULL}});
    restxml_bucket_list bl;
    if (!restxml_list_buckets(g->c, &bl, &e))
        fail_msg("%s", e.message);
    expect_hit(g, 0, "/");
    assert_int_equal(bl.count, 3);
    assert_string_equal(bl.items[1].name, "escher.reports.eu");
    restxml_bucket_list_free(&bl);

    rig_plan(g, "us-east-1", 1, (answer[]){{200, "get_bucket_location_eu.xml", NULL}});
    char *region = NULL;
    if (!restxml_get_bucket_location(g->c, "escher.reports.eu", NULL, &region, &e))
        fail_msg("%s", e.message);
    expect_hit(g, 0, "/escher.reports.eu?location");
    assert_string_equal(region, "eu-west-1");

    /* The bucket-level calls go signed for the bucket's region. */
    rig_plan(g, region, 1, (answer[]){{200, "get_public_access_block.xml", NULL}});
    restxml_public_access_block pab;
    if (!restxml_get_public_access_block(g->c, "escher.reports.eu", region, &pab, &e))
        fail_msg("%s", e.message);
    expect_hit(g, 0, "/escher.reports.eu?publicAccessBlock");
    assert_true(pab.block_public_acls);
    assert_false(pab.block_public_policy);

    rig_plan(g, region, 1, (answer[]){{200, "get_bucket_policy_status.xml", NULL}});
    bool pub = false;
    if (!restxml_get_bucket_policy_status(g->c, "escher.reports.eu", region, &pub, &e))
        fail_msg("%s", e.message);
    expect_hit(g, 0, "/escher.reports.eu?policyStatus");
    assert_true(pub);

    rig_plan(g, region, 1, (answer[]){{200, "get_bucket_encryption_kms.xml", NULL}});
    restxml_encryption enc;
    if (!restxml_get_bucket_encryption(g->c, "escher.reports.eu", region, &enc, &e))
        fail_msg("%s", e.message);
    expect_hit(g, 0, "/escher.reports.eu?encryption");
    assert_string_equal(enc.rules[0].sse_algorithm, "aws:kms");
    restxml_encryption_free(&enc);
    free(region);

    /* A request signed for the wrong region is caught by the check itself. */
    rig_plan(g, "eu-west-1", 1, (answer[]){{200, "get_bucket_policy_status.xml", NULL}});
    assert_true(restxml_get_bucket_policy_status(g->c, "escher-logs", NULL, &pub, &e));
    pthread_mutex_lock(&g->s.lock);
    assert_non_null(strstr(g->s.hits[0].problem, "Authorization"));
    pthread_mutex_unlock(&g->s.lock);

    /* A success answer that is not the expected document fails to parse. */
    rig_plan(g, "us-east-1", 1, (answer[]){{200, "get_bucket_policy_status.xml", NULL}});
    err_clear(&e);
    assert_false(restxml_get_bucket_encryption(g->c, "escher-logs", NULL, &enc, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "root <PolicyStatus>"));
    restxml_encryption_free(&enc);

    /* Invalid input fails before anything is sent. */
    rig_plan(g, "us-east-1", 1, (answer[]){{500, NULL, NULL}});
    assert_false(restxml_get_bucket_location(g->c, "UPPER", NULL, &region, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_null(region);
    assert_int_equal(g->s.nhits, 0);
    rig_stop(g);
}

static void expect_aws_error(const err *e, int status, const char *code, const char *request_id)
{
    assert_int_equal(e->code, ERR_AWS);
    assert_int_equal(e->http_status, status);
    assert_string_equal(e->remote_code, code);
    assert_string_equal(e->request_id, request_id);
    if (strstr(e->message, "s3 ") == NULL || strstr(e->message, code) == NULL)
        fail_msg("message \"%s\" does not name s3 and %s", e->message, code);
}

static void test_e2e_errors(void **state)
{
    (void)state;
    rig *g = rig_start("us-east-1");
    err e;

    rig_plan(g, "us-east-1", 1,
             (answer[]){{404, "error_no_such_bucket.xml", "x-amz-request-id: 8C3F2B1A7D6E5F40\n"}});
    restxml_object_list ol;
    restxml_list_objects_params p = {.bucket = "escher-gone", .prefix = "logs/"};
    assert_false(restxml_list_objects_v2(g->c, &p, &ol, &e));
    expect_hit(g, 0, "/escher-gone?list-type=2&prefix=logs%2F");
    expect_aws_error(&e, 404, "NoSuchBucket", "8C3F2B1A7D6E5F40");
    assert_int_equal(ol.count, 0);
    restxml_object_list_free(&ol);

    rig_plan(g, "us-east-1", 1,
             (answer[]){{404, "error_no_such_public_access_block.xml",
                         "x-amz-request-id: 5E8D4C2B1A0F9E87\n"}});
    restxml_public_access_block pab;
    assert_false(restxml_get_public_access_block(g->c, "escher-logs", NULL, &pab, &e));
    expect_aws_error(&e, 404, "NoSuchPublicAccessBlockConfiguration", "5E8D4C2B1A0F9E87");

    rig_plan(g, "us-east-1", 1,
             (answer[]){
                 {404, "error_sse_config_not_found.xml", "x-amz-request-id: 0A1B2C3D4E5F6789\n"}});
    restxml_encryption enc;
    assert_false(restxml_get_bucket_encryption(g->c, "escher-logs", NULL, &enc, &e));
    expect_aws_error(&e, 404, "ServerSideEncryptionConfigurationNotFoundError", "0A1B2C3D4E5F6789");
    restxml_encryption_free(&enc);

    rig_plan(g, "us-east-1", 1,
             (answer[]){{301, "error_permanent_redirect.xml",
                         "x-amz-request-id: F1E2D3C4B5A69788\nx-amz-bucket-region: eu-west-1\n"}});
    bool pub = true;
    assert_false(restxml_get_bucket_policy_status(g->c, "escher.reports.eu", NULL, &pub, &e));
    expect_aws_error(&e, 301, "PermanentRedirect", "F1E2D3C4B5A69788");
    assert_false(pub);

    /* The request id comes from the header when the body has none (HEAD-style empty body). */
    rig_plan(g, "us-east-1", 1, (answer[]){{403, NULL, "x-amz-request-id: EMPTY0000000001\n"}});
    char *region;
    assert_false(restxml_get_bucket_location(g->c, "escher-logs", NULL, &region, &e));
    expect_aws_error(&e, 403, "Forbidden", "EMPTY0000000001");
    rig_stop(g);
}

static const char *const PAGE_URIS[] = {
    "/escher-logs?list-type=2&max-keys=2&prefix=logs%2F",
    "/escher-logs?continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D&"
    "list-type=2&max-keys=2&prefix=logs%2F",
    "/escher-logs?continuation-token=2aHR0cHM6Ly9leGFtcGxlLmNvbS9wYWdlMw%2B%2F%3D&list-type=2&"
    "max-keys=2&prefix=logs%2F",
};

static const answer PAGES[] = {
    {200, "list_objects_v2_1.xml", NULL},
    {200, "list_objects_v2_2.xml", NULL},
    {200, "list_objects_v2_3.xml", NULL},
};

static void test_e2e_paging(void **state)
{
    (void)state;
    rig *g = rig_start("eu-central-1");
    err e;
    restxml_list_objects_params p = {
        .bucket = "escher-logs", .region = "eu-central-1", .prefix = "logs/", .max_keys = 2};

    /* paginator_fetch with the pager as the build function. */
    rig_plan(g, "eu-central-1", 3, PAGES);
    restxml_list_objects_pager pg;
    memset(&pg, 0, sizeof pg);
    pg.params = p;
    paginator *pgr = paginator_new(&PAGING_S3_LIST_OBJECTS_V2);
    restxml_object_list all;
    memset(&all, 0, sizeof all);
    bool got = false;
    int pages = 0;
    while (paginator_fetch(pgr, g->c, restxml_list_objects_v2_page, &pg, &got, &e) && got) {
        pages++;
        if (!restxml_list_objects_v2_read(paginator_xml(pgr), &all, &e))
            fail_msg("page %d: %s", pages, e.message);
    }
    if (!got && pages != 3)
        fail_msg("paging stopped after %d pages: %s", pages, e.message);
    assert_int_equal(pages, 3);
    assert_true(paginator_done(pgr));
    assert_false(paginator_truncated(pgr));
    for (int i = 0; i < 3; i++)
        expect_hit(g, i, PAGE_URIS[i]);
    assert_int_equal(responder_count(g->r) - g->s.base, 3);
    assert_int_equal(all.count, 5);
    assert_int_equal(all.key_count, 5);
    assert_string_equal(all.items[4].key, "logs/2024/03/z.gz");
    restxml_object_list_free(&all);
    paginator_free(pgr);
    restxml_list_objects_pager_free(&pg);

    /* paginator_feed with answers obtained elsewhere (asynchronous callers). */
    rig_plan(g, "eu-central-1", 3, PAGES);
    pgr = paginator_new(&PAGING_S3_LIST_OBJECTS_V2);
    memset(&pg, 0, sizeof pg);
    pg.params = p;
    pages = 0;
    while (!paginator_done(pgr)) {
        aws_request req;
        assert_true(restxml_list_objects_v2_page(&pg, paginator_token(pgr), &req, &e));
        http_response resp = HTTP_RESPONSE_INIT;
        if (!aws_client_call(g->c, &req, &resp, &e))
            fail_msg("page %d: %s", pages + 1, e.message);
        aws_request_free(&req);
        assert_true(paginator_feed(pgr, &resp, &e));
        http_response_free(&resp);
        pages++;
        assert_true(pages <= 3);
    }
    assert_int_equal(pages, 3);
    for (int i = 0; i < 3; i++)
        expect_hit(g, i, PAGE_URIS[i]);
    paginator_free(pgr);
    restxml_list_objects_pager_free(&pg);

    /* The blocking wrapper over all pages. */
    rig_plan(g, "eu-central-1", 3, PAGES);
    bool truncated = true;
    if (!restxml_list_objects_v2_all(g->c, &p, &all, &truncated, &e))
        fail_msg("%s", e.message);
    assert_int_equal(all.count, 5);
    assert_false(truncated);
    assert_string_equal(all.items[3].key, "logs/2024/02/q?x=1#y+z.gz");
    restxml_object_list_free(&all);

    /* An error on page 2 fails the listing with S3's code. */
    rig_plan(g, "eu-central-1", 2,
             (answer[]){{200, "list_objects_v2_1.xml", NULL},
                        {404, "error_no_such_bucket.xml", "x-amz-request-id: 8C3F2B1A7D6E5F40\n"}});
    assert_false(restxml_list_objects_v2_all(g->c, &p, &all, &truncated, &e));
    expect_aws_error(&e, 404, "NoSuchBucket", "8C3F2B1A7D6E5F40");
    restxml_object_list_free(&all);
    rig_stop(g);
}

typedef struct async_ctx {
    int done;
    bool ok;
    char *region;
    err e;
} async_ctx;

static void on_location(const http_response *resp, const err *e, void *arg)
{
    async_ctx *a = arg;
    a->done++;
    if (resp)
        a->ok = restxml_get_bucket_location_parse(strbuf_str(&resp->body), resp->body.len,
                                                  &a->region, &a->e);
    else
        a->e = *e;
}

static void test_e2e_async(void **state)
{
    (void)state;
    rig *g = rig_start("us-east-1");
    rig_plan(g, "us-east-1", 2,
             (answer[]){{200, "get_bucket_location.xml", NULL},
                        {404, "error_no_such_bucket.xml", "x-amz-request-id: 8C3F2B1A7D6E5F40\n"}});
    async_ctx a[2];
    memset(a, 0, sizeof a);
    for (int i = 0; i < 2; i++) {
        restxml_request r;
        assert_true(restxml_get_bucket_location_request("escher-logs", NULL, &r, NULL));
        assert_true(aws_client_call_async(g->c, &r.req, on_location, &a[i], NULL));
        restxml_request_free(&r); /* the call copied it */
        uint64_t end = timeutil_mono_ms() + 5000;
        while (a[i].done == 0 && timeutil_mono_ms() < end) {
            struct timeval step = {0, 50 * 1000};
            event_base_loopexit(g->base, &step);
            event_base_dispatch(g->base);
        }
        assert_int_equal(a[i].done, 1);
        expect_hit(g, i, "/escher-logs?location");
    }
    assert_true(a[0].ok);
    assert_string_equal(a[0].region, "eu-central-1");
    free(a[0].region);
    assert_false(a[1].ok);
    expect_aws_error(&a[1].e, 404, "NoSuchBucket", "8C3F2B1A7D6E5F40");
    rig_stop(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_names),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_request_builders),
        cmocka_unit_test(test_parse_list_buckets),
        cmocka_unit_test(test_parse_location),
        cmocka_unit_test(test_parse_bucket_settings),
        cmocka_unit_test(test_parse_list_objects),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_error_region),
        cmocka_unit_test(test_e2e_bucket_calls),
        cmocka_unit_test(test_e2e_errors),
        cmocka_unit_test(test_e2e_paging),
        cmocka_unit_test(test_e2e_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
