/* Amazon S3 over the REST-XML protocol: the bucket-level reads Escher's
 * audits need (ListBuckets, GetBucketLocation, GetPublicAccessBlock,
 * GetBucketPolicyStatus, GetBucketEncryption, ListObjectsV2).
 *
 * Requests are path-style ("/<bucket>", "/<bucket>/<key>"): the endpoint
 * module resolves S3 to "https://s3.<region>.<suffix>" and aws_client signs
 * S3 without path normalisation or double encoding, so the path built here
 * is exactly the path sent and signed. Subresources go in the query as bare
 * markers ("?location"), like the SDKs send them.
 *
 * Each operation has a request builder and a parser taking the answer body,
 * so asynchronous callers (aws_client_call_async) reuse them; the blocking
 * wrappers combine the two through aws_client_call. Error answers are
 * turned into ERR_AWS by aws_client (awserror: <Error><Code> and
 * x-amz-request-id), with remote_code "NoSuchBucket",
 * "NoSuchPublicAccessBlockConfiguration", "PermanentRedirect" and so on.
 *
 * S3 buckets live in one region and answer 301 PermanentRedirect when asked
 * in another: pass the bucket's region (restxml_get_bucket_location) to the
 * bucket-level calls. */
#ifndef ESCHER_AWS_RESTXML_H
#define ESCHER_AWS_RESTXML_H

#include "aws/aws_client.h"
#include "aws/xml.h"
#include "core/err.h"
#include "core/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RESTXML_S3_NAMESPACE "http://s3.amazonaws.com/doc/2006-03-01/"

/* S3 caps ListObjectsV2 pages at 1000 keys; larger max-keys are refused
 * here rather than silently capped by S3. */
#define RESTXML_MAX_KEYS 1000
/* Object keys are at most 1024 bytes of UTF-8. */
#define RESTXML_KEY_MAX 1024

/* ---- requests ---- */

/* An aws_request plus the strings it borrows (aws_request only points at
 * path, query and region). Pass &r.req to aws_client_call /
 * aws_client_call_async (the async call copies it, so r may be freed as
 * soon as that returns). */
typedef struct restxml_request {
    aws_request req;
    char *path;   /* owned; req.path points here */
    char *query;  /* owned or NULL; req.query points here */
    char *region; /* owned or NULL; req.region points here */
} restxml_request;

/* One query parameter. A NULL value is a bare subresource marker
 * ("location"); an empty value is sent as "name=". */
typedef struct restxml_param {
    const char *name;
    const char *value;
} restxml_param;

/* Checks a bucket name against S3's naming rules for general purpose
 * buckets: 3-63 characters of lower-case letters, digits, '.' and '-',
 * starting and ending with a letter or digit, no "..", not an IPv4 address,
 * none of the reserved prefixes ("xn--", "sthree-", "amzn-s3-demo-") or
 * suffixes ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3").
 * Fails with ERR_INVALID quoting the name and the rule it breaks. */
bool restxml_bucket_name_valid(const char *bucket, err *e);

/* Appends the path-style path to out: "/" when bucket is NULL (ListBuckets),
 * "/<bucket>" when key is NULL, else "/<bucket>/<key>" with the key
 * percent-encoded byte by byte (RFC 3986 unreserved characters and '/'
 * kept, so "a b/ü" is "a%20b/%C3%BC"). Fails with ERR_INVALID quoting the
 * value for an invalid bucket, an empty key, a key over RESTXML_KEY_MAX
 * bytes or one with a "." or ".." segment (HTTP stacks collapse those, so
 * the object addressed would not be the one signed). out is untouched on
 * failure. */
bool restxml_path(const char *bucket, const char *key, strbuf *out, err *e);

/* Appends the query string of n parameters to out: names and values
 * percent-encoded (RFC 3986 unreserved kept, '/' encoded), sorted by
 * encoded name then value (SigV4's canonical order, so what is sent is what
 * is signed), joined by '&'. Parameters whose value is NULL are bare markers
 * ("location"). Nothing is appended when n is 0. */
void restxml_query(const restxml_param *params, size_t n, strbuf *out);

/* Initialises r as a GET (or another method) to the S3 path of bucket/key
 * with the given query parameters, signed for region (NULL: the client's
 * default). operation is borrowed for messages: pass a string literal.
 * Fails as restxml_path, leaving nothing in r to free; on success the
 * caller frees with restxml_request_free. */
bool restxml_request_init(restxml_request *r, const char *operation, const char *method,
                          const char *region, const char *bucket, const char *key,
                          const restxml_param *params, size_t n, err *e);

/* Frees what r owns (its aws_request and the strings). NULL is accepted. */
void restxml_request_free(restxml_request *r);

/* Parses an S3 answer body and checks its root element is `root` (local
 * name; xml.h ignores namespaces). On success *doc is the document
 * (caller frees with xml_free) and *out its root. Fails with ERR_PARSE
 * naming the line for malformed XML, and quoting the root found when it is
 * another element (an <Error> document given to a success parser, say). */
