/* Provider core (static, refreshing base), the environment source and the
 * default chain with its profile logic. The remote sources live in
 * credprov_remote.c (container, IMDS), credprov_sts.c (assume role, web
 * identity) and credprov_process.c (credential_process). */
#include "aws/credprov.h"

#include "aws/credprov_internal.h"
#include "core/secure.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* source_profile chains longer than this are almost certainly a mistake, and
 * each link is an STS call. */
#define CP_MAX_ROLE_DEPTH 16

/* ---- context ---- */

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void cp_ctx_init(cp_ctx *c, const credprov_options *o)
{
    memset(c, 0, sizeof *c);
    if (o == NULL)
        return;
    c->getenv = o->getenv;
    c->getenv_arg = o->getenv_arg;
    c->clock = o->clock;
    c->clock_arg = o->clock_arg;
    c->region = dup_or_null(o->region);
    c->endpoint_url = dup_or_null(o->endpoint_url);
    c->ca_file = dup_or_null(o->ca_file);
    c->imds_endpoint = dup_or_null(o->imds_endpoint);
    c->container_base_url = dup_or_null(o->container_base_url);
    c->container_retry_delay_ms = o->container_retry_delay_ms;
}

void cp_ctx_copy(cp_ctx *dst, const cp_ctx *src)
{
    *dst = *src;
    dst->region = dup_or_null(src->region);
    dst->endpoint_url = dup_or_null(src->endpoint_url);
    dst->ca_file = dup_or_null(src->ca_file);
    dst->imds_endpoint = dup_or_null(src->imds_endpoint);
    dst->container_base_url = dup_or_null(src->container_base_url);
}

void cp_ctx_free(cp_ctx *c)
{
    free(c->region);
    free(c->endpoint_url);
    free(c->ca_file);
    free(c->imds_endpoint);
    free(c->container_base_url);
    memset(c, 0, sizeof *c);
}

const char *cp_getenv(const cp_ctx *c, const char *name)
{
    const char *v = c->getenv ? c->getenv(name, c->getenv_arg) : getenv(name);
    return (v && *v) ? v : NULL;
}

time_t cp_now(const cp_ctx *c)
{
    return c->clock ? c->clock(c->clock_arg) : timeutil_now();
}

char *cp_expand_user(const cp_ctx *c, const char *path)
{
    if (path[0] != '~' || (path[1] != '/' && path[1] != '\0'))
        return xstrdup(path);
    const char *home = cp_getenv(c, "HOME");
    if (home == NULL) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res != NULL)
            return xasprintf("%s%s", res->pw_dir, path + 1);
        return xstrdup(path);
    }
    return xasprintf("%s%s", home, path + 1);
}

char *cp_default_session_name(const cp_ctx *ctx)
{
    return xasprintf("escher-session-%lld", (long long)cp_now(ctx));
}

