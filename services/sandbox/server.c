/* The edge server: every AWS request arrives here, is authenticated with
 * SigV4, routed by the credential scope's service and the protocol's marker
 * (Action=, X-Amz-Target, method + path + query marker), throttled or
 * delayed by the faults, authorized by policy, handled, and answered in the
 * protocol's exact shape. One event loop, no threads, no sleeping: delays
 * are timers. */
#include "server.h"

#include "admin.h"
#include "auth.h"

#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- small helpers ---- */

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

static const char *reason_phrase(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {200, "OK"},
        {204, "No Content"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {409, "Conflict"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Error";
}

/* splitmix64: request ids need to be unique, not unpredictable. */
static uint64_t next_random(sbx_server *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void make_request_id(sbx_server *s, aws_protocol proto, char out[40])
{
    uint64_t a = next_random(s), b = next_random(s);
    if (proto == AWS_PROTO_REST_XML) {
        snprintf(out, 40, "%016llX", (unsigned long long)a);
        return;
    }
    snprintf(out, 40, "%08llx-%04llx-4%03llx-%04llx-%012llx", (unsigned long long)(a >> 32),
             (unsigned long long)((a >> 16) & 0xffff), (unsigned long long)(a & 0xfff),
             (unsigned long long)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* Regions AWS has; a scope naming anything else is refused as AWS does. */
static bool known_region(const char *r)
{
    static const char *const regions[] = {
        "us-east-1",      "us-east-2",      "us-west-1",      "us-west-2",      "af-south-1",
        "ap-east-1",      "ap-south-1",     "ap-south-2",     "ap-northeast-1", "ap-northeast-2",
        "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "ca-central-1",   "ca-west-1",      "eu-central-1",   "eu-central-2",   "eu-west-1",
        "eu-west-2",      "eu-west-3",      "eu-south-1",     "eu-south-2",     "eu-north-1",
        "il-central-1",   "me-south-1",     "me-central-1",   "sa-east-1",      "us-gov-east-1",
        "us-gov-west-1",  "cn-north-1",     "cn-northwest-1",
    };
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++)
        if (strcmp(r, regions[i]) == 0)
            return true;
    return false;
}

static const sbx_service *service_by_signing_name(const char *name)
{
    for (size_t i = 0; i < sbx_nservices; i++)
        if (strcmp(sbx_services[i]->signing_name, name) == 0)
            return sbx_services[i];
    return NULL;
}

static const sbx_action *action_by_name(const sbx_service *svc, const char *name, size_t n)
{
    for (size_t i = 0; i < svc->nactions; i++)
        if (strlen(svc->actions[i].name) == n && memcmp(svc->actions[i].name, name, n) == 0)
            return &svc->actions[i];
    return NULL;
}

/* ---- answers ---- */

static const char *content_type(const sbx_call *c)
{
    switch (c->proto) {
    case AWS_PROTO_EC2:
        return "text/xml;charset=UTF-8";
    case AWS_PROTO_JSON: {
        /* Answer in the JSON version the client spoke (the model's). */
        const char *ct = c->req_headers ? http_headers_get(c->req_headers, "Content-Type") : NULL;
        if (ct && strncmp(ct, "application/x-amz-json-1.0", 26) == 0)
            return "application/x-amz-json-1.0";
        return "application/x-amz-json-1.1";
    }
    case AWS_PROTO_REST_JSON:
        return "application/json";
    case AWS_PROTO_REST_XML:
        return "application/xml";
    case AWS_PROTO_QUERY:
        break;
    }
    return "text/xml";
}

static void put_escaped(strbuf *sb, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            strbuf_puts(sb, "&amp;");
            break;
        case '<':
            strbuf_puts(sb, "&lt;");
            break;
        case '>':
            strbuf_puts(sb, "&gt;");
            break;
        case '"':
            strbuf_puts(sb, "&quot;");
            break;
        case '\'':
            strbuf_puts(sb, "&apos;");
            break;
        default:
            strbuf_putc(sb, *s);
        }
    }
}

/* The error document of the call's protocol, replacing any partial answer. */
static void render_error(sbx_call *c)
{
    strbuf *b = &c->body;
    call_answer_reset(c);
    const char *code = c->err_code, *msg = c->err_message ? c->err_message : "";
    switch (c->proto) {
    case AWS_PROTO_EC2:
        strbuf_puts(b,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>");
        put_escaped(b, code);
        strbuf_puts(b, "</Code><Message>");
        put_escaped(b, msg);
        strbuf_puts(b, "</Message></Error></Errors><RequestID>");
        strbuf_puts(b, c->request_id);
        strbuf_puts(b, "</RequestID></Response>");
        break;
    case AWS_PROTO_JSON:
    case AWS_PROTO_REST_JSON: {
        json_t *o = json_pack("{s:s, s:s}", "__type", code, "message", msg);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        strbuf_puts(b, text ? text : "{}");
        free(text);
        json_decref(o);
        break;
    }
    case AWS_PROTO_REST_XML:
        strbuf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        put_escaped(b, code);
        strbuf_puts(b, "</Code><Message>");
        put_escaped(b, msg);
        strbuf_puts(b, "</Message><RequestId>");
        strbuf_puts(b, c->request_id);
        strbuf_puts(b, "</RequestId><HostId>");
        strbuf_puts(b, c->request_id);
        strbuf_puts(b, "</HostId></Error>");
        break;
    case AWS_PROTO_QUERY:
        strbuf_puts(b, "<ErrorResponse");
        if (c->svc && c->svc->xml_namespace) {
            strbuf_puts(b, " xmlns=\"");
            strbuf_puts(b, c->svc->xml_namespace);
            strbuf_putc(b, '"');
        }
        strbuf_puts(b, "><Error><Type>");
        strbuf_puts(b, c->status >= 500 ? "Receiver" : "Sender");
        strbuf_puts(b, "</Type><Code>");
        put_escaped(b, code);
        strbuf_puts(b, "</Code><Message>");
        put_escaped(b, msg);
        strbuf_puts(b, "</Message></Error><RequestId>");
        strbuf_puts(b, c->request_id);
        strbuf_puts(b, "</RequestId></ErrorResponse>");
        break;
    }
}

/* Writes what precedes the handler's output, so the handler appends in
 * place and nothing is copied afterwards. */
static void render_prefix(sbx_call *c)
{
    strbuf *b = &c->body;
    const char *op = c->act->name;
    const char *ns = c->svc->xml_namespace ? c->svc->xml_namespace : "";
    switch (c->proto) {
    case AWS_PROTO_QUERY:
        strbuf_printf(b, "<%sResponse xmlns=\"%s\"><%sResult>", op, ns, op);
        break;
    case AWS_PROTO_EC2:
        strbuf_printf(b,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse "
                      "xmlns=\"%s\"><requestId>%s</requestId>",
                      op, ns, c->request_id);
        break;
    case AWS_PROTO_REST_XML:
        strbuf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        break;
    default:
        break;
    }
}

static void render_suffix(sbx_call *c, size_t prefix_len)
{
    strbuf *b = &c->body;
    const char *op = c->act->name;
    switch (c->proto) {
    case AWS_PROTO_QUERY:
        strbuf_printf(b,
                      "</%sResult><ResponseMetadata><RequestId>%s</RequestId></"
                      "ResponseMetadata></%sResponse>",
                      op, c->request_id, op);
        break;
    case AWS_PROTO_EC2:
        strbuf_printf(b, "</%sResponse>", op);
        break;
    case AWS_PROTO_REST_XML:
        if (b->len == prefix_len && c->nsplices == 0) /* HeadBucket, PutX: no document */
            call_answer_reset(c);
        break;
    case AWS_PROTO_JSON:
    case AWS_PROTO_REST_JSON: {
        char *text = c->json_reply ? json_dumps(c->json_reply, JSON_COMPACT) : NULL;
        call_answer_reset(c);
        strbuf_puts(b, text ? text : "{}");
        free(text);
        break;
    }
    }
}

/* ---- routing ---- */

/* The protocol a request speaks, from its markers, for answering before the
 * service is known (missing or unparseable signature, unknown service). */
static aws_protocol guess_protocol(const sbx_call *c)
{
    if (c->req_headers && http_headers_get(c->req_headers, "X-Amz-Target"))
        return AWS_PROTO_JSON;
    for (size_t i = 0; i < c->nparams; i++)
        if (strcmp(c->params[i].name, "Action") == 0) {
            const char *v = call_param(c, "Version");
            return v && strcmp(v, "2016-11-15") == 0 ? AWS_PROTO_EC2 : AWS_PROTO_QUERY;
        }
    return AWS_PROTO_REST_XML;
}

static bool query_has_key(const char *q, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= n && strncmp(p, key, n) == 0 && (len == n || p[n] == '='))
            return true;
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

static char *decode_segment(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0') {
                out[o++] = (char)v;
                i += 2;
                continue;
            }
        }
        out[o++] = s[i];
    }
    out[o] = '\0';
    return out;
}

