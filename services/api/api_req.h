/* One HTTP request as a route handler sees it, and the answer it builds.
 *
 * The server (api_server.c) parses the request, authenticates the bearer
 * token, checks the route's roles, opens the request's database transaction
 * with escher.tenant_id set to the caller's tenant (row-level security), and
 * calls the handler. The handler reads what it needs through the accessors
 * below and records its answer with api_reply_* (nothing is sent yet). After
 * the handler the server commits when the answer is a success (< 400) and
 * rolls back otherwise, and only then sends the answer: a client never sees a
 * 201 for a row whose commit failed.
 *
 * Errors: every error answer is {"error":{"code","message","request_id"}},
 * and the message names the field or value at fault. */
#ifndef ESCHER_API_REQ_H
#define ESCHER_API_REQ_H

#include "core/err.h"
#include "core/log.h"
#include "core/seal.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_ID_LEN 37 /* a uuid in text form and its NUL */

/* Roles as a bit set: each route declares the roles it admits. */
enum {
    API_ROLE_MANAGER = 1u << 0,
    API_ROLE_EXECUTOR = 1u << 1,
    API_ROLE_VIEWER = 1u << 2,
    API_ROLE_ANY = API_ROLE_MANAGER | API_ROLE_EXECUTOR | API_ROLE_VIEWER,
};

/* Who is calling: filled from the token before the handler runs. */
typedef struct api_caller {
    char token_id[API_ID_LEN];
    char tenant_id[API_ID_LEN];
    char user_id[API_ID_LEN];
    char email[321];
    unsigned role;         /* one API_ROLE_* bit */
    const char *role_name; /* "manager", "executor", "viewer" */
} api_caller;

typedef struct api_req api_req;

/* ---- what the handler reads ------------------------------------------- */

/* The database connection of this request's loop, inside the request's
 * transaction (tenant set). Borrowed; never PQfinish it. */
PGconn *api_db(api_req *r);
/* The authenticated caller. Borrowed. */
const api_caller *api_caller_of(const api_req *r);
/* The value of path parameter i ({...} in the route pattern, 0-based), as
 * sent (not percent-decoded: parameters are ids, and a handler that checks
 * the id's shape quotes whatever came). Borrowed; "" when there is none. */
const char *api_path_param(const api_req *r, size_t i);
/* The decoded value of query parameter name, or NULL when absent. Borrowed. */
const char *api_query(const api_req *r, const char *name);
/* Fails the request with 400 naming the first query parameter that is not in
 * the NULL-terminated list allowed. Returns false when it did. */
bool api_query_only(api_req *r, const char *const *allowed);
/* The request body parsed as a JSON object (borrowed), or NULL after
 * recording a 400 that says why (empty body, not JSON with line and column,
 * not an object). */
json_t *api_body_object(api_req *r);
/* Whether the request came with no body bytes at all: routes whose body is
 * optional read it only when there is one (a present but blank or broken
 * body still goes to api_body_object and its 400). */
bool api_body_empty(api_req *r);
/* The value of request header name (case-insensitive), or NULL when absent.
 * Borrowed. */
const char *api_request_header(api_req *r, const char *name);
/* The request id sent back in X-Request-Id and in error bodies. */
const char *api_request_id(const api_req *r);
/* The request's logger context: log lines of handlers should carry it. */
const logger *api_log(const api_req *r);
/* The method ("GET", ...) and the path as received, for messages. */
const char *api_method(const api_req *r);
const char *api_path(const api_req *r);
/* Server-wide settings a handler may need (from the options). Borrowed. */
const char *api_setting(const api_req *r, const char *name);

/* The server's master key (option master-key) sealing channel secrets, or
 * NULL when unset. Borrowed; never copy it. */
const seal_key *api_master_key(const api_req *r);

/* ---- what the handler answers ----------------------------------------- */

/* Records a JSON answer with status (steals body; NULL means no body, as for
 * 204). A later call replaces an earlier one. */
void api_reply(api_req *r, int status, json_t *body);
/* Records an answer whose body is JSON text already (takes json_text, which
 * must be a complete JSON document: lists pass rows PostgreSQL built). */
void api_reply_raw(api_req *r, int status, char *json_text);
/* Records an error answer: status, a stable code ("invalid_field",
 * "not_found", ...) and a message. Returns false so handlers can
 * `return api_fail(...)` from boolean helpers. */
bool api_fail(api_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records the error answer that e's code implies: ERR_INVALID 400
 * invalid_request, ERR_NOT_FOUND 404 not_found, ERR_AUTH 403 forbidden,
 * ERR_LIMIT 429, a database unique violation 409 conflict, anything else
 * 500 internal (message logged, a generic one sent). Returns false. */
bool api_fail_err(api_req *r, const err *e);
/* The status recorded so far (0 when nothing). */
int api_status(const api_req *r);
/* Adds a response header (copied). */
void api_header(api_req *r, const char *name, const char *value);

/* ---- answering later -------------------------------------------------- */

/* A handler that waits on something slow (POST /v1/chat's call to an LLM)
 * must not hold its loop: it starts the work on the loop's event base,
 * calls api_defer and returns; a callback on that base records the answer
 * on the deferred request and sends it with api_deferred_send. */

/* The event base of the request's loop. Borrowed; callbacks on it run on
 * the loop's thread. */
struct event_base *api_event_base(const api_req *r);

/* Takes the request out of the handler's return: the server ends the
 * request's transaction when the handler returns (the handler must have
 * written nothing: it is committed empty) and answers nothing then. Returns
 * the request as a new object owned by the caller, to answer with
 * api_reply/api_fail and api_deferred_send; r must not be used again. The
 * deferred request has no database (api_db is NULL). Returns NULL, with the
 * 400 recorded on r as usual, when the request carries query parameters the
 * handler did not read. */
api_req *api_defer(api_req *r);

/* Sends d's recorded answer (a 500 when none), counts it in /metrics, logs
 * the request and frees d. On the loop's thread only. A client that hung up
 * meanwhile is no error: the answer is dropped. */
void api_deferred_send(api_req *d);

/* The LLM backend's settings (options llm-url, llm-model, llm-api-key,
 * llm-timeout), borrowed: url "" when the backend is off. The key is a
 * secret: never log or copy it into memory that is not wiped. */
typedef struct api_llm_settings {
    const char *url;
    const char *model;
    const char *api_key; /* "" when unset */
    int64_t timeout_ms;
} api_llm_settings;
void api_llm_settings_of(const api_req *r, api_llm_settings *out);

/* ---- helpers for handlers --------------------------------------------- */

/* Copies a canonical uuid (any case) into out in lower case; false when s is
 * not one. Pure. */
bool api_uuid_parse(const char *s, char out[API_ID_LEN]);

/* The one statement most read handlers need: runs sql with params inside the
 * request's transaction and returns the result (caller PQclear-s), or NULL
 * after recording the error answer. */
PGresult *api_sql(api_req *r, const char *sql, int nparams, const char *const *params);

/* api_sql for a handler's last statement when it only reads: the statement
 * and the request's COMMIT go out in one round trip. After it the handler
 * must not touch the database again; its answer is sent as it records it. */
PGresult *api_sql_final(api_req *r, const char *sql, int nparams, const char *const *params);

/* Appends an audit row for this request's mutation (actor = caller's email,
 * detail borrowed, may be NULL) in the request's transaction. Records a 500
 * and returns false on failure. */
bool api_audit(api_req *r, const char *action, const char *target, const json_t *detail);

#endif
