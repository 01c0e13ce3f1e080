/* Route of the chat area: POST /v1/chat turns one sentence into a plan and
 * the lines a user reads about it. The server never runs anything for
 * chat: the client runs operation plans with its own credentials, and turns
 * schedule plans into POST /v1/schedules after the user confirms.
 *
 * The builtin engine (lib/nlu) answers every request; with llm-url set the
 * request is also sent to the LLM (api_llm.c) through the loop's
 * asynchronous HTTP client, the handler returns at once (api_defer) and the
 * answer goes out when the model answers, fails or runs past llm-timeout.
 * The model's plan is used only when it passes the catalog's checks and,
 * for a sentence the builtin engine reads as a question, changes nothing;
 * otherwise the builtin plan is the answer, with a note saying why.
 *
 * Nothing of a chat request is stored or audited (it changes nothing); the
 * request's context is used for this answer only (docs/privacy.md). */
#include "api_input.h"
#include "api_llm.h"
#include "api_route.h"

#include "aws/http.h"
#include "core/secure.h"
#include "core/strbuf.h"
#include "core/text.h"
#include "core/xmalloc.h"
#include "cron/tz.h"
#include "nlu/nlu.h"
#include "ops/ops_catalog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_MAX_CHARS  2000
#define ZONE_MAX_CHARS     64
#define ACCOUNTS_MAX       100
#define RESOURCES_MAX      200
#define REGIONS_MAX        50
#define RESOURCE_MAX_CHARS 128
#define LLM_TEXT_NOTE_MAX  500           /* characters of a words-only LLM answer shown */
#define LLM_ANSWER_MAX     (1024 * 1024) /* bytes of a chat-completions answer read */

static const char *const body_fields[] = {"message", "context", NULL};
static const char *const context_fields[] = {"default_region",      "time_zone",      "account_ids",
                                             "recent_resource_ids", "recent_regions", NULL};

/* ---- input ------------------------------------------------------------------ */

/* The context's fields, checked; strings borrowed from the body. */
typedef struct chat_context {
    const json_t *obj; /* the "context" object, NULL when absent */
    const char *default_region;
    const char *time_zone;
} chat_context;

static bool context_string(api_req *r, const json_t *ctx, const char *name, size_t max,
                           const char **out)
{
    const json_t *v = json_object_get(ctx, name);
    *out = NULL;
    if (v == NULL)
        return true;
    char field[64];
    snprintf(field, sizeof field, "context.%s", name);
    if (!json_is_string(v))
        return api_fail(r, 400, "invalid_field", "field '%s' must be a string, not %s", field,
                        text_json_type(v));
    const char *s = json_string_value(v);
    char want[64];
    snprintf(want, sizeof want, "1 to %zu characters, no control characters", max);
    if (*s == '\0' || text_has_control(s) || text_utf8_chars(s) > max)
        return api_input_fail_field(r, field, text_has_control(s) ? "(control characters)" : s,
                                    want);
    *out = s;
    return true;
}

static bool resource_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RESOURCE_MAX_CHARS)
        return false;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-", *s))
            return false;
    return true;
}

/* An array field of the context whose items each pass ok. */
static bool context_list(api_req *r, const json_t *ctx, const char *name, size_t max,
                         bool (*ok)(const char *), const char *want)
{
    const json_t *v = json_object_get(ctx, name);
    if (v == NULL)
        return true;
    if (!json_is_array(v))
        return api_fail(r, 400, "invalid_field", "field 'context.%s' must be an array, not %s",
                        name, text_json_type(v));
    if (json_array_size(v) > max)
        return api_fail(r, 400, "invalid_field",
                        "field 'context.%s' has %zu items: want at most %zu", name,
                        json_array_size(v), max);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        char field[80];
        snprintf(field, sizeof field, "context.%s[%zu]", name, i);
        if (!json_is_string(item))
            return api_fail(r, 400, "invalid_field", "field '%s' must be a string, not %s", field,
                            text_json_type(item));
        const char *s = json_string_value(item);
        if (!ok(s))
            return api_input_fail_field(r, field, text_has_control(s) ? "(control characters)" : s,
                                        want);
    }
    return true;
}

