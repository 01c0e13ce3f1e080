#include "aws/http.h"

#include "core/secure.h"
#include "core/xmalloc.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef ESCHER_VERSION
#define ESCHER_VERSION "0.1.0"
#endif

#define DEFAULT_CONNECT_TIMEOUT_MS 3000L
#define DEFAULT_TIMEOUT_MS         30000L
#define DEFAULT_USER_AGENT         "escher/" ESCHER_VERSION

/* Idle easy handles kept by an asynchronous client. Handles are cheap to
 * create but each carries buffers that a busy loop would otherwise allocate
 * and free per request; 128 covers the usual burst without holding memory for
 * the rare one. */
#define ASYNC_POOL_MAX 128

/* ---- headers ---- */

void http_headers_add(http_headers *h, const char *name, const char *value)
{
    if (h->count == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->items = xreallocarray(h->items, h->cap, sizeof *h->items);
    }
    h->items[h->count].name = xstrdup(name);
    h->items[h->count].value = xstrdup(value ? value : "");
    h->count++;
}

void http_headers_set(http_headers *h, const char *name, const char *value)
{
    for (size_t i = 0; i < h->count; i++) {
        if (strcasecmp(h->items[i].name, name) == 0) {
            char *v = xstrdup(value ? value : "");
            free(h->items[i].value);
            h->items[i].value = v;
            return;
        }
    }
    http_headers_add(h, name, value);
}

const char *http_headers_get(const http_headers *h, const char *name)
{
    if (h == NULL)
        return NULL;
    for (size_t i = 0; i < h->count; i++)
        if (strcasecmp(h->items[i].name, name) == 0)
            return h->items[i].value;
    return NULL;
}

void http_headers_copy(http_headers *dst, const http_headers *src)
{
    if (src == NULL)
        return;
    for (size_t i = 0; i < src->count; i++)
        http_headers_add(dst, src->items[i].name, src->items[i].value);
}

void http_headers_free(http_headers *h)
{
    if (h == NULL)
        return;
    /* Values may be X-Amz-Security-Token or a container authorization token;
     * the transport cannot tell, so every value is wiped. */
    for (size_t i = 0; i < h->count; i++) {
        free(h->items[i].name);
        secure_free_string(h->items[i].value);
    }
    free(h->items);
    h->items = NULL;
    h->count = h->cap = 0;
}

void http_response_free(http_response *r)
{
    if (r == NULL)
        return;
    http_headers_free(&r->headers);
    /* STS, IMDS and container answers carry credentials: wipe every body
     * rather than trust each caller to remember. */
    strbuf_free_secret(&r->body);
    r->status = 0;
}

/* ---- shared per-transfer machinery ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
    /* Never paired with curl_global_cleanup: other threads may still hold
     * handles at exit and the process ends anyway. */
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool ensure_curl(err *e)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK)
        return err_set(e, ERR_INTERNAL, "curl_global_init failed: %s",
                       curl_easy_strerror(curl_init_result));
    return true;
}

typedef struct resolved_options {
    long connect_timeout_ms;
    long timeout_ms;
    long max_host_connections;
    char *ca_file;
    char *user_agent;
} resolved_options;

static void options_resolve(resolved_options *o, const http_options *in)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms =
        in && in->connect_timeout_ms > 0 ? in->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    o->timeout_ms = in && in->timeout_ms > 0 ? in->timeout_ms : DEFAULT_TIMEOUT_MS;
    o->max_host_connections = in && in->max_host_connections > 0 ? in->max_host_connections : 0;
    o->ca_file = in && in->ca_file ? xstrdup(in->ca_file) : NULL;
    o->user_agent = xstrdup(in && in->user_agent ? in->user_agent : DEFAULT_USER_AGENT);
}

static void options_free(resolved_options *o)
{
    free(o->ca_file);
    free(o->user_agent);
}

/* One request's state while curl works on it. Owns copies of everything curl
 * reads lazily (URL for messages, header list, body) so callers of the
 * asynchronous client may free their request at once. */
typedef struct xfer {
    CURL *easy;
    char *url;
    char *method;
    struct curl_slist *hdrs;
    void *body;
    size_t body_len;
    http_response resp;
    char errbuf[CURL_ERROR_SIZE];
    /* mail only (http_mail) */
    bool mail;
    char *mail_from, *user, *password;
    struct curl_slist *rcpt;
    size_t sent; /* of body, read by curl */
    /* async only */
    http_done_fn done;
    void *arg;
    struct xfer *prev, *next;
} xfer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    strbuf_append(&x->resp.body, data, size * nmemb);
    return size * nmemb;
}

