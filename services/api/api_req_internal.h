/* The request structure behind api_req.h, shared by api_req.c (the
 * handler-facing accessors) and api_server.c (which fills it and sends the
 * answer). Nothing else includes this. */
#ifndef ESCHER_API_REQ_INTERNAL_H
#define ESCHER_API_REQ_INTERNAL_H

#include "api_req.h"
#include "api_route.h"

#include <event2/http.h>
#include <pthread.h>
#include <event2/keyvalq_struct.h>

#define API_REQUEST_ID_MAX 65

/* What the loops of one process share; owned by the server. */
typedef struct api_settings {
    const char *escher_principal_arn;
    const char *template_url;
    const char *redis_url;
    /* The optional LLM backend of POST /v1/chat (api_chat.c); borrowed from
     * the options, which wipe the key when freed. llm_url "" = off. */
    const char *llm_url;
    const char *llm_model;
    const char *llm_api_key;
    int64_t llm_timeout_ms;
    bool has_master_key; /* option master-key set */
    seal_key master_key; /* wiped when the server is freed */
    struct api_metrics *metrics;
    /* Written by the maintenance thread, read by /readyz and /metrics. */
    pthread_mutex_t redis_lock;
    bool redis_ok;
    bool redis_checked;
    char redis_reason[256];
} api_settings;

struct api_req {
    struct evhttp_request *http;
    PGconn *db;
    struct stmtcache *stmts; /* the loop's prepared statements on db */
    const logger *log;
    api_settings *settings;
    const char *method;
    const char *path; /* decoded path, owned by the server's parse */
    char request_id[API_REQUEST_ID_MAX];
    char pathbuf[1024];
    const char *params[API_MAX_PARAMS];
    size_t nparams;
    struct evkeyvalq query;
    bool query_parsed;
    /* The handler looked at the query (api_query, api_query_only): a route
     * that never does takes no parameters, and the server refuses any. */
    bool query_read;
    json_t *body;
    api_caller caller;
    bool tx_done; /* api_sql_final committed already */
    /* Answering later (api_defer): the loop's base, when the request began,
     * its route's index for /metrics, and whether the handler deferred. */
    struct event_base *base;
    uint64_t t0;
    size_t route_index;
    bool deferred;
    /* The answer. */
    int status;
    json_t *reply;
    char *reply_raw; /* JSON text instead of reply (api_reply_raw) */
    struct evkeyvalq headers;
};

#endif
