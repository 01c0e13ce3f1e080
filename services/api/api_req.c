/* The handler-facing side of a request (see api_req.h). */
#include "api_req_internal.h"

#include "audit/audit.h"
#include "core/strbuf.h"
#include "db/db.h"
#include "db/stmtcache.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PGconn *api_db(api_req *r)
{
    return r->db;
}

const api_caller *api_caller_of(const api_req *r)
{
    return &r->caller;
}

const char *api_path_param(const api_req *r, size_t i)
{
    return i < r->nparams ? r->params[i] : "";
}

const char *api_query(const api_req *r, const char *name)
{
    /* Bookkeeping only: every api_req is a writable object of the server's. */
    ((api_req *)r)->query_read = true;
    return r->query_parsed ? evhttp_find_header(&r->query, name) : NULL;
}

bool api_query_only(api_req *r, const char *const *allowed)
{
    r->query_read = true;
    if (!r->query_parsed)
        return true;
    for (struct evkeyval *kv = r->query.tqh_first; kv; kv = kv->next.tqe_next) {
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, kv->key) == 0;
        if (!known) {
            strbuf names;
            strbuf_init(&names);
            for (const char *const *a = allowed; *a; a++)
                strbuf_printf(&names, "%s%s", a == allowed ? "" : ", ", *a);
            api_fail(r, 400, "invalid_query", "unknown query parameter '%.64s' (known: %s)",
                     kv->key, names.len ? strbuf_str(&names) : "none");
            strbuf_free(&names);
            return false;
        }
    }
    return true;
}

json_t *api_body_object(api_req *r)
{
    if (r->body)
        return r->body;
    struct evbuffer *in = evhttp_request_get_input_buffer(r->http);
    size_t n = evbuffer_get_length(in);
    if (n == 0) {
        api_fail(r, 400, "invalid_json", "the request body is empty; a JSON object is expected");
        return NULL;
    }
    const char *text = (const char *)evbuffer_pullup(in, -1);
    json_error_t je;
    json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        api_fail(r, 400, "invalid_json",
                 "the request body is not valid JSON: %s at line %d column %d", je.text, je.line,
                 je.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        api_fail(r, 400, "invalid_json", "the request body must be a JSON object");
        return NULL;
    }
    r->body = v;
    return v;
}

bool api_body_empty(api_req *r)
{
    return evbuffer_get_length(evhttp_request_get_input_buffer(r->http)) == 0;
}

const char *api_request_header(api_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->http), name);
}

const char *api_request_id(const api_req *r)
{
    return r->request_id;
}

const logger *api_log(const api_req *r)
{
    return r->log;
}

const char *api_method(const api_req *r)
{
    return r->method;
}

const char *api_path(const api_req *r)
{
    return r->path;
}

const seal_key *api_master_key(const api_req *r)
{
    return r->settings->has_master_key ? &r->settings->master_key : NULL;
}

struct event_base *api_event_base(const api_req *r)
{
    return r->base;
}

void api_llm_settings_of(const api_req *r, api_llm_settings *out)
{
    out->url = r->settings->llm_url ? r->settings->llm_url : "";
    out->model = r->settings->llm_model ? r->settings->llm_model : "";
    out->api_key = r->settings->llm_api_key ? r->settings->llm_api_key : "";
    out->timeout_ms = r->settings->llm_timeout_ms;
}

const char *api_setting(const api_req *r, const char *name)
{
    if (strcmp(name, "escher-principal-arn") == 0)
        return r->settings->escher_principal_arn;
    if (strcmp(name, "template-url") == 0)
        return r->settings->template_url;
    return NULL;
}

void api_reply(api_req *r, int status, json_t *body)
{
    json_decref(r->reply);
    free(r->reply_raw);
    r->reply_raw = NULL;
    r->status = status;
    r->reply = body;
}

void api_reply_raw(api_req *r, int status, char *json_text)
{
    api_reply(r, status, NULL);
    r->reply_raw = json_text;
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    for (size_t i = 1; i < n; i++, lo = 0x80, hi = 0xBF)
        if (s[i] < lo || s[i] > hi)
            return 0;
    return n;
}

bool api_fail(api_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Messages quote what the client sent (decoded query values can be any
     * bytes) and "%.64s" or the buffer can cut a character in two; jansson
     * takes only UTF-8, and would leave the error without a body. */
    for (unsigned char *p = (unsigned char *)msg; *p;) {
        size_t n = utf8_seq(p);
        if (n == 0) {
            *p = '?';
            n = 1;
        }
        p += n;
    }
    api_reply(r, status,
              json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "message", msg, "request_id",
                        r->request_id));
    return false;
}

