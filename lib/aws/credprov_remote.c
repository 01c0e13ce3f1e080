/* Credentials from local metadata endpoints: the container credentials
 * endpoint (ECS, EKS Pod Identity, Greengrass...) and EC2's instance
 * metadata service (IMDSv2 with botocore's fallback to IMDSv1). */
#include "aws/credprov_internal.h"
#include "aws/http.h"

#include "core/secure.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CONTAINER_DEFAULT_BASE "http://169.254.170.2"
#define CONTAINER_TIMEOUT_MS   2000 /* botocore's ContainerMetadataFetcher */
#define CONTAINER_ATTEMPTS     3
#define IMDS_DEFAULT_BASE      "http://169.254.169.254"
#define IMDS_IPV6_BASE         "http://[fd00:ec2::254]"
#define IMDS_TIMEOUT_MS        1000 /* botocore's metadata_service_timeout default, 1 attempt */
#define IMDS_TOKEN_TTL         "21600"
#define IMDS_CREDS_PATH        "/latest/meta-data/iam/security-credentials/"
#define CP_MAX_AUTH_TOKEN      (16u * 1024u)

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static json_t *parse_json_body(const http_response *r)
{
    return json_loadb(r->body.buf ? r->body.buf : "", r->body.len, 0, NULL);
}

/* ---- container ---- */

typedef struct container_impl {
    cp_ctx ctx;
    http_client *http;
    char *url;
    char *auth_token;      /* AWS_CONTAINER_AUTHORIZATION_TOKEN (secret) */
    char *auth_token_file; /* wins over auth_token; re-read every fetch */
} container_impl;

static void container_free(void *p)
{
    container_impl *c = p;
    if (c->http)
        http_client_free(c->http);
    cp_ctx_free(&c->ctx);
    free(c->url);
    secure_free_string(c->auth_token);
    free(c->auth_token_file);
    free(c);
}

