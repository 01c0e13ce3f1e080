/* The admin API. Routes are a table of (method, path, handler); every
 * answer is JSON, errors as {"error": "..."} with 400/404/405. */
#include "admin.h"

#include "server.h"

#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "policy.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

typedef struct admin_req {
    sbx_server *s;
    const char *query; /* raw, may be NULL */
    json_t *body;      /* parsed JSON body or NULL */
    int status;        /* answer status, 200 unless set */
    json_t *answer;    /* JSON answer (reference owned) */
    char *raw;         /* or a raw JSON text answer (GET /state) */
} admin_req;

static bool fail(admin_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(admin_req *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->status = status;
    json_decref(r->answer);
    r->answer = json_pack("{s:s}", "error", msg);
    return false;
}

static json_t *clock_json(const world *w)
{
    time_t now = world_now(w);
    char iso[TIMEUTIL_ISO8601_LEN];
    timeutil_format_iso8601(now, iso);
    return json_pack("{s:s, s:I, s:I}", "now", iso, "epoch", (json_int_t)now, "offset",
                     (json_int_t)w->clock_offset);
}

static bool do_healthz(admin_req *r)
{
    r->answer = json_pack("{s:b, s:I}", "ok", 1, "accounts", (json_int_t)r->s->w->naccounts);
    return true;
}

static bool do_reset(admin_req *r)
{
    sbx_server *s = r->s;
    err e;
    world *w = sbx_world_build(s->src, &e);
    if (w == NULL)
        return fail(r, 500, "cannot rebuild the world: %s", e.message);
    world_free(s->w);
    s->w = w;
    /* Session policies of the old world are gone; drop their parses. */
    policy_cache_clear();
    calllog_clear(s->log);
    faults_reset(s->faults);
    r->answer = json_pack("{s:b, s:I}", "ok", 1, "accounts", (json_int_t)w->naccounts);
    return true;
}

static bool do_clock_get(admin_req *r)
{
    r->answer = clock_json(r->s->w);
    return true;
}

static bool do_clock_advance(admin_req *r)
{
    json_t *sec = json_object_get(r->body, "seconds");
    if (!json_is_number(sec))
        return fail(r, 400, "body must be {\"seconds\": N}");
    double d = json_number_value(sec);
    if (d < 0 || d > 10.0 * 366 * 86400)
        return fail(r, 400, "seconds must be between 0 and ten years, not %g", d);
    r->s->w->clock_offset += (long)d;
    r->answer = clock_json(r->s->w);
    return true;
}

static bool do_faults_get(admin_req *r)
{
    r->answer = faults_to_json(r->s->faults);
    return true;
}

static bool do_faults_put(admin_req *r)
{
    err e;
    if (!faults_update(r->s->faults, r->body, &e))
        return fail(r, 400, "%s", e.message);
    r->answer = faults_to_json(r->s->faults);
    return true;
}

/* Value of query parameter name as an unsigned integer; def when absent. */
static bool query_uint(admin_req *r, const char *name, unsigned long long def,
                       unsigned long long *out)
{
    *out = def;
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    if (r->query && evhttp_parse_query_str(r->query, &q) != 0)
        return fail(r, 400, "cannot parse the query '%s'", r->query);
    const char *v = evhttp_find_header(&q, name);
    bool ok = true;
    if (v) {
        char *end;
        *out = strtoull(v, &end, 10);
        if (*v == '\0' || *end || *v == '-')
            ok = fail(r, 400, "%s must be a non-negative integer, not '%s'", name, v);
    }
    evhttp_clear_headers(&q);
    return ok;
}

static bool do_calls_get(admin_req *r)
{
    unsigned long long since, limit;
    if (!query_uint(r, "since", 0, &since) || !query_uint(r, "limit", 0, &limit))
        return false;
    r->answer = calllog_since(r->s->log, since, (size_t)limit);
    return true;
}

static bool do_calls_delete(admin_req *r)
{
    calllog_clear(r->s->log);
    r->answer = json_pack("{s:b, s:I}", "ok", 1, "next", (json_int_t)calllog_last_seq(r->s->log));
    return true;
}

static bool do_state(admin_req *r)
{
    /* Transitions are applied lazily, when a region is next called; the dump
     * settles every region first, so it shows what AWS would answer now
     * (an instance past its stopping delay is stopped) whichever regions
     * were called since. */
    world *w = r->s->w;
    time_t now = world_now(w);
    for (size_t a = 0; a < w->naccounts; a++)
        for (size_t i = 0; i < w->accounts[a]->nregions; i++)
            world_settle(w->accounts[a]->regions[i], now);
    r->raw = world_save_json(w);
    return true;
}

typedef struct admin_route {
    enum evhttp_cmd_type method;
    const char *path;
    bool (*fn)(admin_req *r);
    bool body; /* expects a JSON body */
} admin_route;

static const admin_route ROUTES[] = {
    {EVHTTP_REQ_GET, "/healthz", do_healthz, false},
    {EVHTTP_REQ_POST, "/reset", do_reset, false},
    {EVHTTP_REQ_GET, "/clock", do_clock_get, false},
    {EVHTTP_REQ_POST, "/clock/advance", do_clock_advance, true},
    {EVHTTP_REQ_GET, "/faults", do_faults_get, false},
    {EVHTTP_REQ_PUT, "/faults", do_faults_put, true},
    {EVHTTP_REQ_GET, "/calls", do_calls_get, false},
    {EVHTTP_REQ_DELETE, "/calls", do_calls_delete, false},
    {EVHTTP_REQ_GET, "/state", do_state, false},
};

static void dispatch(admin_req *r, struct evhttp_request *req, const char *path)
{
    bool path_known = false;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        const admin_route *rt = &ROUTES[i];
        if (strcmp(rt->path, path) != 0)
            continue;
        path_known = true;
        if (rt->method != method)
            continue;
        if (rt->body) {
            struct evbuffer *in = evhttp_request_get_input_buffer(req);
            size_t n = evbuffer_get_length(in);
            json_error_t je;
            r->body = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)n), n, 0, &je);
            if (!json_is_object(r->body)) {
                fail(r, 400, "the body must be a JSON object: %s", je.text);
                return;
            }
        }
        rt->fn(r);
        return;
    }
    if (path_known)
        fail(r, 405, "method not allowed on %s", path);
    else
        fail(r, 404,
             "no admin route %s (see /healthz, /reset, /clock, /clock/advance, /faults, "
             "/calls, /state)",
             path);
}

void admin_on_request(struct evhttp_request *req, void *arg)
{
    admin_req r = {.s = arg, .status = 200};
    const char *uri = evhttp_request_get_uri(req);
    const char *q = strchr(uri, '?');
    char *path = q ? xstrndup(uri, (size_t)(q - uri)) : xstrdup(uri);
    r.query = q ? q + 1 : NULL;
    dispatch(&r, req, path);

    struct evbuffer *out = evbuffer_new();
    if (r.raw) {
        evbuffer_add(out, r.raw, strlen(r.raw));
        free(r.raw);
        malloc_trim(0); /* the dump of a large world is ~100 MiB of transient heap */
    } else {
        if (r.answer == NULL)
            r.answer = json_object();
        char *text = json_dumps(r.answer, JSON_COMPACT);
        if (text)
            evbuffer_add(out, text, strlen(text));
        free(text);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, r.status, r.status == 200 ? "OK" : "Error", out);
    evbuffer_free(out);
    json_decref(r.answer);
    json_decref(r.body);
    free(path);
}
