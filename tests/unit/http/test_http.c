/* HTTP transport against the local responder: blocking and asynchronous
 * clients, statuses, headers, bodies, timeouts, refused and dropped
 * connections, concurrency, connection limits and cancellation. */
#include "aws/http.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "support/responder.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* What the handler saw last and how it should answer; shared with the
 * responder thread under a lock. */
typedef struct script {
    pthread_mutex_t lock;
    char method[16];
    char uri[256];
    char body[256];
    char x_test[128];
    char content_type[128];
    char expect[64];
    int delay_ms;
    int close_connection;
    int status;
    size_t big_body; /* answer with this many bytes when > 0 */
} script;

static script S;

static void handler(const responder_req *req, responder_reply *reply, int n, void *arg)
{
    (void)n;
    script *s = arg;
    pthread_mutex_lock(&s->lock);
    snprintf(s->method, sizeof s->method, "%s", req->method);
    snprintf(s->uri, sizeof s->uri, "%s", req->uri);
    snprintf(s->body, sizeof s->body, "%s", req->body);
    const char *h = req->header(req, "X-Test");
    snprintf(s->x_test, sizeof s->x_test, "%s", h ? h : "(none)");
    h = req->header(req, "Content-Type");
    snprintf(s->content_type, sizeof s->content_type, "%s", h ? h : "(none)");
    h = req->header(req, "Expect");
    snprintf(s->expect, sizeof s->expect, "%s", h ? h : "(none)");
    reply->status = s->status ? s->status : 200;
    reply->delay_ms = s->delay_ms;
    reply->close_connection = s->close_connection;
    snprintf(reply->headers, sizeof reply->headers,
             "X-Reply: one\nX-Echo-Method: %s\nx-amz-request-id: rid-%d\n", req->method, n);
    if (s->big_body) {
        reply->body = xmalloc(s->big_body + 1);
        for (size_t i = 0; i < s->big_body; i++)
            reply->body[i] = (char)('a' + i % 26);
        reply->body[s->big_body] = '\0';
    } else {
        reply->body = xasprintf("%s %s", req->method, req->uri);
    }
    pthread_mutex_unlock(&s->lock);
}

static responder *R;

static int setup(void **state)
{
    (void)state;
    pthread_mutex_lock(&S.lock);
    S.delay_ms = 0;
    S.close_connection = 0;
    S.status = 0;
    S.big_body = 0;
    pthread_mutex_unlock(&S.lock);
    return 0;
}

static char *url(const char *path)
{
    return xasprintf("%s%s", responder_url(R), path);
}

/* A port on 127.0.0.1 with nothing listening: bind, read the port, close. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- headers ---- */

static void test_headers_helpers(void **state)
{
    (void)state;
    http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Content-Type", "a/b");
    http_headers_add(&h, "X-Dup", "1");
    http_headers_add(&h, "x-dup", "2");
    assert_string_equal(http_headers_get(&h, "content-type"), "a/b");
    assert_string_equal(http_headers_get(&h, "X-DUP"), "1");
    assert_null(http_headers_get(&h, "Missing"));
    assert_null(http_headers_get(NULL, "Missing"));
    http_headers_set(&h, "X-DUP", "3");
    assert_int_equal(h.count, 3);
    assert_string_equal(h.items[1].value, "3");
    assert_string_equal(h.items[1].name, "X-Dup"); /* name keeps its first spelling */
    http_headers_set(&h, "New", "n");
    assert_int_equal(h.count, 4);
    for (int i = 0; i < 100; i++)
        http_headers_add(&h, "Many", "v");
    http_headers copy = HTTP_HEADERS_INIT;
    http_headers_copy(&copy, &h);
    assert_int_equal(copy.count, h.count);
    assert_ptr_not_equal(copy.items[0].name, h.items[0].name);
    assert_string_equal(http_headers_get(&copy, "new"), "n");
    http_headers_free(&h);
    assert_int_equal(h.count, 0);
    assert_null(h.items);
    http_headers_free(&copy);
}

/* ---- blocking ---- */