static bool read_context(api_req *r, const json_t *body, chat_context *c)
{
    memset(c, 0, sizeof *c);
    json_t *ctx = NULL;
    if (!api_input_opt_object(r, body, "context", &ctx))
        return false;
    if (ctx == NULL)
        return true;
    c->obj = ctx;
    const char *key;
    json_t *v;
    json_object_foreach(ctx, key, v)
    {
        bool known = false;
        for (const char *const *k = context_fields; *k && !known; k++)
            known = strcmp(*k, key) == 0;
        if (!known)
            return api_fail(r, 400, "invalid_field",
                            "unknown field 'context.%.64s' (known: default_region, time_zone, "
                            "account_ids, recent_resource_ids, recent_regions)",
                            key);
    }
    if (!context_string(r, ctx, "default_region", 32, &c->default_region) ||
        !context_string(r, ctx, "time_zone", ZONE_MAX_CHARS, &c->time_zone))
        return false;
    if (c->default_region && !api_input_is_region(c->default_region))
        return api_input_fail_field(r, "context.default_region", c->default_region,
                                    "a region code such as eu-west-1");
    if (c->time_zone) {
        err e = {0};
        tz_zone *z = tz_load(c->time_zone, &e);
        if (z == NULL)
            return api_fail(r, 400, "invalid_field", "field 'context.time_zone': %s", e.message);
        tz_free(z);
    }
    return context_list(r, ctx, "account_ids", ACCOUNTS_MAX, api_input_is_account_id,
                        "12 digits") &&
           context_list(r, ctx, "recent_resource_ids", RESOURCES_MAX, resource_id_ok,
                        "1 to 128 of A-Z a-z 0-9 . _ : / -") &&
           context_list(r, ctx, "recent_regions", REGIONS_MAX, api_input_is_region,
                        "a region code such as eu-west-1");
}

/* ---- the words ---------------------------------------------------------------- */

/* Appends "a, b, c" of a JSON array of strings, or the string itself. */
static void put_list(strbuf *sb, const json_t *v)
{
    if (json_is_string(v)) {
        strbuf_puts(sb, json_string_value(v));
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        strbuf_printf(sb, "%s%s", i ? ", " : "",
                      json_is_string(item) ? json_string_value(item) : "?");
    }
}

/* Appends "key=v1|v2, key2" of tags. */
static void put_tags(strbuf *sb, const json_t *tags)
{
    const char *key;
    json_t *vals;
    bool first = true;
    json_object_foreach((json_t *)tags, key, vals)
    {
        strbuf_printf(sb, "%s%s", first ? "" : ", ", key);
        first = false;
        if (json_is_array(vals) && json_array_size(vals) > 0) {
            strbuf_puts(sb, "=");
            size_t i;
            json_t *v;
            json_array_foreach(vals, i, v)
            {
                strbuf_printf(sb, "%s%s", i ? "|" : "",
                              json_is_string(v) ? json_string_value(v) : "?");
            }
        }
    }
}

/* The selector and places of a target (lib/ops shape) or query filters. */
static void put_selection(strbuf *sb, const json_t *accounts, const json_t *regions,
                          const json_t *sel)
{
    if (accounts) {
        strbuf_puts(sb, "accounts ");
        if (json_is_object(accounts))
            strbuf_printf(sb, "in OU %s",
                          json_string_value(json_object_get(accounts, "ou"))
                              ? json_string_value(json_object_get(accounts, "ou"))
                              : "?");
        else
            put_list(sb, accounts);
    }
    if (regions) {
        strbuf_puts(sb, accounts ? "; regions " : "regions ");
        put_list(sb, regions);
    }
    const json_t *v;
    if ((v = json_object_get(sel, "tags")) && json_object_size(v)) {
        strbuf_puts(sb, "; tagged ");
        put_tags(sb, v);
    }
    if ((v = json_object_get(sel, "state")) && json_is_string(v))
        strbuf_printf(sb, "; state %s", json_string_value(v));
    if ((v = json_object_get(sel, "name")) && json_is_string(v))
        strbuf_printf(sb, "; named %s", json_string_value(v));
    if ((v = json_object_get(sel, "type")) && json_is_string(v))
        strbuf_printf(sb, "; type %s", json_string_value(v));
    if ((v = json_object_get(sel, "ids")) && json_array_size(v)) {
        strbuf_puts(sb, "; ids ");
        put_list(sb, v);
    }
    if ((v = json_object_get(sel, "older_than_days")) && json_is_integer(v))
        strbuf_printf(sb, "; older than %lld days", (long long)json_integer_value(v));
}

static const char *str_of(const json_t *plan, const char *name)
{
    const char *s = json_string_value(json_object_get(plan, name));
    return s ? s : "";
}

