#include "aws/sts.h"

#include "aws/query.h"
#include "aws/xml.h"
#include "core/secure.h"
#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STS_VERSION "2011-06-15"

/* Limits below are botocore's sts/2011-06-15 model (min/max/pattern of each
 * member shape); checking them here turns a round trip and a terse
 * ValidationError into a message naming the field. */

/* Decodes one UTF-8 sequence at s (n bytes left); 0 when invalid. */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned long *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    unsigned long v, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, v = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, v = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, v = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

typedef bool (*char_ok_fn)(unsigned long cp);

/* Checks length in characters (code points, as the model counts) and that
 * every character passes ok. */
static bool check_string(const char *field, const char *s, size_t min, size_t max, char_ok_fn ok,
                         const char *allowed, err *e)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), chars = 0;
    for (size_t i = 0; i < n;) {
        unsigned long cp;
        size_t k = utf8_next(u + i, n - i, &cp);
        if (k == 0)
            return err_set(e, ERR_INVALID, "%s \"%.80s\" is not valid UTF-8", field, s);
        if (!ok(cp)) {
            char what[16];
            if (cp >= 0x20 && cp < 0x7f)
                snprintf(what, sizeof what, "'%c'", (char)cp);
            else
                snprintf(what, sizeof what, "U+%04lX", cp);
            return err_set(e, ERR_INVALID, "%s \"%.80s\" contains %s (allowed: %s)", field, s, what,
                           allowed);
        }
        i += k;
        chars++;
    }
    if (chars < min || chars > max)
        return err_set(e, ERR_INVALID, "%s \"%.80s%s\" has %zu characters; it must have %zu to %zu",
                       field, s, n > 80 ? "..." : "", chars, min, max);
    return true;
}