bool cp_read_file(const char *path, size_t max, char **out, err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(e, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    strbuf sb = STRBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (sb.len + n > max) {
            fclose(f);
            secure_wipe(buf, sizeof buf);
            strbuf_free_secret(&sb);
            return err_set(e, ERR_LIMIT, "'%s' is larger than %zu bytes", path, max);
        }
        strbuf_append(&sb, buf, n);
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    secure_wipe(buf, sizeof buf);
    if (bad) {
        strbuf_free_secret(&sb);
        return err_set(e, ERR_IO, "cannot read '%s'", path);
    }
    *out = strbuf_detach(&sb);
    return true;
}

/* ---- public entry points ---- */

bool credprov_get(credprov *p, aws_creds **out, err *e)
{
    *out = NULL;
    if (p == NULL)
        return err_set(e, ERR_INVALID, "no credential provider");
    return p->ops->get(p, out, e);
}

void credprov_free(credprov *p)
{
    if (p != NULL)
        p->ops->destroy(p);
}

const char *credprov_name(const credprov *p)
{
    return p ? p->ops->name(p) : "none";
}

/* ---- static ---- */

typedef struct static_prov {
    credprov base;
    aws_creds *creds;
    char *name;
} static_prov;

static bool static_get(credprov *p, aws_creds **out, err *e)
{
    (void)e;
    *out = creds_dup(((static_prov *)p)->creds);
    return true;
}

static const char *static_name(const credprov *p)
{
    return ((const static_prov *)p)->name;
}

static void static_destroy(credprov *p)
{
    static_prov *s = (static_prov *)p;
    creds_free(s->creds);
    free(s->name);
    free(s);
}

static const credprov_ops static_ops = {static_get, static_name, static_destroy};

/* Takes ownership of creds. */
static credprov *static_new(aws_creds *creds, const char *name)
{
    static_prov *s = xcalloc(1, sizeof *s);
    s->base.ops = &static_ops;
    s->creds = creds;
    s->name = xstrdup(name);
    return &s->base;
}

credprov *credprov_static(const aws_creds *creds)
{
    return static_new(creds_dup(creds), creds->source ? creds->source : "static");
}

/* ---- refreshing base ---- */

typedef struct refreshing {
    credprov base;
    pthread_mutex_t lock;
    cp_ctx ctx;
    char *name;
    cp_fetch_fn fetch;
    void (*impl_free)(void *);
    void *impl;
    aws_creds *cached;
} refreshing;

static bool refreshing_get(credprov *p, aws_creds **out, err *e)
{
    refreshing *r = (refreshing *)p;
    pthread_mutex_lock(&r->lock);
    time_t now = cp_now(&r->ctx);
    if (r->cached && !creds_expiring(r->cached, now, CREDPROV_ADVISORY_REFRESH_SECONDS)) {
        *out = creds_dup(r->cached);
        pthread_mutex_unlock(&r->lock);
        return true;
    }
    /* Within the advisory window still-valid credentials may be handed out
     * when the refresh fails; within the mandatory window they may not. */
    bool mandatory =
        r->cached == NULL || creds_expiring(r->cached, now, CREDPROV_MANDATORY_REFRESH_SECONDS);
    aws_creds *fresh = NULL;
    err ferr;
    err_clear(&ferr);
    bool ok = r->fetch(r->impl, &fresh, &ferr);
    if (ok && fresh->expiration != 0 && fresh->expiration <= now) {
        char when[TIMEUTIL_ISO8601_LEN];
        timeutil_format_iso8601(fresh->expiration, when);
        err_set(&ferr, ERR_AUTH, "%s: credentials were refreshed but are already expired (%s)",
                r->name, when);
        creds_free(fresh);
        fresh = NULL;
        ok = false;
    }
    if (ok) {
        creds_free(r->cached);
        r->cached = fresh;
        *out = creds_dup(fresh);
    } else if (!mandatory) {
        *out = creds_dup(r->cached);
        ok = true;
    } else if (e != NULL) {
        *e = ferr;
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static const char *refreshing_name(const credprov *p)
{
    return ((const refreshing *)p)->name;
}

static void refreshing_destroy(credprov *p)
{
    refreshing *r = (refreshing *)p;
    pthread_mutex_destroy(&r->lock);
    creds_free(r->cached);
    if (r->impl_free)
        r->impl_free(r->impl);
    cp_ctx_free(&r->ctx);
    free(r->name);
    free(r);
}

static const credprov_ops refreshing_ops = {refreshing_get, refreshing_name, refreshing_destroy};

credprov *cp_refreshing_new(const cp_ctx *ctx, const char *name, cp_fetch_fn fetch,
                            void (*impl_free)(void *), void *impl, aws_creds *initial)
{
    refreshing *r = xcalloc(1, sizeof *r);
    r->base.ops = &refreshing_ops;
    pthread_mutex_init(&r->lock, NULL);
    cp_ctx_copy(&r->ctx, ctx);
    r->name = xstrdup(name);
    r->fetch = fetch;
    r->impl_free = impl_free;
    r->impl = impl;
    r->cached = initial;
    return &r->base;
}

/* ---- environment ---- */

typedef struct env_impl {
    cp_ctx ctx;
} env_impl;

/* botocore's EnvProvider; the legacy AWS_SECURITY_TOKEN is looked at first,
 * as botocore does. */
static bool env_read(const cp_ctx *ctx, bool require_expiry, aws_creds **out, err *e)
{
    const char *id = cp_getenv(ctx, "AWS_ACCESS_KEY_ID");
    const char *secret = cp_getenv(ctx, "AWS_SECRET_ACCESS_KEY");
    if (id == NULL)
        return err_set(e, ERR_CONFIG,
                       "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    if (secret == NULL)
        return err_set(e, ERR_CONFIG,
                       "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    const char *token = cp_getenv(ctx, "AWS_SECURITY_TOKEN");
    if (token == NULL)
        token = cp_getenv(ctx, "AWS_SESSION_TOKEN");
    const char *exp = cp_getenv(ctx, "AWS_CREDENTIAL_EXPIRATION");
    time_t expiration = 0;
    if (exp == NULL && require_expiry)
        return err_set(e, ERR_CONFIG,
                       "environment: AWS_CREDENTIAL_EXPIRATION is no longer set; cannot refresh");
    if (exp != NULL && !timeutil_parse_iso8601(exp, &expiration, e))
        return err_prefix(e, "environment: AWS_CREDENTIAL_EXPIRATION");
    *out = creds_new(id, secret, token, expiration, "environment");
    return true;
}

static bool env_fetch(void *impl, aws_creds **out, err *e)
{
    return env_read(&((env_impl *)impl)->ctx, true, out, e);
}

static void env_impl_free(void *p)
{
    env_impl *ei = p;
    cp_ctx_free(&ei->ctx);
    free(ei);
}

cp_result cp_env_resolve(const cp_ctx *ctx, credprov **out, strbuf *why, err *e)
{
    *out = NULL;
    if (cp_getenv(ctx, "AWS_ACCESS_KEY_ID") == NULL &&
        cp_getenv(ctx, "AWS_SECRET_ACCESS_KEY") == NULL) {
        strbuf_puts(why, "AWS_ACCESS_KEY_ID not set");
        return CP_NONE;
    }
    aws_creds *c = NULL;
    if (!env_read(ctx, false, &c, e))
        return CP_ERROR;
    if (c->expiration == 0) {
        *out = static_new(c, "environment");
        return CP_FOUND;
    }
    env_impl *ei = xcalloc(1, sizeof *ei);
    cp_ctx_copy(&ei->ctx, ctx);
    *out = cp_refreshing_new(ctx, "environment", env_fetch, env_impl_free, ei, NULL);
    creds_free(c); /* the first get re-reads, and checks the expiry */
    return CP_FOUND;
}

/* ---- shared files ---- */

typedef struct chain_state {
    const cp_ctx *ctx;
    const aws_shared_files *files;
    /* profiles visited along a source_profile chain, for loop detection */
    char *visited[CP_MAX_ROLE_DEPTH + 1];
    size_t nvisited;
} chain_state;

static const char *pget(const chain_state *st, const char *profile, const char *key)
{
    return aws_shared_files_get(st->files, profile, key);
}

/* Static keys from one file's profile section (botocore's
 * SharedCredentialProvider / ConfigProvider). */
static cp_result file_static(const awsconfig *cfg, const char *path, const char *section,
                             const char *profile, const char *name, credprov **out, err *e)
{
    const char *id = awsconfig_get(cfg, section, "aws_access_key_id");
    if (id == NULL)
        return CP_NONE;
    const char *secret = awsconfig_get(cfg, section, "aws_secret_access_key");
    if (secret == NULL || *secret == '\0') {
        err_set(e, ERR_CONFIG,
                "profile '%s' in %s has aws_access_key_id but no aws_secret_access_key", profile,
                path);
        return CP_ERROR;
    }
    const char *token = awsconfig_get(cfg, section, "aws_security_token");
    if (token == NULL)
        token = awsconfig_get(cfg, section, "aws_session_token");
    if (token != NULL && *token == '\0')
        token = NULL;
    *out = static_new(creds_new(id, secret, token, 0, name), name);
    return CP_FOUND;
}

static cp_result web_identity_from(const chain_state *st, const char *profile, bool use_env,
                                   credprov **out, strbuf *why, err *e)
{
    const char *token_file = use_env ? cp_getenv(st->ctx, "AWS_WEB_IDENTITY_TOKEN_FILE") : NULL;
    bool from_env = token_file != NULL;
    if (token_file == NULL && profile != NULL)
        token_file = pget(st, profile, "web_identity_token_file");
    if (token_file == NULL || *token_file == '\0') {
        if (why)
            strbuf_puts(why, "AWS_WEB_IDENTITY_TOKEN_FILE not set");
        return CP_NONE;
    }
    const char *role_arn = use_env ? cp_getenv(st->ctx, "AWS_ROLE_ARN") : NULL;
    if (role_arn == NULL && profile != NULL)
        role_arn = pget(st, profile, "role_arn");
    if (role_arn == NULL || *role_arn == '\0') {
        err_set(e, ERR_CONFIG,
                "web identity: %s sets the token file '%s' but no role ARN; set role_arn in the "
                "profile or AWS_ROLE_ARN",
                from_env ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "the profile", token_file);
        return CP_ERROR;
    }
    const char *session = use_env ? cp_getenv(st->ctx, "AWS_ROLE_SESSION_NAME") : NULL;
    if (session == NULL && profile != NULL)
        session = pget(st, profile, "role_session_name");
    char *path = cp_expand_user(st->ctx, token_file);
    *out = cp_web_identity_new(st->ctx, path, role_arn, session);
    free(path);
    return CP_FOUND;
}

/* botocore's ProfileProviderBuilder order after the assume-role check: web
 * identity, shared credentials file, credential_process, config file. */
static cp_result profile_sources(const chain_state *st, const char *profile, bool use_env,
                                 credprov **out, strbuf *wi_why, err *e)
{
    const aws_shared_files *f = st->files;
    cp_result r = web_identity_from(st, profile, use_env, out, wi_why, e);
    if (r != CP_NONE)
        return r;
    r = file_static(f->credentials, f->credentials_path, profile, profile,
                    "shared credentials file", out, e);
    if (r != CP_NONE)
        return r;
    const char *proc = pget(st, profile, "credential_process");
    if (proc != NULL && *proc != '\0') {
        *out = cp_process_new(st->ctx, proc, profile);
        return CP_FOUND;
    }
    return file_static(f->config, f->config_path, awsconfig_profile_section(f->config, profile),
                       profile, "config file", out, e);
}

static bool has_static(const chain_state *st, const char *profile)
{
    return pget(st, profile, "aws_access_key_id") || pget(st, profile, "aws_secret_access_key");
}

static bool has_role(const chain_state *st, const char *profile)
{
    return pget(st, profile, "role_arn") && !pget(st, profile, "web_identity_token_file");
}

static void visited_list(const chain_state *st, strbuf *sb)
{
    for (size_t i = 0; i < st->nvisited; i++)
        strbuf_printf(sb, "%s'%s'", i ? ", " : "", st->visited[i]);
}

static cp_result role_source(chain_state *st, const char *profile, credprov **out, err *e);

/* botocore's AssumeRoleProvider._load_creds_via_assume_role for `profile`. */
static cp_result assume_role_profile(chain_state *st, const char *profile, credprov **out, err *e)
{
    const char *role_arn = pget(st, profile, "role_arn");
    const char *mfa = pget(st, profile, "mfa_serial");
    if (mfa != NULL) {
        err_set(e, ERR_CONFIG,
                "profile '%s' sets mfa_serial '%s': roles that need an MFA token code are not "
                "supported (there is no way to prompt for one); use credentials from a session "
                "that already passed MFA",
                profile, mfa);
        return CP_ERROR;
    }
    credprov_role role = {
        .role_arn = role_arn,
        .session_name = pget(st, profile, "role_session_name"),
        .external_id = pget(st, profile, "external_id"),
    };
    const char *dur = pget(st, profile, "duration_seconds");
    if (dur != NULL) {
        char *end = NULL;
        errno = 0;
        long v = strtol(dur, &end, 10);
        if (errno || end == dur || *end != '\0' || v <= 0 || v > 43200) {
            err_set(e, ERR_CONFIG,
                    "profile '%s': duration_seconds '%s' is not a number of seconds (900..43200)",
                    profile, dur);
            return CP_ERROR;
        }
        role.duration_seconds = (int)v;
    }
    credprov *source = NULL;
    cp_result r = role_source(st, profile, &source, e);
    if (r != CP_FOUND)
        return CP_ERROR;
    char *name = xasprintf("assume role (profile '%s')", profile);
    *out = cp_assume_role_new(st->ctx, source, &role, name);
    free(name);
    return CP_FOUND;
}

static cp_result credential_source(chain_state *st, const char *profile, const char *src,
                                   credprov **out, err *e)
{
    strbuf why = STRBUF_INIT;
    cp_result r;
    if (strcasecmp(src, "Environment") == 0) {
        r = cp_env_resolve(st->ctx, out, &why, e);
    } else if (strcasecmp(src, "EcsContainer") == 0) {
        r = cp_container_resolve(st->ctx, out, &why, e);
    } else if (strcasecmp(src, "Ec2InstanceMetadata") == 0) {
        const char *ep = pget(st, profile, "ec2_metadata_service_endpoint");
        r = cp_imds_resolve(st->ctx, ep, out, &why, e);
    } else {
        strbuf_free(&why);
        err_set(e, ERR_CONFIG,
                "profile '%s': credential_source '%s' is not valid (use Environment, "
                "Ec2InstanceMetadata or EcsContainer)",
                profile, src);
        return CP_ERROR;
    }
    if (r == CP_NONE) {
        err_set(e, ERR_NO_CREDENTIALS,
                "profile '%s': no credentials found in credential_source '%s' (%s)", profile, src,
                strbuf_str(&why));
        r = CP_ERROR;
    }
    strbuf_free(&why);
    return r;
}

/* Source credentials for profile's role (botocore's _resolve_source_credentials). */
static cp_result role_source(chain_state *st, const char *profile, credprov **out, err *e)
{
    const char *sp = pget(st, profile, "source_profile");
    const char *cs = pget(st, profile, "credential_source");
    if (sp && cs) {
        err_set(e, ERR_CONFIG, "profile '%s' contains both source_profile and credential_source",
                profile);
        return CP_ERROR;
    }
    if (!sp && !cs) {
        err_set(e, ERR_CONFIG,
                "profile '%s' sets role_arn but neither source_profile nor credential_source",
                profile);
        return CP_ERROR;
    }
    if (cs)
        return credential_source(st, profile, cs, out, e);

    if (!aws_shared_files_has_profile(st->files, sp)) {
        err_set(e, ERR_CONFIG, "source_profile '%s' referenced in profile '%s' does not exist", sp,
                profile);
        return CP_ERROR;
    }
    bool seen = false;
    for (size_t i = 0; i < st->nvisited; i++)
        if (strcmp(st->visited[i], sp) == 0)
            seen = true;
    /* A profile may name itself to take static keys and role settings from
     * one section; any other revisit is a loop. */
    if (seen && (strcmp(sp, profile) != 0 || !has_static(st, sp))) {
        strbuf sb = STRBUF_INIT;
        visited_list(st, &sb);
        err_set(e, ERR_CONFIG,
                "infinite loop in source_profile chain: profile '%s' was already visited "
                "(visited: %s)",
                sp, strbuf_str(&sb));
        strbuf_free(&sb);
        return CP_ERROR;
    }
    if (st->nvisited >= CP_MAX_ROLE_DEPTH) {
        strbuf sb = STRBUF_INIT;
        visited_list(st, &sb);
        err_set(e, ERR_LIMIT, "source_profile chain longer than %d profiles (visited: %s)",
                CP_MAX_ROLE_DEPTH, strbuf_str(&sb));
        strbuf_free(&sb);
        return CP_ERROR;
    }
    st->visited[st->nvisited++] = xstrdup(sp);

    if (has_static(st, sp) || !has_role(st, sp)) {
        cp_result r = profile_sources(st, sp, false, out, NULL, e);
        if (r == CP_NONE) {
            err_set(e, ERR_CONFIG, "source profile '%s' (of profile '%s') has no credentials", sp,
                    profile);
            return CP_ERROR;
        }
        return r;
    }
    return assume_role_profile(st, sp, out, e);
}

/* ---- the default chain ---- */

typedef struct chain {
    credprov base;
    pthread_mutex_t lock;
    cp_ctx ctx;
    char *profile; /* explicit, from options */
    credprov *chosen;
} chain;

static void append_files_why(strbuf *why, const aws_shared_files *f, const char *profile,
                             bool exists)
{
    strbuf_printf(why, "profile '%s' %s %s or %s", profile,
                  exists ? "has no credentials in" : "not found in", f->credentials_path,
                  f->config_path);
}

static cp_result chain_resolve(chain *c, credprov **out, err *e)
{
    const cp_ctx *ctx = &c->ctx;
    bool explicit_opt = c->profile != NULL;
    const char *profile = c->profile;
    bool named = true;
    if (profile == NULL)
        profile = cp_getenv(ctx, "AWS_DEFAULT_PROFILE");
    if (profile == NULL)
        profile = cp_getenv(ctx, "AWS_PROFILE");
    if (profile == NULL) {
        profile = "default";
        named = false;
    }

    strbuf why_env = STRBUF_INIT, why_files = STRBUF_INIT, why_wi = STRBUF_INIT,
           why_container = STRBUF_INIT, why_imds = STRBUF_INIT;
    aws_shared_files files;
    memset(&files, 0, sizeof files);
    chain_state st = {.ctx = ctx, .files = &files};
    cp_result r = CP_ERROR;
    *out = NULL;

    const char *cfgenv = cp_getenv(ctx, "AWS_CONFIG_FILE");
    const char *credenv = cp_getenv(ctx, "AWS_SHARED_CREDENTIALS_FILE");
    char *cfg = cp_expand_user(ctx, cfgenv ? cfgenv : "~/.aws/config");
    char *cred = cp_expand_user(ctx, credenv ? credenv : "~/.aws/credentials");
    bool loaded = aws_shared_files_load(cfg, cred, &files, e);
    free(cfg);
    free(cred);
    if (!loaded) {
        err_prefix(e, "shared AWS config files");
        goto done;
    }
    bool exists = aws_shared_files_has_profile(&files, profile);
    if (named && !exists) {
        err_set(e, ERR_CONFIG, "profile '%s' not found in %s or %s", profile,
                files.credentials_path, files.config_path);
        goto done;
    }

    if (explicit_opt) {
        strbuf_puts(&why_env, "skipped: a profile was named explicitly");
    } else if ((r = cp_env_resolve(ctx, out, &why_env, e)) != CP_NONE) {
        goto done;
    }

    if (exists && has_role(&st, profile)) {
        st.visited[st.nvisited++] = xstrdup(profile);
        r = assume_role_profile(&st, profile, out, e);
        goto done;
    }

    if (exists) {
        r = profile_sources(&st, profile, !explicit_opt, out, &why_wi, e);
    } else {
        r = web_identity_from(&st, NULL, !explicit_opt, out, &why_wi, e);
    }
    if (r != CP_NONE)
        goto done;
    append_files_why(&why_files, &files, profile, exists);

    if ((r = cp_container_resolve(ctx, out, &why_container, e)) != CP_NONE)
        goto done;
    const char *ep = exists ? pget(&st, profile, "ec2_metadata_service_endpoint") : NULL;
    if ((r = cp_imds_resolve(ctx, ep, out, &why_imds, e)) != CP_NONE)
        goto done;

    err_set(e, ERR_NO_CREDENTIALS,
            "no AWS credentials found; tried: environment (%s), shared files (%s), web identity "
            "(%s), container (%s), instance metadata (%s)",
            strbuf_str(&why_env), strbuf_str(&why_files), strbuf_str(&why_wi),
            strbuf_str(&why_container), strbuf_str(&why_imds));
    r = CP_NONE;

done:
    for (size_t i = 0; i < st.nvisited; i++)
        free(st.visited[i]);
    aws_shared_files_free(&files);
    strbuf_free(&why_env);
    strbuf_free(&why_files);
    strbuf_free(&why_wi);
    strbuf_free(&why_container);
    strbuf_free(&why_imds);
    return r;
}

static bool chain_get(credprov *p, aws_creds **out, err *e)
{
    chain *c = (chain *)p;
    pthread_mutex_lock(&c->lock);
    if (c->chosen == NULL) {
        credprov *found = NULL;
        if (chain_resolve(c, &found, e) != CP_FOUND) {
            pthread_mutex_unlock(&c->lock);
            return false;
        }
        /* The chosen source's first answer decides: an error there is the
         * chain's error (botocore does not fall through either), and the
         * next get resolves again. */
        if (!credprov_get(found, out, e)) {
            credprov_free(found);
            pthread_mutex_unlock(&c->lock);
            return false;
        }
        c->chosen = found;
        pthread_mutex_unlock(&c->lock);
        return true;
    }
    credprov *chosen = c->chosen;
    pthread_mutex_unlock(&c->lock);
    return credprov_get(chosen, out, e);
}

static const char *chain_name(const credprov *p)
{
    const chain *c = (const chain *)p;
    return c->chosen ? credprov_name(c->chosen) : "default chain";
}

static void chain_destroy(credprov *p)
{
    chain *c = (chain *)p;
    credprov_free(c->chosen);
    pthread_mutex_destroy(&c->lock);
    cp_ctx_free(&c->ctx);
    free(c->profile);
    free(c);
}

static const credprov_ops chain_ops = {chain_get, chain_name, chain_destroy};

credprov *credprov_default_chain(const credprov_options *opts, err *e)
{
    if (opts && opts->profile && opts->profile[0] == '\0') {
        err_set(e, ERR_INVALID, "credential options: the profile name is empty");
        return NULL;
    }
    chain *c = xcalloc(1, sizeof *c);
    c->base.ops = &chain_ops;
    pthread_mutex_init(&c->lock, NULL);
    cp_ctx_init(&c->ctx, opts);
    c->profile = opts && opts->profile ? xstrdup(opts->profile) : NULL;
    return &c->base;
}

credprov *credprov_assume_role(credprov *source, const credprov_role *role,
                               const credprov_options *opts, err *e)
{
    if (source == NULL || role == NULL || role->role_arn == NULL || role->role_arn[0] == '\0') {
        credprov_free(source);
        err_set(e, ERR_INVALID, "assume role: a source provider and a role ARN are required");
        return NULL;
    }
    cp_ctx ctx;
    cp_ctx_init(&ctx, opts);
    char *name = xasprintf("assume role '%s'", role->role_arn);
    credprov *p = cp_assume_role_new(&ctx, source, role, name);
    free(name);
    cp_ctx_free(&ctx);
    return p;
}
