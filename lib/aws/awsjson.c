#include "aws/awsjson.h"

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const awsjson_service AWSJSON_ORGANIZATIONS = {"organizations", "1.1", "AWSOrganizationsV20161128"};
const awsjson_service AWSJSON_CE = {"ce", "1.1", "AWSInsightsIndexService"};
const awsjson_service AWSJSON_CLOUDTRAIL = {
    "cloudtrail", "1.1", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"};

void awsjson_request(const awsjson_service *svc, const char *operation, const json_t *body,
                     aws_request *req)
{
    aws_request_init(req, svc->service, operation, AWS_PROTO_JSON, "POST", "/");
    strbuf sb = STRBUF_INIT;
    strbuf_printf(&sb, "%s.%s", svc->target_prefix, operation);
    http_headers_set(&req->headers, "X-Amz-Target", strbuf_str(&sb));
    strbuf_reset(&sb);
    strbuf_printf(&sb, "application/x-amz-json-%s", svc->json_version);
    http_headers_set(&req->headers, "Content-Type", strbuf_str(&sb));
    strbuf_free(&sb);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    strbuf_puts(&req->body, text ? text : "{}");
    free(text);
}

bool awsjson_parse(const char *body, size_t len, json_t **out, err *e)
{
    *out = NULL;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i == len) {
        *out = json_object();
        return true;
    }
    json_error_t je;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL)
        return err_set(e, ERR_PARSE, "malformed JSON at line %d column %d: %s", je.line, je.column,
                       je.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return err_set(e, ERR_PARSE, "JSON answer is not an object: \"%.40s\"", body + i);
    }
    *out = v;
    return true;
}

const char *awsjson_get_string(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *awsjson_find(const json_t *obj, const char *path)
{
    json_t *cur = (json_t *)obj;
    const char *p = path;
    while (cur && *p) {
        if (!json_is_object(cur))
            return NULL;
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char *key = xstrndup(p, n);
        cur = json_object_get(cur, key);
        free(key);
        p += n;
        if (*p == '.')
            p++;
    }
    return cur;
}

bool awsjson_get_time(const json_t *obj, const char *key, time_t *out, err *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return err_set(e, ERR_NOT_FOUND, "\"%s\" is missing", key);
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (!isfinite(d) || d < 0 || d > 253402300799.0)
            return err_set(e, ERR_PARSE, "\"%s\" is not a valid timestamp: %g", key, d);
        *out = (time_t)d;
        return true;
    }
    if (json_is_string(v))
        return timeutil_parse_iso8601(json_string_value(v), out, e);
    return err_set(e, ERR_PARSE, "\"%s\" is not a timestamp", key);
}
