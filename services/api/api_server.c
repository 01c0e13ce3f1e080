/* escher-api's HTTP server (see api_server.h). */
#include "api_server.h"

#include "api_metrics.h"
#include "api_req_internal.h"
#include "api_route.h"
#include "api_throttle.h"
#include "api_token.h"

#include "core/secure.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "db/db.h"
#include "db/stmtcache.h"
#include "ratelimit/ratelimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024
#define STMT_CACHE_MAX 256 /* distinct statements prepared per connection */
/* Bodies a little over the limit are read and refused with our JSON 413;
 * beyond this slack libevent refuses them itself (plain 413) without reading. */
#define BODY_SLACK 65536

typedef struct api_loop {
    struct api_server *srv;
    int index;
    pthread_t thread;
    bool started;
    int fd;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *stop_ev;
    PGconn *db;
    stmtcache *stmts; /* prepared statements on db, dropped with it */
    logger *log;
} api_loop;

struct api_server {
    const opts *o;
    const logger *log;
    api_settings settings;
    char *db_url;
    int port;
    size_t max_body;
    int64_t timeout_ms;
    int64_t grace_ms; /* shutdown-grace: drain time after the last accept */
    int nloops;
    api_loop *loops;
    api_throttle *throttle;
    ratelimit *redis_probe;
    pthread_t maint;
    bool maint_started;
    atomic_bool stopping;
};

/* ---- database ----------------------------------------------------------- */

/* Who is calling, and the tenant set for the transaction, in one statement;
 * prepared once per connection. */
#define AUTH_STMT "escher_auth"
#define AUTH_SQL                                                                                   \
    "SELECT token_id, tenant_id, user_id, role, email,"                                            \
    " set_config('escher.tenant_id', tenant_id::text, true)"                                       \
    " FROM escher_auth_token(decode($1, 'hex'))"
/* Token hygiene ("last used") costs a write at most once a minute per token:
 * the WHERE clause makes every other request's UPDATE touch no row. Runs
 * after AUTH_SQL in the same transaction, so row-level security admits only
 * the caller's own tenant. */
#define TOUCH_PERIOD_US (60 * 1000000LL)
#define TOUCH_STMT      "escher_touch"
#define TOUCH_SQL                                                                                  \
    "UPDATE api_tokens SET last_used_at = now()"                                                   \
    " WHERE token_sha256 = decode($1, 'hex') AND revoked_at IS NULL"                               \
    "   AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')"

/* A connection for request handling: RLS applies (escher_api), and no
 * statement outlives the request timeout. */
