/* AWS for jobs: broker gets, session clients and calls through the gate.
 * See worker_aws.h. */
#include "worker_aws.h"

#include "aws/retry.h"
#include "core/xmalloc.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_REGION "us-east-1"

typedef struct op op;

struct waws_session {
    waws *w;
    aws_client *client;
    credprov *creds; /* a static provider holding the session's copy; wiped on free */
    char *account;
    size_t calls;       /* calls submitted and not yet reported */
    bool closing;       /* free once calls reaches 0 */
    struct event *reap; /* frees the session on the loop */
    waws_session *prev, *next;
};

struct waws {
    struct event_base *base;
    aws_client_options copts;
    char *endpoint_url, *region, *ca_file; /* copies behind copts */
    broker *broker;
    wgate *gate;
    waws_session *sessions;
    op *early; /* ops refused inside their own submit, reported from a timer */
};

/* One broker get or one session call on its way through the gate. */
struct op {
    waws *w;
    waws_session *s; /* calls only */
    /* broker get: the request and the strings it points to */
    broker_request br;
    char **actions;
    waws_creds_fn creds_done;
    /* session call: the request copy and its strings */
    aws_request req;
    char *service, *operation, *region, *method, *path, *query;
    aws_done_fn call_done;
    void *arg;
    bool submitting; /* inside wgate_submit: a refusal must be deferred */
    bool refused;
    err why;
    struct event *timer;
    op *next, *prev;
};

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

waws *waws_new(struct event_base *base, const aws_client_options *client_opts, broker *b,
               ratelimit *rl, int max_in_flight, const logger *log)
{
    waws *w = xcalloc(1, sizeof *w);
    w->base = base;
    if (client_opts)
        w->copts = *client_opts;
    w->endpoint_url = dup_or_null(w->copts.endpoint_url);
    w->region = xstrdup(w->copts.region && *w->copts.region ? w->copts.region : DEFAULT_REGION);
    w->ca_file = dup_or_null(w->copts.ca_file);
    w->copts.endpoint_url = w->endpoint_url;
    w->copts.region = w->region;
    w->copts.ca_file = w->ca_file;
    w->broker = b;
    w->gate = wgate_new(base, rl, max_in_flight, log);
    return w;
}

/* ---- ops ---- */

static void op_free(op *o)
{
    if (o->timer)
        event_free(o->timer);
    if (o->actions) {
        for (size_t i = 0; i < o->br.nactions; i++)
            free(o->actions[i]);
        free(o->actions);
    }
    free((char *)o->br.role_arn);
    free((char *)o->br.external_id);
    free((char *)o->br.job_id);
    free((char *)o->br.source_identity);
    aws_request_free(&o->req);
    free(o->service);
    free(o->operation);
    free(o->region);
    free(o->method);
    free(o->path);
    free(o->query);
    free(o);
}

static void session_call_ended(waws_session *s);

/* Reports o's failure e to its caller and frees o. */
static void op_fail(op *o, const err *e)
{
    if (o->creds_done) {
        o->creds_done(NULL, e, o->arg);
    } else {
        waws_session *s = o->s;
        o->call_done(NULL, e, o->arg);
        session_call_ended(s);
    }
    op_free(o);
}

static void early_unlink(waws *w, op *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        w->early = o->next;
    if (o->next)
        o->next->prev = o->prev;
    o->prev = o->next = NULL;
}

static void on_early(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    op *o = arg;
    early_unlink(o->w, o);
    op_fail(o, &o->why);
}

/* A refusal: reported now, or from a timer when still inside the submit
 * (callbacks never run inside waws_assume or waws_call). */
static void op_refused(op *o, const err *refused)
{
    if (!o->submitting) {
        op_fail(o, refused);
        return;
    }
    o->refused = true;
    o->why = *refused;
}