/* S3: the bucket from a virtual host (bucket.localhost) or the path. */
static void rest_bucket(sbx_call *c, const char *path)
{
    const char *host = c->req_headers ? http_headers_get(c->req_headers, "Host") : NULL;
    const char *dot = host ? strstr(host, ".localhost") : NULL;
    if (dot && dot > host) {
        c->bucket = xstrndup(host, (size_t)(dot - host));
        return;
    }
    const char *p = path + (*path == '/');
    size_t n = strcspn(p, "/");
    c->bucket = decode_segment(p, n);
}

static bool route_rest(sbx_call *c, const char *query)
{
    bool has_bucket = c->bucket && *c->bucket;
    const sbx_action *plain = NULL;
    for (size_t i = 0; i < c->svc->nactions; i++) {
        const sbx_action *a = &c->svc->actions[i];
        if (!a->rest_method || strcmp(a->rest_method, c->method) != 0 ||
            a->rest_bucket != has_bucket)
            continue;
        if (a->rest_marker == NULL) {
            if (!plain)
                plain = a;
        } else if (query_has_key(query, a->rest_marker)) {
            c->act = a;
            return true;
        }
    }
    c->act = plain;
    if (plain)
        return true;
    return call_error(c, 501, "NotImplemented",
                      "A header you provided implies functionality that is not implemented");
}