/* Feeds a mail's message to curl. */
static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t n = size * nmemb;
    if (n > x->body_len - x->sent)
        n = x->body_len - x->sent;
    memcpy(buf, (const char *)x->body + x->sent, n);
    x->sent += n;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t n = size * nmemb;
    size_t len = n;
    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
        len--;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new status line: interim answers (100 Continue, a proxy's
         * CONNECT reply) came before; only the final response's headers count. */
        http_headers_free(&x->resp.headers);
        return n;
    }
    if (len == 0)
        return n;
    if ((data[0] == ' ' || data[0] == '\t') && x->resp.headers.count > 0) {
        /* obsolete line folding: continues the previous value */
        http_header *last = &x->resp.headers.items[x->resp.headers.count - 1];
        size_t start = 0;
        while (start < len && (data[start] == ' ' || data[start] == '\t'))
            start++;
        char *joined = xasprintf("%s %.*s", last->value, (int)(len - start), data + start);
        free(last->value);
        last->value = joined;
        return n;
    }
    const char *colon = memchr(data, ':', len);
    if (colon == NULL)
        return n;
    char *name = xstrndup(data, (size_t)(colon - data));
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    char *value = xstrndup(v, (size_t)(end - v));
    http_headers_add(&x->resp.headers, name, value);
    free(name);
    free(value);
    return n;
}

/* Length of the URL without its query or fragment: messages name the URL but
 * a presigned query carries credentials (X-Amz-Security-Token), which must not
 * end up in logs. */
static int url_print_len(const char *url)
{
    return (int)strcspn(url, "?#");
}

static bool valid_method(const char *m)
{
    if (m == NULL || *m == '\0' || strlen(m) > 16)
        return false;
    for (const char *p = m; *p; p++)
        if (*p < 'A' || *p > 'Z')
            return false;
    return true;
}

static bool validate_mail(const http_request *req, err *e)
{
    const http_mail *m = req->mail;
    if (strncasecmp(req->url, "smtp://", 7) != 0 && strncasecmp(req->url, "smtps://", 8) != 0)
        return err_set(e, ERR_INVALID, "mail URL \"%.*s\" is not smtp:// or smtps://",
                       url_print_len(req->url), req->url);
    if (m->from == NULL || m->nrcpt == 0 || m->rcpt == NULL)
        return err_set(e, ERR_INVALID, "mail to %.*s without a sender or a recipient",
                       url_print_len(req->url), req->url);
    if (req->body == NULL && req->body_len > 0)
        return err_set(e, ERR_INVALID, "mail to %.*s has body_len %zu but no body",
                       url_print_len(req->url), req->url, req->body_len);
    const char *all[] = {m->from, m->user, m->password};
    for (size_t i = 0; i < 3 + m->nrcpt; i++) {
        const char *s = i < 3 ? all[i] : m->rcpt[i - 3];
        if (i >= 3 && s == NULL)
            return err_set(e, ERR_INVALID, "mail recipient %zu is NULL", i - 3);
        if (s && strpbrk(s, "\r\n"))
            return err_set(e, ERR_INVALID,
                           "mail to %.*s: a sender, recipient or login has CR "
                           "or LF",
                           url_print_len(req->url), req->url);
    }
    return true;
}

static bool validate_request(const http_request *req, err *e)
{
    if (req == NULL || req->url == NULL)
        return err_set(e, ERR_INVALID, "HTTP request without a URL");
    if (req->mail)
        return validate_mail(req, e);
    if (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0)
        return err_set(e, ERR_INVALID, "URL \"%.*s\" is not http:// or https://",
                       url_print_len(req->url), req->url);
    if (!valid_method(req->method))
        return err_set(e, ERR_INVALID, "HTTP method \"%s\" is not valid for %.*s",
                       req->method ? req->method : "(null)", url_print_len(req->url), req->url);
    if (req->body == NULL && req->body_len > 0)
        return err_set(e, ERR_INVALID, "HTTP request to %.*s has body_len %zu but no body",
                       url_print_len(req->url), req->url, req->body_len);
    if (req->headers) {
        for (size_t i = 0; i < req->headers->count; i++) {
            const http_header *h = &req->headers->items[i];
            if (strpbrk(h->name, "\r\n:") || strpbrk(h->value, "\r\n") || h->name[0] == '\0')
                return err_set(e, ERR_INVALID, "HTTP header \"%s\" is not valid (CR, LF or ':')",
                               h->name);
        }
    }
    return true;
}