bool restxml_parse_root(const char *body, size_t len, const char *root, xml_doc **doc,
                        const xml_node **out, err *e);

/* ---- ListBuckets ---- */

typedef struct restxml_bucket {
    char *name;
    char *creation_date; /* as sent: "2019-10-12T17:50:30.000Z" */
    time_t created;      /* the same, parsed */
} restxml_bucket;

typedef struct restxml_bucket_list {
    char *owner_id;           /* canonical user id; NULL when absent */
    char *owner_display_name; /* NULL when absent (S3 stopped sending it in most regions) */
    restxml_bucket *items;
    size_t count;
} restxml_bucket_list;

/* GET / (all buckets of the account, whatever their region). Caller frees
 * with restxml_request_free. Cannot fail. */
void restxml_list_buckets_request(restxml_request *r);

/* Parses a ListAllMyBucketsResult into *out (zeroed first; free with
 * restxml_bucket_list_free, also after a failure). ERR_PARSE on malformed
 * XML, a wrong root, a bucket without Name or CreationDate, or an
 * unparseable date (quoted). */
bool restxml_list_buckets_parse(const char *body, size_t len, restxml_bucket_list *out, err *e);
void restxml_bucket_list_free(restxml_bucket_list *l);

/* Blocking: request, aws_client_call, parse. Errors as aws_client_call or
 * the parser; *out must be freed with restxml_bucket_list_free either way. */
bool restxml_list_buckets(aws_client *c, restxml_bucket_list *out, err *e);

/* ---- GetBucketLocation ---- */

/* GET /<bucket>?location. S3 answers this for any bucket from us-east-1
 * (region NULL uses the client's default). ERR_INVALID for a bad name. */
bool restxml_get_bucket_location_request(const char *bucket, const char *region, restxml_request *r,
                                         err *e);

/* Parses <LocationConstraint> into the bucket's region, a new string the
 * caller frees: empty or absent text is "us-east-1" and the legacy "EU" is
 * "eu-west-1", as the SDKs map them. ERR_PARSE on malformed XML, a wrong
 * root or a value that is not a region name (quoted). */
bool restxml_get_bucket_location_parse(const char *body, size_t len, char **region, err *e);

/* Blocking wrapper; *region is NULL on failure. */
bool restxml_get_bucket_location(aws_client *c, const char *bucket, const char *region,
                                 char **bucket_region, err *e);

/* ---- GetPublicAccessBlock ---- */

/* Plain values: nothing to free. An absent setting reads as false (S3
 * treats an unset setting as off). */
typedef struct restxml_public_access_block {
    bool block_public_acls;
    bool ignore_public_acls;
    bool block_public_policy;
    bool restrict_public_buckets;
} restxml_public_access_block;

/* GET /<bucket>?publicAccessBlock. A bucket without a configuration
 * answers 404 NoSuchPublicAccessBlockConfiguration (ERR_AWS from the call). */
bool restxml_get_public_access_block_request(const char *bucket, const char *region,
                                             restxml_request *r, err *e);
/* Parses a <PublicAccessBlockConfiguration>. ERR_PARSE on malformed XML, a
 * wrong root or a setting that is not "true"/"false" (quoted). */
bool restxml_get_public_access_block_parse(const char *body, size_t len,
                                           restxml_public_access_block *out, err *e);
bool restxml_get_public_access_block(aws_client *c, const char *bucket, const char *region,
                                     restxml_public_access_block *out, err *e);

/* ---- GetBucketPolicyStatus ---- */

/* GET /<bucket>?policyStatus. A bucket without a policy answers 404
 * NoSuchBucketPolicy. */
bool restxml_get_bucket_policy_status_request(const char *bucket, const char *region,
                                              restxml_request *r, err *e);
/* Parses <PolicyStatus><IsPublic>. ERR_PARSE on malformed XML, a wrong root,
 * or IsPublic missing or not a boolean (quoted). */
bool restxml_get_bucket_policy_status_parse(const char *body, size_t len, bool *is_public, err *e);
bool restxml_get_bucket_policy_status(aws_client *c, const char *bucket, const char *region,
                                      bool *is_public, err *e);

/* ---- GetBucketEncryption ---- */

typedef struct restxml_encryption_rule {
    char *sse_algorithm;     /* "AES256", "aws:kms", "aws:kms:dsse" */
    char *kms_master_key_id; /* NULL when absent */
    bool bucket_key_enabled; /* false when absent */
} restxml_encryption_rule;

typedef struct restxml_encryption {
    restxml_encryption_rule *rules;
    size_t count;
} restxml_encryption;

/* GET /<bucket>?encryption. Without a configuration S3 answers 404
 * ServerSideEncryptionConfigurationNotFoundError (every bucket is encrypted
 * with SSE-S3 since 2023, so this is rare). */
bool restxml_get_bucket_encryption_request(const char *bucket, const char *region,
                                           restxml_request *r, err *e);
