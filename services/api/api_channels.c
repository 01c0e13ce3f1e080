/* Routes of the channels area: where a tenant hears how its operation runs
 * ended (issue 5, notifications). A channel is a Slack incoming webhook, a
 * generic webhook whose requests carry an HMAC signature, or e-mail over
 * SMTP; the worker delivers through the queue (job kind notify.deliver).
 *
 * Each channel has one secret: the Slack webhook URL (whoever has it can
 * post), the webhook's HMAC key, or the SMTP password. It is sealed with the
 * server's master key (lib/core/seal, additional data tenant || channel id)
 * before it reaches the database and is never answered, logged or audited:
 * answers say "secret_set" and, for Slack, only the URL's host. Without a
 * master key every route here answers 503 naming the option. */
#include "api_enqueue.h"
#include "api_input.h"
#include "api_page.h"
#include "api_route.h"

#include "core/secure.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX    2048
#define SECRET_MAX 512
#define ADDR_MAX   320
#define TO_MAX     20

#define UTC " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A channel as the API's JSON text (no secret: only whether one is set). */
#define CHANNEL_JSON                                                                               \
    "json_build_object('id', id, 'name', name, 'kind', kind, 'config', config,"                    \
    " 'events', to_jsonb(events), 'enabled', enabled,"                                             \
    " 'secret_set', secret_ciphertext IS NOT NULL,"                                                \
    " 'created_at', to_char(created_at" UTC ", 'updated_at', to_char(updated_at" UTC ")::text"

/* The body fields every kind has, and those of each kind. */
static const char *const all_fields[] = {"name", "kind",     "events",   "enabled",
                                         "url",  "hmac_key", "smtp_url", "from",
                                         "to",   "username", "password", NULL};
static const char *const slack_fields[] = {"url", NULL};
static const char *const webhook_fields[] = {"url", "hmac_key", NULL};
static const char *const email_fields[] = {"smtp_url", "from", "to", "username", "password", NULL};
static const char *const kind_specific[] = {"url", "hmac_key", "smtp_url", "from",
                                            "to",  "username", "password", NULL};

static const char *const *fields_of(const char *kind)
{
    if (strcmp(kind, "slack") == 0)
        return slack_fields;
    if (strcmp(kind, "webhook") == 0)
        return webhook_fields;
    return email_fields;
}

static bool listed(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* The master key, or NULL after the 503 naming the option. */
static const seal_key *master_key(api_req *r)
{
    const seal_key *k = api_master_key(r);
    if (k == NULL)
        api_fail(r, 503, "not_configured",
                 "notification channels are not configured: this server has no master key to "
                 "seal their secrets; its operator sets --master-key (ESCHER_API_MASTER_KEY)");
    return k;
}

/* The settings a body gives (each NULL when absent). */
typedef struct chan_in {
    const char *url, *hmac_key, *smtp_url, *from, *username, *password;
    api_field username_st, password_st;
    json_t *to;     /* borrowed */
    json_t *events; /* borrowed */
} chan_in;

/* The host[:port] of an http(s)/smtp(s) URL into host (userinfo dropped). */
static bool url_host(const char *url, char *host, size_t n)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return false;
    p += 3;
    size_t len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (len == 0 || len >= n)
        return false;
    memcpy(host, p, len);
    host[len] = '\0';
    return true;
}

static bool is_url(const char *s, const char *const *schemes)
{
    char host[256];
    bool scheme = false;
    for (size_t i = 0; schemes[i] && !scheme; i++)
        scheme = strncmp(s, schemes[i], strlen(schemes[i])) == 0;
    return scheme && strpbrk(s, " \t\"<>\\") == NULL && url_host(s, host, sizeof host);
}

static bool is_address(const char *s)
{
    const char *at = strchr(s, '@');
    return at && at != s && at[1] && strchr(at + 1, '@') == NULL &&
           strpbrk(s, " \t<>,;\"()[]\\") == NULL && strlen(s) <= ADDR_MAX;
}

