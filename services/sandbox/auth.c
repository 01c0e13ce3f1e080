/* SigV4 verification: the signature is recomputed with the same signer
 * Escher uses to sign (lib/aws/sigv4.c), fed with exactly the headers the
 * client listed in SignedHeaders, and compared in constant time. */
#include "auth.h"

#include "aws/sigv4.h"
#include "core/secure.h"
#include "core/strbuf.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM  "AWS4-HMAC-SHA256"
#define SKEW_LIMIT (15 * 60)

static void copy_span(char *out, size_t outlen, const char *s, size_t n)
{
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Splits "KEY/YYYYMMDD/region/service/terminator" into a. */
static bool parse_credential(const char *s, size_t n, sbx_auth *a)
{
    const char *parts[5];
    size_t lens[5];
    size_t count = 0;
    const char *p = s, *end = s + n;
    while (count < 5) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        parts[count] = p;
        lens[count] = (size_t)(stop - p);
        count++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (count != 5 || p + lens[4] != end || lens[0] == 0 || lens[0] >= sizeof a->key_id) {
        snprintf(a->detail, sizeof a->detail,
                 "Credential should have exactly 5 parts (key/date/region/service/aws4_request), "
                 "not '%.*s'.",
                 (int)(n > 200 ? 200 : n), s);
        return false;
    }
    copy_span(a->key_id, sizeof a->key_id, parts[0], lens[0]);
    copy_span(a->date8, sizeof a->date8, parts[1], lens[1]);
    copy_span(a->region, sizeof a->region, parts[2], lens[2]);
    copy_span(a->service, sizeof a->service, parts[3], lens[3]);
    copy_span(a->terminator, sizeof a->terminator, parts[4], lens[4]);
    return true;
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
static auth_status parse_header(const char *h, sbx_auth *a)
{
    size_t alen = strlen(ALGORITHM);
    if (strncmp(h, ALGORITHM, alen) != 0 || (h[alen] != ' ' && h[alen] != '\0')) {
        size_t n = strcspn(h, " ");
        snprintf(a->detail, sizeof a->detail, "Unsupported AWS 'algorithm': '%.*s'.",
                 (int)(n > 64 ? 64 : n), h);
        return AUTH_MALFORMED;
    }
    bool cred = false, sh = false, sig = false;
    const char *p = h + alen;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ",");
        size_t trimmed = n;
        while (trimmed && p[trimmed - 1] == ' ')
            trimmed--;
        const char *eq = memchr(p, '=', trimmed);
        if (eq) {
            size_t klen = (size_t)(eq - p);
            const char *v = eq + 1;
            size_t vlen = trimmed - klen - 1;
            if (klen == 10 && memcmp(p, "Credential", 10) == 0) {
                if (!parse_credential(v, vlen, a))
                    return AUTH_MALFORMED;
                cred = true;
            } else if (klen == 13 && memcmp(p, "SignedHeaders", 13) == 0) {
                copy_span(a->signed_headers, sizeof a->signed_headers, v, vlen);
                sh = vlen > 0;
            } else if (klen == 9 && memcmp(p, "Signature", 9) == 0) {
                copy_span(a->signature, sizeof a->signature, v, vlen);
                sig = vlen > 0;
            }
        }
        p += n;
    }
    if (!cred || !sh || !sig) {
        snprintf(a->detail, sizeof a->detail, "%s%s%sAuthorization=%.200s",
                 cred ? "" : "Authorization header requires 'Credential' parameter. ",
                 sig ? "" : "Authorization header requires 'Signature' parameter. ",
                 sh ? "" : "Authorization header requires 'SignedHeaders' parameter. ", h);
        return AUTH_MALFORMED;
    }
    return AUTH_OK;
}

/* s[0..n) form-decoded into out, truncated to outlen - 1 bytes. */
static void pct_decode(char *out, size_t outlen, const char *s, size_t n)
{
    strbuf sb = STRBUF_INIT;
    strbuf_form_decode(&sb, s, n);
    copy_span(out, outlen, strbuf_str(&sb), sb.len);
    strbuf_free(&sb);
}