static PGconn *loop_connect(api_server *s, err *e)
{
    PGconn *c = db_connect(s->db_url, e);
    if (c == NULL)
        return NULL;
    char sql[64];
    snprintf(sql, sizeof sql, "SET statement_timeout = %lld", (long long)s->timeout_ms);
    /* UTC: api_json_row reads timestamptz text as UTC (storage is UTC anyway). */
    if (!db_set_role(c, "escher_api", e) || !db_exec(c, sql, 0, NULL, NULL, e) ||
        !db_exec(c, "SET TimeZone = 'UTC'", 0, NULL, NULL, e)) {
        PQfinish(c);
        return NULL;
    }
    PGresult *res = PQprepare(c, AUTH_STMT, AUTH_SQL, 1, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || db_error(e, c, res, "preparing auth");
    PQclear(res);
    if (ok) {
        res = PQprepare(c, TOUCH_STMT, TOUCH_SQL, 1, NULL);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK || db_error(e, c, res, "preparing touch");
        PQclear(res);
    }
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Makes sure the loop's connection works, reopening a broken one. */
static bool loop_db_ok(api_loop *L)
{
    if (L->db && PQstatus(L->db) == CONNECTION_OK)
        return true;
    err e;
    err_clear(&e);
    PGconn *c = loop_connect(L->srv, &e);
    if (c == NULL) {
        log_warn(L->log, "database unavailable", LOG_STR("error", e.message));
        return false;
    }
    PQfinish(L->db);
    L->db = c;
    stmtcache_reset(L->stmts);
    api_metrics_db_reconnect(L->srv->settings.metrics);
    return true;
}

/* ---- listening sockets ---------------------------------------------------- */

static int listen_socket(const char *addr, int port, int *bound_port, err *e)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        len = sizeof *v6;
    } else {
        return err_set(e, ERR_CONFIG, "listen address '%s' is not an IPv4 or IPv6 address", addr),
               -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return err_set(e, ERR_IO, "listening on %s port %d: %s", addr, port, strerror(saved)), -1;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        *bound_port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
    return fd;
}

/* ---- one request ------------------------------------------------------------ */

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

/* A client's X-Request-Id is kept when it is short and plain, so a trace can
 * span the client and the server; anything else is replaced. */
static void request_id(api_req *r)
{
    const char *in = evhttp_find_header(evhttp_request_get_input_headers(r->http), "X-Request-Id");
    size_t n = in ? strlen(in) : 0;
    bool ok = n >= 8 && n < API_REQUEST_ID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", in[i]);
    if (ok) {
        memcpy(r->request_id, in, n + 1);
        return;
    }
    unsigned char raw[12];
    if (!secure_random(raw, sizeof raw, NULL))
        memset(raw, 0, sizeof raw);
    static const char hex[] = "0123456789abcdef";
    memcpy(r->request_id, "req_", 4);
    for (size_t i = 0; i < sizeof raw; i++) {
        r->request_id[4 + 2 * i] = hex[raw[i] >> 4];
        r->request_id[5 + 2 * i] = hex[raw[i] & 15];
    }
    r->request_id[4 + 2 * sizeof raw] = '\0';
}

static unsigned role_bit(const char *name)
{
    if (strcmp(name, "manager") == 0)
        return API_ROLE_MANAGER;
    if (strcmp(name, "executor") == 0)
        return API_ROLE_EXECUTOR;
    if (strcmp(name, "viewer") == 0)
        return API_ROLE_VIEWER;
    return 0;
}

static void rollback(api_loop *L)
{
    PGresult *res = PQexec(L->db, "ROLLBACK");
    PQclear(res);
}

/* BEGIN, the prepared authentication and (when touch) the last-used touch
 * in one pipelined round trip: it opens the transaction and sets the tenant.
 * *res gets the authentication's rows (caller PQclear-s it, also on
 * failure). */
static bool auth_query(api_loop *L, const char *hash, bool touch, PGresult **res, err *e)
{
    const char *begin = NULL;
    *res = NULL;
    if (!stmtcache_name(L->stmts, L->db, "BEGIN", 0, &begin, e))
        return false;
    const char *p[1] = {hash};
    const db_stmt stmts[3] = {
        {.sql = "BEGIN", .prepared = begin},
        {.sql = AUTH_SQL, .prepared = AUTH_STMT, .nparams = 1, .params = p},
        {.sql = TOUCH_SQL, .prepared = TOUCH_STMT, .nparams = 1, .params = p},
    };
    PGresult *results[3] = {NULL, NULL, NULL};
    bool ok = db_pipeline(L->db, stmts, touch ? 3 : 2, results, e);
    PQclear(results[0]);
    PQclear(results[2]);
    *res = results[1];
    return ok;
}

/* Authenticates the bearer token and opens the request's transaction with the
 * caller's tenant set, in one round trip. On failure records the answer (and
 * leaves no transaction open). */
static bool authenticate(api_loop *L, api_req *r)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->http), "Authorization");
    if (h == NULL)
        return api_fail(r, 401, "unauthorized", "missing 'Authorization: Bearer <token>' header");
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return api_fail(r, 401, "unauthorized",
                        "the Authorization header must use the Bearer scheme");
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    size_t n = strlen(tok);
    while (n > 0 && tok[n - 1] == ' ')
        n--;
    if (!api_token_well_formed(tok, n))
        return api_fail(r, 401, "unauthorized",
                        "the bearer token is malformed (want " API_TOKEN_PREFIX
                        " followed by 64 hex digits)");
    char hash[API_TOKEN_HASH_HEX];
    api_token_hash(tok, n, hash);
    if (!loop_db_ok(L))
        return api_fail(r, 503, "unavailable", "the database is unavailable; retry later");
    /* The touch's own WHERE writes at most once a minute; skipping the
     * statement when this process sent it for the token less than a minute
     * ago saves a statement on nearly every request. */
    bool touch = api_throttle_once_per(L->srv->throttle, hash, (int64_t)(timeutil_mono_ns() / 1000),
                                       TOUCH_PERIOD_US);
    err e;
    err_clear(&e);
    PGresult *res = NULL;
    bool ok = auth_query(L, hash, touch, &res, &e);
    /* A connection the server closed since the last request (a restart, an
     * idle timeout) is only noticed now; nothing has happened yet, so one
     * reconnect and retry makes it invisible to the client. */
    if (!ok && PQstatus(L->db) != CONNECTION_OK) {
        PQclear(res);
        res = NULL;
        if (!loop_db_ok(L))
            return api_fail(r, 503, "unavailable", "the database is unavailable; retry later");
        err_clear(&e);
        ok = auth_query(L, hash, touch, &res, &e);
    }
    if (!ok) {
        PQclear(res);
        rollback(L);
        e.code = ERR_INTERNAL;
        return api_fail_err(r, &e);
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        rollback(L);
        return api_fail(r, 401, "unauthorized", "the bearer token is unknown or revoked");
    }
    api_caller *c = &r->caller;
    snprintf(c->token_id, sizeof c->token_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(c->tenant_id, sizeof c->tenant_id, "%s", PQgetvalue(res, 0, 1));
    snprintf(c->user_id, sizeof c->user_id, "%s", PQgetvalue(res, 0, 2));
    c->role = role_bit(PQgetvalue(res, 0, 3));
    c->role_name = c->role == API_ROLE_MANAGER    ? "manager"
                   : c->role == API_ROLE_EXECUTOR ? "executor"
                                                  : "viewer";
    snprintf(c->email, sizeof c->email, "%s", PQgetvalue(res, 0, 4));
    PQclear(res);
    return true;
}

