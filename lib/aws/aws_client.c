#include "aws/aws_client.h"

#include "aws/endpoint.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_REGION "us-east-1"

typedef struct acall acall;

struct aws_client {
    char *region;
    char *endpoint_url;
    credprov *creds;
    struct event_base *base;
    http_client *http;
    pthread_mutex_t http_lock; /* the blocking transport is one easy handle */
    http_async *async;
    retry_policy *retry;
    _Atomic long clock_offset; /* server minus local seconds */
    acall *calls;              /* asynchronous calls not yet finished */
    bool closing;
};

void aws_request_init(aws_request *r, const char *service, const char *operation,
                      aws_protocol protocol, const char *method, const char *path)
{
    memset(r, 0, sizeof *r);
    r->service = service;
    r->operation = operation;
    r->protocol = protocol;
    r->method = method;
    r->path = path;
    strbuf_init(&r->body);
}

void aws_request_free(aws_request *r)
{
    if (r == NULL)
        return;
    http_headers_free(&r->headers);
    strbuf_free_secret(&r->body); /* may hold a web identity token */
}

aws_client *aws_client_new(const aws_client_options *opts, credprov *creds, struct event_base *base,
                           err *e)
{
    aws_client_options none = {0};
    if (opts == NULL)
        opts = &none;
    const char *region = opts->region && *opts->region ? opts->region : DEFAULT_REGION;
    if (!endpoint_region_valid(region, e))
        return NULL;
    int max_attempts;
    if (!retry_max_attempts(opts->max_attempts, getenv("AWS_MAX_ATTEMPTS"), &max_attempts, e))
        return NULL;
    if (opts->endpoint_url && *opts->endpoint_url) {
        endpoint probe;
        if (!endpoint_resolve("sts", region, opts->endpoint_url, NULL, NULL, &probe, e))
            return NULL;
    }
    if (opts->connect_timeout_ms < 0 || opts->timeout_ms < 0) {
        err_set(e, ERR_INVALID, "timeouts must not be negative (connect %ld ms, request %ld ms)",
                opts->connect_timeout_ms, opts->timeout_ms);
        return NULL;
    }
    http_options ho = {
        .connect_timeout_ms = opts->connect_timeout_ms,
        .timeout_ms = opts->timeout_ms,
        .ca_file = opts->ca_file,
    };
    aws_client *c = xcalloc(1, sizeof *c);
    c->region = xstrdup(region);
    c->endpoint_url =
        opts->endpoint_url && *opts->endpoint_url ? xstrdup(opts->endpoint_url) : NULL;
    c->creds = creds;
    c->base = base;
    pthread_mutex_init(&c->http_lock, NULL);
    atomic_init(&c->clock_offset, 0);
    c->http = http_client_new(&ho);
    c->async = base ? http_async_new(base, &ho) : NULL;
    c->retry = retry_policy_new(max_attempts, NULL, NULL);
    if (c->http == NULL || (base && c->async == NULL)) {
        err_set(e, ERR_INTERNAL, "cannot create the HTTP transport (curl initialisation failed)");
        aws_client_free(c);
        return NULL;
    }
    return c;
}

long aws_client_clock_offset(const aws_client *c)
{
    return c ? atomic_load(&c->clock_offset) : 0;
}

void aws_client_set_retry_random(aws_client *c, double (*rnd)(void *arg), void *arg)
{
    retry_policy_set_random(c->retry, rnd, arg);
}

int aws_client_retry_quota(const aws_client *c)
{
    return retry_policy_quota(c->retry);
}

/* ---- one attempt: URL, headers, signature ---- */

typedef struct target {
    endpoint ep;
    char region[ENDPOINT_NAME_MAX];
} target;

