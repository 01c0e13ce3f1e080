/* Job kind notify.deliver. See job_notify.h. */
#include "job_notify.h"

#include "aws/http.h"
#include "core/secure.h"
#include "core/seal.h"
#include "core/xmalloc.h"
#include "db/db.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESOURCES_MAX 50 /* per-resource lines in a summary; the job's result has all */

typedef struct notify {
    wjob *j;
    char kind[16];
    char host[256]; /* where it goes, for messages: never the Slack URL itself */
} notify;

void job_notify_free(void *state)
{
    free(state);
}

void job_notify_signature(const void *key, size_t keylen, const char *timestamp, const void *body,
                          size_t bodylen, char out[JOB_NOTIFY_SIG_LEN])
{
    /* HMAC over timestamp "." body: the timestamp is signed too, so a
     * receiver that refuses old timestamps refuses replays. */
    size_t tl = strlen(timestamp);
    unsigned char *msg = xmalloc(tl + 1 + bodylen);
    memcpy(msg, timestamp, tl);
    msg[tl] = '.';
    memcpy(msg + tl + 1, body, bodylen);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (HMAC(EVP_sha256(), key, (int)keylen, msg, tl + 1 + bodylen, mac, &maclen) == NULL)
        maclen = 0;
    free(msg);
    memcpy(out, "sha256=", 8);
    for (unsigned int i = 0; i < maclen && i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
    secure_wipe(mac, sizeof mac);
}

/* ---- queuing (the end of an ops.run) ---- */

/* The summary a channel gets of a run: its result without the full
 * resource list (the first RESOURCES_MAX, and how many there were). */
static json_t *run_summary(const char *run_job_id, const char *state, const json_t *result,
                           const json_t *payload)
{
    const json_t *resources = json_object_get(result, "resources");
    json_t *some = json_array();
    for (size_t i = 0; i < json_array_size(resources) && i < RESOURCES_MAX; i++)
        json_array_append(some, json_array_get(resources, i));
    const json_t *schedule = json_object_get(payload, "schedule");
    return json_pack("{s:s, s:s, s:O?, s:O?, s:b, s:O?, s:o, s:I, s:O?}", "job", run_job_id,
                     "state", state, "operation", json_object_get(result, "operation"), "schedule",
                     json_is_string(schedule) ? schedule : json_null(), "dry_run",
                     json_is_true(json_object_get(result, "dry_run")), "counts",
                     json_object_get(result, "counts"), "resources", some, "resources_total",
                     (json_int_t)json_array_size(resources), "errors",
                     json_object_get(result, "errors"));
}

bool job_notify_enqueue(PGconn *db, const char *tenant_id, const char *run_job_id,
                        const char *state, const json_t *result, const json_t *run_payload, err *e)
{
    const char *p[] = {tenant_id, state};
    PGresult *res = db_query(db,
                             "SELECT id FROM notification_channels WHERE tenant_id = $1"
                             " AND enabled AND $2 = ANY(events) ORDER BY id",
                             2, p, e);
    if (res == NULL)
        return err_prefix(e, "notification channels of the run");
    int n = PQntuples(res);
    bool ok = true;
    if (n > 0) {
        json_t *run = run_summary(run_job_id, state, result, run_payload);
        queue_new_job *jobs = xcalloc((size_t)n, sizeof *jobs);
        char **texts = xcalloc((size_t)n, sizeof *texts);
        char(*keys)[128] = xcalloc((size_t)n, sizeof *keys);
        char(*ids)[QUEUE_ID_LEN] = xcalloc((size_t)n, sizeof *ids);
        for (int i = 0; i < n; i++) {
            const char *channel = PQgetvalue(res, i, 0);
            json_t *payload =
                json_pack("{s:s, s:s, s:O}", "channel", channel, "event", state, "run", run);
            texts[i] = json_dumps(payload, JSON_COMPACT);
            json_decref(payload);
            snprintf(keys[i], sizeof keys[i], "notify:%s:%s", run_job_id, channel);
            jobs[i] = (queue_new_job){.tenant_id = tenant_id,
                                      .kind = "notify.deliver",
                                      .payload_json = texts[i],
                                      .idempotency_key = keys[i],
                                      .created_by = "escher"};
        }
        ok = queue_enqueue_many(db, jobs, (size_t)n, ids, NULL, e);
        for (int i = 0; i < n; i++)
            free(texts[i]);
        free(texts);
        free(keys);
        free(ids);
        free(jobs);
        json_decref(run);
    }
    PQclear(res);
    return ok || err_prefix(e, "queuing notifications");
}

/* ---- delivery ---- */

/* One line for chat and the e-mail subject. */
static char *headline(const char *event, const json_t *run)
{
    const char *op = json_string_value(json_object_get(run, "operation"));
    const json_t *counts = json_object_get(run, "counts");
    char *s = NULL;
    if (strcmp(event, "test") == 0)
        s = xstrdup("Escher: test notification (this channel works)");
    else
        s = xasprintf("Escher: %s run %s%s: %lld resource(s), %lld error(s) (job %s)",
                      op ? op : "operation", event,
                      json_is_true(json_object_get(run, "dry_run")) ? " (dry run)" : "",
                      (long long)json_integer_value(json_object_get(counts, "resources")),
                      (long long)json_integer_value(json_object_get(counts, "errors")),
                      json_string_value(json_object_get(run, "job"))
                          ? json_string_value(json_object_get(run, "job"))
                          : "-");
    return s;
}

/* The text body: the headline and a line per resource. */
static char *body_text(const char *head, const json_t *run)
{
    strbuf b = STRBUF_INIT;
    strbuf_printf(&b, "%s\n", head);
    const json_t *schedule = json_object_get(run, "schedule");
    if (json_is_string(schedule))
        strbuf_printf(&b, "schedule: %s\n", json_string_value(schedule));
    const json_t *resources = json_object_get(run, "resources");
    for (size_t i = 0; i < json_array_size(resources); i++) {
        const json_t *r = json_array_get(resources, i);
        const char *err_text = json_string_value(json_object_get(r, "error"));
        strbuf_printf(&b, "- %s %s %s: %s%s%s\n",
                      json_string_value(json_object_get(r, "account"))
                          ? json_string_value(json_object_get(r, "account"))
                          : "?",
                      json_string_value(json_object_get(r, "region"))
                          ? json_string_value(json_object_get(r, "region"))
                          : "?",
                      json_string_value(json_object_get(r, "id"))
                          ? json_string_value(json_object_get(r, "id"))
                          : "?",
                      json_string_value(json_object_get(r, "outcome"))
                          ? json_string_value(json_object_get(r, "outcome"))
                          : "?",
                      err_text ? " - " : "", err_text ? err_text : "");
    }
    long long total = json_integer_value(json_object_get(run, "resources_total"));
    if ((size_t)total > json_array_size(resources))
        strbuf_printf(&b, "(%lld more in the job's result)\n",
                      total - (long long)json_array_size(resources));
    return strbuf_detach(&b);
}

/* Ends the job after an answer (status > 0) or a transport failure. */
static void delivered(notify *n, long status, const char *why)
{
    wjob *j = n->j;
    bool ok = status >= 200 && status < 300;
    json_t *detail = json_pack("{s:s, s:s, s:I}", "channel_kind", n->kind, "host", n->host,
                               "status", (json_int_t)status);
    if (why)
        json_object_set_new(detail, "error", json_string(why));
    if (!wjob_step_finish(j, "deliver", ok, detail, NULL, NULL)) {
        json_decref(detail);
        return;
    }
    if (ok) {
        wjob_complete(j, detail, NULL, NULL);
    } else {
        bool retry = status == 0 || status == 408 || status == 429 || status >= 500;
        char msg[ERR_MESSAGE_MAX];
        if (status && why)
            snprintf(msg, sizeof msg, "%s channel at %s: %s%s", n->kind, n->host, why,
                     retry ? "" : " (not retried: fix the channel)");
        else if (status)
            snprintf(msg, sizeof msg, "%s channel at %s answered HTTP %ld%s", n->kind, n->host,
                     status, retry ? "" : " (not retried: fix the channel)");
        else
            snprintf(msg, sizeof msg, "%s channel at %s: %s", n->kind, n->host, why);
        wjob_fail(j, msg, retry, NULL, NULL);
    }
    json_decref(detail);
}

static void on_http(const http_response *resp, const err *e, void *arg)
{
    notify *n = arg;
    if (!wjob_resume(n->j))
        return;
    if (resp)
        delivered(n, resp->status, NULL);
    else
        /* Never e's message for Slack: it names the URL, which is the secret. */
        delivered(n, 0, strcmp(n->kind, "slack") == 0 ? err_code_name(e->code) : e->message);
}

static bool post(notify *n, const char *url, const http_headers *h, const char *body, err *e)
{
    http_request req = {
        .method = "POST", .url = url, .headers = h, .body = body, .body_len = strlen(body)};
    wjob_hold(n->j);
    if (!http_async_submit(n->j->env->http, &req, on_http, n, e)) {
        wjob_resume(n->j);
        return false;
    }
    return true;
}

/* Sends by SMTP through the loop's asynchronous client (lib/aws/http's
 * http_mail): nothing blocks the worker while the relay answers. on_mail
 * gets the last SMTP reply (250 when accepted). False with e when the mail
 * could not be started (settings incomplete). */
static void on_mail(const http_response *resp, const err *e, void *arg)
{
    notify *n = arg;
    if (!wjob_resume(n->j))
        return;
    /* A 5xx reply is the relay refusing for good; no answer or a 4xx is
     * transient (the queue retries). */
    if (resp) {
        delivered(n, 200, NULL);
        return;
    }
    char why[ERR_MESSAGE_MAX + 32];
    if (e->http_status)
        snprintf(why, sizeof why, "%s (SMTP reply %d)", e->message, e->http_status);
    else
        snprintf(why, sizeof why, "%s", e->message);
    delivered(n, e->http_status >= 500 ? 400 : 0, why);
}

static bool smtp_send(notify *n, const json_t *config, const char *password, const char *subject,
                      const char *text, err *e)
{
    const char *url = json_string_value(json_object_get(config, "smtp_url"));
    const char *from = json_string_value(json_object_get(config, "from"));
    const char *user = json_string_value(json_object_get(config, "username"));
    const json_t *to = json_object_get(config, "to");
    size_t nto = json_array_size(to);
    if (url == NULL || from == NULL || nto == 0)
        return err_set(e, ERR_CONFIG, "channel settings incomplete");
    strbuf msg = STRBUF_INIT;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    strbuf_printf(&msg, "Date: %s\r\nFrom: <%s>\r\nTo: ", date, from);
    char **rcpt = xcalloc(nto, sizeof *rcpt);
    for (size_t i = 0; i < nto; i++) {
        const char *a = json_string_value(json_array_get(to, i));
        rcpt[i] = xasprintf("<%s>", a ? a : "");
        strbuf_printf(&msg, "%s<%s>", i ? ", " : "", a ? a : "");
    }
    strbuf_printf(&msg,
                  "\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
                  "charset=utf-8\r\n\r\n",
                  subject);
    /* Body lines end in CRLF; a line of a lone "." is escaped by curl. */
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            strbuf_append(&msg, "\r\n", 2);
        else
            strbuf_append(&msg, p, 1);
    }
    char *mail_from = xasprintf("<%s>", from);
    http_mail m = {.from = mail_from,
                   .rcpt = (const char *const *)rcpt,
                   .nrcpt = nto,
                   .user = user,
                   .password = user ? password : NULL};
    http_request req = {.url = url, .body = msg.buf, .body_len = msg.len, .mail = &m};
    wjob_hold(n->j);
    bool ok = http_async_submit(n->j->env->http, &req, on_mail, n, e);
    if (!ok)
        wjob_resume(n->j);
    for (size_t i = 0; i < nto; i++)
        free(rcpt[i]);
    free(rcpt);
    free(mail_from);
    strbuf_free(&msg);
    return ok;
}