static void op_submit(op *o, const char *account, const char *region, ratelimit_class cls,
                      wgate_go_fn go)
{
    waws *w = o->w;
    o->submitting = true;
    wgate_submit(w->gate, account, region, cls, go, o);
    o->submitting = false;
    if (!o->refused)
        return;
    o->timer = evtimer_new(w->base, on_early, o);
    struct timeval zero = {0, 0};
    if (o->timer == NULL || evtimer_add(o->timer, &zero) != 0)
        abort(); /* libevent cannot arm a timer: nothing on this loop would work */
    o->next = w->early;
    if (w->early)
        w->early->prev = o;
    w->early = o;
}

/* ---- broker gets ---- */

static void on_creds(aws_creds *creds, const err *e, void *arg)
{
    op *o = arg;
    if (o->w->gate)
        wgate_done(o->w->gate);
    o->creds_done(creds, e, o->arg);
    op_free(o);
}

static void assume_go(void *arg, const err *refused)
{
    op *o = arg;
    if (refused) {
        op_refused(o, refused);
        return;
    }
    err e = {0};
    if (!broker_get_async(o->w->broker, &o->br, on_creds, o, &e)) {
        wgate_done(o->w->gate);
        op_refused(o, &e);
    }
}

/* The account of arn:<partition>:iam::<account>:role/<name>, or "unknown". */
static void arn_account(const char *arn, char out[16])
{
    snprintf(out, 16, "unknown");
    const char *p = arn;
    for (int colons = 0; p && *p && colons < 4; p++)
        if (*p == ':')
            colons++;
    if (p == NULL)
        return;
    size_t n = strcspn(p, ":");
    if (n >= 1 && n <= 12)
        snprintf(out, 16, "%.*s", (int)n, p);
}

void waws_assume(waws *w, const broker_request *r, waws_creds_fn done, void *arg)
{
    op *o = xcalloc(1, sizeof *o);
    o->w = w;
    o->creds_done = done;
    o->arg = arg;
    o->br = *r;
    o->br.role_arn = dup_or_null(r->role_arn);
    o->br.external_id = dup_or_null(r->external_id);
    o->br.job_id = dup_or_null(r->job_id);
    o->br.source_identity = dup_or_null(r->source_identity);
    o->br.resources = NULL; /* jobs here act on "*"; a resource list would be copied like actions */
    o->br.nresources = 0;
    o->actions = xcalloc(r->nactions ? r->nactions : 1, sizeof *o->actions);
    for (size_t i = 0; i < r->nactions; i++)
        o->actions[i] = xstrdup(r->actions[i]);
    o->br.actions = (const char *const *)o->actions;
    char account[16];
    arn_account(r->role_arn, account);
    op_submit(o, account, w->region, RATELIMIT_DESCRIBE, assume_go);
}

/* ---- sessions ---- */

static void session_free(waws_session *s)
{
    waws *w = s->w;
    if (s->prev)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    aws_client_free(s->client);
    credprov_free(s->creds);
    if (s->reap)
        event_free(s->reap);
    free(s->account);
    free(s);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    session_free(arg);
}

/* Frees s from the loop once it is closed and idle: never inside one of its
 * client's callbacks, which would free the client under itself. */
static void session_maybe_reap(waws_session *s)
{
    if (!s->closing || s->calls > 0 || s->reap == NULL)
        return;
    struct timeval zero = {0, 0};
    evtimer_add(s->reap, &zero);
}

static void session_call_ended(waws_session *s)
{
    if (s->calls > 0)
        s->calls--;
    session_maybe_reap(s);
}

waws_session *waws_session_new(waws *w, const aws_creds *creds, const char *account, err *e)
{
    waws_session *s = xcalloc(1, sizeof *s);
    s->w = w;
    s->creds = credprov_static(creds);
    s->client = aws_client_new(&w->copts, s->creds, w->base, e);
    s->reap = evtimer_new(w->base, on_reap, s);
    s->account = xstrdup(account && *account ? account : "unknown");
    s->next = w->sessions;
    if (w->sessions)
        w->sessions->prev = s;
    w->sessions = s;
    if (s->client == NULL || s->reap == NULL) {
        if (s->client)
            err_set(e, ERR_INTERNAL, "cannot create a libevent timer");
        session_free(s);
        return NULL;
    }
    return s;
}