/* The lines a user reads about plan. Caller frees. */
static char *plan_text(const json_t *plan)
{
    strbuf sb = STRBUF_INIT;
    const char *kind = str_of(plan, "kind");
    if (strcmp(kind, "query") == 0) {
        const json_t *f = json_object_get(plan, "filters");
        strbuf_printf(&sb, "%s %s", strcmp(str_of(plan, "action"), "count") == 0 ? "Count" : "List",
                      str_of(plan, "resource"));
        strbuf sel = STRBUF_INIT;
        put_selection(&sel, json_object_get(f, "accounts"), json_object_get(f, "regions"), f);
        if (sel.len)
            strbuf_printf(&sb, " (%s)",
                          strbuf_str(&sel)[0] == ';' ? strbuf_str(&sel) + 2 : strbuf_str(&sel));
        strbuf_free(&sel);
        strbuf_puts(&sb, ".\nYour client answers this with your own AWS credentials; the server "
                         "reads nothing in your accounts.");
    } else if (strcmp(kind, "operation") == 0 || strcmp(kind, "schedule") == 0) {
        const char *name = str_of(plan, "operation");
        const ops_op *op = ops_find(name);
        bool sched = strcmp(kind, "schedule") == 0;
        strbuf_printf(&sb, "%s%s (risk %s): %s", sched ? "Schedule " : "", name,
                      str_of(plan, "risk"), op ? op->summary : "");
        if (sched)
            strbuf_printf(&sb, "\nWhen: cron '%s' in %s", str_of(plan, "cron"),
                          str_of(plan, "time_zone"));
        const json_t *params = json_object_get(plan, "params");
        if (json_object_size(params)) {
            char *p = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
            strbuf_printf(&sb, "\nParameters: %s", p ? p : "{}");
            free(p);
        }
        const json_t *t = json_object_get(plan, "target");
        strbuf_puts(&sb, "\nTarget: ");
        put_selection(&sb, json_object_get(t, "accounts"), json_object_get(t, "regions"),
                      json_object_get(t, "selector"));
        strbuf_puts(&sb, sched ? "\nNothing is scheduled until you confirm; your client then "
                                 "creates the schedule on the server."
                               : "\nNothing runs until you confirm; your client then runs it "
                                 "with your own AWS credentials.");
    } else if (strcmp(kind, "server_question") == 0) {
        const char *topic = str_of(plan, "topic");
        strbuf_printf(&sb, "%s are not offered by this server yet.",
                      strcmp(topic, "cost") == 0       ? "Cost reports"
                      : strcmp(topic, "security") == 0 ? "Security findings"
                                                       : "Answers on this topic");
    } else {
        const char *u = str_of(plan, "understood"), *m = str_of(plan, "missing");
        if (*u)
            strbuf_printf(&sb, "I understood: %s.\n", u);
        strbuf_printf(&sb, "Missing: %s. Say it again with what is missing.", *m ? m : "more");
    }
    return strbuf_detach(&sb);
}

/* The answer object: text (with an optional note), plan and engine. */
static json_t *answer_json(const json_t *plan, const char *engine, const char *note)
{
    char *text = plan_text(plan);
    char *full = note ? xasprintf("%s\nNote: %s", text, note) : NULL;
    json_t *a =
        json_pack("{s:s, s:O, s:s}", "text", full ? full : text, "plan", plan, "engine", engine);
    free(full);
    free(text);
    return a;
}

/* ---- the LLM call -------------------------------------------------------------- */

/* One chat request waiting on the LLM. */
typedef struct chat_call {
    api_req *req; /* deferred; owns the body the strings below point into */
    json_t *plan; /* the builtin engine's plan */
    nlu_context ctx;
    bool question; /* the sentence is a question: the model may not change things */
    bool mutating; /* the builtin plan is an operation or a schedule */
    int64_t timeout_ms;
} chat_call;

/* Each loop thread's asynchronous HTTP client, made on its first chat
 * request and freed when the thread ends (after its loop stops, before the
 * server frees the loop): requests still waiting are then answered by the
 * builtin engine (their callbacks run with "cancelled"). */
static pthread_key_t loop_key;
static pthread_once_t loop_once = PTHREAD_ONCE_INIT;

static void loop_client_free(void *p)
{
    http_async_free(p);
}

static void loop_key_init(void)
{
    pthread_key_create(&loop_key, loop_client_free);
}

