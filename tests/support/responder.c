#include "support/responder.h"

#include "core/xmalloc.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct responder {
    struct event_base *base;
    struct evhttp *http;
    struct event *stop_ev;
    pthread_t thread;
    pthread_mutex_t lock;
    int count;
    int port;
    char url[64];
    responder_fn fn;
    void *arg;
    struct pending *delayed; /* replies waiting on a timer; freed by responder_stop */
};

typedef struct pending {
    struct evhttp_request *req;
    responder_reply reply;
    struct event *timer;
    responder *rs;
    struct pending *prev, *next;
} pending;

static void pending_unlink(pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else if (p->rs->delayed == p)
        p->rs->delayed = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static const char *req_header(const responder_req *req, const char *name)
{
    struct evhttp_request *r = req->impl;
    return evhttp_find_header(evhttp_request_get_input_headers(r), name);
}

static void send_reply(pending *p)
{
    pending_unlink(p);
    if (p->reply.close_connection) {
        struct evhttp_connection *conn = evhttp_request_get_connection(p->req);
        /* Shut the socket first so the client sees the connection end with no
         * answer at all; evhttp still needs the request ended, and its write
         * then fails (EPIPE, SIGPIPE ignored) and frees the connection. */
        if (conn) {
            struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
            evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
            if (fd >= 0)
                shutdown(fd, SHUT_RDWR);
        }
        evhttp_send_reply(p->req, 444, "Closed", NULL);
        if (conn)
            evhttp_connection_free_on_completion(conn);
    } else {
        struct evkeyvalq *out = evhttp_request_get_output_headers(p->req);
        char *lines = xstrdup(p->reply.headers);
        char *save = NULL;
        for (char *line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            *colon = '\0';
            char *value = colon + 1;
            while (*value == ' ')
                value++;
            size_t vl = strlen(value);
            if (vl && value[vl - 1] == '\r')
                value[vl - 1] = '\0';
            evhttp_add_header(out, line, value);
        }
        free(lines);
        struct evbuffer *buf = evbuffer_new();
        if (p->reply.body)
            evbuffer_add(buf, p->reply.body, strlen(p->reply.body));
        evhttp_send_reply(p->req, p->reply.status, "Scripted", buf);
        evbuffer_free(buf);
    }
    free(p->reply.body);
    if (p->timer)
        event_free(p->timer);
    free(p);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    send_reply(arg);
}

static void on_request(struct evhttp_request *r, void *arg)
{
    responder *rs = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(r);
    size_t len = evbuffer_get_length(in);
    char *body = xmalloc(len + 1);
    evbuffer_copyout(in, body, len);
    body[len] = '\0';

    static const char *methods[] = {"GET",     "POST",  "HEAD",    "PUT",  "DELETE",
                                    "OPTIONS", "TRACE", "CONNECT", "PATCH"};
    enum evhttp_cmd_type cmd = evhttp_request_get_command(r);
    const char *method = "OTHER";
    for (unsigned i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (cmd == (enum evhttp_cmd_type)(1 << i))
            method = methods[i];

    responder_req req = {method, evhttp_request_get_uri(r), body, len, req_header, r};
    pthread_mutex_lock(&rs->lock);
    int n = ++rs->count;
    pthread_mutex_unlock(&rs->lock);

    pending *p = xcalloc(1, sizeof *p);
    p->req = r;
    p->rs = rs;
    p->reply.status = 200;
    rs->fn(&req, &p->reply, n, rs->arg);
    free(body);
    if (p->reply.delay_ms > 0) {
        p->timer = evtimer_new(rs->base, on_delay, p);
        p->next = rs->delayed;
        if (rs->delayed)
            rs->delayed->prev = p;
        rs->delayed = p;
        struct timeval tv = {p->reply.delay_ms / 1000, (p->reply.delay_ms % 1000) * 1000};
        evtimer_add(p->timer, &tv);
    } else {
        send_reply(p);
    }
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void *run(void *arg)
{
    responder *rs = arg;
    event_base_dispatch(rs->base);
    return NULL;
}

responder *responder_start(responder_fn fn, void *arg)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);
    /* A client that gives up (timeout tests) leaves evhttp writing to a
     * closed socket; the default SIGPIPE would kill the test process. */
    signal(SIGPIPE, SIG_IGN);
    responder *rs = xcalloc(1, sizeof *rs);
    rs->fn = fn;
    rs->arg = arg;
    pthread_mutex_init(&rs->lock, NULL);
    rs->base = event_base_new();
    rs->http = rs->base ? evhttp_new(rs->base) : NULL;
    if (rs->http == NULL) {
        fprintf(stderr, "responder: cannot create event base\n");
        abort();
    }
    evhttp_set_allowed_methods(rs->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                             EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                             EVHTTP_REQ_PATCH);
    evhttp_set_gencb(rs->http, on_request, rs);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(rs->http, "127.0.0.1", 0);
    if (sock == NULL) {
        fprintf(stderr, "responder: cannot bind 127.0.0.1\n");
        abort();
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl);
    rs->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(rs->url, sizeof rs->url, "http://127.0.0.1:%d", rs->port);
    rs->stop_ev = event_new(rs->base, -1, 0, on_stop, rs->base);
    if (pthread_create(&rs->thread, NULL, run, rs) != 0) {
        fprintf(stderr, "responder: cannot start thread\n");
        abort();
    }
    return rs;
}

int responder_port(const responder *r)
{
    return r->port;
}

const char *responder_url(const responder *r)
{
    return r->url;
}

int responder_count(responder *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->count;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void responder_stop(responder *r)
{
    if (r == NULL)
        return;
    event_active(r->stop_ev, 0, 0);
    pthread_join(r->thread, NULL);
    event_free(r->stop_ev);
    /* Replies still waiting on their delay: the requests themselves go with
     * evhttp_free, our bookkeeping must go here. */
    while (r->delayed) {
        pending *p = r->delayed;
        pending_unlink(p);
        event_free(p->timer);
        free(p->reply.body);
        free(p);
    }
    evhttp_free(r->http);
    event_base_free(r->base);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