static bool is_event(const char *s)
{
    return strcmp(s, "succeeded") == 0 || strcmp(s, "partial") == 0 || strcmp(s, "failed") == 0;
}

/* Reads and checks the settings of a kind's channel from body. creating:
 * the kind's required fields must be there. */
static bool read_in(api_req *r, const json_t *body, const char *kind, bool creating, chan_in *in)
{
    static const char *const http_schemes[] = {"https://", "http://", NULL};
    static const char *const smtp_schemes[] = {"smtps://", "smtp://", NULL};
    memset(in, 0, sizeof *in);
    const char *const *mine = fields_of(kind);
    for (size_t i = 0; kind_specific[i]; i++)
        if (json_object_get(body, kind_specific[i]) && !listed(mine, kind_specific[i])) {
            char want[160];
            snprintf(want, sizeof want, "no such field for a %s channel (its fields: %s)", kind,
                     strcmp(kind, "slack") == 0     ? "url"
                     : strcmp(kind, "webhook") == 0 ? "url, hmac_key"
                                                    : "smtp_url, from, to, username, password");
            return api_fail(r, 400, "invalid_field", "field '%s' is given: want %s",
                            kind_specific[i], want);
        }
    bool need = creating;
    if (strcmp(kind, "email") != 0) {
        if (!(need ? api_input_string(r, body, "url", URL_MAX, &in->url)
                   : api_input_opt_string(r, body, "url", URL_MAX, false, &in->url, NULL)))
            return false;
        /* The Slack URL is the secret: never quote it back. */
        if (in->url && !is_url(in->url, http_schemes))
            return strcmp(kind, "slack") == 0
                       ? api_fail(r, 400, "invalid_field",
                                  "field 'url' is not an http(s) URL: want the Slack incoming "
                                  "webhook URL, https://hooks.slack.com/services/...")
                       : api_input_fail_field(r, "url", in->url,
                                              "an http:// or https:// URL with a host");
    }
    if (strcmp(kind, "webhook") == 0) {
        if (!(need ? api_input_string(r, body, "hmac_key", SECRET_MAX, &in->hmac_key)
                   : api_input_opt_string(r, body, "hmac_key", SECRET_MAX, false, &in->hmac_key,
                                          NULL)))
            return false;
        if (in->hmac_key && strlen(in->hmac_key) < 16)
            return api_fail(r, 400, "invalid_field",
                            "field 'hmac_key' is %zu characters: want at least 16 (a random key "
                            "shared with the receiver)",
                            strlen(in->hmac_key));
    }
    if (strcmp(kind, "email") == 0) {
        if (!(need ? api_input_string(r, body, "smtp_url", URL_MAX, &in->smtp_url)
                   : api_input_opt_string(r, body, "smtp_url", URL_MAX, false, &in->smtp_url,
                                          NULL)) ||
            (in->smtp_url && !is_url(in->smtp_url, smtp_schemes) &&
             !api_input_fail_field(r, "smtp_url", in->smtp_url,
                                   "smtp://host[:port] or smtps://host[:port]")) ||
            !(need ? api_input_string(r, body, "from", ADDR_MAX, &in->from)
                   : api_input_opt_string(r, body, "from", ADDR_MAX, false, &in->from, NULL)) ||
            (in->from && !is_address(in->from) &&
             !api_input_fail_field(r, "from", in->from, "an e-mail address")) ||
            !api_input_opt_strings(r, body, "to", TO_MAX, ADDR_MAX, false, &in->to, NULL) ||
            !api_input_opt_string(r, body, "username", API_NAME_MAX, true, &in->username,
                                  &in->username_st) ||
            !api_input_opt_string(r, body, "password", SECRET_MAX, true, &in->password,
                                  &in->password_st))
            return false;
        if (need && in->to == NULL)
            return api_fail(r, 400, "invalid_field",
                            "field 'to' is missing: want an array of e-mail addresses");
        for (size_t i = 0; in->to && i < json_array_size(in->to); i++) {
            const char *a = json_string_value(json_array_get(in->to, i));
            if (!is_address(a))
                return api_input_fail_field(r, "to", a, "e-mail addresses");
        }
        if (in->to && json_array_size(in->to) == 0)
            return api_fail(r, 400, "invalid_field",
                            "field 'to' is empty: want one or more e-mail addresses");
    }
    if (!api_input_opt_strings(r, body, "events", 3, 16, false, &in->events, NULL))
        return false;
    for (size_t i = 0; in->events && i < json_array_size(in->events); i++) {
        const char *ev = json_string_value(json_array_get(in->events, i));
        if (!is_event(ev))
            return api_input_fail_field(r, "events", ev, "succeeded, partial or failed");
    }
    return true;
}

