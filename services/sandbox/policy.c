/* IAM policy evaluation: matching, conditions and AWS's decision logic
 * (see policy.h for the rules). */
#include "policy.h"
#include "policy_internal.h"

#include "core/strbuf.h"
#include "core/timeutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- matching ---- */

bool policy_glob(const char *pattern, const char *s, bool ignore_case)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        char pc = *pattern, sc = *s;
        if (ignore_case) {
            pc = (char)tolower((unsigned char)pc);
            sc = (char)tolower((unsigned char)sc);
        }
        if (pc == '*') {
            star = pattern++;
            resume = s;
        } else if (pc != '\0' && (pc == '?' || pc == sc)) {
            pattern++;
            s++;
        } else if (star) {
            pattern = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == '\0';
}

/* Everything one evaluation needs to answer context-key lookups. */
typedef struct evalenv {
    const sbx_principal *p;
    const char *action_lc;
    const char *resource; /* NULL: do not match resources (trust policies) */
    const policy_context *ctx;
    char timebuf[TIMEUTIL_ISO8601_LEN];
    char epochbuf[24];
} evalenv;

#define MAX_CTX_VALUES 16

static bool key_is(const char *key, const char *name)
{
    return strcasecmp(key, name) == 0;
}

/* "ec2:Region", "rds:Region": any service's region key. */
static bool is_service_region_key(const char *key)
{
    const char *colon = strchr(key, ':');
    return colon && strcasecmp(colon + 1, "Region") == 0;
}

/* The request context's values for key (none when absent). */
static size_t ctx_values(evalenv *env, const char *key, const char **out)
{
    size_t n = 0;
    const policy_context *ctx = env->ctx;
    if (ctx)
        for (size_t i = 0; i < ctx->nkv && n < MAX_CTX_VALUES; i++)
            if (ctx->kv[i].key && ctx->kv[i].value && key_is(ctx->kv[i].key, key))
                out[n++] = ctx->kv[i].value;
    if (n)
        return n;
    const sbx_principal *p = env->p;
    const char *v = NULL;
    if (strncasecmp(key, "aws:", 4) == 0) {
        const char *k = key + 4;
        if (key_is(k, "RequestedRegion") && ctx)
            v = ctx->region;
        else if (key_is(k, "SourceIp") && ctx)
            v = ctx->source_ip;
        else if (key_is(k, "SecureTransport") && ctx)
            v = ctx->secure_transport ? "true" : "false";
        else if (key_is(k, "PrincipalOrgID") && ctx)
            v = ctx->org_id;
        else if (key_is(k, "CurrentTime") && ctx && ctx->now) {
            timeutil_format_iso8601(ctx->now, env->timebuf);
            v = env->timebuf;
        } else if (key_is(k, "EpochTime") && ctx && ctx->now) {
            snprintf(env->epochbuf, sizeof env->epochbuf, "%lld", (long long)ctx->now);
            v = env->epochbuf;
        } else if (key_is(k, "PrincipalIsAWSService"))
            v = "false";
        else if (p && key_is(k, "PrincipalAccount"))
            v = p->account ? p->account->id : NULL;
        else if (p && key_is(k, "PrincipalArn"))
            v = p->session ? (p->role ? p->role->arn : p->session->role_arn)
                           : (p->user ? p->user->arn : p->arn);
        else if (p && key_is(k, "PrincipalType"))
            v = p->session ? "AssumedRole" : "User";
        else if (p && key_is(k, "userid"))
            v = p->session ? p->session->assumed_role_id : (p->user ? p->user->id : NULL);
        else if (p && key_is(k, "username"))
            v = (!p->session && p->user) ? p->user->name : NULL;
        else if (p && key_is(k, "SourceIdentity"))
            v = p->session ? p->session->source_identity : NULL;
    } else if (is_service_region_key(key) && ctx) {
        v = ctx->region;
    }
    if (v)
        out[n++] = v;
    return n;
}