static bool resolve_target(const aws_client *c, const aws_request *req, target *t, err *e)
{
    if (req == NULL || req->service == NULL || req->method == NULL || req->path == NULL ||
        req->path[0] != '/')
        return err_set(e, ERR_INVALID,
                       "AWS request %s needs a service, a method and a path "
                       "starting with '/' (path \"%s\")",
                       req && req->operation ? req->operation : "(unnamed)",
                       req && req->path ? req->path : "(null)");
    const char *region = req->region && *req->region ? req->region : c->region;
    if (!endpoint_resolve(req->service, region, c->endpoint_url, endpoint_process_env, NULL, &t->ep,
                          e))
        return err_prefix(e, "%s %s", req->service, req->operation ? req->operation : "");
    snprintf(t->region, sizeof t->region, "%s", region);
    return true;
}

/* "service Operation (region r, endpoint u): " before every message (err_prefix adds the ": "). */
static void prefix_error(err *e, const aws_request *req, const target *t, const retry_state *rs,
                         const char *why)
{
    if (rs && rs->attempts > 1)
        err_prefix(e, "%s %s (region %s, endpoint %s, %d attempts, %s)", req->service,
                   req->operation ? req->operation : "", t->region, t->ep.url, rs->attempts, why);
    else
        err_prefix(e, "%s %s (region %s, endpoint %s)", req->service,
                   req->operation ? req->operation : "", t->region, t->ep.url);
}

/* Builds what to send for one attempt: the URL and the signed headers. Signs
 * anew each attempt so a retry carries a fresh date (and the corrected one
 * after a skew error). */
static bool build_attempt(aws_client *c, const aws_request *req, const target *t, strbuf *url,
                          http_headers *hdrs, err *e)
{
    const char *query = req->query && *req->query ? req->query : NULL;
    strbuf path = STRBUF_INIT;
    strbuf_puts(&path, t->ep.base_path);
    strbuf_puts(&path, req->path);
    strbuf_reset(url);
    strbuf_puts(url, t->ep.url);
    strbuf_puts(url, req->path);
    if (query)
        strbuf_printf(url, "?%s", query);
    http_headers_copy(hdrs, &req->headers);
    http_headers_set(hdrs, "Host", t->ep.host);
    bool ok = true;
    if (c->creds) {
        aws_creds *cr = NULL;
        ok = credprov_get(c->creds, &cr, e);
        if (ok) {
            bool s3 = strcmp(req->service, "s3") == 0;
            sigv4_request sr = {
                .method = req->method,
                .path = strbuf_str(&path),
                .query = query,
                .headers = hdrs,
                .body = req->body.buf ? req->body.buf : "",
                .body_len = req->body.len,
                .payload_hash = NULL,
            };
            sigv4_config cfg = {
                .creds = cr,
                .region = t->ep.signing_region,
                .service = t->ep.signing_name,
                .when = timeutil_now() + (time_t)atomic_load(&c->clock_offset),
                .normalize_path = !s3,
                .double_encode = !s3,
                .add_content_sha256 = s3,
            };
            http_headers add = HTTP_HEADERS_INIT;
            ok = sigv4_sign_headers(&sr, &cfg, &add, NULL, NULL, e);
            for (size_t i = 0; ok && i < add.count; i++)
                http_headers_set(hdrs, add.items[i].name, add.items[i].value);
            http_headers_free(&add);
        }
        creds_free(cr);
    }
    strbuf_free(&path);
    return ok;
}

/* Looks at one finished attempt. Returns true when the call succeeded
 * (2xx). Otherwise fills *ae and says whether the failure was a clock skew
 * that has now been corrected (retry at once). */
static bool judge(aws_client *c, const aws_request *req, const http_response *resp,
                  const err *transport, err *ae, bool *skewed)
{
    *skewed = false;
    if (resp == NULL) {
        *ae = *transport;
        return false;
    }
    if (resp->status >= 200 && resp->status < 300)
        return true;
    awserror_from_response(req->protocol, resp, ae);
    long offset = atomic_load(&c->clock_offset);
    if (retry_clock_skewed(ae, http_headers_get(&resp->headers, "Date"), timeutil_now(), &offset)) {
        atomic_store(&c->clock_offset, offset);
        *skewed = true;
    }
    return false;
}

