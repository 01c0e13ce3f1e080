#include "aws/restxml.h"

#include "aws/endpoint.h"
#include "aws/paging.h"
#include "aws/query.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bucket names and paths ---- */

static bool is_ipv4(const char *s)
{
    int parts = 0;
    while (*s) {
        int digits = 0;
        while (isdigit((unsigned char)*s)) {
            s++;
            digits++;
        }
        if (digits == 0 || digits > 3)
            return false;
        parts++;
        if (*s == '.')
            s++;
        else if (*s != '\0')
            return false;
    }
    return parts == 4;
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

bool restxml_bucket_name_valid(const char *bucket, err *e)
{
    if (bucket == NULL || *bucket == '\0')
        return err_set(e, ERR_INVALID, "S3 bucket name is empty");
    size_t n = strlen(bucket);
    if (n < 3 || n > 63)
        return err_set(e, ERR_INVALID,
                       "S3 bucket name \"%.80s\" has %zu characters; it must have 3 to 63", bucket,
                       n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)bucket[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '-')) {
            if (c >= 0x20 && c < 0x7f)
                return err_set(e, ERR_INVALID,
                               "S3 bucket name \"%.80s\" contains '%c'; only lower-case letters, "
                               "digits, '.' and '-' are allowed",
                               bucket, c);
            return err_set(e, ERR_INVALID,
                           "S3 bucket name \"%.80s\" contains byte 0x%02x; only lower-case "
                           "letters, digits, '.' and '-' are allowed",
                           bucket, c);
        }
    }
    unsigned char first = (unsigned char)bucket[0], last = (unsigned char)bucket[n - 1];
    if (!(islower(first) || isdigit(first)) || !(islower(last) || isdigit(last)))
        return err_set(e, ERR_INVALID,
                       "S3 bucket name \"%s\" must begin and end with a letter or digit", bucket);
    if (strstr(bucket, "..") != NULL)
        return err_set(e, ERR_INVALID, "S3 bucket name \"%s\" contains \"..\"", bucket);
    if (is_ipv4(bucket))
        return err_set(e, ERR_INVALID, "S3 bucket name \"%s\" is formatted as an IP address",
                       bucket);
    static const char *const prefixes[] = {"xn--", "sthree-", "amzn-s3-demo-"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(bucket, prefixes[i], strlen(prefixes[i])) == 0)
            return err_set(e, ERR_INVALID, "S3 bucket name \"%s\" uses the reserved prefix \"%s\"",
                           bucket, prefixes[i]);
    static const char *const suffixes[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (has_suffix(bucket, n, suffixes[i]))
            return err_set(e, ERR_INVALID, "S3 bucket name \"%s\" uses the reserved suffix \"%s\"",
                           bucket, suffixes[i]);
    return true;
}

/* A "." or ".." segment would be collapsed by curl (and proxies) before
 * sending, so S3 would see another key than the one signed. */
static bool has_dot_segment(const char *key)
{
    const char *s = key;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return true;
        if (slash == NULL)
            return false;
        s = slash + 1;
    }
}

bool restxml_path(const char *bucket, const char *key, strbuf *out, err *e)
{
    if (bucket == NULL) {
        if (key != NULL)
            return err_set(e, ERR_INVALID, "S3 object key \"%.80s\" given without a bucket", key);
        strbuf_putc(out, '/');
        return true;
    }
    if (!restxml_bucket_name_valid(bucket, e))
        return false;
    if (key != NULL) {
        size_t n = strlen(key);
        if (n == 0)
            return err_set(e, ERR_INVALID, "S3 object key is empty (bucket \"%s\")", bucket);
        if (n > RESTXML_KEY_MAX)
            return err_set(e, ERR_INVALID,
                           "S3 object key \"%.80s...\" has %zu bytes; at most %d are allowed", key,
                           n, RESTXML_KEY_MAX);
        if (has_dot_segment(key))
            return err_set(e, ERR_INVALID,
                           "S3 object key \"%.200s\" has a \".\" or \"..\" segment, which HTTP "
                           "clients rewrite; it cannot be addressed path-style",
                           key);
    }
    strbuf_putc(out, '/');
    strbuf_puts(out, bucket);
    if (key != NULL) {
        strbuf_putc(out, '/');
        query_uri_encode(out, key, strlen(key), true);
    }
    return true;
}