static http_async *loop_client(api_req *r, int64_t timeout_ms)
{
    pthread_once(&loop_once, loop_key_init);
    http_async *a = pthread_getspecific(loop_key);
    if (a == NULL) {
        http_options o = {.timeout_ms = (long)timeout_ms, .connect_timeout_ms = 3000};
        if (o.connect_timeout_ms > o.timeout_ms)
            o.connect_timeout_ms = o.timeout_ms;
        a = http_async_new(api_event_base(r), &o);
        pthread_setspecific(loop_key, a);
    }
    return a;
}

/* A words-only LLM answer as a note: first line, shortened. */
static char *words_note(const char *text)
{
    size_t n = 0, chars = 0;
    while (text[n] && text[n] != '\n' && chars < LLM_TEXT_NOTE_MAX) {
        n++;
        while (((unsigned char)text[n] & 0xC0) == 0x80)
            n++;
        chars++;
    }
    return xasprintf("the language model answered in words only, not with a plan: \"%.*s%s\"",
                     (int)n, text, text[n] ? "..." : "");
}

static void on_llm(const http_response *resp, const err *e, void *arg)
{
    chat_call *c = arg;
    json_t *llm_plan = NULL;
    char *words = NULL, *note = NULL;
    if (e != NULL) {
        note = e->code == ERR_TIMEOUT
                   ? xasprintf("the language model did not answer within %lld ms; this is the "
                               "builtin engine's answer",
                               (long long)c->timeout_ms)
                   : xstrdup("the language model could not be reached; this is the builtin "
                             "engine's answer");
        log_warn(api_log(c->req), "llm call failed", LOG_STR("request_id", api_request_id(c->req)),
                 LOG_STR("reason", e->code == ERR_TIMEOUT ? "timeout" : "transport"));
    } else if (resp->status != 200) {
        note = xasprintf("the language model answered HTTP %ld; this is the builtin engine's "
                         "answer",
                         resp->status);
        log_warn(api_log(c->req), "llm call failed", LOG_STR("request_id", api_request_id(c->req)),
                 LOG_INT("status", resp->status));
    } else if (resp->body.len > LLM_ANSWER_MAX) {
        note = xasprintf("the language model's answer has %zu bytes, over the %d accepted; this "
                         "is the builtin engine's answer",
                         resp->body.len, LLM_ANSWER_MAX);
    } else {
        err pe = {0};
        if (!api_llm_read(strbuf_str(&resp->body), resp->body.len, &c->ctx, !c->question, &llm_plan,
                          &words, &pe)) {
            note = xasprintf("the language model's plan was not used: %s", pe.message);
            log_info(api_log(c->req), "llm plan rejected",
                     LOG_STR("request_id", api_request_id(c->req)), LOG_STR("why", pe.message));
        } else if (words) {
            note = words_note(words);
        }
    }
    json_t *answer;
    if (llm_plan) {
        answer = answer_json(llm_plan, "llm", NULL);
    } else if (words && c->mutating) {
        /* Words never execute, and with no tool call nothing mutating is
         * answered: the builtin plan changes things, so it becomes a question
         * back to the user. */
        char *understood = plan_text(c->plan);
        for (char *p = understood; *p; p++)
            if (*p == '\n')
                *p = ' ';
        json_t *clarify =
            json_pack("{s:s, s:s, s:s}", "kind", "clarify", "understood", understood, "missing",
                      "a plan the language model agrees with; say the request again");
        answer = answer_json(clarify, "builtin", note);
        json_decref(clarify);
        free(understood);
    } else {
        answer = answer_json(c->plan, "builtin", note);
    }
    api_reply(c->req, 200, answer);
    api_deferred_send(c->req);
    json_decref(llm_plan);
    json_decref(c->plan);
    free(words);
    free(note);
    free(c);
}

/* Sends the request to the LLM and defers the answer. Returns true: r is
 * answered (a 400 from api_defer) or deferred, and must not be touched. */