static bool route(sbx_call *c, const char *query)
{
    const sbx_service *svc = c->svc;
    if (svc->protocol == AWS_PROTO_JSON || svc->protocol == AWS_PROTO_REST_JSON) {
        const char *target = http_headers_get(c->req_headers, "X-Amz-Target");
        const char *dot = target ? strrchr(target, '.') : NULL;
        size_t plen = dot ? (size_t)(dot - target) : 0;
        if (dot && svc->json_target && strlen(svc->json_target) == plen &&
            strncmp(target, svc->json_target, plen) == 0)
            c->act = action_by_name(svc, dot + 1, strlen(dot + 1));
        if (!c->act)
            return call_error(c, 400, "UnknownOperationException", "Unknown operation %s",
                              target ? target : "(no X-Amz-Target)");
        json_error_t je;
        if (c->req_body_len == 0) {
            c->json = json_object();
        } else {
            c->json = json_loadb(c->req_body, c->req_body_len, 0, &je);
            if (!json_is_object(c->json))
                return call_error(c, 400, "SerializationException",
                                  "Start of structure or map found where not expected.");
        }
        return true;
    }
    if (svc->protocol == AWS_PROTO_REST_XML)
        return route_rest(c, query);
    const char *action = call_param(c, "Action");
    const char *version = call_param(c, "Version");
    if (action == NULL)
        return call_error(c, 400, "MissingAction", "Missing Action");
    c->act = action_by_name(svc, action, strlen(action));
    if (c->act)
        return true;
    if (svc->protocol == AWS_PROTO_EC2)
        return call_error(c, 400, "InvalidAction",
                          "The action %s is not valid for this web service.", action);
    return call_error(c, 400, "InvalidAction", "Could not find operation %s for version %s", action,
                      version ? version : "NO_VERSION_SPECIFIED");
}