/* ---- query ---- */

typedef struct enc_param {
    char *name;
    char *value; /* NULL: bare marker */
} enc_param;

static int enc_cmp(const enc_param *a, const enc_param *b)
{
    int c = strcmp(a->name, b->name);
    if (c != 0)
        return c;
    /* A bare marker canonicalises as "name=" and so sorts first. */
    return strcmp(a->value ? a->value : "", b->value ? b->value : "");
}

static char *encode(const char *s)
{
    strbuf sb = STRBUF_INIT;
    query_uri_encode(&sb, s, strlen(s), false);
    return strbuf_detach(&sb);
}

void restxml_query(const restxml_param *params, size_t n, strbuf *out)
{
    if (n == 0)
        return;
    enc_param *ps = xcalloc(n, sizeof *ps);
    for (size_t i = 0; i < n; i++) {
        ps[i].name = encode(params[i].name);
        ps[i].value = params[i].value ? encode(params[i].value) : NULL;
        /* Insertion sort: a request has a handful of parameters. */
        for (size_t j = i; j > 0 && enc_cmp(&ps[j - 1], &ps[j]) > 0; j--) {
            enc_param t = ps[j];
            ps[j] = ps[j - 1];
            ps[j - 1] = t;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strbuf_putc(out, '&');
        strbuf_puts(out, ps[i].name);
        if (ps[i].value) {
            strbuf_putc(out, '=');
            strbuf_puts(out, ps[i].value);
        }
        free(ps[i].name);
        free(ps[i].value);
    }
    free(ps);
}

bool restxml_request_init(restxml_request *r, const char *operation, const char *method,
                          const char *region, const char *bucket, const char *key,
                          const restxml_param *params, size_t n, err *e)
{
    memset(r, 0, sizeof *r);
    strbuf path = STRBUF_INIT;
    if (!restxml_path(bucket, key, &path, e)) {
        strbuf_free(&path);
        return false;
    }
    if (region != NULL && *region != '\0' && !endpoint_region_valid(region, e)) {
        strbuf_free(&path);
        return false;
    }
    r->path = strbuf_detach(&path);
    aws_request_init(&r->req, "s3", operation, AWS_PROTO_REST_XML, method, r->path);
    if (n > 0) {
        strbuf q = STRBUF_INIT;
        restxml_query(params, n, &q);
        r->query = strbuf_detach(&q);
        r->req.query = r->query;
    }
    if (region != NULL && *region != '\0') {
        r->region = xstrdup(region);
        r->req.region = r->region;
    }
    return true;
}

void restxml_request_free(restxml_request *r)
{
    if (r == NULL)
        return;
    aws_request_free(&r->req);
    free(r->path);
    free(r->query);
    free(r->region);
    memset(r, 0, sizeof *r);
}

/* ---- parsing helpers ---- */

bool restxml_parse_root(const char *body, size_t len, const char *root, xml_doc **doc,
                        const xml_node **out, err *e)
{
    *doc = NULL;
    *out = NULL;
    xml_doc *d = NULL;
    if (!xml_parse(body, len, NULL, &d, e))
        return err_prefix(e, "S3 <%s> answer", root);
    const xml_node *r = xml_root(d);
    if (strcmp(r->name, root) != 0) {
        err_set(e, ERR_PARSE, "S3 answer has root <%.64s>, expected <%s>", r->name, root);
        xml_free(d);
        return false;
    }
    *doc = d;
    *out = r;
    return true;
}

/* The absent case stays NULL in the struct, so readers tell "not sent"
 * from "sent empty". */
static char *dup_text(const xml_node *n, const char *path)
{
    return xml_find_strdup(n, path);
}

static bool read_time(const xml_node *n, const char *path, const char *what, char **text, time_t *t,
                      err *e)
{
    const char *s = xml_find_text(n, path);
    if (s == NULL)
        return err_set(e, ERR_PARSE, "%s has no <%s>", what, path);
    err pe;
    if (!timeutil_parse_iso8601(s, t, &pe))
        return err_set(e, ERR_PARSE, "%s <%s> is not a timestamp: \"%.64s\"", what, path, s);
    *text = xstrdup(s);
    return true;
}

/* Optional boolean: absent leaves *out alone; anything but true/false fails. */
static bool read_opt_bool(const xml_node *n, const char *path, bool *out, err *e)
{
    if (xml_find(n, path) == NULL)
        return true;
    return xml_find_bool(n, path, out, e);
}

/* Shared tail of the blocking wrappers: call, then parse the body. */
typedef bool (*body_parse_fn)(const char *body, size_t len, void *out, err *e);

static bool call_and_parse(aws_client *c, restxml_request *r, body_parse_fn parse, void *out,
                           err *e)
{
    http_response resp = HTTP_RESPONSE_INIT;
    bool ok = aws_client_call(c, &r->req, &resp, e);
    if (ok)
        ok = parse(strbuf_str(&resp.body), resp.body.len, out, e);
    http_response_free(&resp);
    restxml_request_free(r);
    return ok;
}

/* ---- ListBuckets ---- */

void restxml_list_buckets_request(restxml_request *r)
{
    /* The path "/" cannot fail to build. */
    restxml_request_init(r, "ListBuckets", "GET", NULL, NULL, NULL, NULL, 0, NULL);
}

bool restxml_list_buckets_parse(const char *body, size_t len, restxml_bucket_list *out, err *e)
{
    memset(out, 0, sizeof *out);
    xml_doc *doc;
    const xml_node *root;
    if (!restxml_parse_root(body, len, "ListAllMyBucketsResult", &doc, &root, e))
        return false;
    out->owner_id = dup_text(root, "Owner/ID");
    out->owner_display_name = dup_text(root, "Owner/DisplayName");
    const xml_node *first = xml_find(root, "Buckets/Bucket");
    size_t n = 0;
    for (const xml_node *b = first; b; b = xml_next(b))
        n++;
    out->items = n ? xcalloc(n, sizeof *out->items) : NULL;
    bool ok = true;
    for (const xml_node *b = first; ok && b; b = xml_next(b)) {
        restxml_bucket *it = &out->items[out->count];
        const char *name = xml_find_text(b, "Name");
        if (name == NULL || *name == '\0') {
            ok = err_set(e, ERR_PARSE, "ListBuckets: bucket %zu (line %lu) has no <Name>",
                         out->count + 1, b->line);
            break;
        }
        it->name = xstrdup(name);
        out->count++;
        char what[160];
        snprintf(what, sizeof what, "ListBuckets: bucket \"%.100s\"", name);
        ok = read_time(b, "CreationDate", what, &it->creation_date, &it->created, e);
    }
    xml_free(doc);
    return ok;
}

void restxml_bucket_list_free(restxml_bucket_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].name);
        free(l->items[i].creation_date);
    }
    free(l->items);
    free(l->owner_id);
    free(l->owner_display_name);
    memset(l, 0, sizeof *l);
}