/* Ends the request's transaction: COMMIT for a success, ROLLBACK otherwise.
 * A failed COMMIT turns the answer into an error. */
static void finish_tx(api_loop *L, api_req *r)
{
    if (r->tx_done)
        return;
    if (r->status >= 400) {
        rollback(L);
        return;
    }
    PGresult *res = PQexec(L->db, "COMMIT");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0;
    if (!ok) {
        /* "ROLLBACK" as the status means a statement failed and the handler
         * answered success anyway: a bug, not the client's fault. */
        err e;
        err_clear(&e);
        if (PQresultStatus(res) == PGRES_COMMAND_OK)
            err_set(&e, ERR_INTERNAL, "the transaction was aborted but the handler answered %d",
                    r->status);
        else
            db_error(&e, L->db, res, "committing");
        PQclear(res);
        rollback(L);
        if (strcmp(e.remote_code, "23505") != 0 && strncmp(e.remote_code, "40", 2) != 0)
            e.code = ERR_INTERNAL;
        api_fail_err(r, &e);
        return;
    }
    PQclear(res);
}

static void send_answer(api_req *r)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->http);
    for (struct evkeyval *kv = r->headers.tqh_first; kv; kv = kv->next.tqe_next)
        evhttp_add_header(out, kv->key, kv->value);
    evhttp_add_header(out, "X-Request-Id", r->request_id);
    evhttp_add_header(out, "Cache-Control", "no-store");
    struct evbuffer *buf = NULL;
    if (r->reply || r->reply_raw) {
        char *text =
            r->reply_raw ? r->reply_raw : json_dumps(r->reply, JSON_COMPACT | JSON_ENCODE_ANY);
        r->reply_raw = NULL;
        buf = evbuffer_new();
        if (text) {
            evbuffer_add(buf, text, strlen(text));
            evbuffer_add(buf, "\n", 1);
            free(text);
        }
        if (evhttp_find_header(out, "Content-Type") == NULL)
            evhttp_add_header(out, "Content-Type", "application/json");
    }
    evhttp_send_reply(r->http, r->status, NULL, buf);
    if (buf)
        evbuffer_free(buf);
}

/* After the answer: /metrics, the request's log line, and what r holds. */
static void request_done(api_req *r)
{
    int64_t us = (int64_t)((timeutil_mono_ns() - r->t0) / 1000);
    api_metrics_observe(r->settings->metrics, r->route_index, r->status, us);
    log_debug(r->log, "request", LOG_STR("request_id", r->request_id), LOG_STR("method", r->method),
              LOG_STR("path", r->path), LOG_INT("status", r->status), LOG_INT("us", us),
              LOG_STR("tenant_id", r->caller.tenant_id));
    json_decref(r->body);
    json_decref(r->reply);
    free(r->reply_raw);
    evhttp_clear_headers(&r->query);
    evhttp_clear_headers(&r->headers);
}