static void xfer_init(xfer *x, const http_request *req)
{
    memset(x, 0, sizeof *x);
    x->url = xstrdup(req->url);
    x->method = xstrdup(req->mail ? "SMTP" : req->method);
    x->body_len = req->body_len;
    if (req->mail) {
        const http_mail *m = req->mail;
        x->mail = true;
        x->mail_from = xstrdup(m->from);
        x->user = m->user ? xstrdup(m->user) : NULL;
        x->password = m->password ? xstrdup(m->password) : NULL;
        for (size_t i = 0; i < m->nrcpt; i++) {
            struct curl_slist *l = curl_slist_append(x->rcpt, m->rcpt[i]);
            if (l == NULL) {
                fprintf(stderr, "http: out of memory building a recipient list\n");
                abort();
            }
            x->rcpt = l;
        }
    }
    x->body = xmemdup(req->body ? req->body : "", req->body_len);
    if (x->mail)
        return;
    bool has_type = false, has_expect = false, has_accept = false;
    if (req->headers) {
        for (size_t i = 0; i < req->headers->count; i++) {
            const http_header *h = &req->headers->items[i];
            char *line = h->value[0] ? xasprintf("%s: %s", h->name, h->value)
                                     : xasprintf("%s;", h->name); /* curl's form for empty */
            x->hdrs = curl_slist_append(x->hdrs, line);
            secure_free_string(line); /* Authorization, X-Amz-Security-Token */
            has_type |= strcasecmp(h->name, "Content-Type") == 0;
            has_expect |= strcasecmp(h->name, "Expect") == 0;
            has_accept |= strcasecmp(h->name, "Accept") == 0;
        }
    }
    /* curl would otherwise invent headers the caller did not ask for: a form
     * Content-Type on POST bodies, and a 100-continue round trip for large
     * bodies that only adds latency with AWS. */
    if (!has_type)
        x->hdrs = curl_slist_append(x->hdrs, "Content-Type:");
    if (!has_expect)
        x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    if (!has_accept)
        x->hdrs = curl_slist_append(x->hdrs, "Accept:");
    if (x->hdrs == NULL) {
        fprintf(stderr, "http: out of memory building a header list\n");
        abort();
    }
}

static void xfer_free(xfer *x)
{
    free(x->url);
    free(x->method);
    if (x->body)
        secure_wipe(x->body, x->body_len);
    free(x->body);
    /* curl's copies of the header lines hold the session token and
     * signature too. */
    for (struct curl_slist *h = x->hdrs; h; h = h->next)
        secure_wipe(h->data, strlen(h->data));
    curl_slist_free_all(x->hdrs);
    free(x->mail_from);
    free(x->user);
    secure_free_string(x->password);
    curl_slist_free_all(x->rcpt);
    http_response_free(&x->resp);
}

/* Puts every option for x on x->easy after a reset, so a handle reused from a
 * previous request carries nothing over but its connections and caches. */