static bool parse_buckets_cb(const char *body, size_t len, void *out, err *e)
{
    return restxml_list_buckets_parse(body, len, out, e);
}

bool restxml_list_buckets(aws_client *c, restxml_bucket_list *out, err *e)
{
    memset(out, 0, sizeof *out);
    restxml_request r;
    restxml_list_buckets_request(&r);
    return call_and_parse(c, &r, parse_buckets_cb, out, e);
}

/* ---- bucket subresources ---- */

static bool subresource_request(const char *operation, const char *marker, const char *bucket,
                                const char *region, restxml_request *r, err *e)
{
    restxml_param p = {marker, NULL};
    /* restxml_request_init takes a NULL bucket as the service root. */
    if (bucket == NULL)
        return err_set(e, ERR_INVALID, "%s: S3 bucket name is empty", operation);
    if (!restxml_request_init(r, operation, "GET", region, bucket, NULL, &p, 1, e))
        return err_prefix(e, "%s", operation);
    return true;
}

bool restxml_get_bucket_location_request(const char *bucket, const char *region, restxml_request *r,
                                         err *e)
{
    return subresource_request("GetBucketLocation", "location", bucket, region, r, e);
}

bool restxml_get_bucket_location_parse(const char *body, size_t len, char **region, err *e)
{
    *region = NULL;
    xml_doc *doc;
    const xml_node *root;
    if (!restxml_parse_root(body, len, "LocationConstraint", &doc, &root, e))
        return false;
    const char *v = root->text;
    bool ok = true;
    if (root->nchildren > 0) {
        ok = err_set(e, ERR_PARSE, "GetBucketLocation: <LocationConstraint> has child <%.64s>",
                     root->children->name);
    } else if (*v == '\0') {
        /* us-east-1 predates location constraints: its buckets have none. */
        *region = xstrdup("us-east-1");
    } else if (strcmp(v, "EU") == 0) {
        /* Legacy constraint of buckets made in Ireland before regions had names. */
        *region = xstrdup("eu-west-1");
    } else {
        err re;
        if (endpoint_region_valid(v, &re))
            *region = xstrdup(v);
        else
            ok = err_set(e, ERR_PARSE, "GetBucketLocation: \"%.80s\" is not a region name", v);
    }
    xml_free(doc);
    return ok;
}

