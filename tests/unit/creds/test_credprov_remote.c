/* Providers that talk HTTP, against tests/support/responder standing in for
 * IMDS, the container credentials endpoint and STS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/credprov.h"
#include "creds_test.h"
#include "support/responder.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REQS 16

/* What the responder saw, copied on its thread. */
typedef struct seen {
    char method[8];
    char uri[512];
    char body[4096];
    char token[128];    /* X-aws-ec2-metadata-token */
    char ttl[32];       /* X-aws-ec2-metadata-token-ttl-seconds */
    char auth[1024];    /* Authorization */
    char accept[64];    /* Accept */
    char sectoken[256]; /* X-Amz-Security-Token */
    int has_auth;
    int has_token;
} seen;

typedef struct rec {
    pthread_mutex_t lock;
    int n;
    seen reqs[MAX_REQS];
    int mode; /* per-test behaviour switch */
} rec;

static rec R;

static void copy_hdr(const responder_req *req, const char *name, char *dst, size_t n, int *has)
{
    const char *v = req->header(req, name);
    if (has)
        *has = v != NULL;
    snprintf(dst, n, "%s", v ? v : "");
}

static void record(const responder_req *req)
{
    pthread_mutex_lock(&R.lock);
    if (R.n < MAX_REQS) {
        seen *s = &R.reqs[R.n];
        snprintf(s->method, sizeof s->method, "%s", req->method);
        snprintf(s->uri, sizeof s->uri, "%s", req->uri);
        snprintf(s->body, sizeof s->body, "%s", req->body);
        copy_hdr(req, "X-aws-ec2-metadata-token", s->token, sizeof s->token, &s->has_token);
        copy_hdr(req, "X-aws-ec2-metadata-token-ttl-seconds", s->ttl, sizeof s->ttl, NULL);
        copy_hdr(req, "Authorization", s->auth, sizeof s->auth, &s->has_auth);
        copy_hdr(req, "Accept", s->accept, sizeof s->accept, NULL);
        copy_hdr(req, "X-Amz-Security-Token", s->sectoken, sizeof s->sectoken, NULL);
    }
    R.n++;
    pthread_mutex_unlock(&R.lock);
}

static int setup(void **state)
{
    scratch *s = calloc(1, sizeof *s);
    scratch_init(s);
    memset(&R, 0, sizeof R);
    pthread_mutex_init(&R.lock, NULL);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    scratch_free(*state);
    free(*state);
    pthread_mutex_destroy(&R.lock);
    return 0;
}

static aws_creds *get_once(scratch *s, err *e)
{
    err_clear(e);
    credprov *p = credprov_default_chain(&s->opts, e);
    assert_non_null(p);
    aws_creds *c = NULL;
    credprov_get(p, &c, e);
    credprov_free(p);
    return c;
}

static aws_creds *get_ok(scratch *s)
{
    err e;
    aws_creds *c = get_once(s, &e);
    if (c == NULL)
        fail_msg("expected credentials, got: %s", e.message);
    return c;
}

/* ---- IMDS ---- */

static const char *IMDS_CREDS =
    "{\"Code\": \"Success\", \"LastUpdated\": \"2023-11-14T22:00:00Z\", \"Type\": "
    "\"AWS-HMAC\", \"AccessKeyId\": \"ASIAIMDS\", \"SecretAccessKey\": \"imdssecret\", "
    "\"Token\": \"imdstoken\", \"Expiration\": \"2023-11-15T04:00:00Z\"}";

/* mode 0: IMDSv2; 1: token PUT refused with 403 (IMDSv1 fallback); 2: PUT 400;
 * 3: no role attached (404 on the role list); 4: JSON error document. */