/* Scope checks that need the service table: the service must be one we
 * serve and the region one AWS has (us-east-1 for the global services). */
static auth_status check_scope(sbx_call *c, sbx_auth *a)
{
    c->svc = service_by_signing_name(a->service);
    if (c->svc == NULL) {
        snprintf(a->detail, sizeof a->detail,
                 "Credential should be scoped to correct service: '%s' is not a service this "
                 "endpoint serves.",
                 a->service);
        return AUTH_BAD_SCOPE;
    }
    c->proto = c->svc->protocol;
    if (!known_region(a->region) || (c->svc->global && strcmp(a->region, "us-east-1") != 0)) {
        snprintf(a->detail, sizeof a->detail,
                 "Credential should be scoped to a valid region, not '%s'. ", a->region);
        return AUTH_BAD_SCOPE;
    }
    return AUTH_OK;
}

/* ---- one request ---- */

static void throttle_error(sbx_call *c)
{
    switch (c->proto) {
    case AWS_PROTO_EC2:
        call_error(c, 503, "RequestLimitExceeded", "Request limit exceeded.");
        break;
    case AWS_PROTO_JSON:
    case AWS_PROTO_REST_JSON:
        call_error(c, 400, "ThrottlingException", "Rate exceeded");
        break;
    case AWS_PROTO_REST_XML:
        call_error(c, 503, "SlowDown", "Please reduce your request rate.");
        break;
    case AWS_PROTO_QUERY:
        call_error(c, 400, "Throttling", "Rate exceeded");
        break;
    }
}