static bool parse_location_cb(const char *body, size_t len, void *out, err *e)
{
    return restxml_get_bucket_location_parse(body, len, out, e);
}

bool restxml_get_bucket_location(aws_client *c, const char *bucket, const char *region,
                                 char **bucket_region, err *e)
{
    *bucket_region = NULL;
    restxml_request r;
    if (!restxml_get_bucket_location_request(bucket, region, &r, e))
        return false;
    return call_and_parse(c, &r, parse_location_cb, bucket_region, e);
}

bool restxml_get_public_access_block_request(const char *bucket, const char *region,
                                             restxml_request *r, err *e)
{
    return subresource_request("GetPublicAccessBlock", "publicAccessBlock", bucket, region, r, e);
}

bool restxml_get_public_access_block_parse(const char *body, size_t len,
                                           restxml_public_access_block *out, err *e)
{
    memset(out, 0, sizeof *out);
    xml_doc *doc;
    const xml_node *root;
    if (!restxml_parse_root(body, len, "PublicAccessBlockConfiguration", &doc, &root, e))
        return false;
    restxml_public_access_block v = {0};
    bool ok = read_opt_bool(root, "BlockPublicAcls", &v.block_public_acls, e) &&
              read_opt_bool(root, "IgnorePublicAcls", &v.ignore_public_acls, e) &&
              read_opt_bool(root, "BlockPublicPolicy", &v.block_public_policy, e) &&
              read_opt_bool(root, "RestrictPublicBuckets", &v.restrict_public_buckets, e);
    xml_free(doc);
    if (!ok)
        return err_prefix(e, "GetPublicAccessBlock");
    *out = v;
    return true;
}

static bool parse_pab_cb(const char *body, size_t len, void *out, err *e)
{
    return restxml_get_public_access_block_parse(body, len, out, e);
}

bool restxml_get_public_access_block(aws_client *c, const char *bucket, const char *region,
                                     restxml_public_access_block *out, err *e)
{
    memset(out, 0, sizeof *out);
    restxml_request r;
    if (!restxml_get_public_access_block_request(bucket, region, &r, e))
        return false;
    return call_and_parse(c, &r, parse_pab_cb, out, e);
}