/* Parses a <ServerSideEncryptionConfiguration> (flattened <Rule>s) into *out
 * (zeroed first; free with restxml_encryption_free, also after a failure).
 * ERR_PARSE on malformed XML, a wrong root, no rule, a rule without
 * ApplyServerSideEncryptionByDefault/SSEAlgorithm, or a BucketKeyEnabled
 * that is not a boolean (quoted). */
bool restxml_get_bucket_encryption_parse(const char *body, size_t len, restxml_encryption *out,
                                         err *e);
void restxml_encryption_free(restxml_encryption *enc);
bool restxml_get_bucket_encryption(aws_client *c, const char *bucket, const char *region,
                                   restxml_encryption *out, err *e);

/* ---- ListObjectsV2 ---- */

typedef struct restxml_list_objects_params {
    const char *bucket;             /* required */
    const char *region;             /* the bucket's region; NULL: client's default */
    const char *prefix;             /* NULL: none */
    const char *continuation_token; /* NULL: first page */
    int max_keys;                   /* 0: S3's default (1000); else 1..RESTXML_MAX_KEYS */
} restxml_list_objects_params;

typedef struct restxml_object {
    char *key;
    int64_t size;
    char *last_modified; /* as sent */
    time_t modified;     /* the same, parsed */
    char *etag;          /* as sent, quotes included ("\"599b...\"") */
    char *storage_class; /* NULL when absent */
} restxml_object;

typedef struct restxml_object_list {
    restxml_object *items;
    size_t count;
    bool is_truncated; /* of the last page read */
    char *next_token;  /* NextContinuationToken of the last page read; NULL when none */
    int64_t key_count; /* sum of KeyCount over the pages read */
} restxml_object_list;

/* GET /<bucket>?continuation-token=..&list-type=2&max-keys=..&prefix=.. .
 * ERR_INVALID for a bad bucket name or max_keys outside 0..RESTXML_MAX_KEYS
 * (quoted). */
bool restxml_list_objects_v2_request(const restxml_list_objects_params *p, restxml_request *r,
                                     err *e);

/* Parses one ListBucketResult page into *out (zeroed first; free with
 * restxml_object_list_free, also after a failure). ERR_PARSE on malformed
 * XML, a wrong root, an object without Key, Size or LastModified, a Size,
 * KeyCount or IsTruncated of the wrong type, or a bad date (quoted). */
bool restxml_list_objects_v2_parse(const char *body, size_t len, restxml_object_list *out, err *e);

/* The same from an already parsed page root (paginator_xml), appending the
 * page's objects to *out, adding its KeyCount and replacing is_truncated
 * and next_token: call it for each page to accumulate a listing. *out must
 * be zeroed before the first page. On failure *out keeps what it had plus
 * possibly part of the page; free it either way. */
bool restxml_list_objects_v2_read(const xml_node *root, restxml_object_list *out, err *e);
void restxml_object_list_free(restxml_object_list *l);

/* Blocking, one page (p->continuation_token picks it). */
bool restxml_list_objects_v2(aws_client *c, const restxml_list_objects_params *p,
                             restxml_object_list *out, err *e);

/* Paging state for paginator_fetch with PAGING_S3_LIST_OBJECTS_V2: holds the
 * parameters and the strings of the request being sent (aws_request only
 * borrows them). Zero it, set params (params.continuation_token is ignored:
 * the paginator supplies the token), use restxml_list_objects_v2_page as the
 * paging_build_fn with the pager as its arg, and free with
 * restxml_list_objects_pager_free. */
typedef struct restxml_list_objects_pager {
    restxml_list_objects_params params;
    restxml_request cur; /* private */
} restxml_list_objects_pager;

/* paging_build_fn: builds the request for the page after `token` (NULL:
 * the first). req takes the headers/body (freed by aws_request_free, as
 * paginator_fetch does) while the pager keeps the strings, valid until the
 * next build or the pager's free. Fails as restxml_list_objects_v2_request. */
bool restxml_list_objects_v2_page(void *pager, const char *token, aws_request *req, err *e);
void restxml_list_objects_pager_free(restxml_list_objects_pager *pg);

/* Blocking, every page (paginator with PAGING_S3_LIST_OBJECTS_V2): fills
 * *out with all the objects (free with restxml_object_list_free, also after
 * a failure). *truncated (may be NULL) tells a listing the paginator cut
 * short (page limit, repeated token) from a complete one. */
bool restxml_list_objects_v2_all(aws_client *c, const restxml_list_objects_params *p,
                                 restxml_object_list *out, bool *truncated, err *e);

/* ---- errors ---- */

/* The region S3 names in an error answer: the x-amz-bucket-region header
 * of a 301 PermanentRedirect (or a 400 / 403 of a HEAD), else the
 * <Region> element of the body. Copied to out (outlen bytes). For callers
 * holding the raw answer (aws_client's errors do not keep headers). Returns
 * false when neither names a plausible region. */
bool restxml_error_region(const http_response *resp, char *out, size_t outlen);

#endif
