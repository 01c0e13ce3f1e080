#include "aws/awserror.h"

#include "aws/xml.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

const char *awserror_protocol_name(aws_protocol p)
{
    switch (p) {
    case AWS_PROTO_QUERY:
        return "query";
    case AWS_PROTO_EC2:
        return "ec2";
    case AWS_PROTO_JSON:
        return "json";
    case AWS_PROTO_REST_XML:
        return "rest-xml";
    case AWS_PROTO_REST_JSON:
        return "rest-json";
    }
    return "unknown";
}

/* Error documents are a few hundred bytes; anything far larger is not one
 * (an HTML page from a proxy, say) and is not worth parsing in full. */
#define ERROR_DOC_MAX ((size_t)1 << 20)

/* Code used when the body names none. Like the AWS SDK for Go v1, the
 * reason phrase without spaces: S3 answers HEAD requests with an empty body,
 * and callers test for "NotFound" rather than for 404. */
static void status_code_name(long status, char *out, size_t outlen)
{
    static const struct {
        long status;
        const char *name;
    } names[] = {
        {300, "MultipleChoices"},
        {301, "MovedPermanently"},
        {302, "Found"},
        {303, "SeeOther"},
        {304, "NotModified"},
        {307, "TemporaryRedirect"},
        {308, "PermanentRedirect"},
        {400, "BadRequest"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "NotFound"},
        {405, "MethodNotAllowed"},
        {406, "NotAcceptable"},
        {408, "RequestTimeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "LengthRequired"},
        {412, "PreconditionFailed"},
        {413, "RequestEntityTooLarge"},
        {414, "RequestURITooLong"},
        {415, "UnsupportedMediaType"},
        {416, "RequestedRangeNotSatisfiable"},
        {429, "TooManyRequests"},
        {500, "InternalServerError"},
        {501, "NotImplemented"},
        {502, "BadGateway"},
        {503, "ServiceUnavailable"},
        {504, "GatewayTimeout"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].status == status) {
            snprintf(out, outlen, "%s", names[i].name);
            return;
        }
    }
    snprintf(out, outlen, "HTTP%ld", status);
}

/* Copies s into out (they must not overlap) trimmed of surrounding whitespace, with control
 * characters replaced by spaces so a hostile message cannot forge log lines. */
static void copy_clean(char *out, size_t outlen, const char *s)
{
    if (outlen == 0)
        return;
    out[0] = '\0';
    if (s == NULL)
        return;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    out[n] = '\0';
}

/* JSON error types come as "com.amazonaws.x.v1#ThrottlingException" or
 * "ValidationException:http://internal.amazon.com/coral/..."; the code is
 * what is left after dropping both decorations. */
static void sanitize_json_code(char *code)
{
    char *hash = strrchr(code, '#');
    if (hash)
        memmove(code, hash + 1, strlen(hash + 1) + 1);
    char *colon = strchr(code, ':');
    if (colon)
        *colon = '\0';
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

typedef struct found {
    char code[ERR_FIELD_MAX];
    char message[600];
    char request_id[ERR_FIELD_MAX];
} found;

/* query: <ErrorResponse><Error>..</Error><RequestId/>; ec2: <Response><Errors>
 * <Error>..</Error></Errors><RequestID/>; rest-xml: <Error>..<RequestId/></Error>.
 * All three shapes are accepted whatever the protocol, because proxies and
 * service quirks (IAM behind some endpoints, S3-compatible stores) mix them. */
static bool parse_xml_error(const char *body, size_t len, found *f)
{
    xml_limits lim = {ERROR_DOC_MAX, 16, 10000};
    xml_doc *doc = NULL;
    if (!xml_parse(body, len, &lim, &doc, NULL))
        return false;
    const xml_node *root = xml_root(doc);
    const xml_node *en = NULL;
    if (strcmp(root->name, "Error") == 0)
        en = root;
    else if ((en = xml_child(root, "Error")) == NULL)
        en = xml_find(root, "Errors/Error");
    bool ok = false;
    if (en != NULL) {
        const char *code = xml_find_text(en, "Code");
        if (code && !blank(code, strlen(code))) {
            copy_clean(f->code, sizeof f->code, code);
            copy_clean(f->message, sizeof f->message, xml_find_text(en, "Message"));
            const char *rid = xml_find_text(en, "RequestId");
            if (rid == NULL)
                rid = xml_find_text(root, "RequestId");
            if (rid == NULL)
                rid = xml_find_text(root, "RequestID");
            if (rid != NULL)
                copy_clean(f->request_id, sizeof f->request_id, rid);
            ok = true;
        }
    }
    xml_free(doc);
    return ok;
}

static const char *json_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* {"__type": "...#Code", "message": "..."}; rest-json may use "code"/"Code"
 * instead. Returns true when the body is a JSON object (even one without a
 * code, since a header may still name it). */
static bool parse_json_error(const char *body, size_t len, found *f)
{
    if (len > ERROR_DOC_MAX)
        return false;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return false;
    }
    const char *code = json_str(root, "__type");
    if (code == NULL)
        code = json_str(root, "code");
    if (code == NULL)
        code = json_str(root, "Code");
    if (code != NULL) {
        copy_clean(f->code, sizeof f->code, code);
        sanitize_json_code(f->code);
    }
    const char *msg = json_str(root, "message");
    if (msg == NULL)
        msg = json_str(root, "Message");
    if (msg == NULL)
        msg = json_str(root, "errorMessage");
    copy_clean(f->message, sizeof f->message, msg);
    json_decref(root);
    return true;
}