static void server_error(sbx_call *c, int status)
{
    bool unavailable = status == 503;
    switch (c->proto) {
    case AWS_PROTO_EC2:
        if (unavailable)
            call_error(c, 503, "Unavailable", "The server is overloaded or unavailable.");
        else
            call_error(c, 500, "InternalError", "An internal error has occurred.");
        break;
    case AWS_PROTO_REST_XML:
        if (unavailable)
            call_error(c, 503, "ServiceUnavailable", "Please reduce your request rate.");
        else
            call_error(c, 500, "InternalError",
                       "We encountered an internal error. Please try again.");
        break;
    case AWS_PROTO_JSON:
    case AWS_PROTO_REST_JSON:
        if (unavailable)
            call_error(c, 503, "ServiceUnavailableException", "Service is unavailable.");
        else
            call_error(c, 500, "InternalFailure",
                       "The request processing has failed because of an unknown error, "
                       "exception or failure.");
        break;
    case AWS_PROTO_QUERY:
        if (unavailable)
            call_error(c, 503, "ServiceUnavailable", "Service is unavailable.");
        else
            call_error(c, 500, "InternalFailure",
                       "The request processing has failed because of an unknown error, "
                       "exception or failure.");
        break;
    }
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void log_call(sbx_server *s, sbx_call *c, const sbx_auth *a)
{
    calllog_entry e = {0};
    e.time = c->now;
    e.access_key_id = a->key_id[0] ? xstrdup(a->key_id) : NULL;
    const sbx_principal *p = &c->principal;
    if (c->have_principal) {
        e.principal_arn = dup_or_null(p->arn);
        e.account = p->account ? xstrdup(p->account->id) : NULL;
        if (p->session) {
            e.assumed_role_arn = dup_or_null(p->session->role_arn);
            e.session_name = dup_or_null(p->session->session_name);
            e.session_policy = dup_or_null(p->session->policy);
            e.source_identity = dup_or_null(p->session->source_identity);
            e.external_id = dup_or_null(p->session->external_id);
        }
    }
    e.service =
        c->svc ? xstrdup(c->svc->signing_name) : dup_or_null(a->service[0] ? a->service : NULL);
    e.action = c->act ? xstrdup(c->act->name) : NULL;
    e.region = c->region[0] ? xstrdup(c->region) : NULL;
    e.params = call_params_json(c);
    e.status = c->err_code ? c->status : 200;
    e.error_code = dup_or_null(c->err_code);
    e.note = c->note.len ? xstrdup(c->note.buf) : NULL;
    e.request_id = xstrdup(c->request_id);
    calllog_add(s->log, &e);
}

/* Authenticates, routes, applies faults, authorizes and runs the handler.
 * Leaves the answer (or error) in c; *fd receives the fault decision. */
static void serve(sbx_server *s, sbx_call *c, const sbx_http *h, sbx_auth *a, fault_decision *fd)
{
    memset(fd, 0, sizeof *fd);
    auth_status st = auth_parse(h, a);
    if (st == AUTH_OK)
        st = check_scope(c, a);
    if (st == AUTH_OK) {
        snprintf(c->region, sizeof c->region, "%s", a->region);
        st = auth_check_time(a, timeutil_now());
    }
    if (st == AUTH_OK) {
        if (c->proto == AWS_PROTO_REST_XML)
            rest_bucket(c, h->path);
        st = auth_verify(h, a, c->w, c->now, c->proto == AWS_PROTO_REST_XML, &c->principal);
        c->have_principal = st == AUTH_OK || st == AUTH_EXPIRED_TOKEN || st == AUTH_BAD_SIGNATURE ||
                            st == AUTH_BAD_TOKEN;
        if (c->have_principal && c->principal.account == NULL)
            c->have_principal = false;
    }
    if (st != AUTH_OK) {
        if (c->svc == NULL)
            c->proto = guess_protocol(c);
        int status;
        const char *code;
        char msg[700];
        auth_error(st, c->proto, a, &status, &code, msg, sizeof msg);
        call_error(c, status, code, "%s", msg);
        /* A failed signature proves nothing about who sent it. */
        c->have_principal = c->have_principal && st == AUTH_EXPIRED_TOKEN;
        return;
    }
    if (!route(c, h->query))
        return;
    faults_decide(s->faults, c->principal.account->id, c->region, c->act->cls, c->svc->signing_name,
                  c->act->name, timeutil_mono_ms(), fd);
    if (fd->drop)
        return;
    if (fd->throttled) {
        throttle_error(c);
        return;
    }
    if (fd->error_status) {
        server_error(c, fd->error_status);
        return;
    }
    if (!c->act->per_resource && !call_authorize(c, "*"))
        return;
    size_t prefix_len;
    render_prefix(c);
    prefix_len = c->body.len;
    bool ok = c->act->fn(c);
    if (!ok && c->err_code == NULL)
        call_error(c, 500, "InternalFailure", "%s failed without saying why", c->act->name);
    if (c->err_code == NULL)
        render_suffix(c, prefix_len);
}

/* ---- delayed answers ---- */

typedef struct pending {
    sbx_server *s;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    struct event *timer;
    int status;
    struct evbuffer *body;
    struct pending *prev, *next;
} pending;

static void pending_unlink(pending *p)
{
    sbx_server *s = p->s;
    if (p->prev)
        p->prev->next = p->next;
    else
        s->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    event_free(p->timer);
    if (p->body)
        evbuffer_free(p->body);
    free(p);
}

/* The client went away while its answer waited: forget the answer. */
static void pending_closed(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    pending_unlink(arg);
}

static void pending_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pending *p = arg;
    evhttp_connection_set_closecb(p->conn, NULL, NULL);
    evhttp_send_reply(p->req, p->status, reason_phrase(p->status), p->body);
    pending_unlink(p);
}

