/* The handler side of a call (call.h): parameters, the XML and JSON answer
 * writers, errors, authorization and paging tokens.
 *
 * The XML writer is on the hot path (a DescribeInstances page of 50
 * instances is some 2,000 elements), so it appends straight to one strbuf
 * with a table-driven escape and no printf. */
#include "server.h"

#include "core/log.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* ---- lifetime ---- */

void call_init(sbx_call *c)
{
    memset(c, 0, sizeof *c);
}

static void *own(sbx_call *c, void *p)
{
    if (c->nowned == c->owned_cap) {
        c->owned_cap = c->owned_cap ? 2 * c->owned_cap : 8;
        c->owned = xreallocarray(c->owned, c->owned_cap, sizeof *c->owned);
    }
    c->owned[c->nowned++] = p;
    return p;
}

void call_release(sbx_call *c)
{
    for (size_t i = 0; i < c->nparams; i++) {
        free(c->params[i].name);
        free(c->params[i].value);
    }
    free(c->params);
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->bucket);
    free(c->version);
    free(c->err_code);
    free(c->err_message);
    json_decref(c->json);
    json_decref(c->json_reply);
    call_answer_reset(c);
    free(c->splices);
    strbuf_free(&c->body);
    strbuf_free(&c->note);
    http_headers_free(&c->headers);
    memset(c, 0, sizeof *c);
}

/* ---- what the handler reads ---- */

world *call_world(const sbx_call *c)
{
    return c->w;
}

const sbx_service *call_service(const sbx_call *c)
{
    return c->svc;
}

const sbx_action *call_action(const sbx_call *c)
{
    return c->act;
}

const char *call_region(const sbx_call *c)
{
    return c->region;
}

const sbx_principal *call_principal(const sbx_call *c)
{
    return &c->principal;
}

sbx_account *call_account(const sbx_call *c)
{
    return c->principal.account;
}

sbx_region *call_region_state(const sbx_call *c)
{
    if (c->principal.account == NULL)
        return NULL;
    sbx_region *r = world_region(c->principal.account, c->region);
    if (r)
        world_settle(r, c->now);
    return r;
}

time_t call_now(const sbx_call *c)
{
    return c->now;
}

const char *call_request_id(const sbx_call *c)
{
    return c->request_id;
}

const char *call_method(const sbx_call *c)
{
    return c->method;
}

const char *call_bucket(const sbx_call *c)
{
    return c->bucket ? c->bucket : "";
}

json_t *call_json(const sbx_call *c)
{
    return c->json;
}

const char *call_path(const sbx_call *c)
{
    return c->path ? c->path : "/";
}

const char *call_body(const sbx_call *c, size_t *len)
{
    if (len)
        *len = c->req_body ? c->req_body_len : 0;
    return c->req_body ? c->req_body : "";
}

const char *call_request_header(const sbx_call *c, const char *name)
{
    return c->req_headers ? http_headers_get(c->req_headers, name) : NULL;
}

int call_state_delay(const sbx_call *c)
{
    return c->state_delay;
}

/* ---- parameters ---- */

/* A new string holding s[0..n) form-decoded (strbuf_form_decode). */
static char *form_decode(const char *s, size_t n)
{
    strbuf sb = STRBUF_INIT;
    strbuf_form_decode(&sb, s, n);
    return strbuf_detach(&sb);
}

static void add_param(sbx_call *c, char *name, char *value)
{
    if (c->nparams == c->params_cap) {
        c->params_cap = c->params_cap ? 2 * c->params_cap : 16;
        c->params = xreallocarray(c->params, c->params_cap, sizeof *c->params);
    }
    c->params[c->nparams].name = name;
    c->params[c->nparams].value = value;
    c->nparams++;
}

void call_parse_form(sbx_call *c, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : end - i;
            char *name = form_decode(s + i, klen);
            char *value = eq ? form_decode(eq + 1, end - i - klen - 1) : xstrdup("");
            add_param(c, name, value);
        }
        i = end + 1;
    }
}

const char *call_param(const sbx_call *c, const char *name)
{
    for (size_t i = 0; i < c->nparams; i++)
        if (strcmp(c->params[i].name, name) == 0)
            return c->params[i].value;
    return NULL;
}