/* The start of an unparseable body, printable, for the message. */
static void snippet(const char *body, size_t len, char *out, size_t outlen)
{
    size_t n = len < outlen - 1 ? len : outlen - 1;
    if (n > 120)
        n = 120;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)body[i];
        out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    out[n] = '\0';
}

bool awserror_from_response(aws_protocol p, const http_response *resp, err *e)
{
    found f;
    memset(&f, 0, sizeof f);
    const char *body = resp->body.buf ? resp->body.buf : "";
    size_t len = resp->body.buf ? resp->body.len : 0;
    bool empty = blank(body, len);
    bool parsed = false; /* the body had the protocol's error shape */
    bool is_json = p == AWS_PROTO_JSON || p == AWS_PROTO_REST_JSON;

    if (!empty) {
        if (is_json)
            parsed = parse_json_error(body, len, &f);
        else
            parsed = parse_xml_error(body, len, &f);
    }

    if (is_json) {
        /* Headers outrank the body: a query-compatible service puts the
         * query-era code in x-amzn-query-error ("Code;Sender"), and REST-JSON
         * services name the type in x-amzn-ErrorType ("Code:http://..."). */
        const char *qe = http_headers_get(&resp->headers, "x-amzn-query-error");
        const char *semi = qe ? strchr(qe, ';') : NULL;
        const char *et = http_headers_get(&resp->headers, "x-amzn-ErrorType");
        if (semi && semi > qe && strchr(semi + 1, ';') == NULL) {
            size_t n = (size_t)(semi - qe);
            if (n >= ERR_FIELD_MAX)
                n = ERR_FIELD_MAX - 1;
            char raw[ERR_FIELD_MAX];
            memcpy(raw, qe, n);
            raw[n] = '\0';
            copy_clean(f.code, sizeof f.code, raw);
        } else if (et && *et) {
            copy_clean(f.code, sizeof f.code, et);
            sanitize_json_code(f.code);
        }
    }

    if (f.request_id[0] == '\0') {
        static const char *const hdrs[] = {"x-amzn-RequestId", "x-amz-request-id",
                                           "x-amzn-request-id"};
        for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0] && f.request_id[0] == '\0'; i++)
            copy_clean(f.request_id, sizeof f.request_id,
                       http_headers_get(&resp->headers, hdrs[i]));
    }

    long status = resp->status;
    if (f.code[0] != '\0') {
        if (f.message[0] != '\0')
            return err_set_remote(e, ERR_AWS, (int)status, f.code, f.request_id,
                                  "%s: %s (HTTP %ld)", f.code, f.message, status);
        return err_set_remote(e, ERR_AWS, (int)status, f.code, f.request_id, "%s (HTTP %ld)",
                              f.code, status);
    }

    status_code_name(status, f.code, sizeof f.code);
    if (empty)
        return err_set_remote(e, ERR_AWS, (int)status, f.code, f.request_id,
                              "%s (HTTP %ld, empty body)", f.code, status);
    if (parsed && f.message[0] != '\0')
        return err_set_remote(e, ERR_AWS, (int)status, f.code, f.request_id, "%s: %s (HTTP %ld)",
                              f.code, f.message, status);
    char snip[128];
    snippet(body, len, snip, sizeof snip);
    return err_set_remote(e, ERR_AWS, (int)status, f.code, f.request_id,
                          "%s (HTTP %ld): unrecognised %s error body: \"%s%s\"", f.code, status,
                          awserror_protocol_name(p), snip, len > strlen(snip) ? "..." : "");
}
