/* A local HTTP responder for tests: an evhttp server on 127.0.0.1 (free
 * port) running its own event loop in a thread. Each request is handed to the
 * test's handler, which fills the reply; every request is recorded so tests
 * can assert on what the code under test sent. */
#ifndef ESCHER_TESTS_RESPONDER_H
#define ESCHER_TESTS_RESPONDER_H

#include <stddef.h>

typedef struct responder_req {
    const char *method; /* "GET", "PUT", ... */
    const char *uri;    /* path and query as received */
    const char *body;   /* NUL-terminated copy of the body ("" if none) */
    size_t body_len;
    /* Case-insensitive header lookup; NULL when absent. */
    const char *(*header)(const struct responder_req *req, const char *name);
    void *impl;
} responder_req;

typedef struct responder_reply {
    int status;           /* default 200 */
    char headers[2048];   /* "Name: value\n" lines to add; empty by default */
    char *body;           /* malloc'd by the handler or NULL; freed by the responder */
    int delay_ms;         /* answer after this delay (timeouts); 0 = now */
    int close_connection; /* 1: drop the connection without answering */
} responder_reply;

/* Runs on the responder's thread: fill *reply. n is the 1-based request count. */
typedef void (*responder_fn)(const responder_req *req, responder_reply *reply, int n, void *arg);

typedef struct responder responder;

/* Starts on 127.0.0.1 with a free port; aborts the test process on failure. */
responder *responder_start(responder_fn fn, void *arg);
int responder_port(const responder *r);
/* "http://127.0.0.1:<port>" owned by r. */
const char *responder_url(const responder *r);
/* Requests answered so far (thread-safe). */
int responder_count(responder *r);
/* Stops the thread and frees. */
void responder_stop(responder *r);

#endif
