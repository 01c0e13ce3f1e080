#include "aws/paging.h"

#include "aws/awsjson.h"
#include "core/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const paging_spec PAGING_EC2_DESCRIBE_INSTANCES = {AWS_PROTO_EC2, "nextToken", NULL, 0};
const paging_spec PAGING_EC2_DESCRIBE_VOLUMES = {AWS_PROTO_EC2, "nextToken", NULL, 0};
const paging_spec PAGING_EC2_DESCRIBE_SNAPSHOTS = {AWS_PROTO_EC2, "nextToken", NULL, 0};
const paging_spec PAGING_EC2_DESCRIBE_SECURITY_GROUPS = {AWS_PROTO_EC2, "nextToken", NULL, 0};
const paging_spec PAGING_IAM_LIST_USERS = {AWS_PROTO_QUERY, "ListUsersResult/Marker",
                                           "ListUsersResult/IsTruncated", 0};
const paging_spec PAGING_RDS_DESCRIBE_DB_INSTANCES = {AWS_PROTO_QUERY,
                                                      "DescribeDBInstancesResult/Marker", NULL, 0};
const paging_spec PAGING_S3_LIST_OBJECTS_V2 = {AWS_PROTO_REST_XML, "NextContinuationToken",
                                               "IsTruncated", 0};
const paging_spec PAGING_ORGANIZATIONS_LIST_ACCOUNTS = {AWS_PROTO_JSON, "NextToken", NULL, 0};
const paging_spec PAGING_CE_GET_COST_AND_USAGE = {AWS_PROTO_JSON, "NextPageToken", NULL, 0};

struct paginator {
    paging_spec spec;
    int pages;
    bool done;
    bool truncated;
    char *body;
    xml_doc *xml;
    json_t *json;
    char *token;
    /* Hashes of every token seen: a cycle of any length (not just the same
     * token twice in a row) ends paging. 64-bit FNV-1a makes a false match
     * across at most max_pages tokens vanishingly unlikely, and keeping
     * hashes instead of tokens bounds the memory. */
    uint64_t *seen;
    size_t nseen;
};

static bool is_json(aws_protocol p)
{
    return p == AWS_PROTO_JSON || p == AWS_PROTO_REST_JSON;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

paginator *paginator_new(const paging_spec *spec)
{
    paginator *p = xcalloc(1, sizeof *p);
    p->spec = *spec;
    if (p->spec.max_pages <= 0)
        p->spec.max_pages = PAGING_DEFAULT_MAX_PAGES;
    p->seen = xcalloc((size_t)p->spec.max_pages, sizeof *p->seen);
    return p;
}

static void drop_page(paginator *p)
{
    free(p->body);
    p->body = NULL;
    xml_free(p->xml);
    p->xml = NULL;
    json_decref(p->json);
    p->json = NULL;
}

void paginator_free(paginator *p)
{
    if (p == NULL)
        return;
    drop_page(p);
    free(p->token);
    free(p->seen);
    free(p);
}

const char *paginator_token(const paginator *p)
{
    return p->token;
}

bool paginator_done(const paginator *p)
{
    return p->done;
}

bool paginator_truncated(const paginator *p)
{
    return p->truncated;
}

int paginator_pages(const paginator *p)
{
    return p->pages;
}

const char *paginator_body(const paginator *p)
{
    return p->body;
}

const xml_node *paginator_xml(const paginator *p)
{
    return xml_root(p->xml);
}

json_t *paginator_json(const paginator *p)
{
    return p->json;
}

/* Reads the token and the flag of the current page; -1 for an absent flag. */
static bool read_page(paginator *p, const char **token, int *more, err *e)
{
    *token = NULL;
    *more = -1;
    if (is_json(p->spec.protocol)) {
        json_t *t = awsjson_find(p->json, p->spec.output_token);
        if (t && json_is_string(t))
            *token = json_string_value(t);
        else if (t && !json_is_null(t))
            return err_set(e, ERR_PARSE, "pagination token \"%s\" is not a string",
                           p->spec.output_token);
        if (p->spec.more_results) {
            json_t *m = awsjson_find(p->json, p->spec.more_results);
            if (json_is_boolean(m))
                *more = json_is_true(m);
        }
        return true;
    }
    const xml_node *root = xml_root(p->xml);
    *token = xml_find_text(root, p->spec.output_token);
    if (p->spec.more_results) {
        bool b = false;
        err fe;
        if (xml_find_bool(root, p->spec.more_results, &b, &fe))
            *more = b;
        else if (fe.code != ERR_NOT_FOUND)
            return err_set(e, ERR_PARSE, "%s", fe.message);
    }
    return true;
}

bool paginator_feed(paginator *p, http_response *resp, err *e)
{
    if (p->done)
        return err_set(e, ERR_INTERNAL, "paginator fed after its last page");
    drop_page(p);
    size_t len = resp->body.len;
    p->body = strbuf_detach(&resp->body);
    bool ok;
    if (is_json(p->spec.protocol))
        ok = awsjson_parse(p->body, len, &p->json, e);
    else
        ok = xml_parse(p->body, len, NULL, &p->xml, e);
    const char *tok = NULL;
    int more = -1;
    if (ok)
        ok = read_page(p, &tok, &more, e);
    if (!ok) {
        p->done = true;
        return err_prefix(e, "page %d", p->pages + 1);
    }
    p->pages++;
    char *next = tok && *tok && more != 0 ? xstrdup(tok) : NULL;
    free(p->token);
    p->token = next;
    if (next == NULL) {
        /* "More results" without a token to get them: what we have is partial. */
        p->done = true;
        p->truncated = more == 1;
        return true;
    }
    uint64_t h = fnv1a(next);
    for (size_t i = 0; i < p->nseen; i++) {
        if (p->seen[i] == h) {
            p->done = p->truncated = true;
            return true;
        }
    }
    if (p->pages >= p->spec.max_pages) {
        p->done = p->truncated = true;
        return true;
    }
    p->seen[p->nseen++] = h;
    return true;
}

bool paginator_feed_copy(paginator *p, const http_response *resp, err *e)
{
    http_response copy = HTTP_RESPONSE_INIT;
    copy.status = resp->status;
    strbuf_append(&copy.body, resp->body.buf ? resp->body.buf : "", resp->body.len);
    bool ok = paginator_feed(p, &copy, e);
    http_response_free(&copy);
    return ok;
}

bool paginator_fetch(paginator *p, aws_client *c, paging_build_fn build, void *arg, bool *got,
                     err *e)
{
    *got = false;
    if (p->done)
        return true;
    aws_request req;
    memset(&req, 0, sizeof req);
    if (!build(arg, p->token, &req, e))
        return false;
    http_response resp = HTTP_RESPONSE_INIT;
    bool ok = aws_client_call(c, &req, &resp, e);
    aws_request_free(&req);
    if (ok)
        ok = paginator_feed(p, &resp, e);
    http_response_free(&resp);
    *got = ok;
    return ok;
}