static void imds_handler(const responder_req *req, responder_reply *reply, int n, void *arg)
{
    (void)n;
    (void)arg;
    record(req);
    if (strcmp(req->uri, "/latest/api/token") == 0) {
        if (R.mode == 1)
            reply->status = 403;
        else if (R.mode == 2)
            reply->status = 400;
        else
            reply->body = strdup("IMDSTOKEN-abc");
    } else if (strcmp(req->uri, "/latest/meta-data/iam/security-credentials/") == 0) {
        if (R.mode == 3)
            reply->status = 404;
        else
            reply->body = strdup("web-role\n");
    } else if (strcmp(req->uri, "/latest/meta-data/iam/security-credentials/web-role") == 0) {
        if (R.mode == 4)
            reply->body = strdup("{\"Code\": \"AssumeRoleUnauthorizedAccess\", \"Message\": "
                                 "\"EC2 cannot assume the role\"}");
        else
            reply->body = strdup(IMDS_CREDS);
    } else {
        reply->status = 404;
    }
}

static void test_imds_v2(void **state)
{
    scratch *s = *state;
    responder *r = responder_start(imds_handler, NULL);
    fake_env_set(&s->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", responder_url(r));
    aws_creds *c = get_ok(s);
    assert_string_equal(c->access_key_id, "ASIAIMDS");
    assert_string_equal(c->secret_access_key, "imdssecret");
    assert_string_equal(c->session_token, "imdstoken");
    assert_int_equal(c->expiration, 1700020800);
    assert_string_equal(c->source, "instance metadata");
    creds_free(c);
    responder_stop(r);

    assert_int_equal(R.n, 3);
    assert_string_equal(R.reqs[0].method, "PUT");
    assert_string_equal(R.reqs[0].uri, "/latest/api/token");
    assert_string_equal(R.reqs[0].ttl, "21600");
    assert_false(R.reqs[0].has_token);
    assert_string_equal(R.reqs[1].method, "GET");
    assert_string_equal(R.reqs[1].uri, "/latest/meta-data/iam/security-credentials/");
    assert_string_equal(R.reqs[1].token, "IMDSTOKEN-abc");
    assert_string_equal(R.reqs[2].method, "GET");
    assert_string_equal(R.reqs[2].uri, "/latest/meta-data/iam/security-credentials/web-role");
    assert_string_equal(R.reqs[2].token, "IMDSTOKEN-abc");
}

static void test_imds_v1_fallback_and_options(void **state)
{
    scratch *s = *state;
    R.mode = 1;
    responder *r = responder_start(imds_handler, NULL);
    /* The option wins over the environment variable (which points nowhere). */
    char base[128];
    snprintf(base, sizeof base, "%s/", responder_url(r));
    s->opts.imds_endpoint = base;
    aws_creds *c = get_ok(s);
    assert_string_equal(c->access_key_id, "ASIAIMDS");
    creds_free(c);
    responder_stop(r);
    assert_int_equal(R.n, 3);
    assert_string_equal(R.reqs[0].method, "PUT");
    assert_false(R.reqs[1].has_token);
    assert_false(R.reqs[2].has_token);
}

static void imds_fails(scratch *s, int mode, const char *reason_substr, int want_requests)
{
    R.mode = mode;
    R.n = 0;
    responder *r = responder_start(imds_handler, NULL);
    fake_env_set(&s->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", responder_url(r));
    char want[512];
    snprintf(want, sizeof want, "instance metadata (%s: ", responder_url(r));
    err e;
    assert_null(get_once(s, &e));
    responder_stop(r);
    assert_int_equal(e.code, ERR_NO_CREDENTIALS);
    if (strstr(e.message, want) == NULL || strstr(e.message, reason_substr) == NULL)
        fail_msg("no \"%s\" or \"%s\" in: %s", want, reason_substr, e.message);
    assert_int_equal(R.n, want_requests);
}

static void test_imds_failures(void **state)
{
    scratch *s = *state;
    imds_fails(s, 2, "answered HTTP 400 (bad request))", 1);
    imds_fails(s, 3, "/latest/meta-data/iam/security-credentials/ answered HTTP 404)", 2);
    imds_fails(s, 4, "role 'web-role': AssumeRoleUnauthorizedAccess: EC2 cannot assume the role)",
               3);

    /* Disabled: not contacted at all. */
    R.n = 0;
    responder *r = responder_start(imds_handler, NULL);
    fake_env_set(&s->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", responder_url(r));
    fake_env_set(&s->env, "AWS_EC2_METADATA_DISABLED", "true");
    err e;
    assert_null(get_once(s, &e));
    responder_stop(r);
    assert_non_null(strstr(e.message, "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"));
    assert_int_equal(R.n, 0);
}

/* ---- container ---- */

static void container_handler(const responder_req *req, responder_reply *reply, int n, void *arg)
{
    (void)n;
    (void)arg;
    record(req);
    if (R.mode == 1) {
        reply->status = 500;
        reply->body = strdup("internal trouble");
        return;
    }
    if (strncmp(req->uri, "/v2/credentials/", 16) != 0) {
        reply->status = 404;
        return;
    }
    reply->body = strdup("{\"AccessKeyId\": \"ASIACONT\", \"SecretAccessKey\": \"contsecret\", "
                         "\"Token\": \"conttoken\", \"Expiration\": \"2030-01-01T00:00:00Z\", "
                         "\"RoleArn\": \"arn:aws:iam::1:role/task\"}");
}

static void test_container_relative(void **state)
{
    scratch *s = *state;
    responder *r = responder_start(container_handler, NULL);
    s->opts.container_base_url = responder_url(r);
    fake_env_set(&s->env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123");
    fake_env_set(&s->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer envtoken");
    aws_creds *c = get_ok(s);
    assert_string_equal(c->access_key_id, "ASIACONT");
    assert_string_equal(c->secret_access_key, "contsecret");
    assert_string_equal(c->session_token, "conttoken");
    assert_int_equal(c->expiration, 1893456000);
    creds_free(c);
    assert_int_equal(R.n, 1);
    assert_string_equal(R.reqs[0].method, "GET");
    assert_string_equal(R.reqs[0].uri, "/v2/credentials/abc-123");
    assert_string_equal(R.reqs[0].auth, "Bearer envtoken");
    assert_string_equal(R.reqs[0].accept, "application/json");

    /* The token file wins over the variable. */
    const char *tf = scratch_write(s, "auth-token", "filetoken\n");
    fake_env_set(&s->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tf);
    c = get_ok(s);
    creds_free(c);
    assert_int_equal(R.n, 2);
    assert_string_equal(R.reqs[1].auth, "filetoken");

    /* Full URI to loopback. */
    fake_env_unset(&s->env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    fake_env_unset(&s->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    fake_env_unset(&s->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char full[256];
    snprintf(full, sizeof full, "%s/v2/credentials/full", responder_url(r));
    fake_env_set(&s->env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
    c = get_ok(s);
    assert_string_equal(c->access_key_id, "ASIACONT");
    creds_free(c);
    assert_int_equal(R.n, 3);
    assert_string_equal(R.reqs[2].uri, "/v2/credentials/full");
    assert_false(R.reqs[2].has_auth);
    responder_stop(r);
}

static void test_container_errors(void **state)
{
    scratch *s = *state;
    err e;
    fake_env_set(&s->env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds");
    assert_null(get_once(s, &e));
    assert_int_equal(e.code, ERR_CONFIG);
    assert_string_equal(e.message,
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI host 'example.com' is not allowed over "
                        "http: use https, a loopback address, 169.254.170.2, 169.254.170.23 or "
                        "fd00:ec2::23");
    fake_env_set(&s->env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/creds");
    assert_null(get_once(s, &e));
    assert_string_equal(e.message,
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI 'ftp://127.0.0.1/creds' is not http or "
                        "https");

    /* A failing endpoint is retried 3 times, then is a hard error. */
    R.mode = 1;
    responder *r = responder_start(container_handler, NULL);
    char full[256];
    snprintf(full, sizeof full, "%s/v2/credentials/x", responder_url(r));
    fake_env_set(&s->env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
    assert_null(get_once(s, &e));
    responder_stop(r);
    assert_int_equal(R.n, 3);
    char want[512];
    snprintf(want, sizeof want, "container credentials: %s answered HTTP 500: internal trouble",
             full);
    assert_string_equal(e.message, want);

    /* A token with a line break never reaches the wire. */
    fake_env_set(&s->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Injected: 1");
    assert_null(get_once(s, &e));
    assert_int_equal(e.code, ERR_CONFIG);
    assert_int_equal(R.n, 3);
}

/* ---- STS: web identity and assume role ---- */

static char *sts_answer(const char *op, const char *id, const char *secret, const char *token)
{
    char *b = malloc(2048);
    snprintf(b, 2048,
             "<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><%sResult>"
             "<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
             "<SessionToken>%s</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>"
             "</Credentials></%sResult><ResponseMetadata><RequestId>req-1</RequestId>"
             "</ResponseMetadata></%sResponse>",
             op, op, id, secret, token, op, op);
    return b;
}

/* Parameters of a recorded STS call: from the form body, or the query. */
static const char *param(const seen *s, const char *key)
{
    const char *v = form_value(s->body, key);
    if (v == NULL) {
        const char *q = strchr(s->uri, '?');
        v = q ? form_value(q + 1, key) : NULL;
    }
    return v ? v : "<absent>";
}

static void sts_handler(const responder_req *req, responder_reply *reply, int n, void *arg)
{
    (void)n;
    (void)arg;
    record(req);
    seen copy;
    pthread_mutex_lock(&R.lock);
    copy = R.reqs[R.n - 1 < MAX_REQS ? R.n - 1 : 0];
    pthread_mutex_unlock(&R.lock);
    reply->headers[0] = '\0';
    snprintf(reply->headers, sizeof reply->headers, "Content-Type: text/xml\n");
    if (R.mode == 1) {
        reply->status = 403;
        reply->body = strdup("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                             "<Message>not authorized to assume</Message></Error>"
                             "<RequestId>req-2</RequestId></ErrorResponse>");
        return;
    }
    const char *action = param(&copy, "Action");
    if (strcmp(action, "AssumeRoleWithWebIdentity") == 0) {
        reply->body = sts_answer("AssumeRoleWithWebIdentity", "ASIAWEB", "websecret", "webtoken");
    } else if (strcmp(action, "AssumeRole") == 0) {
        const char *role = param(&copy, "RoleArn");
        if (strstr(role, "role/mid"))
            reply->body = sts_answer("AssumeRole", "ASIAMID", "midsecret", "midtoken");
        else
            reply->body = sts_answer("AssumeRole", "ASIAFINAL", "finalsecret", "finaltoken");
    } else {
        reply->status = 400;
        reply->body = strdup("<ErrorResponse><Error><Code>InvalidAction</Code>"
                             "<Message>?</Message></Error></ErrorResponse>");
    }
}

static void test_web_identity_env(void **state)
{
    scratch *s = *state;
    responder *r = responder_start(sts_handler, NULL);
    s->opts.endpoint_url = responder_url(r);
    s->opts.region = "eu-west-1";
    const char *tf = scratch_write(s, "token.jwt", "eyJhbGciOi.JWT-TOKEN.sig\n");
    fake_env_set(&s->env, "AWS_WEB_IDENTITY_TOKEN_FILE", tf);
    fake_env_set(&s->env, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web");
    fake_env_set(&s->env, "AWS_ROLE_SESSION_NAME", "my-session");
    /* Web identity comes before static keys in the shared files. */
    scratch_write(s, ".aws/credentials",
                  "[default]\naws_access_key_id = AKIDFILE\n"
                  "aws_secret_access_key = filesecret\n");
    aws_creds *c = get_ok(s);
    assert_string_equal(c->access_key_id, "ASIAWEB");
    assert_string_equal(c->secret_access_key, "websecret");
    assert_string_equal(c->session_token, "webtoken");
    assert_int_equal(c->expiration, 1893456000);
    creds_free(c);
    responder_stop(r);
    assert_int_equal(R.n, 1);
    seen *q = &R.reqs[0];
    assert_string_equal(param(q, "Action"), "AssumeRoleWithWebIdentity");
    assert_string_equal(param(q, "RoleArn"), "arn:aws:iam::123456789012:role/web");
    assert_string_equal(param(q, "RoleSessionName"), "my-session");
    assert_string_equal(param(q, "WebIdentityToken"), "eyJhbGciOi.JWT-TOKEN.sig");
    assert_false(q->has_auth); /* unsigned */
    assert_null(strstr(q->uri, "X-Amz-Signature"));
}

static void test_web_identity_profile(void **state)
{
    scratch *s = *state;
    responder *r = responder_start(sts_handler, NULL);
    s->opts.endpoint_url = responder_url(r);
    scratch_write(s, "tok", "profile-token");
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "[profile wi]\nweb_identity_token_file = %s/tok\n"
             "role_arn = arn:aws:iam::123456789012:role/fromprofile\n",
             s->dir);
    scratch_write(s, ".aws/config", cfg);
    /* An explicit profile ignores the environment's web identity settings. */
    fake_env_set(&s->env, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent");
    s->opts.profile = "wi";
    aws_creds *c = get_ok(s);
    assert_string_equal(c->access_key_id, "ASIAWEB");
    creds_free(c);
    assert_int_equal(R.n, 1);
    assert_string_equal(param(&R.reqs[0], "RoleArn"), "arn:aws:iam::123456789012:role/fromprofile");
    assert_string_equal(param(&R.reqs[0], "RoleSessionName"), "escher-session-1700000000");
    assert_string_equal(param(&R.reqs[0], "WebIdentityToken"), "profile-token");
    assert_false(R.reqs[0].has_auth);

    /* A missing token file is an error naming it. */
    snprintf(cfg, sizeof cfg,
             "[profile wi]\nweb_identity_token_file = %s/missing\n"
             "role_arn = arn:aws:iam::123456789012:role/fromprofile\n",
             s->dir);
    scratch_write(s, ".aws/config", cfg);
    err e;
    assert_null(get_once(s, &e));
    assert_non_null(strstr(e.message, "web identity: token file: cannot open '"));
    assert_non_null(strstr(e.message, "/missing'"));
    assert_int_equal(R.n, 1);
    responder_stop(r);
}

/* Credential in the Authorization header: "AWS4-HMAC-SHA256 Credential=<id>/..." */
static int signed_by(const seen *q, const char *id)
{
    char want[128];
    snprintf(want, sizeof want, "Credential=%s/", id);
    return strstr(q->auth, want) != NULL;
}

static void test_assume_role_source_profile(void **state)
{
    scratch *s = *state;
    responder *r = responder_start(sts_handler, NULL);
    s->opts.endpoint_url = responder_url(r);
    s->opts.region = "us-east-1";
    scratch_write(s, ".aws/config",
                  "[default]\nrole_arn = arn:aws:iam::123456789012:role/final\n"
                  "source_profile = mid\nexternal_id = ext-42\nduration_seconds = 1800\n"
                  "role_session_name = ops-session\n"
                  "[profile mid]\nrole_arn = arn:aws:iam::123456789012:role/mid\n"
                  "source_profile = base\n");
    scratch_write(s, ".aws/credentials",
                  "[base]\naws_access_key_id = AKIDBASE\n"
                  "aws_secret_access_key = basesecret\n");
    aws_creds *c = get_ok(s);
    assert_string_equal(c->access_key_id, "ASIAFINAL");
    assert_string_equal(c->secret_access_key, "finalsecret");
    assert_string_equal(c->session_token, "finaltoken");
    assert_int_equal(c->expiration, 1893456000);
    creds_free(c);
    responder_stop(r);

    assert_int_equal(R.n, 2);
    /* First the inner role, signed with the base profile's key. */
    seen *q = &R.reqs[0];
    assert_string_equal(param(q, "Action"), "AssumeRole");
    assert_string_equal(param(q, "RoleArn"), "arn:aws:iam::123456789012:role/mid");
    assert_string_equal(param(q, "RoleSessionName"), "escher-session-1700000000");
    assert_string_equal(param(q, "ExternalId"), "<absent>");
    assert_string_equal(param(q, "DurationSeconds"), "<absent>");
    assert_true(signed_by(q, "AKIDBASE"));
    assert_string_equal(q->sectoken, "");
    /* Then the outer role with its settings, signed with the inner role's credentials. */
    q = &R.reqs[1];
    assert_string_equal(param(q, "Action"), "AssumeRole");
    assert_string_equal(param(q, "RoleArn"), "arn:aws:iam::123456789012:role/final");
    assert_string_equal(param(q, "ExternalId"), "ext-42");
    assert_string_equal(param(q, "DurationSeconds"), "1800");
    assert_string_equal(param(q, "RoleSessionName"), "ops-session");
    assert_true(signed_by(q, "ASIAMID"));
    assert_string_equal(q->sectoken, "midtoken");
}

static void test_assume_role_sources(void **state)
{
    scratch *s = *state;
    responder *r = responder_start(sts_handler, NULL);
    s->opts.endpoint_url = responder_url(r);

    /* A profile may take its own static keys as the source. */
    scratch_write(s, ".aws/credentials",
                  "[selfie]\naws_access_key_id = AKIDSELF\naws_secret_access_key = self\n"
                  "role_arn = arn:aws:iam::123456789012:role/final\nsource_profile = selfie\n");
    s->opts.profile = "selfie";
    aws_creds *c = get_ok(s);
    assert_string_equal(c->access_key_id, "ASIAFINAL");
    creds_free(c);
    assert_int_equal(R.n, 1);
    assert_true(signed_by(&R.reqs[0], "AKIDSELF"));

    /* credential_source = Environment signs with the environment's key
     * (even though the environment itself is skipped for an explicit profile). */
    scratch_write(s, ".aws/config",
                  "[profile envrole]\n"
                  "role_arn = arn:aws:iam::123456789012:role/final\n"
                  "credential_source = Environment\n");
    fake_env_set(&s->env, "AWS_ACCESS_KEY_ID", "AKIDENVSRC");
    fake_env_set(&s->env, "AWS_SECRET_ACCESS_KEY", "envsrc");
    s->opts.profile = "envrole";
    c = get_ok(s);
    assert_string_equal(c->access_key_id, "ASIAFINAL");
    creds_free(c);
    assert_int_equal(R.n, 2);
    assert_true(signed_by(&R.reqs[1], "AKIDENVSRC"));

    /* STS refusing is the chain's error, with the AWS code. */
    R.mode = 1;
    err e;
    assert_null(get_once(s, &e));
    assert_int_equal(e.code, ERR_AWS);
    assert_string_equal(e.remote_code, "AccessDenied");
    assert_non_null(strstr(e.message, "assume role (profile 'envrole'): AssumeRole "
                                      "'arn:aws:iam::123456789012:role/final': "));
    assert_null(strstr(e.message, "envsrc"));
    responder_stop(r);
}

static void test_assume_role_public(void **state)
{
    scratch *s = *state;
    responder *r = responder_start(sts_handler, NULL);
    s->opts.endpoint_url = responder_url(r);
    aws_creds *src = creds_new("AKIDPUB", "pubsecret", NULL, 0, "test");
    credprov_role role = {.role_arn = "arn:aws:iam::123456789012:role/final",
                          .external_id = "x1",
                          .duration_seconds = 900};
    err e;
    credprov *p = credprov_assume_role(credprov_static(src), &role, &s->opts, &e);
    creds_free(src);
    assert_non_null(p);
    aws_creds *c = NULL;
    assert_true(credprov_get(p, &c, &e));
    assert_string_equal(c->access_key_id, "ASIAFINAL");
    creds_free(c);
    /* Cached: no second call while far from expiry. */
    assert_true(credprov_get(p, &c, &e));
    creds_free(c);
    assert_int_equal(R.n, 1);
    assert_true(signed_by(&R.reqs[0], "AKIDPUB"));
    assert_string_equal(param(&R.reqs[0], "ExternalId"), "x1");
    assert_string_equal(param(&R.reqs[0], "DurationSeconds"), "900");
    /* Near expiry (fake clock) it asks STS again. */
    s->clock.now = 1893456000 - 5 * 60;
    assert_true(credprov_get(p, &c, &e));
    creds_free(c);
    assert_int_equal(R.n, 2);
    credprov_free(p);
    responder_stop(r);

    assert_null(credprov_assume_role(NULL, &role, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_imds_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_v1_fallback_and_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_relative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assume_role_source_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assume_role_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assume_role_public, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