bool restxml_get_bucket_policy_status_request(const char *bucket, const char *region,
                                              restxml_request *r, err *e)
{
    return subresource_request("GetBucketPolicyStatus", "policyStatus", bucket, region, r, e);
}

bool restxml_get_bucket_policy_status_parse(const char *body, size_t len, bool *is_public, err *e)
{
    *is_public = false;
    xml_doc *doc;
    const xml_node *root;
    if (!restxml_parse_root(body, len, "PolicyStatus", &doc, &root, e))
        return false;
    bool v = false;
    bool ok = xml_find_bool(root, "IsPublic", &v, e);
    xml_free(doc);
    if (!ok) {
        /* A missing flag is a malformed answer, not "not found". */
        if (e)
            e->code = ERR_PARSE;
        return err_prefix(e, "GetBucketPolicyStatus");
    }
    *is_public = v;
    return true;
}

static bool parse_policy_status_cb(const char *body, size_t len, void *out, err *e)
{
    return restxml_get_bucket_policy_status_parse(body, len, out, e);
}

bool restxml_get_bucket_policy_status(aws_client *c, const char *bucket, const char *region,
                                      bool *is_public, err *e)
{
    *is_public = false;
    restxml_request r;
    if (!restxml_get_bucket_policy_status_request(bucket, region, &r, e))
        return false;
    return call_and_parse(c, &r, parse_policy_status_cb, is_public, e);
}

bool restxml_get_bucket_encryption_request(const char *bucket, const char *region,
                                           restxml_request *r, err *e)
{
    return subresource_request("GetBucketEncryption", "encryption", bucket, region, r, e);
}

bool restxml_get_bucket_encryption_parse(const char *body, size_t len, restxml_encryption *out,
                                         err *e)
{
    memset(out, 0, sizeof *out);
    xml_doc *doc;
    const xml_node *root;
    if (!restxml_parse_root(body, len, "ServerSideEncryptionConfiguration", &doc, &root, e))
        return false;
    /* Rules is a flattened list: repeated <Rule> directly under the root. */
    const xml_node *first = xml_child(root, "Rule");
    size_t n = 0;
    for (const xml_node *r = first; r; r = xml_next(r))
        n++;
    bool ok = true;
    if (n == 0)
        ok = err_set(e, ERR_PARSE, "GetBucketEncryption: the configuration has no <Rule>");
    else
        out->rules = xcalloc(n, sizeof *out->rules);
    for (const xml_node *r = first; ok && r; r = xml_next(r)) {
        restxml_encryption_rule *it = &out->rules[out->count];
        const char *alg = xml_find_text(r, "ApplyServerSideEncryptionByDefault/SSEAlgorithm");
        if (alg == NULL || *alg == '\0') {
            ok = err_set(e, ERR_PARSE,
                         "GetBucketEncryption: rule %zu (line %lu) has no "
                         "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>",
                         out->count + 1, r->line);
            break;
        }
        it->sse_algorithm = xstrdup(alg);
        it->kms_master_key_id = dup_text(r, "ApplyServerSideEncryptionByDefault/KMSMasterKeyID");
        out->count++;
        if (!read_opt_bool(r, "BucketKeyEnabled", &it->bucket_key_enabled, e))
            ok = err_prefix(e, "GetBucketEncryption: rule %zu", out->count);
    }
    xml_free(doc);
    return ok;
}

void restxml_encryption_free(restxml_encryption *enc)
{
    if (enc == NULL)
        return;
    for (size_t i = 0; i < enc->count; i++) {
        free(enc->rules[i].sse_algorithm);
        free(enc->rules[i].kms_master_key_id);
    }
    free(enc->rules);
    memset(enc, 0, sizeof *enc);
}

static bool parse_encryption_cb(const char *body, size_t len, void *out, err *e)
{
    return restxml_get_bucket_encryption_parse(body, len, out, e);
}

