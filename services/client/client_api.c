/* escher-api calls: bearer token, JSON in and out, and the API's error object
 * turned into one line a person can act on. */
#include "client_api.h"

#include "aws/http.h"
#include "core/secure.h"
#include "core/xmalloc.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* POSTs that start work and take an Idempotency-Key (api_runs.c): sent with
 * a fresh key and, when the answer is lost (no answer, 502, 503, 504),
 * sent again with the same key, so a retry gets the job the first attempt
 * made instead of a second run. Other requests are sent once. */
static const char *const idempotent_posts[] = {"/v1/runs", "/v1/schedules/*/run"};
#define KEY_ATTEMPTS 3

struct client_api {
    http_client *http;
    char *url;
    char *token;
};

client_api *client_api_new(const char *url, const char *token)
{
    client_api *a = xcalloc(1, sizeof *a);
    http_options o = {.connect_timeout_ms = 5000, .timeout_ms = 60000};
    a->http = http_client_new(&o);
    a->url = xstrdup(url);
    size_t n = strlen(a->url);
    while (n > 0 && a->url[n - 1] == '/')
        a->url[--n] = '\0';
    a->token = token ? xstrdup(token) : NULL;
    return a;
}

void client_api_free(client_api *a)
{
    if (!a)
        return;
    http_client_free(a->http);
    free(a->url);
    secure_free_string(a->token);
    free(a);
}

const char *client_api_url(const client_api *a)
{
    return a->url;
}

/* One attempt of client_api_call, with key (may be NULL) as the
 * Idempotency-Key. */
static bool call_once(client_api *a, const char *method, const char *path, const json_t *body,
                      const char *key, json_t **out, err *e)
{
    *out = NULL;
    char *url = xasprintf("%s%s", a->url, path);
    http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Accept", "application/json");
    if (key)
        http_headers_add(&h, "Idempotency-Key", key);
    if (a->token) {
        char *auth = xasprintf("Bearer %s", a->token);
        http_headers_add(&h, "Authorization", auth);
        secure_free_string(auth);
    }
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        http_headers_add(&h, "Content-Type", "application/json");
    }
    http_request req = {.method = method,
                        .url = url,
                        .headers = &h,
                        .body = text,
                        .body_len = text ? strlen(text) : 0};
    http_response resp = HTTP_RESPONSE_INIT;
    bool ok = false;
    if (!http_client_do(a->http, &req, &resp, e)) {
        err_prefix(e, "cannot reach escher-api at %s", a->url);
        goto out;
    }
    json_t *j = NULL;
    if (resp.body.len > 0) {
        json_error_t je;
        j = json_loadb(strbuf_str(&resp.body), resp.body.len, 0, &je);
        if (!j && resp.status < 400) {
            err_set(e, ERR_PARSE,
                    "%s %s: escher-api at %s answered %ld with a body that is not "
                    "JSON: %s",
                    method, path, a->url, resp.status, je.text);
            goto out;
        }
    }
    if (resp.status >= 400) {
        json_t *eo = json_object_get(j, "error");
        const char *msg = json_string_value(json_object_get(eo, "message"));
        const char *rid = json_string_value(json_object_get(eo, "request_id"));
        if (!rid)
            rid = http_headers_get(&resp.headers, "X-Request-Id");
        err_set(e, resp.status == 401 || resp.status == 403 ? ERR_AUTH : ERR_INVALID,
                "%s (request id %s)", msg ? msg : "escher-api answered an error without a message",
                rid ? rid : "none");
        e->http_status = (int)resp.status;
        json_decref(j);
        goto out;
    }
    *out = j;
    ok = true;
out:
    http_response_free(&resp);
    http_headers_free(&h);
    /* Bodies carry channel secrets (PUT /v1/channels/{id}) and tokens. */
    if (text)
        secure_free_string(text);
    free(url);
    return ok;
}

/* Is the answer lost, so that the same request may be sent again? */
static bool lost(const err *e)
{
    return e->http_status == 0 || e->http_status == 502 || e->http_status == 503 ||
           e->http_status == 504;
}

bool client_api_call(client_api *a, const char *method, const char *path, const json_t *body,
                     json_t **out, err *e)
{
    bool keyed = false;
    for (size_t i = 0;
         strcmp(method, "POST") == 0 && i < sizeof idempotent_posts / sizeof idempotent_posts[0];
         i++)
        keyed = keyed || fnmatch(idempotent_posts[i], path, FNM_PATHNAME) == 0;
    if (!keyed)
        return call_once(a, method, path, body, NULL, out, e);
    char key[33];
    if (!secure_random_string(key, sizeof key - 1, "0123456789abcdef", e))
        return err_prefix(e, "an Idempotency-Key for POST %s", path);
    for (int attempt = 1;; attempt++) {
        err_clear(e);
        if (call_once(a, method, path, body, key, out, e))
            return true;
        if (attempt == KEY_ATTEMPTS || !lost(e))
            return false;
        struct timespec ts = {0, 250000000L * attempt};
        nanosleep(&ts, NULL);
    }
}