/* Merges what in changes into config (a kind's non-secret settings). */
static void merge_config(json_t *config, const char *kind, const chan_in *in)
{
    char host[256];
    if (in->url && url_host(in->url, host, sizeof host)) {
        json_object_set_new(config, "host", json_string(host));
        if (strcmp(kind, "webhook") == 0)
            json_object_set_new(config, "url", json_string(in->url));
    }
    if (in->smtp_url)
        json_object_set_new(config, "smtp_url", json_string(in->smtp_url));
    if (in->from)
        json_object_set_new(config, "from", json_string(in->from));
    if (in->to)
        json_object_set(config, "to", in->to);
    if (in->username_st == API_FIELD_SET)
        json_object_set_new(config, "username", json_string(in->username));
    else if (in->username_st == API_FIELD_NULL)
        json_object_del(config, "username");
}

/* The kind's secret in in, or NULL when the body gives none. */
static const char *secret_of(const char *kind, const chan_in *in)
{
    if (strcmp(kind, "slack") == 0)
        return in->url;
    if (strcmp(kind, "webhook") == 0)
        return in->hmac_key;
    return in->password;
}

/* Seals secret for the channel id of the caller's tenant, as the bytea
 * literal "\x<hex>" (caller frees); NULL after the 500. */
static char *seal_text(api_req *r, const seal_key *k, const char *id, const char *secret)
{
    unsigned char ad[SEAL_IDS_AD_LEN];
    unsigned char *sealed;
    size_t n;
    err e = {0};
    if (!seal_ids_ad(api_caller_of(r)->tenant_id, id, ad)) {
        api_fail(r, 500, "internal", "bad ids for sealing; request id %s", api_request_id(r));
        return NULL;
    }
    if (!seal_encrypt(k, ad, sizeof ad, secret, strlen(secret), &sealed, &n, &e)) {
        api_fail_err(r, &e);
        return NULL;
    }
    char *text = xmalloc(2 * n + 3);
    memcpy(text, "\\x", 2);
    for (size_t i = 0; i < n; i++)
        snprintf(text + 2 + 2 * i, 3, "%02x", sealed[i]);
    free(sealed);
    return text;
}

/* A new random (version 4) uuid: the channel's id is needed before its row
 * exists, as the sealed secret's additional data. */
static bool new_uuid(api_req *r, char out[API_ID_LEN])
{
    unsigned char b[16];
    err e = {0};
    if (!secure_random(b, sizeof b, &e))
        return api_fail_err(r, &e);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, API_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return true;
}

/* Appends the audit row of action on channel id; steals detail (which never
 * holds the secret). */
static bool audit_channel(api_req *r, const char *action, const char *id, json_t *detail)
{
    char target[64];
    snprintf(target, sizeof target, "channel:%s", id);
    bool ok = api_audit(r, action, target, detail);
    json_decref(detail);
    return ok;
}

static bool channel_id(api_req *r, char id[API_ID_LEN])
{
    const char *s = api_path_param(r, 0);
    if (api_uuid_parse(s, id))
        return true;
    return api_fail(r, 400, "invalid_path", "path parameter 'id' is '%.64s': want a channel's uuid",
                    s);
}