static void move_headers(struct evkeyvalq *to, struct evkeyvalq *from)
{
    TAILQ_INIT(to);
    struct evkeyval *kv;
    while ((kv = TAILQ_FIRST(from)) != NULL) {
        TAILQ_REMOVE(from, kv, next);
        TAILQ_INSERT_TAIL(to, kv, next);
    }
}

api_req *api_defer(api_req *r)
{
    static const char *const no_params[] = {NULL};
    if (!r->query_read && !api_query_only(r, no_params))
        return NULL;
    api_req *d = xmalloc(sizeof *d);
    *d = *r;
    move_headers(&d->query, &r->query);
    move_headers(&d->headers, &r->headers);
    for (size_t i = 0; i < r->nparams; i++)
        d->params[i] = d->pathbuf + (r->params[i] - r->pathbuf);
    d->db = NULL;
    d->stmts = NULL;
    d->tx_done = true;
    r->body = NULL;
    r->reply = NULL;
    r->reply_raw = NULL;
    r->status = 0;
    r->deferred = true;
    return d;
}

void api_deferred_send(api_req *d)
{
    if (d->status == 0)
        api_fail(d, 500, "internal", "the handler gave no answer (request id %s)", d->request_id);
    send_answer(d);
    request_done(d);
    free(d);
}

static void handle(struct evhttp_request *http, void *arg)
{
    api_loop *L = arg;
    api_server *s = L->srv;
    uint64_t t0 = timeutil_mono_ns();
    api_req r;
    memset(&r, 0, sizeof r);
    r.http = http;
    r.base = L->base;
    r.t0 = t0;
    r.stmts = L->stmts;
    r.log = L->log;
    r.settings = &s->settings;
    TAILQ_INIT(&r.headers);
    TAILQ_INIT(&r.query);
    request_id(&r);
    r.method = method_name(evhttp_request_get_command(http));

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(http);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    r.path = path && *path ? path : "/";
    size_t route_index = api_route_count();
    r.route_index = route_index;
    const api_route *route = NULL;
    bool in_tx = false;

    if (query && *query) {
        if (evhttp_parse_query_str(query, &r.query) != 0) {
            api_fail(&r, 400, "invalid_query", "the query string '%.100s' is malformed", query);
            goto answer;
        }
        r.query_parsed = true;
    }
    bool known = false;
    char allow[64];
    route = api_route_match(r.method, r.path, &route_index, r.pathbuf, sizeof r.pathbuf, r.params,
                            &r.nparams, &known, allow, sizeof allow);
    if (route == NULL) {
        if (known) {
            api_header(&r, "Allow", allow);
            api_fail(&r, 405, "method_not_allowed", "%s is not allowed on %.200s (allowed: %s)",
                     r.method, r.path, allow);
        } else {
            api_fail(&r, 404, "not_found", "no route %s %.200s; see docs/api/openapi.yaml",
                     r.method, r.path);
        }
        goto answer;
    }
    r.route_index = route_index;
    size_t body_len = evbuffer_get_length(evhttp_request_get_input_buffer(http));
    if (body_len > s->max_body) {
        api_fail(&r, 413, "body_too_large",
                 "the request body has %zu bytes; the limit is %zu (max-body-bytes)", body_len,
                 s->max_body);
        goto answer;
    }
    if (route->roles == 0) {
        r.db = loop_db_ok(L) ? L->db : NULL;
        route->handler(&r);
        goto answer;
    }
    if (!authenticate(L, &r))
        goto answer;
    in_tx = true;
    r.db = L->db;
    if ((route->roles & r.caller.role) == 0) {
        api_fail(&r, 403, "forbidden", "role '%s' may not %s %s (allowed: %s)", r.caller.role_name,
                 r.method, route->pattern, api_roles_text(route->roles));
        goto answer;
    }
    int retry_after = 1;
    if (!api_throttle_take(s->throttle, r.caller.token_id, (int64_t)(t0 / 1000), &retry_after)) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        api_header(&r, "Retry-After", ra);
        api_fail(&r, 429, "rate_limited",
                 "too many requests for this token; retry after %d s (token-rate)", retry_after);
        goto answer;
    }
    route->handler(&r);
    if (r.status == 0 && !r.deferred)
        api_fail(&r, 500, "internal", "the handler gave no answer (request id %s)", r.request_id);
    /* A route whose handler reads no query takes no parameters: refuse them
     * rather than ignore them (a mutation is then rolled back below). */
    static const char *const no_params[] = {NULL};
    if (r.status < 400 && !r.query_read && !r.deferred)
        api_query_only(&r, no_params);

