/* STS-backed providers: AssumeRole with source credentials (role_arn
 * profiles, credprov_assume_role) and AssumeRoleWithWebIdentity. Both call
 * STS lazily, on the first credprov_get, like botocore's deferred
 * credentials. */
#include "aws/credprov_internal.h"
#include "aws/sts.h"

#include "core/secure.h"
#include "core/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* Web identity tokens are JWTs of a few KiB; STS caps them at 20000 chars. */
#define CP_MAX_TOKEN_FILE (64u * 1024u)

static aws_client *sts_client(const cp_ctx *ctx, credprov *source, err *e)
{
    aws_client_options o = {
        .region = ctx->region,
        .endpoint_url = ctx->endpoint_url,
        .ca_file = ctx->ca_file,
    };
    if (o.region == NULL)
        o.region = cp_getenv(ctx, "AWS_REGION");
    if (o.region == NULL)
        o.region = cp_getenv(ctx, "AWS_DEFAULT_REGION");
    return aws_client_new(&o, source, NULL, e);
}

/* ---- AssumeRole ---- */

typedef struct role_impl {
    cp_ctx ctx;
    credprov *source;
    aws_client *client; /* created on first use, signs with source */
    char *role_arn;
    char *session_name;
    char *external_id;
    int duration_seconds;
    char *name;
} role_impl;

static bool role_fetch(void *p, aws_creds **out, err *e)
{
    role_impl *r = p;
    if (r->client == NULL) {
        r->client = sts_client(&r->ctx, r->source, e);
        if (r->client == NULL)
            return err_prefix(e, "%s", r->name);
    }
    sts_assume_role_params params = {
        .role_arn = r->role_arn,
        .session_name = r->session_name,
        .external_id = r->external_id,
        .duration_seconds = r->duration_seconds,
    };
    if (!sts_assume_role(r->client, &params, out, e))
        return err_prefix(e, "%s: AssumeRole '%s'", r->name, r->role_arn);
    return true;
}

static void role_impl_free(void *p)
{
    role_impl *r = p;
    /* The client borrows source: it goes first. */
    if (r->client)
        aws_client_free(r->client);
    credprov_free(r->source);
    cp_ctx_free(&r->ctx);
    free(r->role_arn);
    free(r->session_name);
    free(r->external_id);
    free(r->name);
    free(r);
}

credprov *cp_assume_role_new(const cp_ctx *ctx, credprov *source, const credprov_role *role,
                             const char *name)
{
    role_impl *r = xcalloc(1, sizeof *r);
    cp_ctx_copy(&r->ctx, ctx);
    r->source = source;
    r->role_arn = xstrdup(role->role_arn);
    r->session_name = role->session_name && role->session_name[0] ? xstrdup(role->session_name)
                                                                  : cp_default_session_name(ctx);
    r->external_id = role->external_id ? xstrdup(role->external_id) : NULL;
    r->duration_seconds = role->duration_seconds;
    r->name = xstrdup(name);
    return cp_refreshing_new(ctx, name, role_fetch, role_impl_free, r, NULL);
}

/* ---- AssumeRoleWithWebIdentity ---- */

typedef struct wi_impl {
    cp_ctx ctx;
    aws_client *client; /* anonymous: the call is unsigned */
    char *token_file;
    char *role_arn;
    char *session_name;
} wi_impl;

static bool wi_fetch(void *p, aws_creds **out, err *e)
{
    wi_impl *w = p;
    char *token = NULL;
    /* Re-read on every refresh: the token file is rotated by the platform
     * (EKS, ECS) and an old token may have expired. */
    if (!cp_read_file(w->token_file, CP_MAX_TOKEN_FILE, &token, e))
        return err_prefix(e, "web identity: token file");
    size_t n = strlen(token);
    while (n && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' '))
        token[--n] = '\0';
    if (n == 0) {
        secure_free_string(token);
        return err_set(e, ERR_CONFIG, "web identity: token file '%s' is empty", w->token_file);
    }
    if (w->client == NULL) {
        w->client = sts_client(&w->ctx, NULL, e);
        if (w->client == NULL) {
            secure_free_string(token);
            return err_prefix(e, "web identity");
        }
    }
    bool ok = sts_assume_role_with_web_identity(w->client, w->role_arn, w->session_name, token, 0,
                                                out, e);
    secure_free_string(token);
    if (!ok)
        return err_prefix(e, "web identity: AssumeRoleWithWebIdentity '%s'", w->role_arn);
    return true;
}

static void wi_impl_free(void *p)
{
    wi_impl *w = p;
    if (w->client)
        aws_client_free(w->client);
    cp_ctx_free(&w->ctx);
    free(w->token_file);
    free(w->role_arn);
    free(w->session_name);
    free(w);
}

credprov *cp_web_identity_new(const cp_ctx *ctx, const char *token_file, const char *role_arn,
                              const char *session_name)
{
    wi_impl *w = xcalloc(1, sizeof *w);
    cp_ctx_copy(&w->ctx, ctx);
    w->token_file = xstrdup(token_file);
    w->role_arn = xstrdup(role_arn);
    w->session_name =
        session_name && session_name[0] ? xstrdup(session_name) : cp_default_session_name(ctx);
    return cp_refreshing_new(ctx, "web identity", wi_fetch, wi_impl_free, w, NULL);
}