static bool is_word(unsigned long c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* [\w+=,.@-] */
static bool session_char(unsigned long c)
{
    return is_word(c) || (c != 0 && strchr("+=,.@-", (int)c) != NULL && c < 0x80);
}

/* [\w+=,.@:\/-] */
static bool external_id_char(unsigned long c)
{
    return is_word(c) || (c != 0 && c < 0x80 && strchr("+=,.@:/-", (int)c) != NULL);
}

/* [\u0009\u000A\u000D\u0020-\u00FF] */
static bool policy_char(unsigned long c)
{
    return c == 0x09 || c == 0x0a || c == 0x0d || (c >= 0x20 && c <= 0xff);
}

/* [\p{L}\p{Z}\p{N}_.:/=+\-@]: ASCII is checked exactly; beyond ASCII letters,
 * separators and digits cannot be told apart without Unicode tables, so any
 * non-ASCII character is let through for the service to judge. */
static bool tag_char(unsigned long c)
{
    return c >= 0x80 || is_word(c) || c == ' ' || (c != 0 && strchr(".:/=+-@", (int)c) != NULL);
}

/* Printable ASCII except space: what the model's arnType allows in practice
 * for IAM role ARNs (the model's pattern is any printable character). */
static bool arn_char(unsigned long c)
{
    return c > 0x20 && c < 0x7f;
}

/* arn:<partition>:iam::<12-digit account>:role/[<path>/]<name> */
static bool check_role_arn(const char *arn, err *e)
{
    if (arn == NULL || *arn == '\0')
        return err_set(e, ERR_INVALID, "RoleArn is required");
    if (!check_string("RoleArn", arn, 20, 2048, arn_char, "printable ASCII", e))
        return false;
    const char *p = arn;
    if (strncmp(p, "arn:", 4) != 0)
        goto bad;
    p += 4;
    /* Partition: "aws", "aws-cn", "aws-us-gov", "aws-iso-b", ... */
    if (strncmp(p, "aws", 3) != 0)
        goto bad;
    p += 3;
    while (*p == '-') {
        p++;
        if (!(*p >= 'a' && *p <= 'z'))
            goto bad;
        while (*p >= 'a' && *p <= 'z')
            p++;
    }
    if (strncmp(p, ":iam::", 6) != 0)
        goto bad;
    p += 6;
    for (int i = 0; i < 12; i++, p++)
        if (!(*p >= '0' && *p <= '9'))
            goto bad;
    if (strncmp(p, ":role/", 6) != 0)
        goto bad;
    p += 6;
    const char *name = strrchr(p, '/');
    name = name ? name + 1 : p;
    size_t nlen = strlen(name);
    if (nlen < 1 || nlen > 64)
        goto bad;
    for (const char *c = name; *c; c++)
        if (!session_char((unsigned char)*c))
            goto bad;
    return true;
bad:
    return err_set(e, ERR_INVALID,
                   "RoleArn \"%.200s\" is not an IAM role ARN "
                   "(arn:aws:iam::<12-digit account>:role/[path/]name)",
                   arn);
}

static bool check_session_name(const char *name, err *e)
{
    if (name == NULL || *name == '\0')
        return err_set(e, ERR_INVALID, "RoleSessionName is required");
    return check_string("RoleSessionName", name, 2, 64, session_char, "letters, digits and _+=,.@-",
                        e);
}

static bool check_duration(int d, err *e)
{
    if (d != 0 && (d < 900 || d > 43200))
        return err_set(e, ERR_INVALID, "DurationSeconds %d is outside 900..43200", d);
    return true;
}

static bool check_params(const sts_assume_role_params *p, err *e)
{
    if (!check_role_arn(p->role_arn, e) || !check_session_name(p->session_name, e) ||
        !check_duration(p->duration_seconds, e))
        return false;
    if (p->external_id && !check_string("ExternalId", p->external_id, 2, 1224, external_id_char,
                                        "letters, digits and _+=,.@:/-", e))
        return false;
    if (p->policy && !check_string("Policy", p->policy, 1, 2048, policy_char,
                                   "tab, newline, carriage return and U+0020..U+00FF", e))
        return false;
    if (p->source_identity && !check_string("SourceIdentity", p->source_identity, 2, 64,
                                            session_char, "letters, digits and _+=,.@-", e))
        return false;
    if (p->ntags > 50)
        return err_set(e, ERR_INVALID, "%zu session tags given; at most 50 are allowed", p->ntags);
    if (p->ntags > 0 && p->tags == NULL)
        return err_set(e, ERR_INVALID, "%zu session tags announced but none given", p->ntags);
    for (size_t i = 0; i < p->ntags; i++) {
        const sts_tag *t = &p->tags[i];
        if (t->key == NULL || t->value == NULL)
            return err_set(e, ERR_INVALID, "session tag %zu has no %s", i + 1,
                           t->key == NULL ? "key" : "value");
        if (!check_string("tag key", t->key, 1, 128, tag_char,
                          "letters, digits, spaces and _.:/=+-@", e) ||
            !check_string("tag value", t->value, 0, 256, tag_char,
                          "letters, digits, spaces and _.:/=+-@", e))
            return false;
    }
    return true;
}

bool sts_assume_role_request(const sts_assume_role_params *p, aws_request *req, err *e)
{
    if (!check_params(p, e))
        return false;
    query_params q;
    query_init(&q, "AssumeRole", STS_VERSION);
    query_add(&q, "RoleArn", p->role_arn);
    query_add(&q, "RoleSessionName", p->session_name);
    if (p->duration_seconds)
        query_add_int(&q, "DurationSeconds", p->duration_seconds);
    if (p->external_id)
        query_add(&q, "ExternalId", p->external_id);
    if (p->policy)
        query_add(&q, "Policy", p->policy);
    if (p->source_identity)
        query_add(&q, "SourceIdentity", p->source_identity);
    for (size_t i = 0; i < p->ntags; i++) {
        query_add_list_field(&q, AWS_PROTO_QUERY, "Tags", i + 1, "Key", p->tags[i].key);
        query_add_list_field(&q, AWS_PROTO_QUERY, "Tags", i + 1, "Value", p->tags[i].value);
    }
    query_to_request(&q, "sts", "AssumeRole", AWS_PROTO_QUERY, req);
    query_free(&q);
    return true;
}

/* Reads <Credentials> under the result element of AssumeRole* answers. */
static bool parse_credentials(const char *op, const char *body, size_t len, const char *source,
                              aws_creds **out, err *e)
{
    *out = NULL;
    char result[64];
    snprintf(result, sizeof result, "%sResult", op);
    xml_doc *doc = NULL;
    const xml_node *r = NULL;
    if (!query_parse_result(body, len, result, &doc, &r, e))
        return err_prefix(e, "%s answer", op);
    static const char *const fields[] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                         "Expiration"};
    const char *v[4];
    const xml_node *c = xml_child(r, "Credentials");
    for (int i = 0; i < 4; i++) {
        v[i] = xml_find_text(c, fields[i]);
        if (v[i] == NULL || *v[i] == '\0') {
            err_set(e, ERR_PARSE, "%s answer has no %s/Credentials/%s", op, result, fields[i]);
            xml_free_secret(doc);
            return false;
        }
    }
    time_t exp = 0;
    if (!timeutil_parse_iso8601(v[3], &exp, e)) {
        xml_free_secret(doc);
        return err_prefix(e, "%s answer Credentials/Expiration", op);
    }
    *out = creds_new(v[0], v[1], v[2], exp, source ? source : "sts");
    xml_free_secret(doc);
    return true;
}

bool sts_assume_role_parse(const char *body, size_t len, const char *source, aws_creds **out,
                           err *e)
{
    return parse_credentials("AssumeRole", body, len, source, out, e);
}