static void test_blocking_get(void **state)
{
    (void)state;
    http_client *c = http_client_new(NULL);
    assert_non_null(c);
    char *u = url("/path?q=1");
    http_headers hs = HTTP_HEADERS_INIT;
    http_headers_add(&hs, "X-Test", "hello world");
    http_request req = {"GET", u, &hs, NULL, 0, NULL};
    http_response resp = HTTP_RESPONSE_INIT;
    err e;
    assert_true(http_client_do(c, &req, &resp, &e));
    assert_int_equal(resp.status, 200);
    assert_string_equal(strbuf_str(&resp.body), "GET /path?q=1");
    assert_string_equal(http_headers_get(&resp.headers, "x-reply"), "one");
    assert_non_null(http_headers_get(&resp.headers, "Content-Length"));
    pthread_mutex_lock(&S.lock);
    assert_string_equal(S.x_test, "hello world");
    assert_string_equal(S.content_type, "(none)"); /* curl did not invent one */
    pthread_mutex_unlock(&S.lock);
    http_response_free(&resp);
    http_headers_free(&hs);
    free(u);
    http_client_free(c);
}

static void test_blocking_methods_and_bodies(void **state)
{
    (void)state;
    http_client *c = http_client_new(NULL);
    char *u = url("/m");
    static const char *methods[] = {"POST", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < 4; i++) {
        http_headers hs = HTTP_HEADERS_INIT;
        http_headers_add(&hs, "Content-Type", "application/x-amz-json-1.1");
        char *body = xasprintf("{\"i\":%zu}", i);
        http_request req = {methods[i], u, &hs, body, strlen(body), NULL};
        http_response resp = HTTP_RESPONSE_INIT;
        err e;
        assert_true(http_client_do(c, &req, &resp, &e));
        assert_int_equal(resp.status, 200);
        assert_string_equal(http_headers_get(&resp.headers, "X-Echo-Method"), methods[i]);
        pthread_mutex_lock(&S.lock);
        assert_string_equal(S.method, methods[i]);
        assert_string_equal(S.body, body);
        assert_string_equal(S.content_type, "application/x-amz-json-1.1");
        assert_string_equal(S.expect, "(none)");
        pthread_mutex_unlock(&S.lock);
        http_response_free(&resp);
        http_headers_free(&hs);
        free(body);
    }
    /* HEAD: headers, no body; then GET on the same handle gets a body again */
    http_request head = {"HEAD", u, NULL, NULL, 0, NULL};
    http_response resp = HTTP_RESPONSE_INIT;
    assert_true(http_client_do(c, &head, &resp, NULL));
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body.len, 0);
    assert_string_equal(http_headers_get(&resp.headers, "X-Echo-Method"), "HEAD");
    http_response_free(&resp);
    http_request get = {"GET", u, NULL, NULL, 0, NULL};
    assert_true(http_client_do(c, &get, &resp, NULL));
    assert_string_equal(strbuf_str(&resp.body), "GET /m");
    pthread_mutex_lock(&S.lock);
    assert_string_equal(S.method, "GET");
    assert_string_equal(S.body, "");
    pthread_mutex_unlock(&S.lock);
    http_response_free(&resp);
    free(u);
    http_client_free(c);
}

static void test_blocking_statuses_and_big_body(void **state)
{
    (void)state;
    http_client *c = http_client_new(NULL);
    char *u = url("/s");
    static const int statuses[] = {201, 204, 400, 403, 404, 429, 500, 503};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        pthread_mutex_lock(&S.lock);
        S.status = statuses[i];
        pthread_mutex_unlock(&S.lock);
        http_request req = {"GET", u, NULL, NULL, 0, NULL};
        http_response resp = HTTP_RESPONSE_INIT;
        err e;
        assert_true(http_client_do(c, &req, &resp, &e)); /* any status is an answer */
        assert_int_equal(resp.status, statuses[i]);
        http_response_free(&resp);
    }
    pthread_mutex_lock(&S.lock);
    S.status = 200;
    S.big_body = 3 * 1024 * 1024 + 7;
    pthread_mutex_unlock(&S.lock);
    http_request req = {"GET", u, NULL, NULL, 0, NULL};
    http_response resp = HTTP_RESPONSE_INIT;
    assert_true(http_client_do(c, &req, &resp, NULL));
    assert_int_equal(resp.body.len, 3 * 1024 * 1024 + 7);
    assert_int_equal(resp.body.buf[26], 'a');
    assert_int_equal(resp.body.buf[resp.body.len - 1], 'a' + (resp.body.len - 1) % 26);
    http_response_free(&resp);
    free(u);
    http_client_free(c);
}