typedef struct indexed {
    unsigned long n;
    const char *value;
} indexed;

static int indexed_cmp(const void *a, const void *b)
{
    const indexed *x = a, *y = b;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* Parses "<digits>" filling *n; rest (may be NULL) receives what follows. */
static bool parse_index(const char *s, unsigned long *n, const char **rest)
{
    if (!isdigit((unsigned char)*s))
        return false;
    char *end;
    *n = strtoul(s, &end, 10);
    if (rest)
        *rest = end;
    else if (*end)
        return false;
    return true;
}

/* Collects values whose name is prefix + N + suffix, ordered by N. */
static const char *const *collect(sbx_call *c, const char *prefix, const char *suffix, size_t *n)
{
    size_t plen = strlen(prefix);
    indexed *items = NULL;
    size_t count = 0, cap = 0;
    for (size_t i = 0; i < c->nparams; i++) {
        const char *name = c->params[i].name;
        unsigned long idx;
        const char *rest;
        if (strncmp(name, prefix, plen) != 0 || !parse_index(name + plen, &idx, &rest) ||
            strcmp(rest, suffix) != 0)
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 8;
            items = xreallocarray(items, cap, sizeof *items);
        }
        items[count].n = idx;
        items[count].value = c->params[i].value;
        count++;
    }
    if (count > 1)
        qsort(items, count, sizeof *items, indexed_cmp);
    const char **out = own(c, xcalloc(count + 1, sizeof *out));
    for (size_t i = 0; i < count; i++)
        out[i] = items[i].value;
    free(items);
    *n = count;
    return out;
}

const char *const *call_param_list(sbx_call *c, const char *name, size_t *n)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s.member.", name);
    const char *const *v = collect(c, prefix, "", n);
    if (*n)
        return v;
    snprintf(prefix, sizeof prefix, "%s.", name);
    return collect(c, prefix, "", n);
}

const char *const *call_filter(sbx_call *c, const char *name, size_t *n)
{
    const char **all = NULL;
    size_t count = 0;
    bool found = false;
    for (size_t i = 0; i < c->nparams; i++) {
        const char *pn = c->params[i].name;
        unsigned long idx;
        const char *rest;
        if (strncmp(pn, "Filter.", 7) != 0 || !parse_index(pn + 7, &idx, &rest) ||
            strcmp(rest, ".Name") != 0 || strcmp(c->params[i].value, name) != 0)
            continue;
        found = true;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "Filter.%lu.Value.", idx);
        size_t m;
        const char *const *vals = collect(c, prefix, "", &m);
        all = xreallocarray(all, count + m + 1, sizeof *all);
        for (size_t j = 0; j < m; j++)
            all[count++] = vals[j];
    }
    if (!found) {
        free(all);
        *n = 0;
        return NULL;
    }
    if (all == NULL)
        all = xcalloc(1, sizeof *all);
    all[count] = NULL;
    *n = count;
    return own(c, all);
}

const char *const *call_filter_names(sbx_call *c, size_t *n)
{
    return collect(c, "Filter.", ".Name", n);
}

/* ---- XML writer ---- */

/* 1: needs escaping in character data and attribute values. */
static const unsigned char XML_SPECIAL[256] = {
    ['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1, ['\r'] = 1,
};

static void put_escaped(strbuf *sb, const char *s)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!XML_SPECIAL[ch])
            continue;
        strbuf_append(sb, run, (size_t)(p - run));
        switch (ch) {
        case '&':
            strbuf_append(sb, "&amp;", 5);
            break;
        case '<':
            strbuf_append(sb, "&lt;", 4);
            break;
        case '>':
            strbuf_append(sb, "&gt;", 4);
            break;
        case '"':
            strbuf_append(sb, "&quot;", 6);
            break;
        case '\'':
            strbuf_append(sb, "&apos;", 6);
            break;
        default: /* '\r' would be normalised away by a parser */
            strbuf_append(sb, "&#13;", 5);
            break;
        }
        run = p + 1;
    }
    strbuf_puts(sb, run);
}

static void tag(strbuf *sb, const char *name, bool close)
{
    size_t n = strlen(name);
    strbuf_grow(sb, n + 3);
    char *p = sb->buf + sb->len;
    *p++ = '<';
    if (close)
        *p++ = '/';
    memcpy(p, name, n);
    p += n;
    *p++ = '>';
    *p = '\0';
    sb->len = (size_t)(p - sb->buf);
}