static bool parse_number(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == '\0';
}

/* Dates are ISO 8601 or epoch seconds, as AWS accepts both. */
static bool parse_date(const char *s, double *out)
{
    if (parse_number(s, out))
        return true;
    time_t t;
    if (!timeutil_parse_iso8601(s, &t, NULL))
        return false;
    *out = (double)t;
    return true;
}

static bool compare(cond_cmp cmp, double a, double b)
{
    switch (cmp) {
    case CMP_EQ:
        return a == b;
    case CMP_LT:
        return a < b;
    case CMP_LE:
        return a <= b;
    case CMP_GT:
        return a > b;
    case CMP_GE:
        return a >= b;
    }
    return false;
}

/* IPv4 address in a CIDR block ("10.0.0.0/8" or a bare address). */
static bool ip_in_cidr(const char *ip, const char *cidr)
{
    char net[64];
    const char *slash = strchr(cidr, '/');
    size_t len = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (len >= sizeof net)
        return false;
    memcpy(net, cidr, len);
    net[len] = '\0';
    int bits = slash ? atoi(slash + 1) : 32;
    struct in_addr a, b;
    if (bits < 0 || bits > 32 || inet_pton(AF_INET, ip, &a) != 1 ||
        inet_pton(AF_INET, net, &b) != 1)
        return false;
    uint32_t mask = bits == 0 ? 0 : htonl(0xffffffffu << (32 - bits));
    return (a.s_addr & mask) == (b.s_addr & mask);
}

/* The positive form of op for one request value against one policy value. */
static bool match_value(const cond_op *op, const char *cv, const char *pv)
{
    double a, b;
    switch (op->kind) {
    case CK_STRING:
    case CK_ARN_EQ:
        return strcmp(cv, pv) == 0;
    case CK_STRING_IC:
        return strcasecmp(cv, pv) == 0;
    case CK_LIKE:
    case CK_ARN_LIKE:
        return policy_glob(pv, cv, false);
    case CK_NUMERIC:
        return parse_number(cv, &a) && parse_number(pv, &b) && compare(op->cmp, a, b);
    case CK_DATE:
        return parse_date(cv, &a) && parse_date(pv, &b) && compare(op->cmp, a, b);
    case CK_BOOL:
        return strcasecmp(cv, pv) == 0;
    case CK_IP:
        return ip_in_cidr(cv, pv);
    case CK_NULL:
        return false;
    }
    return false;
}

static bool any_policy_value(const pcond *c, const char *cv)
{
    for (size_t i = 0; i < c->nvals; i++)
        if (match_value(c->op, cv, c->vals[i]))
            return true;
    return false;
}

static bool eval_condition(evalenv *env, const pcond *c)
{
    const char *cvals[MAX_CTX_VALUES];
    size_t n = ctx_values(env, c->key, cvals);
    if (c->op->kind == CK_NULL) {
        bool want_absent = strcasecmp(c->vals[0], "true") == 0;
        return (n == 0) == want_absent;
    }
    if (n == 0) {
        if (c->if_exists || c->set == SET_ALL)
            return true;
        return c->op->negated && c->set == SET_PLAIN;
    }
    if (c->set == SET_ALL || (c->set == SET_PLAIN && c->op->negated)) {
        /* Every request value must satisfy the (possibly negated) test. */
        for (size_t i = 0; i < n; i++)
            if (any_policy_value(c, cvals[i]) == c->op->negated)
                return false;
        return true;
    }
    for (size_t i = 0; i < n; i++)
        if (any_policy_value(c, cvals[i]) != c->op->negated)
            return true;
    return false;
}

static bool action_matches(const pstmt *s, const char *action_lc)
{
    bool hit = false;
    for (size_t i = 0; i < s->nactions && !hit; i++)
        hit = policy_glob(s->actions[i], action_lc, false);
    return hit != s->not_action;
}