static bool ask_llm(api_req *r, const api_llm_settings *llm, const char *message,
                    const chat_context *cc, const json_t *plan, bool mood_question,
                    const nlu_context *ctx)
{
    json_t *reqj = api_llm_request(llm->model, message, cc->obj);
    char *body = json_dumps(reqj, JSON_COMPACT);
    json_decref(reqj);
    api_req *d = api_defer(r);
    if (d == NULL) {
        free(body);
        return true; /* the 400 is on r */
    }
    chat_call *c = xcalloc(1, sizeof *c);
    c->req = d;
    c->plan = json_incref((json_t *)plan);
    c->ctx = *ctx; /* strings in the body, which d now holds */
    /* A question never becomes a change: queries and server questions are
     * questions, and so is anything lib/nlu's mood rule calls one. */
    const char *kind = str_of(plan, "kind");
    c->question =
        strcmp(kind, "query") == 0 || strcmp(kind, "server_question") == 0 || mood_question;
    c->mutating = strcmp(kind, "operation") == 0 || strcmp(kind, "schedule") == 0;
    c->timeout_ms = llm->timeout_ms;
    http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Content-Type", "application/json");
    http_headers_add(&h, "Accept", "application/json");
    if (*llm->api_key) {
        size_t n = strlen(llm->api_key) + 8;
        char *auth = xmalloc(n);
        snprintf(auth, n, "Bearer %s", llm->api_key);
        http_headers_add(&h, "Authorization", auth); /* values are wiped when freed */
        secure_wipe(auth, n);
        free(auth);
    }
    http_request hr = {
        .method = "POST", .url = llm->url, .headers = &h, .body = body, .body_len = strlen(body)};
    err e = {0};
    bool ok = http_async_submit(loop_client(d, llm->timeout_ms), &hr, on_llm, c, &e);
    http_headers_free(&h);
    free(body);
    if (!ok) {
        /* Nothing went out: the builtin engine answers now, on d. */
        log_warn(api_log(d), "llm call not sent", LOG_STR("request_id", api_request_id(d)),
                 LOG_STR("error", e.message));
        api_reply(d, 200,
                  answer_json(plan, "builtin",
                              "the language model could not be asked; this is the builtin "
                              "engine's answer"));
        api_deferred_send(d);
        json_decref(c->plan);
        free(c);
    }
    return true;
}

/* ---- the route ------------------------------------------------------------------ */

static void chat(api_req *r)
{
    json_t *body = api_body_object(r);
    if (body == NULL || !api_input_only(r, body, body_fields))
        return;
    const char *message = NULL;
    if (!api_input_string(r, body, "message", MESSAGE_MAX_CHARS, &message))
        return;
    chat_context cc;
    if (!read_context(r, body, &cc))
        return;
    /* "them", "those": the ids the client's conversation showed last. */
    const json_t *recent = json_object_get(cc.obj, "recent_resource_ids");
    size_t nrecent = json_array_size(recent);
    const char **ids = nrecent ? xcalloc(nrecent, sizeof *ids) : NULL;
    for (size_t i = 0; i < nrecent; i++)
        ids[i] = json_string_value(json_array_get(recent, i));
    const json_t *where = json_object_get(cc.obj, "recent_regions");
    size_t nwhere = json_array_size(where);
    const char **regions = nwhere ? xcalloc(nwhere, sizeof *regions) : NULL;
    for (size_t i = 0; i < nwhere; i++)
        regions[i] = json_string_value(json_array_get(where, i));
    nlu_context ctx = {.default_region = cc.default_region,
                       .time_zone = cc.time_zone,
                       .recent_ids = ids,
                       .nrecent = nrecent,
                       .recent_regions = regions,
                       .nrecent_regions = nwhere};
    nlu_plan *p = NULL;
    err e = {0};
    json_t *plan;
    bool question = false;
    if (nlu_parse(message, &ctx, &p, &e)) {
        plan = json_incref((json_t *)nlu_plan_json(p));
        question = nlu_plan_question(p);
    } else {
        /* Input the engine does not take as a sentence (over its length or
         * word limits): a question back, never an error of the request. */
        plan =
            json_pack("{s:s, s:s, s:s}", "kind", "clarify", "understood", "", "missing", e.message);
    }
    nlu_plan_free(p);
    free(ids);
    free(regions);
    ctx.recent_ids = NULL; /* the LLM's plan takes its ids from its own call */
    ctx.nrecent = 0;
    ctx.recent_regions = NULL;
    ctx.nrecent_regions = 0;
    api_llm_settings llm;
    api_llm_settings_of(r, &llm);
    if (!*llm.url || !ask_llm(r, &llm, message, &cc, plan, question, &ctx))
        api_reply(r, 200, answer_json(plan, "builtin", NULL));
    json_decref(plan);
}

const api_route api_routes_chat[] = {
    {"POST", "/v1/chat", API_ROLE_ANY, chat,
     "Turn one sentence into a plan (query, operation, schedule, server question or clarify); "
     "nothing runs on the server."},
    {0},
};