static void test_blocking_timeout(void **state)
{
    (void)state;
    pthread_mutex_lock(&S.lock);
    S.delay_ms = 3000;
    pthread_mutex_unlock(&S.lock);
    http_options o = {.timeout_ms = 300};
    http_client *c = http_client_new(&o);
    char *u = url("/slow?X-Amz-Security-Token=secret");
    http_request req = {"GET", u, NULL, NULL, 0, NULL};
    http_response resp = HTTP_RESPONSE_INIT;
    err e;
    uint64_t t0 = timeutil_mono_ms();
    assert_false(http_client_do(c, &req, &resp, &e));
    uint64_t took = timeutil_mono_ms() - t0;
    assert_int_equal(e.code, ERR_TIMEOUT);
    assert_true(took >= 250 && took < 2000);
    assert_non_null(strstr(e.message, "/slow"));
    assert_null(strstr(e.message, "secret")); /* the query is not quoted */
    http_response_free(&resp);
    /* the same client works again afterwards */
    pthread_mutex_lock(&S.lock);
    S.delay_ms = 0;
    pthread_mutex_unlock(&S.lock);
    assert_true(http_client_do(c, &req, &resp, &e));
    assert_int_equal(resp.status, 200);
    http_response_free(&resp);
    free(u);
    http_client_free(c);
}

static void test_blocking_refused_and_dropped(void **state)
{
    (void)state;
    http_client *c = http_client_new(NULL);
    char *u = xasprintf("http://127.0.0.1:%d/x", dead_port());
    http_request req = {"GET", u, NULL, NULL, 0, NULL};
    http_response resp = HTTP_RESPONSE_INIT;
    err e;
    assert_false(http_client_do(c, &req, &resp, &e));
    assert_int_equal(e.code, ERR_HTTP);
    assert_int_equal(e.http_status, 0);
    assert_non_null(strstr(e.message, u));
    http_response_free(&resp);
    free(u);

    pthread_mutex_lock(&S.lock);
    S.close_connection = 1;
    pthread_mutex_unlock(&S.lock);
    u = url("/drop");
    req.url = u;
    assert_false(http_client_do(c, &req, &resp, &e));
    assert_int_equal(e.code, ERR_HTTP);
    assert_non_null(strstr(e.message, "/drop"));
    http_response_free(&resp);
    free(u);
    http_client_free(c);
}

static void test_blocking_invalid_input(void **state)
{
    (void)state;
    http_client *c = http_client_new(NULL);
    http_response resp = HTTP_RESPONSE_INIT;
    err e;
    http_request r1 = {"GET", "ftp://example.com/", NULL, NULL, 0, NULL};
    assert_false(http_client_do(c, &r1, &resp, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "ftp://example.com/"));
    http_request r2 = {"G T", "http://127.0.0.1:1/", NULL, NULL, 0, NULL};
    assert_false(http_client_do(c, &r2, &resp, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "G T"));
    http_headers hs = HTTP_HEADERS_INIT;
    http_headers_add(&hs, "X-Evil", "a\r\nInjected: 1");
    http_request r3 = {"GET", "http://127.0.0.1:1/", &hs, NULL, 0, NULL};
    assert_false(http_client_do(c, &r3, &resp, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "X-Evil"));
    http_headers_free(&hs);
    http_client_free(c);
}

/* ---- asynchronous ---- */