bool sts_assume_role_with_web_identity_request(const char *role_arn, const char *session_name,
                                               const char *web_identity_token, int duration_seconds,
                                               aws_request *req, err *e)
{
    if (!check_role_arn(role_arn, e) || !check_session_name(session_name, e) ||
        !check_duration(duration_seconds, e))
        return false;
    if (web_identity_token == NULL || *web_identity_token == '\0')
        return err_set(e, ERR_INVALID, "WebIdentityToken is required");
    /* The token is a secret: its length is reported, never its text. */
    size_t tlen = strlen(web_identity_token);
    if (tlen < 4 || tlen > 20000)
        return err_set(e, ERR_INVALID,
                       "WebIdentityToken has %zu characters; it must have 4 to 20000", tlen);
    query_params q;
    query_init(&q, "AssumeRoleWithWebIdentity", STS_VERSION);
    query_add(&q, "RoleArn", role_arn);
    query_add(&q, "RoleSessionName", session_name);
    query_add(&q, "WebIdentityToken", web_identity_token);
    if (duration_seconds)
        query_add_int(&q, "DurationSeconds", duration_seconds);
    query_to_request(&q, "sts", "AssumeRoleWithWebIdentity", AWS_PROTO_QUERY, req);
    /* query_free does not wipe; the token is the one secret in here. */
    for (size_t i = 0; i < q.count; i++)
        if (strcmp(q.items[i].name, "WebIdentityToken") == 0)
            secure_wipe(q.items[i].value, strlen(q.items[i].value));
    query_free(&q);
    return true;
}

bool sts_assume_role_with_web_identity_parse(const char *body, size_t len, const char *source,
                                             aws_creds **out, err *e)
{
    return parse_credentials("AssumeRoleWithWebIdentity", body, len, source, out, e);
}

void sts_get_caller_identity_request(aws_request *req)
{
    query_params q;
    query_init(&q, "GetCallerIdentity", STS_VERSION);
    query_to_request(&q, "sts", "GetCallerIdentity", AWS_PROTO_QUERY, req);
    query_free(&q);
}

bool sts_get_caller_identity_parse(const char *body, size_t len, sts_identity *out, err *e)
{
    memset(out, 0, sizeof *out);
    xml_doc *doc = NULL;
    const xml_node *r = NULL;
    if (!query_parse_result(body, len, "GetCallerIdentityResult", &doc, &r, e))
        return err_prefix(e, "GetCallerIdentity answer");
    const char *account = xml_find_text(r, "Account");
    const char *arn = xml_find_text(r, "Arn");
    const char *user_id = xml_find_text(r, "UserId");
    if (account == NULL || arn == NULL || user_id == NULL) {
        err_set(e, ERR_PARSE, "GetCallerIdentity answer has no GetCallerIdentityResult/%s",
                account == NULL ? "Account"
                : arn == NULL   ? "Arn"
                                : "UserId");
        xml_free(doc);
        return false;
    }
    out->account = xstrdup(account);
    out->arn = xstrdup(arn);
    out->user_id = xstrdup(user_id);
    xml_free(doc);
    return true;
}

void sts_identity_free(sts_identity *id)
{
    if (id == NULL)
        return;
    free(id->account);
    free(id->arn);
    free(id->user_id);
    memset(id, 0, sizeof *id);
}

/* The request is consumed whatever the outcome, so callers have one path. */
static bool call(aws_client *c, aws_request *req, http_response *resp, err *e)
{
    bool ok = aws_client_call(c, req, resp, e);
    aws_request_free(req);
    return ok;
}

bool sts_assume_role(aws_client *c, const sts_assume_role_params *p, aws_creds **out, err *e)
{
    *out = NULL;
    aws_request req;
    if (!sts_assume_role_request(p, &req, e))
        return false;
    http_response resp = HTTP_RESPONSE_INIT;
    bool ok = call(c, &req, &resp, e);
    if (ok) {
        char source[320];
        snprintf(source, sizeof source, "assume-role %.300s", p->role_arn);
        ok = sts_assume_role_parse(strbuf_str(&resp.body), resp.body.len, source, out, e);
    }
    strbuf_free_secret(&resp.body);
    http_response_free(&resp);
    return ok;
}

bool sts_assume_role_with_web_identity(aws_client *c, const char *role_arn,
                                       const char *session_name, const char *web_identity_token,
                                       int duration_seconds, aws_creds **out, err *e)
{
    *out = NULL;
    aws_request req;
    if (!sts_assume_role_with_web_identity_request(role_arn, session_name, web_identity_token,
                                                   duration_seconds, &req, e))
        return false;
    http_response resp = HTTP_RESPONSE_INIT;
    bool ok = call(c, &req, &resp, e);
    if (ok) {
        char source[320];
        snprintf(source, sizeof source, "web-identity %.300s", role_arn);
        ok = sts_assume_role_with_web_identity_parse(strbuf_str(&resp.body), resp.body.len, source,
                                                     out, e);
    }
    strbuf_free_secret(&resp.body);
    http_response_free(&resp);
    return ok;
}

bool sts_get_caller_identity(aws_client *c, sts_identity *out, err *e)
{
    memset(out, 0, sizeof *out);
    aws_request req;
    sts_get_caller_identity_request(&req);
    http_response resp = HTTP_RESPONSE_INIT;
    bool ok = call(c, &req, &resp, e);
    if (ok)
        ok = sts_get_caller_identity_parse(strbuf_str(&resp.body), resp.body.len, out, e);
    http_response_free(&resp);
    return ok;
}