void call_xml_open(sbx_call *c, const char *name)
{
    tag(&c->body, name, false);
}

void call_xml_close(sbx_call *c, const char *name)
{
    tag(&c->body, name, true);
}

void call_xml_text(sbx_call *c, const char *name, const char *text)
{
    if (text == NULL)
        return;
    tag(&c->body, name, false);
    put_escaped(&c->body, text);
    tag(&c->body, name, true);
}

static void put_raw_element(sbx_call *c, const char *name, const char *text)
{
    tag(&c->body, name, false);
    strbuf_puts(&c->body, text);
    tag(&c->body, name, true);
}

void call_xml_int(sbx_call *c, const char *name, long long v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    *--p = '\0';
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    put_raw_element(c, name, p);
}

void call_xml_bool(sbx_call *c, const char *name, bool v)
{
    put_raw_element(c, name, v ? "true" : "false");
}

void call_xml_double(sbx_call *c, const char *name, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    put_raw_element(c, name, buf);
}

/* AWS's timestamp with milliseconds; timeutil_civil_from_time because
 * gmtime_r costs more than the rest of an element, and instances carry
 * several timestamps. */
static void format_time_ms(time_t t, char out[25])
{
    timeutil_civil c;
    timeutil_civil_from_time(t, &c);
    snprintf(out, 25, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", (int)c.year, c.month, c.day, c.hour,
             c.min, c.sec);
}

void call_xml_time(sbx_call *c, const char *name, time_t t)
{
    char buf[25];
    format_time_ms(t, buf);
    put_raw_element(c, name, buf);
}

void call_xml_tags(sbx_call *c, const char *list_name, const char *item_name, const sbx_tags *tags)
{
    call_xml_open(c, list_name);
    for (size_t i = 0; tags && i < tags->n; i++) {
        call_xml_open(c, item_name);
        /* EC2 writes <key>/<value>, the query services <Key>/<Value>. */
        bool ec2 = c->proto == AWS_PROTO_EC2;
        call_xml_text(c, ec2 ? "key" : "Key", tags->items[i].key);
        call_xml_text(c, ec2 ? "value" : "Value", tags->items[i].value);
        call_xml_close(c, item_name);
    }
    call_xml_close(c, list_name);
}

void call_xml_raw(sbx_call *c, const char *xml, size_t len)
{
    strbuf_append(&c->body, xml, len);
}

/* ---- shared fragments ---- */

struct sbx_frag {
    size_t refs;
    size_t len;
    char data[]; /* len bytes and a NUL, one allocation with the header */
};

sbx_frag *sbx_frag_new(const char *xml, size_t len)
{
    sbx_frag *f = xmalloc(sizeof *f + len + 1);
    f->refs = 1;
    f->len = len;
    memcpy(f->data, xml, len);
    f->data[len] = '\0';
    return f;
}

sbx_frag *sbx_frag_ref(sbx_frag *f)
{
    f->refs++;
    return f;
}

void sbx_frag_unref(sbx_frag *f)
{
    if (f && --f->refs == 0)
        free(f);
}

const char *sbx_frag_data(const sbx_frag *f, size_t *len)
{
    *len = f->len;
    return f->data;
}

size_t sbx_frag_footprint(const sbx_frag *f)
{
    return sizeof *f + f->len + 1;
}

void call_xml_frag(sbx_call *c, sbx_frag *f)
{
    call_xml_frag_range(c, f, 0, f->len);
}

void call_xml_frag_range(sbx_call *c, sbx_frag *f, size_t off, size_t len)
{
    if (off > f->len || len > f->len - off) {
        /* A handler bug: answering bytes the fragment does not have. */
        fprintf(stderr, "call_xml_frag_range: bytes %zu+%zu of a %zu-byte fragment\n", off, len,
                f->len);
        abort();
    }
    if (len == 0)
        return;
    if (c->nsplices == c->splices_cap) {
        c->splices_cap = c->splices_cap ? 2 * c->splices_cap : 16;
        c->splices = xreallocarray(c->splices, c->splices_cap, sizeof *c->splices);
    }
    c->splices[c->nsplices++] = (sbx_splice){c->body.len, sbx_frag_ref(f), off, len};
}