void waws_session_close(waws_session *s)
{
    if (s == NULL)
        return;
    s->closing = true;
    session_maybe_reap(s);
}

static void on_called(const http_response *resp, const err *e, void *arg)
{
    op *o = arg;
    waws_session *s = o->s;
    if (s->w->gate)
        wgate_done(s->w->gate);
    o->call_done(resp, e, o->arg);
    session_call_ended(s);
    op_free(o);
}

static void call_go(void *arg, const err *refused)
{
    op *o = arg;
    if (refused) {
        op_refused(o, refused);
        return;
    }
    err e = {0};
    if (!aws_client_call_async(o->s->client, &o->req, on_called, o, &e)) {
        wgate_done(o->w->gate);
        op_refused(o, &e);
    }
}

void waws_call(waws_session *s, ratelimit_class cls, const aws_request *req, aws_done_fn done,
               void *arg)
{
    op *o = xcalloc(1, sizeof *o);
    o->w = s->w;
    o->s = s;
    o->call_done = done;
    o->arg = arg;
    o->service = xstrdup(req->service);
    o->operation = dup_or_null(req->operation);
    o->region = dup_or_null(req->region);
    o->method = xstrdup(req->method);
    o->path = xstrdup(req->path);
    o->query = dup_or_null(req->query);
    aws_request_init(&o->req, o->service, o->operation, req->protocol, o->method, o->path);
    o->req.region = o->region;
    o->req.query = o->query;
    http_headers_copy(&o->req.headers, &req->headers);
    if (req->body.len)
        strbuf_append(&o->req.body, req->body.buf, req->body.len);
    s->calls++;
    op_submit(o, s->account, req->region ? req->region : s->w->region, cls, call_go);
}

void waws_free(waws *w)
{
    if (w == NULL)
        return;
    wgate *g = w->gate;
    w->gate = NULL; /* what ends from here on holds no slot to give back */
    wgate_free(g);
    while (w->early) {
        op *o = w->early;
        early_unlink(w, o);
        op_fail(o, &o->why);
    }
    while (w->sessions)
        session_free(w->sessions);
    free(w->endpoint_url);
    free(w->region);
    free(w->ca_file);
    free(w);
}

/* ---- errors ---- */

waws_verdict waws_classify(const err *e)
{
    if (e == NULL)
        return WAWS_TRANSIENT;
    switch (e->code) {
    case ERR_AWS:
        return retry_classify("sts", e) == RETRY_KIND_NONE ? WAWS_REFUSED : WAWS_TRANSIENT;
    case ERR_INVALID:
    case ERR_LIMIT:
        return WAWS_REFUSED;
    default:
        return WAWS_TRANSIENT;
    }
}

void waws_error_parts(const err *e, char *code, size_t code_cap, char *message, size_t message_cap)
{
    const char *msg = e ? e->message : "";
    const char *rc = e && e->remote_code[0] ? e->remote_code : NULL;
    snprintf(code, code_cap, "%s", rc ? rc : err_code_name(e ? e->code : ERR_INTERNAL));
    const char *from = msg;
    size_t len = strlen(msg);
    if (rc) {
        /* lib/aws writes "<context>: <Code>: <Message> (HTTP <status>)". */
        char marker[ERR_FIELD_MAX + 4];
        snprintf(marker, sizeof marker, "%s: ", rc);
        const char *at = strstr(msg, marker);
        if (at) {
            from = at + strlen(marker);
            len = strlen(from);
            const char *tail = strstr(from, " (HTTP ");
            if (tail && tail[strlen(tail) - 1] == ')')
                len = (size_t)(tail - from);
        }
    }
    snprintf(message, message_cap, "%.*s", (int)len, from);
}