/* Substitutes ${key} policy variables; false when one has no value (then
 * that resource entry matches nothing, as in AWS). */
static bool expand_vars(evalenv *env, const char *pattern, strbuf *out)
{
    strbuf_reset(out);
    for (const char *p = pattern; *p;) {
        if (p[0] != '$' || p[1] != '{') {
            strbuf_putc(out, *p++);
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close) {
            strbuf_puts(out, p);
            break;
        }
        char key[128];
        size_t len = (size_t)(close - p - 2);
        if (len >= sizeof key)
            return false;
        memcpy(key, p + 2, len);
        key[len] = '\0';
        if (strcmp(key, "*") == 0 || strcmp(key, "?") == 0 || strcmp(key, "$") == 0) {
            strbuf_putc(out, key[0]);
        } else {
            const char *vals[MAX_CTX_VALUES];
            if (ctx_values(env, key, vals) == 0)
                return false;
            strbuf_puts(out, vals[0]);
        }
        p = close + 1;
    }
    return true;
}

static bool resource_matches(evalenv *env, const ppolicy *pp, const pstmt *s)
{
    if (!env->resource || !s->has_resource)
        return env->resource == NULL;
    bool hit = false;
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < s->nresources && !hit; i++) {
        const char *pat = s->resources[i];
        if (pp->vars && strstr(pat, "${")) {
            if (!expand_vars(env, pat, &sb))
                continue;
            pat = strbuf_str(&sb);
        }
        hit = policy_glob(pat, env->resource, false);
    }
    strbuf_free(&sb);
    return hit != s->not_resource;
}

static bool principal_value_matches(const char *v, const sbx_principal *p)
{
    if (strcmp(v, "*") == 0)
        return true;
    const char *acct = p->account ? p->account->id : NULL;
    if (acct) {
        if (strcmp(v, acct) == 0)
            return true;
        char root[64];
        snprintf(root, sizeof root, "arn:aws:iam::%s:root", acct);
        if (strcmp(v, root) == 0)
            return true;
    }
    if (p->session) {
        const char *role_arn = p->role ? p->role->arn : p->session->role_arn;
        return (role_arn && strcmp(v, role_arn) == 0) || (p->arn && strcmp(v, p->arn) == 0);
    }
    const char *arn = p->user ? p->user->arn : p->arn;
    return arn && strcmp(v, arn) == 0;
}

static bool principal_matches(const pstmt *s, const sbx_principal *p)
{
    if (!s->has_principal)
        return true;
    bool hit = false;
    for (size_t i = 0; p && i < s->nprincipals && !hit; i++)
        hit = principal_value_matches(s->principals[i], p);
    return hit != s->not_principal;
}

static policy_decision eval_parsed(evalenv *env, const ppolicy *pp, bool trust)
{
    policy_decision d = POLICY_IMPLICIT_DENY;
    for (size_t i = 0; i < pp->n; i++) {
        const pstmt *s = &pp->st[i];
        if (!action_matches(s, env->action_lc))
            continue;
        if (trust ? !principal_matches(s, env->p)
                  : (s->has_principal || !resource_matches(env, pp, s)))
            continue;
        bool conds = true;
        for (size_t j = 0; j < s->nconds && conds; j++)
            conds = eval_condition(env, &s->conds[j]);
        if (!conds)
            continue;
        if (s->deny)
            return POLICY_EXPLICIT_DENY;
        d = POLICY_ALLOW;
    }
    return d;
}