static bool container_auth(const container_impl *c, char **out, err *e)
{
    *out = NULL;
    if (c->auth_token_file != NULL) {
        if (!cp_read_file(c->auth_token_file, CP_MAX_AUTH_TOKEN, out, e))
            return err_prefix(e, "container credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        size_t n = strlen(*out);
        while (n && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
            (*out)[--n] = '\0';
    } else if (c->auth_token != NULL) {
        *out = xstrdup(c->auth_token);
    }
    if (*out && strpbrk(*out, "\r\n") != NULL) {
        secure_free_string(*out);
        *out = NULL;
        return err_set(e, ERR_CONFIG,
                       "container credentials: the authorization token contains a line break, "
                       "which is not valid in an HTTP header");
    }
    return true;
}

static bool container_fetch(void *p, aws_creds **out, err *e)
{
    container_impl *c = p;
    char *auth = NULL;
    if (!container_auth(c, &auth, e))
        return false;
    http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Accept", "application/json");
    if (auth)
        http_headers_add(&h, "Authorization", auth);
    http_request req = {.method = "GET", .url = c->url, .headers = &h};
    long delay = c->ctx.container_retry_delay_ms == 0 ? 1000 : c->ctx.container_retry_delay_ms;
    bool ok = false, stop = false;
    for (int attempt = 1; attempt <= CONTAINER_ATTEMPTS && !ok && !stop; attempt++) {
        if (attempt > 1 && delay > 0)
            sleep_ms(delay);
        http_response resp = HTTP_RESPONSE_INIT;
        if (!http_client_do(c->http, &req, &resp, e)) {
            err_prefix(e, "container credentials");
        } else if (resp.status != 200) {
            int n = resp.body.len > 200 ? 200 : (int)resp.body.len;
            err_set(e, ERR_AUTH, "container credentials: %s answered HTTP %ld: %.*s", c->url,
                    resp.status, n, strbuf_str(&resp.body));
        } else {
            json_t *doc = parse_json_body(&resp);
            if (doc == NULL) {
                err_set(e, ERR_PARSE, "container credentials: %s answered with invalid JSON",
                        c->url);
            } else {
                ok = cp_creds_from_json(doc, "Token", true, "container credentials", out, e);
                json_decref(doc);
                /* A well-formed but incomplete answer will not improve. */
                stop = !ok;
            }
        }
        strbuf_free_secret(&resp.body);
        http_response_free(&resp);
    }
    http_headers_free(&h);
    secure_free_string(auth);
    return ok;
}

/* http is allowed only to the link-local container endpoints and loopback
 * (botocore's allow-list, extended like the current SDKs); https anywhere. */
static bool container_host_allowed(const char *url, err *e)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = false;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        err_set(e, ERR_CONFIG, "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' is not a valid URL", url);
        goto out;
    }
    if (strcasecmp(scheme, "https") == 0) {
        ok = true;
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0) {
        err_set(e, ERR_CONFIG, "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' is not http or https", url);
        goto out;
    }
    char bare[256];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
        snprintf(bare, sizeof bare, "%.*s", (int)(hl - 2), host + 1);
    else
        snprintf(bare, sizeof bare, "%s", host);
    unsigned char a4[4], a6[16];
    if (strcasecmp(bare, "localhost") == 0) {
        ok = true;
    } else if (inet_pton(AF_INET, bare, a4) == 1) {
        ok = a4[0] == 127 || strcmp(bare, "169.254.170.2") == 0 ||
             strcmp(bare, "169.254.170.23") == 0;
    } else if (inet_pton(AF_INET6, bare, a6) == 1) {
        static const unsigned char loop6[16] = {[15] = 1};
        unsigned char eks[16];
        inet_pton(AF_INET6, "fd00:ec2::23", eks);
        ok = memcmp(a6, loop6, 16) == 0 || memcmp(a6, eks, 16) == 0;
    }
    if (!ok)
        err_set(e, ERR_CONFIG,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI host '%s' is not allowed over http: use "
                "https, a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23",
                host);
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

cp_result cp_container_resolve(const cp_ctx *ctx, credprov **out, strbuf *why, err *e)
{
    *out = NULL;
    const char *rel = cp_getenv(ctx, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = cp_getenv(ctx, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel == NULL && full == NULL) {
        strbuf_puts(why, "AWS_CONTAINER_CREDENTIALS_* not set");
        return CP_NONE;
    }
    char *url;
    if (rel != NULL) {
        const char *base =
            ctx->container_base_url ? ctx->container_base_url : CONTAINER_DEFAULT_BASE;
        url = xasprintf("%s%s%s", base, rel[0] == '/' ? "" : "/", rel);
    } else {
        if (!container_host_allowed(full, e))
            return CP_ERROR;
        url = xstrdup(full);
    }
    container_impl *c = xcalloc(1, sizeof *c);
    cp_ctx_copy(&c->ctx, ctx);
    c->url = url;
    const char *tok = cp_getenv(ctx, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    const char *tokfile = cp_getenv(ctx, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    c->auth_token = tok ? xstrdup(tok) : NULL;
    c->auth_token_file = tokfile ? xstrdup(tokfile) : NULL;
    http_options ho = {.connect_timeout_ms = CONTAINER_TIMEOUT_MS,
                       .timeout_ms = CONTAINER_TIMEOUT_MS,
                       .ca_file = ctx->ca_file};
    c->http = http_client_new(&ho);
    aws_creds *first = NULL;
    if (!container_fetch(c, &first, e)) {
        container_free(c);
        return CP_ERROR;
    }
    *out = cp_refreshing_new(ctx, "container", container_fetch, container_free, c, first);
    return CP_FOUND;
}

/* ---- IMDS ---- */

typedef struct imds_impl {
    cp_ctx ctx;
    http_client *http;
    char *base; /* without trailing slash */
} imds_impl;

static void imds_free(void *p)
{
    imds_impl *m = p;
    if (m->http)
        http_client_free(m->http);
    cp_ctx_free(&m->ctx);
    free(m->base);
    free(m);
}

/* One GET as botocore's _get_request with its default retry test: any
 * non-200 or empty answer is a failure (there is a single attempt). */
static bool imds_get(imds_impl *m, const char *path, const char *token, http_response *resp, err *e)
{
    char *url = xasprintf("%s%s", m->base, path);
    http_headers h = HTTP_HEADERS_INIT;
    if (token)
        http_headers_add(&h, "X-aws-ec2-metadata-token", token);
    http_request req = {.method = "GET", .url = url, .headers = &h};
    bool ok = http_client_do(m->http, &req, resp, e);
    if (ok && resp->status != 200)
        ok = err_set(e, ERR_AUTH, "GET %s answered HTTP %ld", url, resp->status);
    else if (ok && resp->body.len == 0)
        ok = err_set(e, ERR_AUTH, "GET %s answered with an empty body", url);
    http_headers_free(&h);
    free(url);
    return ok;
}

static bool imds_fetch(void *p, aws_creds **out, err *e)
{
    imds_impl *m = p;
    char *token = NULL;
    bool ok = false;
    *out = NULL;

    char *url = xasprintf("%s/latest/api/token", m->base);
    http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "X-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL);
    http_request req = {.method = "PUT", .url = url, .headers = &h};
    http_response resp = HTTP_RESPONSE_INIT;
    err terr;
    /* botocore: 200 gives the token; 400 ends the attempt; anything else
     * (403/404/405, timeouts, transport errors) falls back to IMDSv1. */
    if (http_client_do(m->http, &req, &resp, &terr)) {
        if (resp.status == 200 && resp.body.len > 0) {
            token = strbuf_detach(&resp.body);
            size_t n = strlen(token);
            while (n && (token[n - 1] == '\n' || token[n - 1] == '\r'))
                token[--n] = '\0';
        } else if (resp.status == 400) {
            err_set(e, ERR_AUTH, "PUT %s answered HTTP 400 (bad request)", url);
            http_response_free(&resp);
            http_headers_free(&h);
            free(url);
            return false;
        }
    }
    http_response_free(&resp);
    http_headers_free(&h);
    free(url);

    http_response role = HTTP_RESPONSE_INIT, cr = HTTP_RESPONSE_INIT;
    if (!imds_get(m, IMDS_CREDS_PATH, token, &role, e))
        goto done;
    const char *rn = strbuf_str(&role.body);
    size_t rl = strcspn(rn, "\r\n");
    char *path = xasprintf("%s%.*s", IMDS_CREDS_PATH, (int)rl, rn);
    bool got = imds_get(m, path, token, &cr, e);
    free(path);
    if (!got)
        goto done;
    json_t *doc = parse_json_body(&cr);
    if (doc == NULL) {
        err_set(e, ERR_PARSE, "credentials for role '%.*s' are not valid JSON", (int)rl, rn);
        goto done;
    }
    json_t *code = json_object_get(doc, "Code");
    if (json_object_get(doc, "AccessKeyId") == NULL && json_is_string(code)) {
        json_t *msg = json_object_get(doc, "Message");
        err_set(e, ERR_AUTH, "role '%.*s': %s: %s", (int)rl, rn, json_string_value(code),
                json_is_string(msg) ? json_string_value(msg) : "");
        json_decref(doc);
        goto done;
    }
    ok = cp_creds_from_json(doc, "Token", true, "instance metadata", out, e);
    json_decref(doc);
    if (ok) {
        /* botocore's static stability: credentials IMDS hands out close to
         * (or past) expiry during an outage are used a little longer,
         * refreshing again in 2 to 10 minutes. */
        time_t now = cp_now(&m->ctx);
        unsigned char rb[2] = {0, 0};
        secure_random(rb, sizeof rb, NULL);
        long window = CREDPROV_ADVISORY_REFRESH_SECONDS + 120 + ((rb[0] << 8 | rb[1]) % 481);
        if ((*out)->expiration - window <= now)
            (*out)->expiration = now + window;
    }
done:
    strbuf_free_secret(&cr.body);
    http_response_free(&cr);
    http_response_free(&role);
    secure_free_string(token);
    return ok;
}

cp_result cp_imds_resolve(const cp_ctx *ctx, const char *profile_endpoint, credprov **out,
                          strbuf *why, err *e)
{
    *out = NULL;
    const char *dis = cp_getenv(ctx, "AWS_EC2_METADATA_DISABLED");
    if (dis && strcasecmp(dis, "true") == 0) {
        strbuf_puts(why, "disabled by AWS_EC2_METADATA_DISABLED");
        return CP_NONE;
    }
    const char *base = ctx->imds_endpoint;
    if (base == NULL)
        base = cp_getenv(ctx, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (base == NULL && profile_endpoint && *profile_endpoint)
        base = profile_endpoint;
    if (base == NULL) {
        const char *mode = cp_getenv(ctx, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        base = mode && strcasecmp(mode, "ipv6") == 0 ? IMDS_IPV6_BASE : IMDS_DEFAULT_BASE;
    }
    if (strncasecmp(base, "http://", 7) != 0 && strncasecmp(base, "https://", 8) != 0) {
        err_set(e, ERR_CONFIG, "instance metadata endpoint '%s' is not an http(s) URL", base);
        return CP_ERROR;
    }
    imds_impl *m = xcalloc(1, sizeof *m);
    cp_ctx_copy(&m->ctx, ctx);
    m->base = xstrdup(base);
    size_t bl = strlen(m->base);
    while (bl && m->base[bl - 1] == '/')
        m->base[--bl] = '\0';
    http_options ho = {.connect_timeout_ms = IMDS_TIMEOUT_MS, .timeout_ms = IMDS_TIMEOUT_MS};
    m->http = http_client_new(&ho);
    aws_creds *first = NULL;
    err ferr;
    err_clear(&ferr);
    if (!imds_fetch(m, &first, &ferr)) {
        strbuf_printf(why, "%s: %s", m->base, ferr.message);
        imds_free(m);
        return CP_NONE;
    }
    *out = cp_refreshing_new(ctx, "instance metadata", imds_fetch, imds_free, m, first);
    return CP_FOUND;
}
