/* Throughput of the asynchronous HTTP client: N GET requests with 256 in
 * flight against an evhttp server on 127.0.0.1 running in its own thread,
 * compared with the same requests through the blocking client one after the
 * other (the peer: what a caller without http_async would get).
 *
 * Two rounds. With no server latency the figure is pure client+server CPU
 * cost on loopback, where sequential calls are nearly as fast, so it shows
 * overhead, not concurrency. With a simulated 5 ms answer latency (less than
 * a real in-region AWS round trip) it shows what a worker gets from keeping
 * many requests in flight; the headline is that round, with its bound
 * (256 in flight / 5 ms) printed beside it.
 *
 *   bench_http [requests]     default 20000
 *
 * Ends with "http: <req/s> req/s (<ratio>x vs blocking client, sequential, 5 ms latency)". */
#include "aws/http.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define WINDOW     256
#define LATENCY_MS 5

/* ---- server ---- */

typedef struct server {
    struct event_base *base;
    struct evhttp *http;
    struct event *stop;
    pthread_t thread;
    int port;
    volatile int latency_ms; /* set between rounds, while no request is in flight */
} server;

static void reply(struct evhttp_request *r)
{
    struct evbuffer *b = evbuffer_new();
    /* a body the size of a small AWS answer */
    evbuffer_add_printf(b, "<GetCallerIdentityResponse><Account>123456789012</Account>"
                           "<Arn>arn:aws:iam::123456789012:user/bench</Arn>"
                           "</GetCallerIdentityResponse>");
    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type", "text/xml");
    evhttp_send_reply(r, 200, "OK", b);
    evbuffer_free(b);
}

typedef struct delayed {
    struct evhttp_request *req;
    struct event *timer;
} delayed;

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    delayed *d = arg;
    reply(d->req);
    event_free(d->timer);
    free(d);
}

static void on_request(struct evhttp_request *r, void *arg)
{
    server *s = arg;
    if (s->latency_ms == 0) {
        reply(r);
        return;
    }
    delayed *d = xmalloc(sizeof *d);
    d->req = r;
    d->timer = evtimer_new(s->base, on_delay, d);
    struct timeval tv = {0, s->latency_ms * 1000};
    evtimer_add(d->timer, &tv);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void *serve(void *arg)
{
    server *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

static void server_start(server *s)
{
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    s->base = event_base_new();
    s->http = evhttp_new(s->base);
    s->latency_ms = 0;
    evhttp_set_gencb(s->http, on_request, s);
    struct evhttp_bound_socket *h = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    if (h == NULL) {
        fprintf(stderr, "bench_http: cannot bind 127.0.0.1\n");
        exit(1);
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(evhttp_bound_socket_get_fd(h), (struct sockaddr *)&sa, &sl);
    s->port = ntohs(sa.sin_port);
    s->stop = event_new(s->base, -1, 0, on_stop, s->base);
    pthread_create(&s->thread, NULL, serve, s);
}

static void server_stop(server *s)
{
    event_active(s->stop, 0, 0);
    pthread_join(s->thread, NULL);
    event_free(s->stop);
    evhttp_free(s->http);
    event_base_free(s->base);
}

/* ---- client side ---- */

typedef struct run {
    http_async *a;
    struct event_base *base;
    const char *url;
    long total;
    long submitted;
    long done;
    long failed;
    char first_error[ERR_MESSAGE_MAX];
} run;

static void on_done(const http_response *resp, const err *e, void *arg);

static void submit_one(run *r)
{
    http_request req = {"GET", r->url, NULL, NULL, 0, NULL};
    err e;
    if (!http_async_submit(r->a, &req, on_done, r, &e)) {
        fprintf(stderr, "bench_http: submit: %s\n", e.message);
        exit(1);
    }
    r->submitted++;
}

static void on_done(const http_response *resp, const err *e, void *arg)
{
    run *r = arg;
    r->done++;
    if (resp == NULL || resp->status != 200) {
        if (r->failed++ == 0)
            snprintf(r->first_error, sizeof r->first_error, "%s",
                     e ? e->message : "unexpected status");
    }
    if (r->submitted < r->total)
        submit_one(r);
    else if (r->done == r->total)
        event_base_loopbreak(r->base);
}

static double async_run(const char *url, long n)
{
    struct event_base *base = event_base_new();
    http_options o = {.timeout_ms = 30000};
    run r = {.a = http_async_new(base, &o), .base = base, .url = url, .total = n};
    uint64_t t0 = timeutil_mono_ns();
    for (int i = 0; i < WINDOW && r.submitted < n; i++)
        submit_one(&r);
    event_base_dispatch(base);
    double secs = (double)(timeutil_mono_ns() - t0) / 1e9;
    if (r.failed) {
        fprintf(stderr, "bench_http: %ld of %ld async requests failed, first: %s\n", r.failed, n,
                r.first_error);
        exit(1);
    }
    http_async_free(r.a);
    event_base_free(base);
    return (double)n / secs;
}

static double blocking_run(const char *url, long n)
{
    http_client *c = http_client_new(NULL);
    uint64_t t0 = timeutil_mono_ns();
    for (long i = 0; i < n; i++) {
        http_request req = {"GET", url, NULL, NULL, 0, NULL};
        http_response resp = HTTP_RESPONSE_INIT;
        err e;
        if (!http_client_do(c, &req, &resp, &e) || resp.status != 200) {
            fprintf(stderr, "bench_http: blocking request failed: %s\n", e.message);
            exit(1);
        }
        http_response_free(&resp);
    }
    double secs = (double)(timeutil_mono_ns() - t0) / 1e9;
    http_client_free(c);
    return (double)n / secs;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    if (n < WINDOW)
        n = WINDOW;
    server s;
    server_start(&s);
    char *url = xasprintf("http://127.0.0.1:%d/bench", s.port);

    /* warm both paths (connections, handle pool) so neither pays setup alone */
    async_run(url, WINDOW);
    blocking_run(url, 100);

    double async_rps = async_run(url, n);
    long nb = n / 4 > 2000 ? n / 4 : 2000;
    double blocking_rps = blocking_run(url, nb);

    s.latency_ms = LATENCY_MS;
    double async_lat_rps = async_run(url, n);
    long nbl = 200; /* at 5 ms each, one second of sequential calls */
    double blocking_lat_rps = blocking_run(url, nbl);
    double bound = WINDOW * 1000.0 / LATENCY_MS;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("no latency:  %ld async (%d in flight): %.0f req/s; %ld blocking sequential: %.0f req/s "
           "(%.2fx)\n",
           n, WINDOW, async_rps, nb, blocking_rps, async_rps / blocking_rps);
    printf("%d ms latency: %ld async (%d in flight): %.0f req/s (%.0f%% of the %.0f req/s bound); "
           "%ld blocking sequential: %.0f req/s\n",
           LATENCY_MS, n, WINDOW, async_lat_rps, 100.0 * async_lat_rps / bound, bound, nbl,
           blocking_lat_rps);
    printf("peak RSS: %ld KiB (client and server threads together)\n", ru.ru_maxrss);
    printf("http: %.0f req/s (%.1fx vs blocking client, sequential, %d ms latency)\n",
           async_lat_rps, async_lat_rps / blocking_lat_rps, LATENCY_MS);
    free(url);
    server_stop(&s);
    return 0;
}
