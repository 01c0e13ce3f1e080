/* Differential-test driver: reads one JSON request per line on stdin (see
 * sigv4_reqjson.h), signs it with our signer and prints one JSON line per
 * request: {"id", "ok", "canonical", "sts", "signature", "add" | "query"} or
 * {"id", "ok": false, "error"}. botocore_diff.py compares these with botocore. */
#include "sigv4_reqjson.h"

#include "core/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *text_value(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    return v ? v : json_string("<invalid UTF-8 in output>");
}

static json_t *sign_one(json_t *in)
{
    json_t *out = json_object();
    json_object_set(out, "id", json_object_get(in, "id"));
    jreq r;
    err e;
    strbuf canonical = STRBUF_INIT, sts = STRBUF_INIT, query = STRBUF_INIT;
    http_headers add = HTTP_HEADERS_INIT;
    bool ok = jreq_from_json(in, &r, &e);
    if (ok)
        ok = r.presign ? sigv4_presign(&r.req, &r.cfg, &query, &canonical, &sts, &e)
                       : sigv4_sign_headers(&r.req, &r.cfg, &add, &canonical, &sts, &e);
    json_object_set_new(out, "ok", json_boolean(ok));
    if (!ok) {
        json_object_set_new(out, "error", json_string(e.message));
    } else {
        json_object_set_new(out, "canonical", text_value(canonical.buf, canonical.len));
        json_object_set_new(out, "sts", text_value(sts.buf, sts.len));
        const char *sig = NULL;
        if (r.presign) {
            json_object_set_new(out, "query", text_value(query.buf, query.len));
            sig = strstr(strbuf_str(&query), "&X-Amz-Signature=");
            sig = sig ? sig + strlen("&X-Amz-Signature=") : "";
        } else {
            json_t *list = json_array();
            for (size_t i = 0; i < add.count; i++) {
                json_t *pair = json_array();
                json_array_append_new(pair, json_string(add.items[i].name));
                json_array_append_new(pair, json_string(add.items[i].value));
                json_array_append_new(list, pair);
            }
            json_object_set_new(out, "add", list);
            const char *auth = http_headers_get(&add, "Authorization");
            sig = auth ? strstr(auth, "Signature=") : NULL;
            sig = sig ? sig + strlen("Signature=") : "";
        }
        json_object_set_new(out, "signature", json_string(sig));
    }
    jreq_free(&r);
    http_headers_free(&add);
    strbuf_free(&canonical);
    strbuf_free(&sts);
    strbuf_free(&query);
    return out;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        json_error_t jerr;
        json_t *in = json_loadb(line, (size_t)n, 0, &jerr);
        if (in == NULL) {
            fprintf(stderr, "sigv4_driver: bad JSON line: %s\n", jerr.text);
            status = 1;
            break;
        }
        json_t *out = sign_one(in);
        char *s = json_dumps(out, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(out);
        json_decref(in);
    }
    free(line);
    return status;
}