bool restxml_get_bucket_encryption(aws_client *c, const char *bucket, const char *region,
                                   restxml_encryption *out, err *e)
{
    memset(out, 0, sizeof *out);
    restxml_request r;
    if (!restxml_get_bucket_encryption_request(bucket, region, &r, e))
        return false;
    return call_and_parse(c, &r, parse_encryption_cb, out, e);
}

/* ---- ListObjectsV2 ---- */

static bool list_request(const restxml_list_objects_params *p, const char *token,
                         restxml_request *r, err *e)
{
    memset(r, 0, sizeof *r);
    if (p->max_keys < 0 || p->max_keys > RESTXML_MAX_KEYS)
        return err_set(e, ERR_INVALID, "ListObjectsV2: max-keys %d is outside 0..%d", p->max_keys,
                       RESTXML_MAX_KEYS);
    if (p->bucket == NULL)
        return err_set(e, ERR_INVALID, "ListObjectsV2: S3 bucket name is empty");
    restxml_param ps[4];
    size_t n = 0;
    char maxk[16];
    ps[n++] = (restxml_param){"list-type", "2"};
    if (token != NULL)
        ps[n++] = (restxml_param){"continuation-token", token};
    if (p->prefix != NULL)
        ps[n++] = (restxml_param){"prefix", p->prefix};
    if (p->max_keys > 0) {
        snprintf(maxk, sizeof maxk, "%d", p->max_keys);
        ps[n++] = (restxml_param){"max-keys", maxk};
    }
    if (!restxml_request_init(r, "ListObjectsV2", "GET", p->region, p->bucket, NULL, ps, n, e))
        return err_prefix(e, "ListObjectsV2");
    return true;
}

bool restxml_list_objects_v2_request(const restxml_list_objects_params *p, restxml_request *r,
                                     err *e)
{
    return list_request(p, p->continuation_token, r, e);
}

bool restxml_list_objects_v2_read(const xml_node *root, restxml_object_list *out, err *e)
{
    if (root == NULL || strcmp(root->name, "ListBucketResult") != 0)
        return err_set(e, ERR_PARSE,
                       "ListObjectsV2: answer has root <%.64s>, expected "
                       "<ListBucketResult>",
                       root ? root->name : "(none)");
    bool truncated = false;
    int64_t kc = 0;
    if (!read_opt_bool(root, "IsTruncated", &truncated, e))
        return err_prefix(e, "ListObjectsV2");
    if (xml_find(root, "KeyCount") != NULL && !xml_find_int64(root, "KeyCount", &kc, e))
        return err_prefix(e, "ListObjectsV2");
    /* Contents is a flattened list: repeated <Contents> under the root. */
    const xml_node *first = xml_child(root, "Contents");
    size_t n = 0;
    for (const xml_node *c = first; c; c = xml_next(c))
        n++;
    if (n > 0)
        out->items = xreallocarray(out->items, out->count + n, sizeof *out->items);
    for (const xml_node *c = first; c; c = xml_next(c)) {
        const char *key = xml_find_text(c, "Key");
        if (key == NULL)
            return err_set(e, ERR_PARSE, "ListObjectsV2: <Contents> at line %lu has no <Key>",
                           c->line);
        restxml_object *o = &out->items[out->count++];
        memset(o, 0, sizeof *o);
        o->key = xstrdup(key);
        o->etag = dup_text(c, "ETag");
        o->storage_class = dup_text(c, "StorageClass");
        char what[160];
        snprintf(what, sizeof what, "ListObjectsV2: object \"%.100s\"", key);
        if (!xml_find_int64(c, "Size", &o->size, e)) {
            if (e)
                e->code = ERR_PARSE;
            return err_prefix(e, "%s", what);
        }
        if (o->size < 0)
            return err_set(e, ERR_PARSE, "%s: negative <Size> %lld", what, (long long)o->size);
        if (!read_time(c, "LastModified", what, &o->last_modified, &o->modified, e))
            return false;
    }
    out->is_truncated = truncated;
    free(out->next_token);
    out->next_token = dup_text(root, "NextContinuationToken");
    out->key_count += kc;
    return true;
}