typedef struct async_ctx {
    int done;
    int ok;
    int failed;
    int in_submit; /* set while http_async_submit runs */
    int called_in_submit;
    err last_err;
    long last_status;
    char last_body[128];
    char last_reply_hdr[64];
    size_t max_in_flight;
    http_async *a;
    struct event_base *base;
    int want;
} async_ctx;

static void on_done(const http_response *resp, const err *e, void *arg)
{
    async_ctx *c = arg;
    if (c->in_submit)
        c->called_in_submit = 1;
    c->done++;
    if (resp) {
        c->ok++;
        c->last_status = resp->status;
        snprintf(c->last_body, sizeof c->last_body, "%s", strbuf_str(&resp->body));
        const char *h = http_headers_get(&resp->headers, "X-Reply");
        snprintf(c->last_reply_hdr, sizeof c->last_reply_hdr, "%s", h ? h : "");
        assert_null(e);
    } else {
        assert_non_null(e);
        c->failed++;
        c->last_err = *e;
    }
    if (c->want && c->done >= c->want && c->base)
        event_base_loopbreak(c->base);
}

/* Runs the loop until ctx->want callbacks ran or `limit_ms` passed. */
static void run_until(async_ctx *c, int limit_ms)
{
    uint64_t end = timeutil_mono_ms() + (uint64_t)limit_ms;
    while (c->done < c->want && timeutil_mono_ms() < end) {
        struct timeval tv = {0, 50 * 1000};
        event_base_loopexit(c->base, &tv);
        event_base_dispatch(c->base);
        size_t n = http_async_in_flight(c->a);
        if (n > c->max_in_flight)
            c->max_in_flight = n;
    }
}

static void test_async_single(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    http_async *a = http_async_new(base, NULL);
    assert_non_null(a);
    async_ctx c = {.a = a, .base = base, .want = 1};
    char *u = url("/async?x=1");
    http_headers hs = HTTP_HEADERS_INIT;
    http_headers_add(&hs, "X-Test", "async");
    char *body = xstrdup("payload");
    http_request req = {"POST", u, &hs, body, strlen(body), NULL};
    c.in_submit = 1;
    assert_true(http_async_submit(a, &req, on_done, &c, NULL));
    c.in_submit = 0;
    /* the request was copied: scribble over and free the caller's copies */
    memset(body, 'X', strlen(body));
    free(body);
    http_headers_free(&hs);
    free(u);
    assert_int_equal(http_async_in_flight(a), 1);
    assert_int_equal(c.done, 0);
    run_until(&c, 5000);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.ok, 1);
    assert_int_equal(c.called_in_submit, 0);
    assert_int_equal(c.last_status, 200);
    assert_string_equal(c.last_body, "POST /async?x=1");
    assert_string_equal(c.last_reply_hdr, "one");
    pthread_mutex_lock(&S.lock);
    assert_string_equal(S.body, "payload");
    assert_string_equal(S.x_test, "async");
    pthread_mutex_unlock(&S.lock);
    assert_int_equal(http_async_in_flight(a), 0);
    /* invalid input fails in submit without a callback */
    http_request bad = {"GET", "gopher://x/", NULL, NULL, 0, NULL};
    err e;
    assert_false(http_async_submit(a, &bad, on_done, &c, &e));
    assert_int_equal(e.code, ERR_INVALID);
    /* Mail: only smtp:// and smtps://, a sender and a recipient, no CR or
     * LF in the envelope (it would be an SMTP command of its own). */
    const char *rcpt[] = {"<ops@example.com>"}, *bad_rcpt[] = {"<a@b>\r\nRCPT TO:<x@y>"};
    http_mail m = {.from = "<e@example.com>", .rcpt = rcpt, .nrcpt = 1};
    http_request mail = {.url = "http://127.0.0.1:1/", .body = "x", .body_len = 1, .mail = &m};
    assert_false(http_async_submit(a, &mail, on_done, &c, &e));
    assert_non_null(strstr(e.message, "is not smtp:// or smtps://"));
    mail.url = "smtp://127.0.0.1:1";
    m.nrcpt = 0;
    assert_false(http_async_submit(a, &mail, on_done, &c, &e));
    assert_non_null(strstr(e.message, "without a sender or a recipient"));
    m.rcpt = bad_rcpt;
    m.nrcpt = 1;
    assert_false(http_async_submit(a, &mail, on_done, &c, &e));
    assert_non_null(strstr(e.message, "CR or LF"));
    assert_int_equal(http_async_in_flight(a), 0);
    http_async_free(a);
    assert_int_equal(c.done, 1);
    event_base_free(base);
}

