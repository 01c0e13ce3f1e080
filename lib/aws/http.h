/* HTTP transport on libcurl: a blocking client (one easy handle, connections
 * kept alive) and an asynchronous one (curl multi socket interface driven by a
 * libevent loop) that keeps many requests in flight. Knows nothing of AWS. */
#ifndef ESCHER_AWS_HTTP_H
#define ESCHER_AWS_HTTP_H

#include "core/err.h"
#include "core/strbuf.h"

#include <stddef.h>

struct event_base;

typedef struct http_header {
    char *name;
    char *value;
} http_header;

/* An ordered list of headers; names keep their case, lookups ignore it. */
typedef struct http_headers {
    http_header *items;
    size_t count;
    size_t cap;
} http_headers;

#define HTTP_HEADERS_INIT                                                                          \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Appends a copy of name and value. */
void http_headers_add(http_headers *h, const char *name, const char *value);
/* Replaces the first header named `name` (any case) or appends it. */
void http_headers_set(http_headers *h, const char *name, const char *value);
/* First value for name, case-insensitive; NULL if absent. Owned by h. */
const char *http_headers_get(const http_headers *h, const char *name);
/* Deep copy into dst (which must be empty). */
void http_headers_copy(http_headers *dst, const http_headers *src);
void http_headers_free(http_headers *h);

/* The envelope of a mail sent by SMTP (an http_request with mail set and an
 * smtp:// or smtps:// URL; smtp:// upgrades with STARTTLS when the server
 * offers it): the request's body is the message, headers and text, lines
 * ending in CRLF. The response's status is the last SMTP reply code (250
 * when accepted); a refused mail fails with ERR_HTTP and the relay's reply
 * code in e->http_status (550). Strings are copied; the password is wiped
 * after. */
typedef struct http_mail {
    const char *from;        /* envelope sender: "<a@example.com>" */
    const char *const *rcpt; /* envelope recipients, same form */
    size_t nrcpt;            /* at least one */
    const char *user;        /* NULL: no AUTH */
    const char *password;    /* NULL with user: none */
} http_mail;

typedef struct http_request {
    const char *method;          /* "GET", "POST", ...; ignored for mail */
    const char *url;             /* absolute, query included */
    const http_headers *headers; /* may be NULL; not for mail */
    const void *body;            /* may be NULL */
    size_t body_len;
    const http_mail *mail; /* NULL: HTTP */
} http_request;

typedef struct http_response {
    long status;          /* HTTP status code */
    http_headers headers; /* response headers, names as received */
    strbuf body;
} http_response;

#define HTTP_RESPONSE_INIT                                                                         \
    {                                                                                              \
        0, HTTP_HEADERS_INIT, STRBUF_INIT                                                          \
    }

void http_response_free(http_response *r);

typedef struct http_options {
    long connect_timeout_ms;   /* 0: 3000 */
    long timeout_ms;           /* whole request; 0: 30000 */
    long max_host_connections; /* async only; 0: curl's default */
    const char *ca_file;       /* NULL: system store. TLS verification is always on. */
    const char *user_agent;    /* NULL: "escher/<version>" */
} http_options;

/* ---- blocking ---- */

typedef struct http_client http_client;

/* Creates a client that reuses connections across calls. opts may be NULL.
 * Caller frees with http_client_free. */
http_client *http_client_new(const http_options *opts);
/* Sends req and fills *resp (caller frees with http_response_free, also on
 * failure). Any HTTP status is a success here; failure means no answer:
 * ERR_TIMEOUT for timeouts, ERR_HTTP for connect/TLS/reset, each naming the URL. */
bool http_client_do(http_client *c, const http_request *req, http_response *resp, err *e);
void http_client_free(http_client *c);

/* ---- asynchronous ---- */

typedef struct http_async http_async;

/* Called once per submitted request on the loop thread. On transport failure
 * resp is NULL and e says why; otherwise e is NULL. resp is owned by the
 * transport and freed after the callback returns: take what you need
 * (e.g. strbuf_detach the body). */
typedef void (*http_done_fn)(const http_response *resp, const err *e, void *arg);

/* Creates an asynchronous client on `base` (the caller keeps owning base and
 * must free the http_async before the base). opts may be NULL. */
http_async *http_async_new(struct event_base *base, const http_options *opts);
/* Starts req (copied: the caller may free it at once). done runs later on the
 * loop, never inside this call. Fails only on invalid input. */
bool http_async_submit(http_async *a, const http_request *req, http_done_fn done, void *arg,
                       err *e);
/* Requests started and not yet completed. */
size_t http_async_in_flight(const http_async *a);
/* Cancels what is in flight (their callbacks run with ERR_HTTP "cancelled")
 * and frees everything. */
void http_async_free(http_async *a);

#endif