void call_answer_reset(sbx_call *c)
{
    for (size_t i = 0; i < c->nsplices; i++)
        sbx_frag_unref(c->splices[i].frag);
    c->nsplices = 0;
    strbuf_reset(&c->body);
}

size_t call_answer_len(const sbx_call *c)
{
    size_t n = c->body.len;
    for (size_t i = 0; i < c->nsplices; i++)
        n += c->splices[i].len;
    return n;
}

/* ---- JSON answers, headers, notes ---- */

void call_json_reply(sbx_call *c, json_t *body)
{
    json_decref(c->json_reply);
    c->json_reply = body;
}

void call_header(sbx_call *c, const char *name, const char *value)
{
    http_headers_set(&c->headers, name, value);
}

void call_note(sbx_call *c, const char *fmt, ...)
{
    if (c->note.len)
        strbuf_puts(&c->note, "; ");
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&c->note, fmt, ap);
    va_end(ap);
}

/* ---- errors ---- */

bool call_error(sbx_call *c, int status, const char *code, const char *fmt, ...)
{
    /* The first failure is the one reported: a handler that goes on after
     * a denial must not replace AccessDenied with a later complaint. */
    if (c->err_code != NULL)
        return false;
    c->status = status;
    c->err_code = xstrdup(code);
    strbuf msg = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&msg, fmt, ap);
    va_end(ap);
    c->err_message = strbuf_detach(&msg);
    return false;
}

/* ---- authorization ---- */

bool call_deny(sbx_call *c, const char *iam_action, const char *resource, const char *why)
{
    const char *who = c->principal.arn ? c->principal.arn : "anonymous";
    char because[300];
    if (why && *why)
        snprintf(because, sizeof because, "%s", why);
    else
        snprintf(because, sizeof because, "because no identity-based policy allows the %s action",
                 iam_action);
    switch (c->proto) {
    case AWS_PROTO_EC2:
        return call_error(c, 403, "UnauthorizedOperation",
                          "You are not authorized to perform this operation. User: %s is not "
                          "authorized to perform: %s on resource: %s %s",
                          who, iam_action, resource, because);
    case AWS_PROTO_JSON:
    case AWS_PROTO_REST_JSON:
        return call_error(c, 400, "AccessDeniedException",
                          "User: %s is not authorized to perform: %s on resource: %s %s", who,
                          iam_action, resource, because);
    case AWS_PROTO_REST_XML:
        return call_error(c, 403, "AccessDenied", "Access Denied");
    case AWS_PROTO_QUERY:
        break;
    }
    return call_error(c, 403, "AccessDenied",
                      "User: %s is not authorized to perform: %s on resource: %s %s", who,
                      iam_action, resource, because);
}

/* The action's name in IAM policies: the wire name unless the service
 * lists another. */
static const char *iam_name(const sbx_call *c)
{
    if (!c->act)
        return "?";
    for (size_t i = 0; c->svc && i < c->svc->niam_names; i++)
        if (strcmp(c->svc->iam_names[i].action, c->act->name) == 0)
            return c->svc->iam_names[i].iam_action;
    return c->act->name;
}

bool call_authorize(sbx_call *c, const char *resource)
{
    char iam_action[160];
    snprintf(iam_action, sizeof iam_action, "%s:%s", c->svc ? c->svc->iam_prefix : "?",
             iam_name(c));
    if (!c->have_principal)
        return call_deny(c, iam_action, resource, NULL);
    policy_context ctx = {
        .region = c->region,
        .now = c->now,
        .source_ip = c->source_ip,
        .secure_transport = false,
        .org_id = c->principal.account && c->principal.account != c->w->hub ? c->w->org_id : NULL,
    };
    char why[300] = "";
    if (policy_authorize(&c->principal, iam_action, resource, &ctx, why, sizeof why))
        return true;
    return call_deny(c, iam_action, resource, why);
}

/* ---- paging tokens ---- */