/* ---- blocking ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

bool aws_client_call(aws_client *c, const aws_request *req, http_response *resp, err *e)
{
    http_response empty = HTTP_RESPONSE_INIT;
    *resp = empty;
    if (c == NULL)
        return err_set(e, ERR_INVALID, "aws_client_call without a client");
    target t;
    if (!resolve_target(c, req, &t, e))
        return false;
    retry_state rs = {0};
    strbuf url = STRBUF_INIT;
    for (;;) {
        rs.attempts++;
        http_headers hdrs = HTTP_HEADERS_INIT;
        err ae;
        if (!build_attempt(c, req, &t, &url, &hdrs, &ae)) {
            http_headers_free(&hdrs);
            strbuf_free(&url);
            if (e)
                *e = ae;
            prefix_error(e, req, &t, NULL, "");
            return false;
        }
        http_request hr = {req->method,   strbuf_str(&url), &hdrs,
                           req->body.buf, req->body.len,    NULL};
        http_response r = HTTP_RESPONSE_INIT;
        err te;
        pthread_mutex_lock(&c->http_lock);
        bool answered = http_client_do(c->http, &hr, &r, &te);
        pthread_mutex_unlock(&c->http_lock);
        http_headers_free(&hdrs);
        bool skewed;
        if (judge(c, req, answered ? &r : NULL, &te, &ae, &skewed)) {
            retry_policy_on_success(c->retry, &rs);
            *resp = r;
            strbuf_free(&url);
            return true;
        }
        http_response_free(&r);
        const char *why = "clock skew corrected";
        long delay = 0;
        bool again =
            skewed ? rs.attempts < retry_policy_max_attempts(c->retry)
                   : retry_policy_should_retry(c->retry, &rs, req->service, &ae, &delay, &why);
        if (skewed && !again)
            why = "max attempts reached";
        if (!again) {
            strbuf_free(&url);
            if (e)
                *e = ae;
            prefix_error(e, req, &t, &rs, why);
            return false;
        }
        if (delay > 0)
            sleep_ms(delay);
    }
}

/* ---- asynchronous ---- */

struct acall {
    aws_client *c;
    /* the request, deep-copied */
    aws_request req;
    char *service, *operation, *region, *method, *path, *query;
    target t;
    retry_state rs;
    aws_done_fn done;
    void *arg;
    struct event *timer; /* retry delay, or the deferred report of an early failure */
    err pending_err;     /* what the timer reports when final */
    bool timer_final;
    acall *prev, *next;
};

static void call_unlink(acall *k)
{
    aws_client *c = k->c;
    if (k->prev)
        k->prev->next = k->next;
    else if (c->calls == k)
        c->calls = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
}

static void call_free(acall *k)
{
    call_unlink(k);
    if (k->timer)
        event_free(k->timer);
    http_headers_free(&k->req.headers);
    strbuf_free_secret(&k->req.body);
    free(k->service);
    free(k->operation);
    free(k->region);
    free(k->method);
    free(k->path);
    free(k->query);
    free(k);
}

static void call_finish(acall *k, const http_response *resp, err *e)
{
    aws_done_fn done = k->done;
    void *arg = k->arg;
    call_unlink(k);
    done(resp, e, arg);
    call_free(k);
}

static void start_attempt(acall *k);

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    acall *k = arg;
    if (k->timer_final)
        call_finish(k, NULL, &k->pending_err);
    else
        start_attempt(k);
}

/* Everything after submit happens on the loop, also early failures: done
 * must never run inside aws_client_call_async. */
static void defer(acall *k, long delay_ms, const err *final)
{
    k->timer_final = final != NULL;
    if (final)
        k->pending_err = *final;
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    /* libevent measures from the time cached at the start of this loop
     * pass, which may be a while ago after a slow callback: the backoff
     * would come out short. */
    event_base_update_cache_time(k->c->base);
    evtimer_add(k->timer, &tv);
}