answer:
    if (in_tx)
        finish_tx(L, &r);
    if (r.deferred) {
        /* api_defer moved the answer's parts to the deferred request; a
         * failed COMMIT's error (nothing was written) is dropped. */
        json_decref(r.reply);
        free(r.reply_raw);
        evhttp_clear_headers(&r.query);
        evhttp_clear_headers(&r.headers);
        return;
    }
    send_answer(&r);
    request_done(&r);
}

/* ---- loops -------------------------------------------------------------------- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    api_loop *L = arg;
    if (L->bound) {
        evhttp_del_accept_socket(L->http, L->bound); /* closes the listening socket */
        L->bound = NULL;
        L->fd = -1;
    }
    int64_t ms = L->srv->grace_ms;
    struct timeval drain = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_base_loopexit(L->base, &drain);
}

static void *loop_main(void *arg)
{
    api_loop *L = arg;
    event_base_dispatch(L->base);
    return NULL;
}

static bool loop_init(api_server *s, api_loop *L, int index, const char *addr, err *e)
{
    L->srv = s;
    L->index = index;
    L->fd = -1;
    char name[16];
    snprintf(name, sizeof name, "%d", index);
    L->log = log_child(s->log, LOG_STR("loop", name));
    L->base = event_base_new();
    L->http = L->base ? evhttp_new(L->base) : NULL;
    if (L->http == NULL)
        return err_set(e, ERR_INTERNAL, "creating event loop %d failed", index);
    int port = s->port;
    L->fd = listen_socket(addr, port, &s->port, e);
    if (L->fd < 0)
        return false;
    L->bound = evhttp_accept_socket_with_handle(L->http, L->fd);
    if (L->bound == NULL)
        return err_set(e, ERR_IO, "accepting on %s port %d failed", addr, s->port);
    evhttp_set_allowed_methods(L->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_max_body_size(L->http, (ev_ssize_t)(s->max_body + BODY_SLACK));
    evhttp_set_max_headers_size(L->http, 16384);
    evhttp_set_timeout(L->http, (int)((s->timeout_ms + 999) / 1000));
    evhttp_set_default_content_type(L->http, "application/json");
    evhttp_set_gencb(L->http, handle, L);
    L->stop_ev = event_new(L->base, -1, 0, on_stop, L);
    L->stmts = stmtcache_new(STMT_CACHE_MAX);
    L->db = loop_connect(s, e);
    return L->db != NULL;
}

static void loop_free(api_loop *L)
{
    if (L->http)
        evhttp_free(L->http); /* also closes a still-bound listener */
    if (L->stop_ev)
        event_free(L->stop_ev);
    if (L->base)
        event_base_free(L->base);
    PQfinish(L->db);
    stmtcache_free(L->stmts);
    log_free(L->log);
}

/* ---- maintenance: Redis for /readyz ------------------------------------------------ */

static void *maint_main(void *arg)
{
    api_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        /* One token from a bucket of our own is a real round trip: it notices a
         * Redis that died while the connection sat idle. */
        err e;
        err_clear(&e);
        ratelimit_take(s->redis_probe, "escher-api", "readyz", RATELIMIT_DESCRIBE, 1, NULL, &e);
        char reason[256];
        bool degraded = ratelimit_degraded(s->redis_probe, reason, sizeof reason);
        pthread_mutex_lock(&s->settings.redis_lock);
        s->settings.redis_ok = !degraded;
        s->settings.redis_checked = true;
        snprintf(s->settings.redis_reason, sizeof s->settings.redis_reason, "%s", reason);
        pthread_mutex_unlock(&s->settings.redis_lock);
        for (int i = 0; i < 20 && !atomic_load(&s->stopping); i++)
            usleep(100 * 1000);
    }
    return NULL;
}

/* ---- the server --------------------------------------------------------------------- */