/* Opens the channel's sealed secret (hex text from encode(..., 'hex')). */
static bool open_secret(wjob *j, const char *channel, const char *hex, unsigned char **out,
                        size_t *outn, err *e)
{
    size_t n = strlen(hex) / 2;
    unsigned char *sealed = xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned int v;
        sscanf(hex + 2 * i, "%2x", &v);
        sealed[i] = (unsigned char)v;
    }
    unsigned char ad[SEAL_IDS_AD_LEN];
    bool ok = seal_ids_ad(j->q.tenant_id, channel, ad) &&
              seal_decrypt(j->env->master_key, ad, sizeof ad, sealed, n, out, outn, e);
    free(sealed);
    return ok;
}

static bool is_event(const char *s)
{
    return s && (strcmp(s, "succeeded") == 0 || strcmp(s, "partial") == 0 ||
                 strcmp(s, "failed") == 0 || strcmp(s, "test") == 0);
}

void job_notify_start(wjob *j)
{
    notify *n = xcalloc(1, sizeof *n);
    j->state = n;
    n->j = j;
    const char *channel = json_string_value(json_object_get(j->payload, "channel"));
    const char *event = json_string_value(json_object_get(j->payload, "event"));
    const json_t *run = json_object_get(j->payload, "run");
    if (channel == NULL || !is_event(event) || !json_is_object(run)) {
        wjob_fail(j,
                  "invalid payload: want {\"channel\": \"<id>\", \"event\": "
                  "\"succeeded|partial|failed|test\", \"run\": {...}}",
                  false, NULL, NULL);
        return;
    }
    if (j->env->master_key == NULL || j->env->http == NULL) {
        wjob_fail(j,
                  "this worker has no master key to open channel secrets: its operator sets "
                  "--master-key (ESCHER_WORKER_MASTER_KEY), the API's key",
                  true, NULL, NULL);
        return;
    }
    err e = {0};
    const char *p[] = {channel, j->q.tenant_id, event};
    PGresult *res = db_query(j->env->db,
                             "SELECT name, kind, config::text, encode(secret_ciphertext, 'hex'),"
                             " enabled, $3 = ANY(events) FROM notification_channels"
                             " WHERE id = $1::uuid AND tenant_id = $2::uuid",
                             3, p, &e);
    if (res == NULL) {
        wjob_fail(j, e.message, true, NULL, NULL);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        char msg[160];
        snprintf(msg, sizeof msg, "channel %.40s no longer exists", channel);
        wjob_fail(j, msg, false, NULL, NULL);
        return;
    }
    char name[300];
    snprintf(name, sizeof name, "%s", PQgetvalue(res, 0, 0));
    snprintf(n->kind, sizeof n->kind, "%s", PQgetvalue(res, 0, 1));
    json_t *config = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    char *hex = PQgetisnull(res, 0, 3) ? NULL : xstrdup(PQgetvalue(res, 0, 3));
    bool enabled = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
    bool wanted = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
    PQclear(res);
    snprintf(n->host, sizeof n->host, "%s",
             json_string_value(json_object_get(config, "host"))
                 ? json_string_value(json_object_get(config, "host"))
                 : "?");
    unsigned char *secret = NULL;
    size_t secret_len = 0;
    char *head = NULL, *text = NULL, *body = NULL;
    json_t *summary = NULL;
    if (strcmp(event, "test") != 0 && (!enabled || !wanted)) {
        /* Changed since the run ended: the channel's wish now wins. */
        json_t *r = json_pack("{s:s}", "skipped",
                              enabled ? "the channel no longer wants this event"
                                      : "the channel is disabled");
        wjob_complete(j, r, NULL, NULL);
        json_decref(r);
        goto out;
    }
    if (hex && !open_secret(j, channel, hex, &secret, &secret_len, &e)) {
        char msg[ERR_MESSAGE_MAX + 64];
        snprintf(msg, sizeof msg, "channel %.40s: %s", channel, e.message);
        wjob_fail(j, msg, false, NULL, NULL);
        goto out;
    }
    bool skip = false;
    json_t *prior = NULL;
    if (!wjob_step_begin(j, "deliver", &skip, &prior))
        goto out;
    if (skip) {
        wjob_complete(j, prior, NULL, NULL);
        json_decref(prior);
        goto out;
    }
    summary = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:O}", "delivery", j->q.id, "event",
                        event, "channel", "id", channel, "name", name, "kind", n->kind, "tenant_id",
                        j->q.tenant_id, "run", run);
    head = headline(event, run);
    text = body_text(head, run);
    http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Content-Type", "application/json");
    http_headers_add(&h, "X-Escher-Delivery", j->q.id);
    http_headers_add(&h, "X-Escher-Event", event);
    bool sent = true;
    if (strcmp(n->kind, "slack") == 0) {
        json_t *msg = json_pack("{s:s}", "text", text);
        body = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        sent = secret && post(n, (const char *)secret, &h, body, &e);
    } else if (strcmp(n->kind, "webhook") == 0) {
        body = json_dumps(summary, JSON_COMPACT);
        char ts[32], sig[JOB_NOTIFY_SIG_LEN];
        snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
        if (secret) {
            job_notify_signature(secret, secret_len, ts, body, strlen(body), sig);
            http_headers_add(&h, "X-Escher-Signature", sig);
        }
        http_headers_add(&h, "X-Escher-Timestamp", ts);
        const char *url = json_string_value(json_object_get(config, "url"));
        sent = url && post(n, url, &h, body, &e);
    } else {
        const char *smtp_url = json_string_value(json_object_get(config, "smtp_url"));
        snprintf(n->host, sizeof n->host, "%.255s", smtp_url ? smtp_url : "?");
        sent = smtp_send(n, config, (const char *)secret, head, text, &e);
    }
    http_headers_free(&h);
    if (!sent)
        delivered(n, 0, e.code ? err_code_name(e.code) : "channel settings incomplete");
out:
    if (secret)
        seal_free(secret, secret_len + 1);
    secure_free_string(hex);
    free(head);
    free(text);
    free(body);
    json_decref(summary);
    json_decref(config);
}