/* Parameters that move through the pages rather than select the results. */
static bool paging_param(const char *name)
{
    static const char *const names[] = {
        "NextToken",  "nextToken",         "Marker",       "MaxResults", "MaxItems",
        "MaxRecords", "PageSize",          "Action",       "Version",    "maxResults",
        "MaxKeys",    "ContinuationToken", "NextPageToken"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return (h ^ 0xff) * 0x100000001b3ULL; /* separator between fields */
}

/* A hash of what selects this call's results: the action and every
 * parameter but the paging ones, order-independent for query parameters. */
static uint64_t selection_hash(const sbx_call *c)
{
    uint64_t h = fnv(0xcbf29ce484222325ULL, c->act ? c->act->name : "");
    uint64_t sum = 0;
    for (size_t i = 0; i < c->nparams; i++) {
        if (paging_param(c->params[i].name))
            continue;
        sum += fnv(fnv(0xcbf29ce484222325ULL, c->params[i].name), c->params[i].value);
    }
    if (json_is_object(c->json)) {
        const char *key;
        json_t *v;
        json_object_foreach(c->json, key, v)
        {
            if (paging_param(key))
                continue;
            char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            sum += fnv(fnv(0xcbf29ce484222325ULL, key), text ? text : "");
            free(text);
        }
    }
    return h ^ sum;
}

char *call_page_token(sbx_call *c, size_t offset)
{
    uint64_t h = selection_hash(c);
    uint64_t mask = h * 0x9e3779b97f4a7c15ULL;
    char *tok = xasprintf("%016" PRIx64 "%016" PRIx64, (uint64_t)offset ^ mask, h);
    return own(c, tok);
}

/* How each service refuses a token it did not issue. */
static bool bad_token(sbx_call *c, const char *token)
{
    static const struct {
        const char *service;
        int status;
        const char *code;
        const char *message;
    } refusals[] = {
        {"ec2", 400, "InvalidParameterValue", "The value of NextToken is invalid"},
        {"organizations", 400, "InvalidInputException",
         "You specified an invalid value for nextToken."},
        {"ce", 400, "InvalidNextTokenException", "Invalid pagination token"},
        {"cloudtrail", 400, "InvalidNextTokenException", "Invalid NextToken"},
        {"monitoring", 400, "InvalidNextToken", "The service returned an invalid next token."},
        {"s3", 400, "InvalidArgument", "The continuation token provided is incorrect"},
    };
    const char *svc = c->svc ? c->svc->signing_name : "";
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
        if (strcmp(svc, refusals[i].service) == 0)
            return call_error(c, refusals[i].status, refusals[i].code, "%s: '%s'",
                              refusals[i].message, token);
    return call_error(c, 400, "InvalidParameterValue", "Invalid pagination token: '%s'", token);
}

bool call_page_offset(sbx_call *c, const char *token, size_t *offset)
{
    *offset = 0;
    if (token == NULL || *token == '\0')
        return true;
    if (strlen(token) != 32)
        return bad_token(c, token);
    for (const char *p = token; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return bad_token(c, token);
    char a[17], b[17];
    memcpy(a, token, 16);
    a[16] = '\0';
    memcpy(b, token + 16, 16);
    b[16] = '\0';
    uint64_t x = strtoull(a, NULL, 16), h = strtoull(b, NULL, 16);
    if (h != selection_hash(c))
        return bad_token(c, token);
    uint64_t off = x ^ (h * 0x9e3779b97f4a7c15ULL);
    if (off > (uint64_t)1 << 40)
        return bad_token(c, token);
    *offset = (size_t)off;
    return true;
}

/* ---- call log ---- */

static json_t *mask_json(const char *key, json_t *v)
{
    if (key && log_key_is_secret(key) && !paging_param(key))
        return json_string(LOG_REDACTED);
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            json_object_set_new(o, k, mask_json(k, x));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            json_array_append_new(a, mask_json(NULL, x));
        }
        return a;
    }
    return json_incref(v);
}

json_t *call_params_json(const sbx_call *c)
{
    if (c->json)
        return mask_json(NULL, c->json);
    json_t *o = json_object();
    for (size_t i = 0; i < c->nparams; i++) {
        const char *name = c->params[i].name;
        bool secret = log_key_is_secret(name) && !paging_param(name);
        json_object_set_new(o, name, json_string(secret ? LOG_REDACTED : c->params[i].value));
    }
    return o;
}
