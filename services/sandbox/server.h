/* The sandbox's edge: one evhttp listener for every simulated service (like
 * LocalStack's edge port) and one for the admin API, on one event loop.
 *
 * The second half of this header is shared by server.c, auth.c and call.c
 * only: the layout of a call being served. Handlers use call.h. */
#ifndef ESCHER_SANDBOX_SERVER_H
#define ESCHER_SANDBOX_SERVER_H

#include "call.h"
#include "calllog.h"
#include "faults.h"
#include "world.h"

#include "aws/http.h"
#include "core/err.h"
#include "core/log.h"
#include "core/strbuf.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;

typedef struct sbx_server sbx_server;

/* How the world is (re)built: by /reset as well as at start. */
typedef struct sbx_world_source {
    world_params params;    /* used when world_file is NULL */
    const char *world_file; /* JSON from --world, reloaded on reset */
} sbx_world_source;

typedef struct sbx_server_config {
    const char *listen; /* address of both listeners */
    int port;           /* 0: any free port (see sbx_server_port) */
    int admin_port;     /* 0: any free port; -1: no admin listener */
    bool throttle;      /* token buckets on at start */
    int state_delay; /* seconds a pending/stopping state lasts (world's business, kept for /faults)
                      */
    uint32_t latency_ms; /* fixed latency of every call at start */
    double error_rate;   /* share of calls answered 500/503 at start */
    uint64_t fault_seed; /* PRNG of jitter, random errors and drops */
    size_t calllog_cap;  /* entries the call log keeps */
} sbx_server_config;

/* Starts both listeners on base. Takes ownership of w (the world) and keeps
 * src (borrowed; must outlive the server) to rebuild it on /reset. Fails with
 * ERR_IO naming the address when a port cannot be bound. */
sbx_server *sbx_server_new(struct event_base *base, const sbx_server_config *cfg, world *w,
                           const sbx_world_source *src, logger *log, err *e);
/* Closes the listeners and frees the world, the log and the faults. */
void sbx_server_free(sbx_server *s);
/* The ports actually bound (useful with port 0). */
int sbx_server_port(const sbx_server *s);
int sbx_server_admin_port(const sbx_server *s);
world *sbx_server_world(const sbx_server *s);

/* Builds a world from src (generated or loaded). */
world *sbx_world_build(const sbx_world_source *src, err *e);

/* ---- internal to server.c, admin.c, auth.c and call.c ---- */

struct pending;
struct bodybuf;

struct sbx_server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp *admin;
    int port, admin_port;
    sbx_server_config cfg;
    world *w;
    const sbx_world_source *src;
    sbx_faults *faults;
    calllog *log;
    logger *logger;
    uint64_t rng;            /* request ids */
    struct pending *pending; /* answers waiting for their latency */
    struct bodybuf *spare;   /* answer buffers back from the socket, for reuse */
    size_t nspare;
};

/* Bytes [off, off + len) of a shared fragment, spliced into the answer
 * after body byte `at`. */
typedef struct sbx_splice {
    size_t at;
    sbx_frag *frag; /* the answer's reference */
    size_t off, len;
} sbx_splice;

typedef struct sbx_param {
    char *name;
    char *value;
} sbx_param;

struct sbx_call {
    sbx_server *srv;
    world *w;
    const sbx_service *svc;
    const sbx_action *act;
    aws_protocol proto;
    char region[64];
    sbx_principal principal;
    bool have_principal;
    time_t now;
    char request_id[40];
    const char *method;
    const char *path;     /* raw, without the query */
    const char *req_body; /* request body, NUL-terminated */
    size_t req_body_len;
    const http_headers *req_headers; /* borrowed view of the request's headers */
    int state_delay;
    const char *source_ip;
    char *bucket;  /* REST-XML: "" for service-level requests */
    char *version; /* query/EC2 Version parameter */
    sbx_param *params;
    size_t nparams, params_cap;
    json_t *json; /* JSON request body */

    /* The answer. */
    int status; /* 0 until an error is set */
    char *err_code;
    char *err_message;
    strbuf body; /* XML being written (envelope included for query/EC2) */
    /* Fragments answered by reference, in order, between body bytes: the
     * answer is body[0..at1) frag1 body[at1..at2) frag2 ... body[atN..). */
    sbx_splice *splices;
    size_t nsplices, splices_cap;
    json_t *json_reply;
    http_headers headers; /* extra answer headers */
    strbuf note;

    /* Strings and arrays handed to the handler, freed with the call. */
    void **owned;
    size_t nowned, owned_cap;
};

/* Sets up / releases a call's storage. */
void call_init(sbx_call *c);
void call_release(sbx_call *c);
/* Empties the answer: the body and its spliced fragments. */
void call_answer_reset(sbx_call *c);
/* Bytes of the whole answer, body and fragments. */
size_t call_answer_len(const sbx_call *c);
/* Adds the query/EC2 parameters of a form-encoded string (percent-decoding,
 * '+' as space). */
void call_parse_form(sbx_call *c, const char *s, size_t n);
/* Sets the protocol's AccessDenied answer; why is policy_authorize's reason
 * (NULL: no identity-based policy allows). Returns false. */
bool call_deny(sbx_call *c, const char *iam_action, const char *resource, const char *why);
/* Parameters as a JSON object with secret-looking values masked (call log). */
json_t *call_params_json(const sbx_call *c);

#endif