api_server *api_server_new(const opts *o, const logger *log, err *e)
{
    static bool threads_on;
    if (!threads_on && evthread_use_pthreads() != 0) {
        err_set(e, ERR_INTERNAL, "libevent thread support is unavailable");
        return NULL;
    }
    threads_on = true;
    api_server *s = xcalloc(1, sizeof *s);
    s->o = o;
    s->log = log;
    s->db_url = xstrdup(opts_get_string(o, "database-url"));
    s->port = (int)opts_get_int(o, "port");
    s->max_body = (size_t)opts_get_int(o, "max-body-bytes");
    s->timeout_ms = opts_get_duration_ms(o, "request-timeout");
    s->grace_ms = opts_get_duration_ms(o, "shutdown-grace");
    s->nloops = (int)opts_get_int(o, "threads");
    if (s->nloops == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->nloops = n > 0 ? (int)n : 1;
    }
    s->settings.escher_principal_arn = opts_get_string(o, "escher-principal-arn");
    s->settings.template_url = opts_get_string(o, "template-url");
    s->settings.redis_url = opts_get_string(o, "redis-url");
    s->settings.llm_url = opts_get_string(o, "llm-url");
    s->settings.llm_model = opts_get_string(o, "llm-model");
    s->settings.llm_api_key = opts_get_secret(o, "llm-api-key");
    s->settings.llm_timeout_ms = opts_get_duration_ms(o, "llm-timeout");
    if (s->settings.llm_url && *s->settings.llm_url &&
        s->settings.llm_timeout_ms >= s->timeout_ms) {
        err_set(e, ERR_CONFIG,
                "llm-timeout (%lld ms) must be shorter than request-timeout (%lld ms): a chat "
                "request waits on the model within its own time",
                (long long)s->settings.llm_timeout_ms, (long long)s->timeout_ms);
        goto fail;
    }
    const char *mk = opts_get_secret(o, "master-key");
    if (mk && *mk) {
        /* The option's check already parsed it: this cannot fail. */
        if (!seal_key_parse(mk, &s->settings.master_key, e))
            goto fail;
        s->settings.has_master_key = true;
    }
    s->settings.metrics = api_metrics_new(api_route_count());
    pthread_mutex_init(&s->settings.redis_lock, NULL);
    s->throttle = api_throttle_new((double)opts_get_int(o, "token-rate"),
                                   (double)opts_get_int(o, "token-burst"));
    s->redis_probe = ratelimit_new(s->settings.redis_url, "escher:api:", NULL, log, e);
    if (s->redis_probe == NULL)
        goto fail;
    s->loops = xcalloc((size_t)s->nloops, sizeof *s->loops);
    const char *addr = opts_get_string(o, "listen");
    for (int i = 0; i < s->nloops; i++)
        if (!loop_init(s, &s->loops[i], i, addr, e))
            goto fail;
    return s;
fail:
    api_server_free(s);
    return NULL;
}

int api_server_port(const api_server *s)
{
    return s->port;
}

bool api_server_run(api_server *s, err *e)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    bool ok = true;
    if (pthread_create(&s->maint, NULL, maint_main, s) == 0)
        s->maint_started = true;
    for (int i = 0; i < s->nloops && ok; i++) {
        ok = pthread_create(&s->loops[i].thread, NULL, loop_main, &s->loops[i]) == 0;
        s->loops[i].started = ok;
    }
    if (!ok)
        err_set(e, ERR_INTERNAL, "starting the event loop threads failed");
    char port[8];
    snprintf(port, sizeof port, "%d", s->port);
    char loops[8];
    snprintf(loops, sizeof loops, "%d", s->nloops);
    if (ok)
        log_info(s->log, "listening", LOG_STR("address", opts_get_string(s->o, "listen")),
                 LOG_STR("port", port), LOG_STR("loops", loops));
    int sig = 0;
    while (ok && sigwait(&set, &sig) != 0)
        ;
    if (ok)
        log_info(s->log, "stopping", LOG_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    atomic_store(&s->stopping, true);
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].started)
            event_active(s->loops[i].stop_ev, 0, 0);
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].started) {
            pthread_join(s->loops[i].thread, NULL);
            s->loops[i].started = false;
        }
    if (s->maint_started) {
        pthread_join(s->maint, NULL);
        s->maint_started = false;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

void api_server_free(api_server *s)
{
    if (s == NULL)
        return;
    for (int i = 0; s->loops && i < s->nloops; i++)
        loop_free(&s->loops[i]);
    free(s->loops);
    ratelimit_free(s->redis_probe);
    api_throttle_free(s->throttle);
    api_metrics_free(s->settings.metrics);
    pthread_mutex_destroy(&s->settings.redis_lock);
    seal_key_wipe(&s->settings.master_key);
    free(s->db_url);
    free(s);
}