static void test_async_many_concurrent(void **state)
{
    (void)state;
    /* 300 requests each held 200 ms by the server: sequentially that is a
     * minute, concurrently well under the bound. */
    pthread_mutex_lock(&S.lock);
    S.delay_ms = 200;
    pthread_mutex_unlock(&S.lock);
    struct event_base *base = event_base_new();
    http_async *a = http_async_new(base, NULL);
    enum { N = 300 };
    async_ctx c = {.a = a, .base = base, .want = N};
    char *u = url("/many");
    uint64_t t0 = timeutil_mono_ms();
    for (int i = 0; i < N; i++) {
        http_request req = {"GET", u, NULL, NULL, 0, NULL};
        assert_true(http_async_submit(a, &req, on_done, &c, NULL));
    }
    assert_int_equal(http_async_in_flight(a), N);
    c.max_in_flight = N;
    run_until(&c, 20000);
    uint64_t took = timeutil_mono_ms() - t0;
    assert_int_equal(c.done, N);
    assert_int_equal(c.ok, N);
    assert_true(took < 10000);
    assert_int_equal(http_async_in_flight(a), 0);
    /* a second wave on the same client reuses pooled handles and connections */
    c.done = c.ok = 0;
    pthread_mutex_lock(&S.lock);
    S.delay_ms = 0;
    pthread_mutex_unlock(&S.lock);
    for (int i = 0; i < N; i++) {
        http_request req = {"GET", u, NULL, NULL, 0, NULL};
        assert_true(http_async_submit(a, &req, on_done, &c, NULL));
    }
    run_until(&c, 20000);
    assert_int_equal(c.ok, N);
    free(u);
    http_async_free(a);
    event_base_free(base);
}

static void test_async_max_host_connections(void **state)
{
    (void)state;
    /* 8 requests of 250 ms over at most 2 connections: 4 rounds, >= 1 s. */
    pthread_mutex_lock(&S.lock);
    S.delay_ms = 250;
    pthread_mutex_unlock(&S.lock);
    struct event_base *base = event_base_new();
    http_options o = {.max_host_connections = 2};
    http_async *a = http_async_new(base, &o);
    async_ctx c = {.a = a, .base = base, .want = 8};
    char *u = url("/limited");
    uint64_t t0 = timeutil_mono_ms();
    for (int i = 0; i < 8; i++) {
        http_request req = {"GET", u, NULL, NULL, 0, NULL};
        assert_true(http_async_submit(a, &req, on_done, &c, NULL));
    }
    run_until(&c, 10000);
    uint64_t took = timeutil_mono_ms() - t0;
    assert_int_equal(c.ok, 8);
    assert_true(took >= 950);
    http_async_free(a);

    /* without the limit the same load takes one round */
    a = http_async_new(base, NULL);
    async_ctx d = {.a = a, .base = base, .want = 8};
    t0 = timeutil_mono_ms();
    for (int i = 0; i < 8; i++) {
        http_request req = {"GET", u, NULL, NULL, 0, NULL};
        assert_true(http_async_submit(a, &req, on_done, &d, NULL));
    }
    run_until(&d, 10000);
    took = timeutil_mono_ms() - t0;
    assert_int_equal(d.ok, 8);
    assert_true(took < 900);
    free(u);
    http_async_free(a);
    event_base_free(base);
}