static void send_later(sbx_server *s, struct evhttp_request *req, int status, struct evbuffer *body,
                       uint32_t ms)
{
    pending *p = xcalloc(1, sizeof *p);
    p->s = s;
    p->req = req;
    p->conn = evhttp_request_get_connection(req);
    p->status = status;
    p->body = body;
    p->timer = evtimer_new(s->base, pending_fire, p);
    p->next = s->pending;
    if (s->pending)
        s->pending->prev = p;
    s->pending = p;
    evhttp_connection_set_closecb(p->conn, pending_closed, p);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(p->timer, &tv);
}

/* Answer buffers are reused: a DescribeInstances page is ~100 KiB, and a
 * fresh buffer per request costs its growth copies and cold cache lines
 * (measured: a quarter of the handler's time). A buffer travels to the
 * socket by reference, as one span or as the spans between spliced
 * fragments, and comes back when libevent has written the last span. */
typedef struct bodybuf {
    sbx_server *s;
    char *buf;
    size_t cap;
    size_t spans; /* references held by output buffers */
    struct bodybuf *next;
} bodybuf;

#define SPARE_MAX 64

static bodybuf *bodybuf_take(sbx_server *s, strbuf *sb)
{
    bodybuf *b = s->spare;
    if (b) {
        s->spare = b->next;
        s->nspare--;
        sb->buf = b->buf;
        sb->cap = b->cap;
        sb->len = 0;
        sb->buf[0] = '\0';
    } else {
        b = xcalloc(1, sizeof *b);
        b->s = s;
    }
    b->buf = NULL;
    return b;
}

static void bodybuf_give(bodybuf *b)
{
    sbx_server *s = b->s;
    if (b->buf && s->nspare < SPARE_MAX) {
        b->next = s->spare;
        s->spare = b;
        s->nspare++;
        return;
    }
    free(b->buf);
    free(b);
}

static void bodybuf_written(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    bodybuf *b = arg;
    if (--b->spans == 0)
        bodybuf_give(b);
}

static void frag_written(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    sbx_frag_unref(arg);
}

/* Queues body[from..to) by reference. */
static void add_span(struct evbuffer *ob, bodybuf *bb, size_t from, size_t to)
{
    if (to <= from)
        return;
    bb->spans++;
    evbuffer_add_reference(ob, bb->buf + from, to - from, bodybuf_written, bb);
}

/* Moves the answer into ob without copying: body spans and the spliced
 * fragments by reference, each released once written. Takes bb (the
 * body's buffer) when any span refers to it; returns whether it did. */
static bool queue_answer(sbx_call *c, struct evbuffer *ob, bodybuf *bb)
{
    bb->cap = c->body.cap;
    bb->buf = c->body.buf;
    bb->spans = 1; /* ours, while queueing */
    size_t from = 0;
    for (size_t i = 0; i < c->nsplices; i++) {
        sbx_splice *sp = &c->splices[i];
        add_span(ob, bb, from, sp->at);
        from = sp->at;
        size_t n;
        const char *data = sbx_frag_data(sp->frag, &n);
        /* The answer's reference moves to the output buffer. */
        evbuffer_add_reference(ob, data + sp->off, sp->len, frag_written, sp->frag);
    }
    c->nsplices = 0;
    add_span(ob, bb, from, c->body.len);
    if (--bb->spans == 0) {
        bb->buf = NULL;
        return false;
    }
    c->body.buf = NULL;
    c->body.len = c->body.cap = 0;
    return true;
}

/* Closes the client's connection without an answer (an injected fault). */
static void drop_connection(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    evhttp_send_error(req, 500, "dropped");
}