/* Finds query parameter `name` in a raw query; decoded into out. */
static bool query_value(const char *q, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > nlen && p[nlen] == '=' && memcmp(p, name, nlen) == 0) {
            pct_decode(out, outlen, p + nlen + 1, n - nlen - 1);
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

static auth_status parse_presigned(const char *q, sbx_auth *a)
{
    char alg[64], cred[400], expires[32];
    a->presigned = true;
    if (!query_value(q, "X-Amz-Algorithm", alg, sizeof alg) || strcmp(alg, ALGORITHM) != 0) {
        snprintf(a->detail, sizeof a->detail, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
        return AUTH_MALFORMED;
    }
    if (!query_value(q, "X-Amz-Credential", cred, sizeof cred) ||
        !query_value(q, "X-Amz-Date", a->amz_date, sizeof a->amz_date) ||
        !query_value(q, "X-Amz-Expires", expires, sizeof expires) ||
        !query_value(q, "X-Amz-SignedHeaders", a->signed_headers, sizeof a->signed_headers) ||
        !query_value(q, "X-Amz-Signature", a->signature, sizeof a->signature)) {
        snprintf(a->detail, sizeof a->detail,
                 "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                 "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                 "X-Amz-Expires parameters.");
        return AUTH_MALFORMED;
    }
    if (!parse_credential(cred, strlen(cred), a))
        return AUTH_MALFORMED;
    char *end;
    long ex = strtol(expires, &end, 10);
    if (*end || ex < 1 || ex > 604800) {
        snprintf(a->detail, sizeof a->detail,
                 "X-Amz-Expires must be between 1 and 604800 seconds, not '%s'", expires);
        return AUTH_MALFORMED;
    }
    a->expires = (int)ex;
    return AUTH_OK;
}

auth_status auth_parse(const sbx_http *r, sbx_auth *a)
{
    memset(a, 0, sizeof *a);
    const char *h = http_headers_get(r->headers, "Authorization");
    auth_status st;
    if (h != NULL) {
        st = parse_header(h, a);
        if (st != AUTH_OK)
            return st;
        const char *date = http_headers_get(r->headers, "X-Amz-Date");
        if (date == NULL) {
            snprintf(a->detail, sizeof a->detail,
                     "Authorization header requires existence of either a 'X-Amz-Date' or a "
                     "'Date' header. Authorization=%.200s",
                     h);
            return AUTH_MALFORMED;
        }
        copy_span(a->amz_date, sizeof a->amz_date, date, strlen(date));
        a->token = http_headers_get(r->headers, "X-Amz-Security-Token");
    } else if (r->query && strstr(r->query, "X-Amz-Signature=") != NULL) {
        st = parse_presigned(r->query, a);
        if (st != AUTH_OK)
            return st;
    } else {
        return AUTH_MISSING;
    }
    if (strlen(a->amz_date) != 16 || !timeutil_parse_iso8601(a->amz_date, &a->when, NULL)) {
        snprintf(a->detail, sizeof a->detail,
                 "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", not "
                 "'%.40s'",
                 a->amz_date);
        return AUTH_MALFORMED;
    }
    return AUTH_OK;
}

auth_status auth_check_time(sbx_auth *a, time_t real_now)
{
    if (strncmp(a->date8, a->amz_date, 8) != 0 || strlen(a->date8) != 8) {
        snprintf(a->detail, sizeof a->detail,
                 "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                 "from HTTP: '%s' != '%.8s', from '%s'.",
                 a->date8, a->amz_date, a->amz_date);
        return AUTH_BAD_SCOPE;
    }
    if (strcmp(a->terminator, "aws4_request") != 0) {
        snprintf(a->detail, sizeof a->detail,
                 "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.",
                 a->terminator);
        return AUTH_BAD_SCOPE;
    }
    char now[TIMEUTIL_AMZ_LEN], bound[TIMEUTIL_AMZ_LEN];
    timeutil_format_amz(real_now, now);
    if (a->presigned) {
        if (a->when > real_now + SKEW_LIMIT) {
            timeutil_format_amz(real_now + SKEW_LIMIT, bound);
            snprintf(a->detail, sizeof a->detail,
                     "Signature not yet current: %s is still later than %s (%s + 15 min.)",
                     a->amz_date, bound, now);
            return AUTH_SKEW;
        }
        if (a->when + a->expires < real_now)
            return AUTH_PRESIGN_EXPIRED;
        return AUTH_OK;
    }
    if (a->when < real_now - SKEW_LIMIT) {
        timeutil_format_amz(real_now - SKEW_LIMIT, bound);
        snprintf(a->detail, sizeof a->detail,
                 "Signature expired: %s is now earlier than %s (%s - 15 min.)", a->amz_date, bound,
                 now);
        return AUTH_SKEW;
    }
    if (a->when > real_now + SKEW_LIMIT) {
        timeutil_format_amz(real_now + SKEW_LIMIT, bound);
        snprintf(a->detail, sizeof a->detail,
                 "Signature not yet current: %s is still later than %s (%s + 15 min.)", a->amz_date,
                 bound, now);
        return AUTH_SKEW;
    }
    return AUTH_OK;
}

/* The request headers named in the signed list, in request order: a view
 * whose strings stay the request's. */
static void signed_view(const http_headers *all, const char *list, http_headers *view)
{
    view->count = 0;
    for (size_t i = 0; all && i < all->count; i++) {
        const char *name = all->items[i].name;
        size_t n = strlen(name);
        for (const char *p = list; *p;) {
            size_t m = strcspn(p, ";");
            if (m == n && strncasecmp(p, name, n) == 0) {
                if (view->count < view->cap)
                    view->items[view->count++] = all->items[i];
                break;
            }
            p += m;
            if (*p == ';')
                p++;
        }
    }
}

/* The query without the presigning parameters, as sent otherwise. */
static void strip_presign(const char *q, strbuf *out)
{
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        bool ours =
            n >= 6 && strncmp(p, "X-Amz-", 6) == 0 &&
            (strncmp(p, "X-Amz-Algorithm=", 16) == 0 || strncmp(p, "X-Amz-Credential=", 17) == 0 ||
             strncmp(p, "X-Amz-Date=", 11) == 0 || strncmp(p, "X-Amz-Expires=", 14) == 0 ||
             strncmp(p, "X-Amz-SignedHeaders=", 20) == 0 ||
             strncmp(p, "X-Amz-Signature=", 16) == 0 ||
             strncmp(p, "X-Amz-Security-Token=", 21) == 0);
        if (!ours && n) {
            if (out->len)
                strbuf_putc(out, '&');
            strbuf_append(out, p, n);
        }
        p = amp ? amp + 1 : NULL;
    }
}

/* Recomputes the signature; true when it equals the one presented. */
static bool signature_matches(const sbx_http *r, const sbx_auth *a, const char *secret, bool s3)
{
    http_header items[64];
    http_headers view = {items, 0, sizeof items / sizeof items[0]};
    signed_view(r->headers, a->signed_headers, &view);
    aws_creds creds = {
        .access_key_id = (char *)a->key_id,
        .secret_access_key = (char *)secret,
        /* Presigned: the token is a signed query parameter that the signer
         * adds itself; with headers it stays in the view when signed. */
        .session_token = a->presigned ? (char *)a->token : NULL,
    };
    sigv4_config cfg = {
        .creds = &creds,
        .region = a->region,
        .service = a->service,
        .when = a->when,
        .normalize_path = !s3,
        .double_encode = !s3,
        .expires = a->expires,
    };
    const char *sent = NULL;
    bool ok = false;
    if (a->presigned) {
        strbuf q = STRBUF_INIT, out = STRBUF_INIT;
        strip_presign(r->query, &q);
        sigv4_request req = {r->method, r->path, strbuf_str(&q),        &view,
                             NULL,      0,       SIGV4_UNSIGNED_PAYLOAD};
        if (sigv4_presign(&req, &cfg, &out, NULL, NULL, NULL) &&
            (sent = strstr(strbuf_str(&out), "X-Amz-Signature=")) != NULL) {
            sent += 16;
            ok = strlen(sent) == strlen(a->signature) &&
                 secure_equal(sent, a->signature, strlen(sent));
        }
        strbuf_free(&q);
        strbuf_free(&out);
        return ok;
    }
    sigv4_request req = {
        .method = r->method,
        .path = r->path,
        .query = r->query,
        .headers = &view,
        .body = r->body_len ? r->body : NULL,
        .body_len = r->body_len,
        .payload_hash = http_headers_get(r->headers, "X-Amz-Content-Sha256"),
    };
    http_headers add = HTTP_HEADERS_INIT;
    if (sigv4_sign_headers(&req, &cfg, &add, NULL, NULL, NULL)) {
        const char *auth = http_headers_get(&add, "Authorization");
        sent = auth ? strstr(auth, "Signature=") : NULL;
        if (sent) {
            sent += 10;
            ok = strlen(sent) == strlen(a->signature) &&
                 secure_equal(sent, a->signature, strlen(sent));
        }
    }
    http_headers_free(&add);
    return ok;
}

auth_status auth_verify(const sbx_http *r, sbx_auth *a, world *w, time_t sandbox_now, bool s3,
                        sbx_principal *p)
{
    memset(p, 0, sizeof *p);
    if (!world_find_key(w, a->key_id, p))
        return AUTH_UNKNOWN_KEY;
    if (p->session) {
        const char *want = p->session->token;
        if (a->token == NULL || strlen(a->token) != strlen(want) ||
            !secure_equal(a->token, want, strlen(want)))
            return AUTH_BAD_TOKEN;
        if (sandbox_now >= p->session->expiration)
            return AUTH_EXPIRED_TOKEN;
    } else if (a->token != NULL && *a->token) {
        /* A long-term key with a session token: AWS refuses the token. */
        return AUTH_BAD_TOKEN;
    }
    if (!signature_matches(r, a, p->secret, s3))
        return AUTH_BAD_SIGNATURE;
    return AUTH_OK;
}

/* ---- AWS's answers ---- */

typedef struct auth_answer {
    int status;
    const char *code;
    const char *message; /* NULL: the detail text */
} auth_answer;

#define SIG_MISMATCH                                                                               \
    "The request signature we calculated does not match the signature you provided. Check your "   \
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
#define TOKEN_INVALID "The security token included in the request is invalid."
#define EC2_AUTH      "AWS was not able to validate the provided access credentials"

/* [status][protocol: query, ec2, json, rest-xml] as AWS answers. */
static const auth_answer ANSWERS[][4] = {
    [AUTH_MISSING] = {{403, "MissingAuthenticationToken",
                       "Request is missing Authentication Token"},
                      {401, "AuthFailure", EC2_AUTH},
                      {400, "MissingAuthenticationTokenException", "Missing Authentication Token"},
                      {403, "AccessDenied", "Access Denied"}},
    [AUTH_MALFORMED] = {{400, "IncompleteSignature", NULL},
                        {401, "AuthFailure", NULL},
                        {400, "IncompleteSignatureException", NULL},
                        {400, "AuthorizationHeaderMalformed", NULL}},
    [AUTH_BAD_SCOPE] = {{403, "SignatureDoesNotMatch", NULL},
                        {401, "AuthFailure", NULL},
                        {400, "InvalidSignatureException", NULL},
                        {400, "AuthorizationHeaderMalformed", NULL}},
    [AUTH_UNKNOWN_KEY] = {{403, "InvalidClientTokenId", TOKEN_INVALID},
                          {401, "AuthFailure", EC2_AUTH},
                          {400, "UnrecognizedClientException", TOKEN_INVALID},
                          {403, "InvalidAccessKeyId",
                           "The AWS Access Key Id you provided does not exist in our records."}},
    [AUTH_BAD_TOKEN] = {{403, "InvalidClientTokenId", TOKEN_INVALID},
                        {401, "AuthFailure", EC2_AUTH},
                        {400, "UnrecognizedClientException", TOKEN_INVALID},
                        {400, "InvalidToken",
                         "The provided token is malformed or otherwise invalid."}},
    [AUTH_EXPIRED_TOKEN] = {{403, "ExpiredToken",
                             "The security token included in the request is expired"},
                            {400, "RequestExpired", "Request has expired."},
                            {400, "ExpiredTokenException",
                             "The security token included in the request is expired"},
                            {400, "ExpiredToken", "The provided token has expired."}},
    [AUTH_SKEW] = {{403, "SignatureDoesNotMatch", NULL},
                   {400, "RequestExpired", "Request has expired."},
                   {400, "InvalidSignatureException", NULL},
                   {403, "RequestTimeTooSkewed",
                    "The difference between the request time and the current time is too large."}},
    [AUTH_PRESIGN_EXPIRED] = {{403, "AccessDenied", "Request has expired"},
                              {400, "RequestExpired", "Request has expired."},
                              {400, "AccessDeniedException", "Request has expired"},
                              {403, "AccessDenied", "Request has expired"}},
    [AUTH_BAD_SIGNATURE] = {{403, "SignatureDoesNotMatch", SIG_MISMATCH},
                            {401, "AuthFailure", EC2_AUTH},
                            {400, "InvalidSignatureException", SIG_MISMATCH},
                            {403, "SignatureDoesNotMatch",
                             "The request signature we calculated does not match the signature "
                             "you provided. Check your key and signing method."}},
};

void auth_error(auth_status st, aws_protocol proto, const sbx_auth *a, int *status,
                const char **code, char *msg, size_t msglen)
{
    int col = proto == AWS_PROTO_EC2                                    ? 1
              : proto == AWS_PROTO_JSON || proto == AWS_PROTO_REST_JSON ? 2
              : proto == AWS_PROTO_REST_XML                             ? 3
                                                                        : 0;
    if (st <= AUTH_OK || st > AUTH_BAD_SIGNATURE)
        st = AUTH_BAD_SIGNATURE;
    const auth_answer *ans = &ANSWERS[st][col];
    *status = ans->status;
    *code = ans->code;
    if (ans->message)
        snprintf(msg, msglen, "%s", ans->message);
    else if (col == 3 && (st == AUTH_MALFORMED || st == AUTH_BAD_SCOPE))
        snprintf(msg, msglen, "The authorization header is malformed; %s", a->detail);
    else
        snprintf(msg, msglen, "%s", a->detail);
}