static void test_async_errors(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    http_options o = {.timeout_ms = 300};
    http_async *a = http_async_new(base, &o);
    async_ctx c = {.a = a, .base = base, .want = 1};
    char *u = xasprintf("http://127.0.0.1:%d/refused", dead_port());
    http_request req = {"GET", u, NULL, NULL, 0, NULL};
    assert_true(http_async_submit(a, &req, on_done, &c, NULL));
    run_until(&c, 5000);
    assert_int_equal(c.failed, 1);
    assert_int_equal(c.last_err.code, ERR_HTTP);
    assert_non_null(strstr(c.last_err.message, "/refused"));
    free(u);

    pthread_mutex_lock(&S.lock);
    S.delay_ms = 3000;
    pthread_mutex_unlock(&S.lock);
    u = url("/slow");
    req.url = u;
    c.want = 2;
    uint64_t t0 = timeutil_mono_ms();
    assert_true(http_async_submit(a, &req, on_done, &c, NULL));
    run_until(&c, 5000);
    uint64_t took = timeutil_mono_ms() - t0;
    assert_int_equal(c.failed, 2);
    assert_int_equal(c.last_err.code, ERR_TIMEOUT);
    assert_true(took >= 250 && took < 2000);
    free(u);

    pthread_mutex_lock(&S.lock);
    S.delay_ms = 0;
    S.close_connection = 1;
    pthread_mutex_unlock(&S.lock);
    u = url("/drop");
    req.url = u;
    c.want = 3;
    assert_true(http_async_submit(a, &req, on_done, &c, NULL));
    run_until(&c, 5000);
    assert_int_equal(c.failed, 3);
    assert_int_equal(c.last_err.code, ERR_HTTP);
    free(u);
    http_async_free(a);
    event_base_free(base);
}

static void resubmit_in_cancel(const http_response *resp, const err *e, void *arg)
{
    async_ctx *c = arg;
    on_done(resp, e, arg);
    /* a callback trying to submit during free must be refused, not crash */
    http_request req = {"GET", "http://127.0.0.1:1/", NULL, NULL, 0, NULL};
    err e2;
    assert_false(http_async_submit(c->a, &req, on_done, c, &e2));
}

static void test_async_free_cancels(void **state)
{
    (void)state;
    pthread_mutex_lock(&S.lock);
    S.delay_ms = 5000;
    pthread_mutex_unlock(&S.lock);
    struct event_base *base = event_base_new();
    http_async *a = http_async_new(base, NULL);
    async_ctx c = {.a = a, .base = base};
    char *u = url("/never");
    for (int i = 0; i < 5; i++) {
        http_request req = {"GET", u, NULL, NULL, 0, NULL};
        assert_true(http_async_submit(a, &req, resubmit_in_cancel, &c, NULL));
    }
    /* let some get connected and sent, so cancellation meets live sockets */
    c.want = 1000;
    run_until(&c, 300);
    assert_int_equal(c.done, 0);
    http_async_free(a);
    assert_int_equal(c.done, 5);
    assert_int_equal(c.failed, 5);
    assert_int_equal(c.last_err.code, ERR_HTTP);
    assert_non_null(strstr(c.last_err.message, "cancelled"));
    free(u);
    event_base_free(base);
}

int main(void)
{
    pthread_mutex_init(&S.lock, NULL);
    R = responder_start(handler, &S);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_headers_helpers, setup),
        cmocka_unit_test_setup(test_blocking_get, setup),
        cmocka_unit_test_setup(test_blocking_methods_and_bodies, setup),
        cmocka_unit_test_setup(test_blocking_statuses_and_big_body, setup),
        cmocka_unit_test_setup(test_blocking_timeout, setup),
        cmocka_unit_test_setup(test_blocking_refused_and_dropped, setup),
        cmocka_unit_test_setup(test_blocking_invalid_input, setup),
        cmocka_unit_test_setup(test_async_single, setup),
        cmocka_unit_test_setup(test_async_many_concurrent, setup),
        cmocka_unit_test_setup(test_async_max_host_connections, setup),
        cmocka_unit_test_setup(test_async_errors, setup),
        cmocka_unit_test_setup(test_async_free_cancels, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    responder_stop(R);
    pthread_mutex_destroy(&S.lock);
    return rc;
}