static void on_request(struct evhttp_request *req, void *arg)
{
    sbx_server *s = arg;
    sbx_call c;
    call_init(&c);
    c.srv = s;
    c.w = s->w;
    c.now = world_now(s->w);
    c.state_delay = s->cfg.state_delay;
    bodybuf *bb = bodybuf_take(s, &c.body);
    c.method = method_name(evhttp_request_get_command(req));

    /* The URI as sent: the signature covers it byte for byte. */
    const char *uri = evhttp_request_get_uri(req);
    const char *qmark = strchr(uri, '?');
    char *path = qmark ? xstrndup(uri, (size_t)(qmark - uri)) : xstrdup(uri);
    const char *query = qmark ? qmark + 1 : "";
    c.path = path;

    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    http_header hstack[64];
    http_headers hview = {hstack, 0, sizeof hstack / sizeof hstack[0]};
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, in, next)
    {
        if (hview.count == hview.cap)
            break;
        hview.items[hview.count].name = kv->key;
        hview.items[hview.count].value = kv->value;
        hview.count++;
    }
    c.req_headers = &hview;

    struct evbuffer *ib = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(ib);
    char *body = xmalloc(blen + 1);
    if (blen)
        evbuffer_copyout(ib, body, blen);
    body[blen] = '\0';
    c.req_body = body;
    c.req_body_len = blen;

    char *peer = NULL;
    ev_uint16_t peer_port = 0;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    if (conn)
        evhttp_connection_get_peer(conn, &peer, &peer_port);
    c.source_ip = peer;

    /* Query/EC2 parameters: the query string, then a form body. */
    if (*query)
        call_parse_form(&c, query, strlen(query));
    const char *ct = http_headers_get(&hview, "Content-Type");
    if (blen && ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
        call_parse_form(&c, body, blen);

    c.proto = guess_protocol(&c);
    make_request_id(s, c.proto, c.request_id);

    sbx_http h = {c.method, path, query, &hview, body, blen};
    sbx_auth a;
    fault_decision fd;
    serve(s, &c, &h, &a, &fd);
    if (c.err_code)
        render_error(&c);
    log_call(s, &c, &a);

    if (fd.drop) {
        drop_connection(req);
    } else {
        struct evkeyvalq *out = evhttp_request_get_output_headers(req);
        evhttp_add_header(out, "Content-Type", content_type(&c));
        if (c.proto == AWS_PROTO_REST_XML) {
            evhttp_add_header(out, "x-amz-request-id", c.request_id);
            evhttp_add_header(out, "x-amz-id-2", c.request_id);
        } else {
            evhttp_add_header(out, "x-amzn-RequestId", c.request_id);
        }
        for (size_t i = 0; i < c.headers.count; i++)
            evhttp_add_header(out, c.headers.items[i].name, c.headers.items[i].value);
        int status = c.err_code ? c.status : 200;
        struct evbuffer *ob = evbuffer_new();
        /* HEAD answers carry no body: one would corrupt the next answer
         * on a kept-alive connection. */
        if (strcmp(c.method, "HEAD") != 0 && queue_answer(&c, ob, bb))
            bb = NULL;
        if (fd.latency_ms)
            send_later(s, req, status, ob, fd.latency_ms);
        else {
            evhttp_send_reply(req, status, reason_phrase(status), ob);
            evbuffer_free(ob);
        }
    }
    if (bb) { /* not handed to the socket: keep the buffer for the next call */
        bb->cap = c.body.cap;
        bb->buf = c.body.buf;
        c.body.buf = NULL;
        c.body.len = c.body.cap = 0;
        bodybuf_give(bb);
    }
    call_release(&c);
    free(path);
    free(body);
}

/* ---- lifetime ---- */

world *sbx_world_build(const sbx_world_source *src, err *e)
{
    if (src->world_file == NULL) {
        world_params p = src->params;
        if (p.now == 0)
            p.now = timeutil_now();
        return world_generate(&p, e);
    }
    FILE *f = fopen(src->world_file, "rb");
    if (f == NULL) {
        err_set(e, ERR_IO, "cannot open world file '%s'", src->world_file);
        return NULL;
    }
    strbuf sb = STRBUF_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_append(&sb, buf, n);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        strbuf_free(&sb);
        err_set(e, ERR_IO, "cannot read world file '%s'", src->world_file);
        return NULL;
    }
    world *w = world_load_json(strbuf_str(&sb), e);
    strbuf_free(&sb);
    if (w == NULL)
        err_prefix(e, "world file '%s'", src->world_file);
    /* The parse tree of a large world is several times the world; give
     * its pages back instead of keeping them as free heap. */
    malloc_trim(0);
    return w;
}