static void lower_copy(const char *s, char *out, size_t outlen)
{
    size_t i = 0;
    for (; s[i] && i + 1 < outlen; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

static policy_decision eval_text(evalenv *env, const char *text, bool trust)
{
    if (!text || !*text)
        return POLICY_IMPLICIT_DENY;
    const ppolicy *pp = policy_cache_get(text, NULL);
    return pp ? eval_parsed(env, pp, trust) : POLICY_IMPLICIT_DENY;
}

/* ---- public ---- */

bool policy_validate(const char *text, policy_kind kind, err *e)
{
    if (!text)
        return err_set(e, ERR_PARSE, "The policy is not in the valid JSON format.");
    policy_cache_trim();
    const char *error;
    const ppolicy *pp = policy_cache_get(text, &error);
    if (!pp)
        return err_set(e, ERR_PARSE, "%s", error);
    for (size_t i = 0; i < pp->n; i++) {
        const pstmt *s = &pp->st[i];
        if (kind == POLICY_KIND_IDENTITY && s->has_principal)
            return err_set(e, ERR_PARSE, "Policy document should not specify a principal.");
        if (kind == POLICY_KIND_IDENTITY && !s->has_resource)
            return err_set(e, ERR_PARSE, "Syntax errors in policy.");
        if (kind == POLICY_KIND_TRUST && !s->has_principal)
            return err_set(e, ERR_PARSE, "Syntax errors in policy.");
    }
    return true;
}

policy_decision policy_eval(const char *text, const sbx_principal *p, const char *action,
                            const char *resource, const policy_context *ctx)
{
    policy_cache_trim();
    char action_lc[256];
    lower_copy(action, action_lc, sizeof action_lc);
    evalenv env = {
        .p = p, .action_lc = action_lc, .resource = resource ? resource : "*", .ctx = ctx};
    return eval_text(&env, text, false);
}

bool policy_authorize(const sbx_principal *p, const char *action, const char *resource,
                      const policy_context *ctx, char *why, size_t whylen)
{
    policy_cache_trim();
    char action_lc[256];
    lower_copy(action, action_lc, sizeof action_lc);
    evalenv env = {
        .p = p, .action_lc = action_lc, .resource = resource ? resource : "*", .ctx = ctx};
    char *const *pols = NULL;
    size_t npols = 0;
    if (p && p->session && p->role) {
        pols = p->role->policies;
        npols = p->role->npolicies;
    } else if (p && !p->session && p->user) {
        pols = p->user->policies;
        npols = p->user->npolicies;
    }
    bool id_allow = false;
    for (size_t i = 0; i < npols; i++) {
        policy_decision d = eval_text(&env, pols[i], false);
        if (d == POLICY_EXPLICIT_DENY) {
            if (why)
                snprintf(why, whylen, "with an explicit deny in an identity-based policy");
            return false;
        }
        id_allow |= d == POLICY_ALLOW;
    }
    const char *sp = p && p->session ? p->session->policy : NULL;
    policy_decision sd = sp ? eval_text(&env, sp, false) : POLICY_ALLOW;
    if (sd == POLICY_EXPLICIT_DENY) {
        if (why)
            snprintf(why, whylen, "with an explicit deny in a session policy");
        return false;
    }
    if (!id_allow) {
        if (why)
            snprintf(why, whylen, "because no identity-based policy allows the %s action", action);
        return false;
    }
    if (sd != POLICY_ALLOW) {
        if (why)
            snprintf(why, whylen, "because no session policy allows the %s action", action);
        return false;
    }
    if (why && whylen)
        why[0] = '\0';
    return true;
}

bool policy_trust_allows(const char *trust_policy, const sbx_principal *p, const char *action,
                         const policy_context *ctx, char *why, size_t whylen)
{
    policy_cache_trim();
    char action_lc[256];
    lower_copy(action, action_lc, sizeof action_lc);
    evalenv env = {.p = p, .action_lc = action_lc, .resource = NULL, .ctx = ctx};
    policy_decision d = eval_text(&env, trust_policy, true);
    if (d == POLICY_ALLOW) {
        if (why && whylen)
            why[0] = '\0';
        return true;
    }
    if (why)
        snprintf(why, whylen, "%s",
                 d == POLICY_EXPLICIT_DENY ? "the role's trust policy explicitly denies it"
                                           : "the role's trust policy does not allow it");
    return false;
}