bool restxml_list_objects_v2_parse(const char *body, size_t len, restxml_object_list *out, err *e)
{
    memset(out, 0, sizeof *out);
    xml_doc *doc;
    const xml_node *root;
    if (!restxml_parse_root(body, len, "ListBucketResult", &doc, &root, e))
        return false;
    bool ok = restxml_list_objects_v2_read(root, out, e);
    xml_free(doc);
    return ok;
}

void restxml_object_list_free(restxml_object_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].last_modified);
        free(l->items[i].etag);
        free(l->items[i].storage_class);
    }
    free(l->items);
    free(l->next_token);
    memset(l, 0, sizeof *l);
}

static bool parse_objects_cb(const char *body, size_t len, void *out, err *e)
{
    return restxml_list_objects_v2_parse(body, len, out, e);
}

bool restxml_list_objects_v2(aws_client *c, const restxml_list_objects_params *p,
                             restxml_object_list *out, err *e)
{
    memset(out, 0, sizeof *out);
    restxml_request r;
    if (!restxml_list_objects_v2_request(p, &r, e))
        return false;
    return call_and_parse(c, &r, parse_objects_cb, out, e);
}

bool restxml_list_objects_v2_page(void *pager, const char *token, aws_request *req, err *e)
{
    restxml_list_objects_pager *pg = pager;
    restxml_request r;
    if (!list_request(&pg->params, token, &r, e))
        return false;
    /* req takes headers and body (paginator_fetch frees them with
     * aws_request_free); the strings it points at stay with the pager. */
    *req = r.req;
    memset(&r.req, 0, sizeof r.req);
    restxml_request_free(&pg->cur);
    pg->cur = r;
    return true;
}

void restxml_list_objects_pager_free(restxml_list_objects_pager *pg)
{
    if (pg == NULL)
        return;
    restxml_request_free(&pg->cur);
}

bool restxml_list_objects_v2_all(aws_client *c, const restxml_list_objects_params *p,
                                 restxml_object_list *out, bool *truncated, err *e)
{
    memset(out, 0, sizeof *out);
    if (truncated)
        *truncated = false;
    restxml_list_objects_pager pg;
    memset(&pg, 0, sizeof pg);
    pg.params = *p;
    pg.params.continuation_token = NULL;
    paginator *pgr = paginator_new(&PAGING_S3_LIST_OBJECTS_V2);
    bool got = true, ok = true;
    while (ok && got) {
        ok = paginator_fetch(pgr, c, restxml_list_objects_v2_page, &pg, &got, e);
        if (ok && got)
            ok = restxml_list_objects_v2_read(paginator_xml(pgr), out, e);
    }
    if (ok && truncated)
        *truncated = paginator_truncated(pgr);
    paginator_free(pgr);
    restxml_list_objects_pager_free(&pg);
    return ok;
}

/* ---- errors ---- */

bool restxml_error_region(const http_response *resp, char *out, size_t outlen)
{
    if (outlen == 0)
        return false;
    out[0] = '\0';
    const char *h = http_headers_get(&resp->headers, "x-amz-bucket-region");
    err re;
    if (h != NULL && endpoint_region_valid(h, &re)) {
        snprintf(out, outlen, "%s", h);
        return strlen(h) < outlen;
    }
    if (resp->body.len == 0)
        return false;
    xml_doc *doc = NULL;
    if (!xml_parse(resp->body.buf, resp->body.len, NULL, &doc, &re))
        return false;
    const char *v = xml_find_text(xml_root(doc), "Region");
    bool ok = v != NULL && endpoint_region_valid(v, &re) && strlen(v) < outlen;
    if (ok)
        snprintf(out, outlen, "%s", v);
    xml_free(doc);
    return ok;
}