/* libevent writes at most 16 KiB per event-loop turn on a connection by
 * default: a 100 KiB DescribeInstances page then costs seven writev calls,
 * seven loop turns and seven wake-ups of the reader. One write per answer. */
#define MAX_SINGLE_WRITE (4 << 20)

static struct bufferevent *new_connection_bev(struct event_base *base, void *arg)
{
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev)
        bufferevent_set_max_single_write(bev, MAX_SINGLE_WRITE);
    return bev;
}

static struct evhttp *listen_on(struct event_base *base, const char *addr, int port,
                                int *bound_port, err *e)
{
    struct evhttp *http = evhttp_new(base);
    if (http == NULL) {
        err_set(e, ERR_INTERNAL, "evhttp_new failed");
        return NULL;
    }
    struct evhttp_bound_socket *sock =
        evhttp_bind_socket_with_handle(http, addr, (ev_uint16_t)port);
    if (sock == NULL) {
        evhttp_free(http);
        err_set(e, ERR_IO, "cannot listen on %s:%d", addr, port);
        return NULL;
    }
    /* Answers leave in more than one segment (headers, then a large body);
     * with Nagle on, the last one waits for the client's delayed ACK, some
     * 40 ms per request. Linux hands the option to accepted sockets. */
    int one = 1;
    setsockopt(evhttp_bound_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int sndbuf = 1 << 20;
    setsockopt(evhttp_bound_socket_get_fd(sock), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound_port = port;
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_max_body_size(http, 32 << 20);
    evhttp_set_timeout(http, 120);
    evhttp_set_bevcb(http, new_connection_bev, NULL);
    return http;
}

sbx_server *sbx_server_new(struct event_base *base, const sbx_server_config *cfg, world *w,
                           const sbx_world_source *src, logger *log, err *e)
{
    sbx_server *s = xcalloc(1, sizeof *s);
    s->base = base;
    s->cfg = *cfg;
    s->w = w;
    s->src = src;
    s->logger = log;
    s->rng = (uint64_t)timeutil_now_ms() ^ ((uint64_t)getpid() << 32);
    faults_config fc = {cfg->throttle, cfg->latency_ms, cfg->error_rate, cfg->fault_seed};
    s->faults = faults_new(&fc);
    s->log = calllog_new(cfg->calllog_cap ? cfg->calllog_cap : 100000);
    s->http = listen_on(base, cfg->listen, cfg->port, &s->port, e);
    if (s->http == NULL)
        goto fail;
    evhttp_set_gencb(s->http, on_request, s);
    if (cfg->admin_port >= 0) {
        s->admin = listen_on(base, cfg->listen, cfg->admin_port, &s->admin_port, e);
        if (s->admin == NULL)
            goto fail;
        evhttp_set_gencb(s->admin, admin_on_request, s);
    }
    return s;
fail:
    s->w = NULL; /* the caller still owns the world on failure */
    sbx_server_free(s);
    return NULL;
}

void sbx_server_free(sbx_server *s)
{
    if (s == NULL)
        return;
    while (s->pending) {
        evhttp_connection_set_closecb(s->pending->conn, NULL, NULL);
        pending_unlink(s->pending);
    }
    if (s->http)
        evhttp_free(s->http);
    if (s->admin)
        evhttp_free(s->admin);
    while (s->spare) {
        bodybuf *b = s->spare;
        s->spare = b->next;
        free(b->buf);
        free(b);
    }
    faults_free(s->faults);
    calllog_free(s->log);
    world_free(s->w);
    free(s);
}

int sbx_server_port(const sbx_server *s)
{
    return s->port;
}

int sbx_server_admin_port(const sbx_server *s)
{
    return s->admin_port;
}

world *sbx_server_world(const sbx_server *s)
{
    return s->w;
}
