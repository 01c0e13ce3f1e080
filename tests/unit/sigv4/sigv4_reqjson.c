#include "sigv4_reqjson.h"

#include "core/xmalloc.h"

#include <stdlib.h>
#include <string.h>

static bool get_string(json_t *obj, const char *key, bool nullable, const char **out, err *e)
{
    json_t *v = json_object_get(obj, key);
    if (nullable && (v == NULL || json_is_null(v))) {
        *out = NULL;
        return true;
    }
    if (!json_is_string(v))
        return err_set(e, ERR_PARSE, "request field \"%s\" is not a string", key);
    *out = json_string_value(v);
    return true;
}

static bool get_bool(json_t *obj, const char *key, bool *out, err *e)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_boolean(v))
        return err_set(e, ERR_PARSE, "request field \"%s\" is not a boolean", key);
    *out = json_is_true(v);
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool jreq_from_json(json_t *obj, jreq *out, err *e)
{
    memset(out, 0, sizeof *out);
    out->root = json_incref(obj);
    const char *mode = NULL, *body_hex = NULL, *akid = NULL, *secret = NULL, *token = NULL;
    if (!get_string(obj, "mode", false, &mode, e) ||
        !get_string(obj, "method", false, &out->req.method, e) ||
        !get_string(obj, "path", false, &out->req.path, e) ||
        !get_string(obj, "query", true, &out->req.query, e) ||
        !get_string(obj, "body_hex", false, &body_hex, e) ||
        !get_string(obj, "payload_hash", true, &out->req.payload_hash, e) ||
        !get_string(obj, "access_key_id", false, &akid, e) ||
        !get_string(obj, "secret_access_key", false, &secret, e) ||
        !get_string(obj, "session_token", true, &token, e) ||
        !get_string(obj, "region", false, &out->cfg.region, e) ||
        !get_string(obj, "service", false, &out->cfg.service, e) ||
        !get_bool(obj, "normalize", &out->cfg.normalize_path, e) ||
        !get_bool(obj, "double_encode", &out->cfg.double_encode, e) ||
        !get_bool(obj, "add_content_sha256", &out->cfg.add_content_sha256, e) ||
        !get_bool(obj, "omit_session_token", &out->cfg.omit_session_token, e))
        return false;
    out->presign = strcmp(mode, "presign") == 0;
    json_t *when = json_object_get(obj, "when"), *expires = json_object_get(obj, "expires");
    if (!json_is_integer(when) || !json_is_integer(expires))
        return err_set(e, ERR_PARSE, "request fields \"when\"/\"expires\" are not integers");
    out->cfg.when = (time_t)json_integer_value(when);
    out->cfg.expires = (int)json_integer_value(expires);

    size_t hex_len = strlen(body_hex);
    if (hex_len % 2)
        return err_set(e, ERR_PARSE, "body_hex has odd length %zu", hex_len);
    out->body = xmalloc(hex_len / 2 + 1);
    for (size_t i = 0; i < hex_len / 2; i++) {
        int hi = hexval(body_hex[2 * i]), lo = hexval(body_hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return err_set(e, ERR_PARSE, "body_hex is not lower-case hex");
        out->body[i] = (unsigned char)(hi << 4 | lo);
    }
    out->req.body = hex_len ? out->body : NULL;
    out->req.body_len = hex_len / 2;

    json_t *headers = json_object_get(obj, "headers");
    if (!json_is_array(headers))
        return err_set(e, ERR_PARSE, "request field \"headers\" is not an array");
    size_t i;
    json_t *pair;
    json_array_foreach(headers, i, pair)
    {
        json_t *n = json_array_get(pair, 0), *v = json_array_get(pair, 1);
        if (!json_is_string(n) || !json_is_string(v))
            return err_set(e, ERR_PARSE, "header %zu is not a [name, value] pair", i);
        http_headers_add(&out->headers, json_string_value(n), json_string_value(v));
    }
    out->req.headers = &out->headers;
    out->creds = creds_new(akid, secret, token, 0, "test");
    out->cfg.creds = out->creds;
    return true;
}

void jreq_free(jreq *r)
{
    http_headers_free(&r->headers);
    free(r->body);
    creds_free(r->creds);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}