static void on_http_done(const http_response *resp, const err *te, void *arg)
{
    acall *k = arg;
    aws_client *c = k->c;
    err ae;
    bool skewed;
    if (judge(c, &k->req, resp, te, &ae, &skewed)) {
        retry_policy_on_success(c->retry, &k->rs);
        call_finish(k, resp, NULL);
        return;
    }
    const char *why = "clock skew corrected";
    long delay = 0;
    bool again;
    if (c->closing) {
        again = false;
        why = "client closing";
    } else if (skewed) {
        again = k->rs.attempts < retry_policy_max_attempts(c->retry);
        if (!again)
            why = "max attempts reached";
    } else {
        again = retry_policy_should_retry(c->retry, &k->rs, k->req.service, &ae, &delay, &why);
    }
    if (!again) {
        prefix_error(&ae, &k->req, &k->t, &k->rs, why);
        call_finish(k, NULL, &ae);
        return;
    }
    defer(k, delay, NULL);
}

static void start_attempt(acall *k)
{
    aws_client *c = k->c;
    k->rs.attempts++;
    strbuf url = STRBUF_INIT;
    http_headers hdrs = HTTP_HEADERS_INIT;
    err ae;
    bool ok = build_attempt(c, &k->req, &k->t, &url, &hdrs, &ae);
    if (ok) {
        http_request hr = {k->req.method,   strbuf_str(&url), &hdrs,
                           k->req.body.buf, k->req.body.len,  NULL};
        ok = http_async_submit(c->async, &hr, on_http_done, k, &ae);
    }
    http_headers_free(&hdrs);
    strbuf_free(&url);
    if (!ok) {
        prefix_error(&ae, &k->req, &k->t, NULL, "");
        defer(k, 0, &ae);
    }
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

bool aws_client_call_async(aws_client *c, const aws_request *req, aws_done_fn done, void *arg,
                           err *e)
{
    if (c == NULL || c->async == NULL || done == NULL)
        return err_set(e, ERR_INVALID,
                       "aws_client_call_async needs a client made with an event "
                       "base and a callback");
    if (c->closing)
        return err_set(e, ERR_INVALID, "AWS client is shutting down");
    target t;
    if (!resolve_target(c, req, &t, e))
        return false;
    acall *k = xcalloc(1, sizeof *k);
    k->c = c;
    k->t = t;
    k->done = done;
    k->arg = arg;
    k->service = xstrdup(req->service);
    k->operation = dup_or_null(req->operation);
    k->region = dup_or_null(req->region);
    k->method = xstrdup(req->method);
    k->path = xstrdup(req->path);
    k->query = dup_or_null(req->query);
    aws_request_init(&k->req, k->service, k->operation, req->protocol, k->method, k->path);
    k->req.region = k->region;
    k->req.query = k->query;
    http_headers_copy(&k->req.headers, &req->headers);
    if (req->body.len)
        strbuf_append(&k->req.body, req->body.buf, req->body.len);
    k->timer = evtimer_new(c->base, on_timer, k);
    if (k->timer == NULL) {
        call_free(k);
        return err_set(e, ERR_INTERNAL, "cannot create a libevent timer");
    }
    k->next = c->calls;
    if (c->calls)
        c->calls->prev = k;
    c->calls = k;
    start_attempt(k);
    return true;
}

void aws_client_free(aws_client *c)
{
    if (c == NULL)
        return;
    c->closing = true;
    /* Calls waiting on a timer are ours to cancel; those inside the transport
     * come back through on_http_done with its "cancelled" error when it is
     * freed, and end there because the client is closing. */
    acall *k = c->calls;
    while (k) {
        acall *next = k->next;
        if (evtimer_pending(k->timer, NULL)) {
            event_del(k->timer);
            err ce;
            if (k->timer_final) {
                ce = k->pending_err;
            } else {
                err_set(&ce, ERR_HTTP, "cancelled");
                prefix_error(&ce, &k->req, &k->t, &k->rs, "client closing");
            }
            call_finish(k, NULL, &ce);
        }
        k = next;
    }
    http_async_free(c->async);
    while (c->calls) /* only if a call was neither timed nor in the transport: a bug */
        call_free(c->calls);
    http_client_free(c->http);
    retry_policy_free(c->retry);
    pthread_mutex_destroy(&c->http_lock);
    free(c->region);
    free(c->endpoint_url);
    free(c);
}