/* Runs sql ($1 the channel id, more params after) and returns the result
 * with its row, or NULL after the 404 or the database's error. */
static PGresult *channel_find(api_req *r, const char *sql, int n, const char *const *p, bool final)
{
    PGresult *res = final ? api_sql_final(r, sql, n, p) : api_sql(r, sql, n, p);
    if (res && PQntuples(res) == 0) {
        PQclear(res);
        api_fail(r, 404, "not_found", "no channel '%.64s'", p[0]);
        return NULL;
    }
    return res;
}

static json_t *row_json(PGresult *res, int col)
{
    return json_loads(PQgetvalue(res, 0, col), 0, NULL);
}

/* ---- POST /v1/channels ------------------------------------------------------------ */

static void channel_create(api_req *r)
{
    const seal_key *k = master_key(r);
    json_t *body = k ? api_body_object(r) : NULL;
    if (body == NULL || !api_input_only(r, body, all_fields))
        return;
    const char *name, *kind;
    bool enabled = true;
    chan_in in;
    if (!api_input_string(r, body, "name", API_NAME_MAX, &name) ||
        !api_input_string(r, body, "kind", 16, &kind))
        return;
    if (strcmp(kind, "slack") != 0 && strcmp(kind, "webhook") != 0 && strcmp(kind, "email") != 0) {
        api_input_fail_field(r, "kind", kind, "slack, webhook or email");
        return;
    }
    if (!read_in(r, body, kind, true, &in) || !api_input_opt_bool(r, body, "enabled", &enabled))
        return;
    char id[API_ID_LEN];
    if (!new_uuid(r, id))
        return;
    json_t *config = json_object();
    merge_config(config, kind, &in);
    const char *secret = secret_of(kind, &in);
    char *sealed = secret ? seal_text(r, k, id, secret) : NULL;
    if (secret && sealed == NULL) {
        json_decref(config);
        return;
    }
    json_t *events =
        in.events ? json_incref(in.events) : json_pack("[sss]", "succeeded", "partial", "failed");
    char *config_text = json_dumps(config, JSON_COMPACT);
    char *events_text = json_dumps(events, JSON_COMPACT);
    const api_caller *c = api_caller_of(r);
    const char *p[] = {id,          c->tenant_id, name,        kind,
                       config_text, sealed,       events_text, enabled ? "t" : "f"};
    PGresult *res = api_sql(r,
                            "INSERT INTO notification_channels (id, tenant_id, name, kind, config,"
                            " secret_ciphertext, events, enabled)"
                            " VALUES ($1, $2, $3, $4, $5::jsonb, $6::bytea,"
                            " ARRAY(SELECT jsonb_array_elements_text($7::jsonb)), $8::boolean)"
                            " ON CONFLICT (tenant_id, name) DO NOTHING RETURNING " CHANNEL_JSON,
                            8, p);
    free(sealed);
    free(config_text);
    free(events_text);
    if (res == NULL)
        goto out;
    if (PQntuples(res) == 0) {
        PQclear(res);
        api_fail(r, 409, "conflict", "a channel named '%.256s' exists already", name);
        goto out;
    }
    json_t *channel = row_json(res, 0);
    PQclear(res);
    json_t *detail =
        json_pack("{s:s, s:s, s:O, s:O, s:b, s:b}", "name", name, "kind", kind, "config", config,
                  "events", events, "enabled", enabled, "secret_set", secret != NULL);
    if (!audit_channel(r, "channels.create", id, detail)) {
        json_decref(channel);
        goto out;
    }
    char location[64];
    snprintf(location, sizeof location, "/v1/channels/%s", id);
    api_header(r, "Location", location);
    api_reply(r, 201, channel);
out:
    json_decref(config);
    json_decref(events);
}

/* ---- GET /v1/channels ------------------------------------------------------------- */