static bool xfer_setup(xfer *x, const resolved_options *o, err *e)
{
    CURL *c = x->easy;
    curl_easy_reset(c);
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, x->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, x->mail ? "smtp,smtps" : "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->ca_file)
        SET(CURLOPT_CAINFO, o->ca_file);
    SET(CURLOPT_USERAGENT, o->user_agent);
    SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_PRIVATE, x);
    if (x->mail) {
        SET(CURLOPT_MAIL_FROM, x->mail_from);
        SET(CURLOPT_MAIL_RCPT, x->rcpt);
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
        SET(CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
        if (x->user)
            SET(CURLOPT_USERNAME, x->user);
        if (x->password)
            SET(CURLOPT_PASSWORD, x->password);
        goto done;
    }
    SET(CURLOPT_HTTPHEADER, x->hdrs);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    if (strcmp(x->method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(x->method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        /* Any other method sends the body as given (possibly empty, which
         * still yields Content-Length: 0 as AWS expects on POST/PUT). */
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        SET(CURLOPT_POSTFIELDS, x->body);
        if (strcmp(x->method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, x->method);
    }
done:
#undef SET
    if (rc != CURLE_OK)
        return err_set(e, ERR_INTERNAL, "configuring curl for %.*s: %s", url_print_len(x->url),
                       x->url, curl_easy_strerror(rc));
    return true;
}

/* Clears what a handle points to in its finished xfer (header and
 * recipient lists, error buffer, read data), so nothing dangles while the
 * handle waits in a pool or between blocking calls. */
static void xfer_detach(CURL *easy)
{
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(easy, CURLOPT_READDATA, NULL);
}

/* Turns a finished transfer's curl result into either a response (true) or
 * an error naming the URL (false). */
static bool xfer_finish(xfer *x, CURLcode rc, const resolved_options *o, err *e)
{
    if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        x->resp.status = status;
        return true;
    }
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return err_set(e, ERR_TIMEOUT, "%s %.*s: timed out (limit %ld ms, connect %ld ms): %s",
                       x->method, url_print_len(x->url), x->url, o->timeout_ms,
                       o->connect_timeout_ms, detail);
    err_set(e, ERR_HTTP, "%s %.*s: %s", x->method, url_print_len(x->url), x->url, detail);
    /* A mail the relay refused failed with its last reply code (550): the
     * caller tells a final refusal from a transient one by it. */
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    e->http_status = x->mail ? (int)code : 0;
    return false;
}

/* ---- blocking ---- */

struct http_client {
    CURL *easy;
    resolved_options opts;
};

http_client *http_client_new(const http_options *opts)
{
    if (!ensure_curl(NULL))
        return NULL;
    http_client *c = xcalloc(1, sizeof *c);
    c->easy = curl_easy_init();
    if (c->easy == NULL) {
        free(c);
        return NULL;
    }
    options_resolve(&c->opts, opts);
    return c;
}

bool http_client_do(http_client *c, const http_request *req, http_response *resp, err *e)
{
    if (c == NULL)
        return err_set(e, ERR_INVALID, "HTTP client is NULL");
    if (!validate_request(req, e))
        return false;
    xfer x;
    xfer_init(&x, req);
    x.easy = c->easy;
    bool ok = xfer_setup(&x, &c->opts, e);
    if (ok) {
        CURLcode rc = curl_easy_perform(c->easy);
        ok = xfer_finish(&x, rc, &c->opts, e);
    }
    /* The handle keeps pointers to x's header list and buffers; clear them so
     * nothing dangles between calls. */
    xfer_detach(c->easy);
    *resp = x.resp;
    memset(&x.resp, 0, sizeof x.resp);
    xfer_free(&x);
    return ok;
}

void http_client_free(http_client *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->easy);
    options_free(&c->opts);
    free(c);
}

/* ---- asynchronous ---- */

/* libevent state for one socket curl asked us to watch; curl_multi_assign
 * ties it to the socket. */
typedef struct sockwatch {
    struct http_async *owner;
    curl_socket_t fd;
    struct event *ev;
    struct sockwatch *prev, *next;
} sockwatch;

struct http_async {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    resolved_options opts;
    xfer *active; /* doubly linked */
    size_t in_flight;
    CURL *pool[ASYNC_POOL_MAX];
    size_t pool_len;
    sockwatch *watches;
    bool closing;
};

static void async_check_done(http_async *a);

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    sockwatch *w = arg;
    http_async *a = w->owner;
    int flags = 0;
    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    int running = 0;
    /* w may be freed inside socket_action (CURL_POLL_REMOVE), so only a is used after. */
    curl_multi_socket_action(a->multi, fd, flags, &running);
    async_check_done(a);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    http_async *a = arg;
    int running = 0;
    curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    async_check_done(a);
}

static void watch_free(http_async *a, sockwatch *w)
{
    if (w->ev)
        event_free(w->ev);
    if (w->prev)
        w->prev->next = w->next;
    else
        a->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    http_async *a = userp;
    sockwatch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            curl_multi_assign(a->multi, s, NULL);
            watch_free(a, w);
        }
        return 0;
    }
    if (w == NULL) {
        w = xcalloc(1, sizeof *w);
        w->owner = a;
        w->fd = s;
        w->next = a->watches;
        if (a->watches)
            a->watches->prev = w;
        a->watches = w;
        curl_multi_assign(a->multi, s, w);
    }
    short kind = EV_PERSIST;
    if (what & CURL_POLL_IN)
        kind |= EV_READ;
    if (what & CURL_POLL_OUT)
        kind |= EV_WRITE;
    /* curl flips a socket between reading and writing on every request;
     * reassigning the event avoids an allocation each time. */
    if (w->ev) {
        event_del(w->ev);
        if (event_assign(w->ev, a->base, s, kind, on_socket_event, w) != 0)
            return -1;
    } else {
        w->ev = event_new(a->base, s, kind, on_socket_event, w);
        if (w->ev == NULL)
            return -1;
    }
    return event_add(w->ev, NULL) == 0 ? 0 : -1;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    http_async *a = userp;
    if (timeout_ms < 0) {
        evtimer_del(a->timer);
        return 0;
    }
    /* A zero timeout still goes through the loop: curl forbids calling
     * socket_action from here, and it keeps callbacks out of submit. */
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(a->timer, &tv) == 0 ? 0 : -1;
}