bool api_fail_err(api_req *r, const err *e)
{
    /* A statement that failed because the connection is gone is the
     * database's outage, not a bug: 503, and the loop reconnects on the next
     * request. */
    if (r->db && PQstatus(r->db) != CONNECTION_OK)
        return api_fail(r, 503, "unavailable",
                        "the database connection was lost; retry the request");
    /* A unique key the statement hit is a conflict whatever class the
     * error was filed under. */
    if (strcmp(e->remote_code, "23505") == 0)
        return api_fail(r, 409, "conflict", "%s", e->message);
    switch (e->code) {
    case ERR_INVALID:
        return api_fail(r, 400, "invalid_request", "%s", e->message);
    case ERR_NOT_FOUND:
        return api_fail(r, 404, "not_found", "%s", e->message);
    case ERR_AUTH:
        return api_fail(r, 403, "forbidden", "%s", e->message);
    case ERR_LIMIT:
        return api_fail(r, 429, "rate_limited", "%s", e->message);
    default:
        break;
    }
    /* Database text can quote rows; the client gets the request id to ask
     * about, the log gets the detail. */
    log_error(r->log, "request failed", LOG_STR("request_id", r->request_id),
              LOG_STR("error", e->message), LOG_STR("sqlstate", e->remote_code));
    return api_fail(r, 500, "internal", "internal error; quote request id %s when reporting it",
                    r->request_id);
}

int api_status(const api_req *r)
{
    return r->status;
}

void api_header(api_req *r, const char *name, const char *value)
{
    evhttp_add_header(&r->headers, name, value);
}

bool api_uuid_parse(const char *s, char out[API_ID_LEN])
{
    static const char hex[] = "0123456789abcdefABCDEF";
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : strchr(hex, s[i]) == NULL)
            return false;
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] + 32 : s[i]);
    }
    out[36] = '\0';
    return true;
}

/* sql's prepared statement on the request's connection (NULL: run it
 * unprepared). False after recording the error answer. */
static bool stmt_name(api_req *r, const char *sql, int nparams, const char **name)
{
    err e;
    err_clear(&e);
    if (r->stmts && !stmtcache_name(r->stmts, r->db, sql, nparams, name, &e))
        return api_fail_err(r, &e);
    return true;
}

PGresult *api_sql(api_req *r, const char *sql, int nparams, const char *const *params)
{
    const char *name = NULL;
    if (!stmt_name(r, sql, nparams, &name))
        return NULL;
    const db_stmt st = {.sql = sql, .prepared = name, .nparams = nparams, .params = params};
    PGresult *res = NULL;
    err e;
    err_clear(&e);
    if (!db_pipeline(r->db, &st, 1, &res, &e)) {
        PQclear(res);
        api_fail_err(r, &e);
        return NULL;
    }
    return res;
}

PGresult *api_sql_final(api_req *r, const char *sql, int nparams, const char *const *params)
{
    const char *name = NULL, *commit = NULL;
    if (!stmt_name(r, sql, nparams, &name) || !stmt_name(r, "COMMIT", 0, &commit))
        return NULL;
    const db_stmt stmts[2] = {{.sql = sql, .prepared = name, .nparams = nparams, .params = params},
                              {.sql = "COMMIT", .prepared = commit}};
    PGresult *res[2];
    err e;
    err_clear(&e);
    bool ok = db_pipeline(r->db, stmts, 2, res, &e);
    /* A COMMIT that answers "ROLLBACK" means the transaction was already
     * aborted: the server's finish rolls it back and answers the error. */
    if (ok && strcmp(PQcmdStatus(res[1]), "COMMIT") != 0)
        ok = err_set(&e, ERR_INTERNAL, "the request's transaction was aborted before its read");
    PQclear(res[1]);
    if (!ok) {
        PQclear(res[0]);
        api_fail_err(r, &e);
        return NULL;
    }
    r->tx_done = true;
    return res[0];
}

bool api_audit(api_req *r, const char *action, const char *target, const json_t *detail)
{
    err e;
    err_clear(&e);
    json_t *d = detail ? json_deep_copy(detail) : json_object();
    json_object_set_new(d, "request_id", json_string(r->request_id));
    bool ok =
        audit_append(r->db, r->caller.tenant_id, r->caller.email, action, target, d, NULL, &e);
    json_decref(d);
    if (!ok) {
        e.code = ERR_INTERNAL; /* never a 4xx: the caller's input was fine */
        api_fail_err(r, &e);
    }
    return ok;
}