static void channel_list(api_req *r)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    api_page pg;
    if (master_key(r) == NULL || !api_query_only(r, allowed) || !api_page_parse(r, &pg))
        return;
    char limit[16];
    api_page_fetch_limit(&pg, limit);
    /* Names are unique per tenant: the sort key. */
    const char *p[] = {pg.has_cursor ? pg.key : NULL, limit};
    PGresult *res = api_sql_final(r,
                                  "SELECT name, " CHANNEL_JSON " FROM notification_channels"
                                  " WHERE ($1::text IS NULL OR name > $1)"
                                  " ORDER BY name LIMIT $2::int",
                                  2, p);
    if (res == NULL)
        return;
    api_page_reply_rows(r, &pg, res, 0, 1);
    PQclear(res);
}

/* ---- GET /v1/channels/{id} -------------------------------------------------------- */

static void channel_get(api_req *r)
{
    char id[API_ID_LEN];
    if (master_key(r) == NULL || !channel_id(r, id))
        return;
    const char *p[] = {id};
    PGresult *res = channel_find(
        r, "SELECT " CHANNEL_JSON " FROM notification_channels WHERE id = $1::uuid", 1, p, true);
    if (res == NULL)
        return;
    api_reply(r, 200, row_json(res, 0));
    PQclear(res);
}

/* ---- PATCH /v1/channels/{id} ------------------------------------------------------ */

static void channel_patch(api_req *r)
{
    static const char *const known[] = {"name",     "events",   "enabled", "url",
                                        "hmac_key", "smtp_url", "from",    "to",
                                        "username", "password", NULL};
    char id[API_ID_LEN];
    const seal_key *k = master_key(r);
    json_t *body = k && channel_id(r, id) ? api_body_object(r) : NULL;
    if (body == NULL)
        return;
    if (json_object_get(body, "kind")) {
        api_fail(r, 400, "invalid_field",
                 "field 'kind' cannot change: delete the channel and create another");
        return;
    }
    if (!api_input_only(r, body, known))
        return;
    if (json_object_size(body) == 0) {
        api_fail(r, 400, "invalid_request", "the body changes nothing: give one or more of %s",
                 "name, events, enabled and "
                 "the kind's settings");
        return;
    }
    const char *name;
    bool enabled = true;
    bool has_enabled = json_object_get(body, "enabled") != NULL;
    if (!api_input_opt_string(r, body, "name", API_NAME_MAX, false, &name, NULL) ||
        !api_input_opt_bool(r, body, "enabled", &enabled))
        return;
    const char *p1[] = {id};
    PGresult *res = channel_find(
        r, "SELECT kind, config FROM notification_channels WHERE id = $1::uuid FOR UPDATE", 1, p1,
        false);
    if (res == NULL)
        return;
    char kind[16];
    snprintf(kind, sizeof kind, "%s", PQgetvalue(res, 0, 0));
    json_t *config = row_json(res, 1);
    PQclear(res);
    chan_in in;
    char *sealed = NULL, *config_text = NULL, *events_text = NULL;
    json_t *changes = NULL;
    if (config == NULL || !read_in(r, body, kind, false, &in))
        goto out;
    merge_config(config, kind, &in);
    const char *secret = secret_of(kind, &in);
    bool secret_change =
        secret != NULL || (strcmp(kind, "email") == 0 && in.password_st == API_FIELD_NULL);
    if (secret && (sealed = seal_text(r, k, id, secret)) == NULL)
        goto out;
    config_text = json_dumps(config, JSON_COMPACT);
    events_text = in.events ? json_dumps(in.events, JSON_COMPACT) : NULL;
    const char *p[] = {id,
                       name,
                       config_text,
                       secret_change ? "t" : "f",
                       sealed,
                       events_text,
                       has_enabled ? (enabled ? "t" : "f") : NULL};
    res = api_sql(r,
                  "UPDATE notification_channels SET name = COALESCE($2, name),"
                  " config = $3::jsonb,"
                  " secret_ciphertext = CASE WHEN $4::boolean THEN $5::bytea"
                  "   ELSE secret_ciphertext END,"
                  " events = CASE WHEN $6::jsonb IS NULL THEN events"
                  "   ELSE ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) END,"
                  " enabled = COALESCE($7::boolean, enabled), updated_at = now()"
                  " WHERE id = $1::uuid RETURNING " CHANNEL_JSON,
                  7, p);
    if (res == NULL)
        goto out;
    json_t *channel = row_json(res, 0);
    PQclear(res);
    /* What the request changed, without the secret fields' values. */
    changes = json_deep_copy(body);
    static const char *const secret_fields[] = {"hmac_key", "password", NULL};
    for (size_t i = 0; secret_fields[i]; i++)
        json_object_del(changes, secret_fields[i]);
    if (strcmp(kind, "slack") == 0)
        json_object_del(changes, "url");
    json_t *detail = json_pack("{s:s, s:O, s:O, s:b}", "kind", kind, "changes", changes, "config",
                               config, "secret_changed", secret_change);
    if (!audit_channel(r, "channels.update", id, detail)) {
        json_decref(channel);
        goto out;
    }
    api_reply(r, 200, channel);
out:
    free(sealed);
    free(config_text);
    free(events_text);
    json_decref(changes);
    json_decref(config);
}