http_async *http_async_new(struct event_base *base, const http_options *opts)
{
    if (base == NULL || !ensure_curl(NULL))
        return NULL;
    http_async *a = xcalloc(1, sizeof *a);
    a->base = base;
    options_resolve(&a->opts, opts);
    a->multi = curl_multi_init();
    a->timer = evtimer_new(base, on_timer, a);
    if (a->multi == NULL || a->timer == NULL) {
        if (a->multi)
            curl_multi_cleanup(a->multi);
        if (a->timer)
            event_free(a->timer);
        options_free(&a->opts);
        free(a);
        return NULL;
    }
    curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a);
    curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a);
    if (a->opts.max_host_connections > 0)
        curl_multi_setopt(a->multi, CURLMOPT_MAX_HOST_CONNECTIONS, a->opts.max_host_connections);
    return a;
}

static void active_unlink(http_async *a, xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        a->active = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    a->in_flight--;
}

/* Takes x off the multi, returns its handle to the pool and frees x. */
static void async_release(http_async *a, xfer *x)
{
    curl_multi_remove_handle(a->multi, x->easy);
    xfer_detach(x->easy);
    if (a->pool_len < ASYNC_POOL_MAX && !a->closing)
        a->pool[a->pool_len++] = x->easy;
    else
        curl_easy_cleanup(x->easy);
    xfer_free(x);
    free(x);
}

bool http_async_submit(http_async *a, const http_request *req, http_done_fn done, void *arg, err *e)
{
    if (a == NULL || done == NULL)
        return err_set(e, ERR_INVALID, "http_async_submit needs a client and a callback");
    if (a->closing)
        return err_set(e, ERR_INVALID, "HTTP client is shutting down");
    if (!validate_request(req, e))
        return false;
    xfer *x = xmalloc(sizeof *x);
    xfer_init(x, req);
    x->done = done;
    x->arg = arg;
    x->easy = a->pool_len > 0 ? a->pool[--a->pool_len] : curl_easy_init();
    if (x->easy == NULL) {
        xfer_free(x);
        free(x);
        return err_set(e, ERR_INTERNAL, "curl_easy_init failed");
    }
    if (!xfer_setup(x, &a->opts, e)) {
        curl_easy_cleanup(x->easy);
        xfer_free(x);
        free(x);
        return false;
    }
    CURLMcode mc = curl_multi_add_handle(a->multi, x->easy);
    if (mc != CURLM_OK) {
        curl_easy_cleanup(x->easy);
        xfer_free(x);
        free(x);
        return err_set(e, ERR_INTERNAL, "curl_multi_add_handle for %.*s: %s",
                       url_print_len(req->url), req->url, curl_multi_strerror(mc));
    }
    x->next = a->active;
    if (a->active)
        a->active->prev = x;
    a->active = x;
    a->in_flight++;
    return true;
}

static void async_check_done(http_async *a)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(a->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = msg->data.result;
        active_unlink(a, x);
        err e;
        err_clear(&e);
        bool ok = xfer_finish(x, rc, &a->opts, &e);
        /* The handle goes back to the pool before the callback so a callback
         * that submits again (retries, a bench refilling its window) can
         * reuse it at once. */
        curl_multi_remove_handle(a->multi, x->easy);
        xfer_detach(x->easy);
        if (a->pool_len < ASYNC_POOL_MAX)
            a->pool[a->pool_len++] = x->easy;
        else
            curl_easy_cleanup(x->easy);
        x->easy = NULL;
        x->done(ok ? &x->resp : NULL, ok ? NULL : &e, x->arg);
        xfer_free(x);
        free(x);
    }
}

size_t http_async_in_flight(const http_async *a)
{
    return a ? a->in_flight : 0;
}

void http_async_free(http_async *a)
{
    if (a == NULL)
        return;
    a->closing = true;
    while (a->active) {
        xfer *x = a->active;
        active_unlink(a, x);
        err e;
        err_set(&e, ERR_HTTP, "%s %.*s: cancelled", x->method, url_print_len(x->url), x->url);
        http_done_fn done = x->done;
        void *arg = x->arg;
        async_release(a, x);
        done(NULL, &e, arg);
    }
    for (size_t i = 0; i < a->pool_len; i++)
        curl_easy_cleanup(a->pool[i]);
    a->pool_len = 0;
    curl_multi_cleanup(a->multi);
    /* curl does not always report CURL_POLL_REMOVE for sockets it closes
     * during cleanup. */
    while (a->watches)
        watch_free(a, a->watches);
    event_free(a->timer);
    options_free(&a->opts);
    free(a);
}