/* ---- DELETE /v1/channels/{id} ----------------------------------------------------- */

static void channel_delete(api_req *r)
{
    char id[API_ID_LEN];
    if (master_key(r) == NULL || !channel_id(r, id))
        return;
    const char *p[] = {id};
    PGresult *res = channel_find(
        r, "DELETE FROM notification_channels WHERE id = $1::uuid RETURNING name, kind", 1, p,
        false);
    if (res == NULL)
        return;
    json_t *detail =
        json_pack("{s:s, s:s}", "name", PQgetvalue(res, 0, 0), "kind", PQgetvalue(res, 0, 1));
    PQclear(res);
    if (audit_channel(r, "channels.delete", id, detail))
        api_reply(r, 204, NULL);
}

/* ---- POST /v1/channels/{id}/test -------------------------------------------------- */

static void channel_test(api_req *r)
{
    char id[API_ID_LEN];
    if (master_key(r) == NULL || !channel_id(r, id))
        return;
    const char *p[] = {id};
    PGresult *res =
        channel_find(r, "SELECT name FROM notification_channels WHERE id = $1::uuid", 1, p, false);
    if (res == NULL)
        return;
    PQclear(res);
    /* A made-up run, so the receiver sees the summary's real shape. */
    json_t *payload =
        json_pack("{s:s, s:s, s:{s:n, s:s, s:n, s:b, s:s, s:{s:i, s:i}, s:[]}}", "channel", id,
                  "event", "test", "run", "job", "operation", "test", "schedule", "dry_run", true,
                  "state", "test", "counts", "resources", 0, "errors", 0, "resources");
    char job[QUEUE_ID_LEN];
    bool ok = api_enqueue(r, "notify.deliver", payload, NULL, job);
    json_decref(payload);
    if (!ok)
        return;
    json_t *detail = json_pack("{s:s}", "job", job);
    if (audit_channel(r, "channels.test", id, detail))
        api_enqueue_accepted(r, job);
}

const api_route api_routes_channels[] = {
    {"POST", "/v1/channels", API_ROLE_MANAGER, channel_create,
     "Create a notification channel (Slack webhook, signed webhook or SMTP e-mail)."},
    {"GET", "/v1/channels", API_ROLE_ANY, channel_list,
     "List the tenant's notification channels (secrets never shown)."},
    {"GET", "/v1/channels/{id}", API_ROLE_ANY, channel_get, "One notification channel."},
    {"PATCH", "/v1/channels/{id}", API_ROLE_MANAGER, channel_patch,
     "Change a channel's name, events, enabled flag, settings or secret."},
    {"DELETE", "/v1/channels/{id}", API_ROLE_MANAGER, channel_delete,
     "Delete a notification channel."},
    {"POST", "/v1/channels/{id}/test", API_ROLE_MANAGER, channel_test,
     "Queue a test notification to the channel."},
    {0},
};
