/* AWS STS (query protocol, 2011-06-15): AssumeRole and GetCallerIdentity.
 *
 * AssumeRole is where the sandbox's identity model comes together: the
 * caller's own policies must allow sts:AssumeRole on the role, the role's
 * trust policy must name the caller (with its conditions, e.g.
 * sts:ExternalId), the duration must fit the role and role chaining, and
 * the new session carries its session policy into every later
 * authorization. Errors and messages are AWS's. */
#include "call.h"
#include "policy.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STS_XMLNS "https://sts.amazonaws.com/doc/2011-06-15/"

#define STS_DEFAULT_DURATION 3600
#define STS_CHAIN_MAX        3600
#define STS_POLICY_MAX       2048
#define STS_MAX_TAGS         50

static const char SECRET_CHARS[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char TOKEN_CHARS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* ---- AWS's "N validation errors detected" ---- */

typedef struct sts_validation {
    strbuf msg;
    int n;
} sts_validation;

static void invalid(sts_validation *v, const char *value, const char *field, const char *rule)
{
    if (v->n++)
        strbuf_puts(&v->msg, "; ");
    if (value)
        strbuf_printf(&v->msg, "Value '%s' at '%s' failed to satisfy constraint: Member %s", value,
                      field, rule);
    else
        strbuf_printf(&v->msg, "Value null at '%s' failed to satisfy constraint: Member %s", field,
                      rule);
}

/* Characters allowed besides \w in a model pattern such as [\w+=,.@-]*. */
static bool chars_ok(const char *s, const char *extra)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_';
        if (!word && !strchr(extra, ch))
            return false;
    }
    return true;
}

/* Length and pattern of an optional string parameter, as the model says. */
static void check_string(sts_validation *v, const char *value, const char *field, size_t min,
                         size_t max, const char *extra, const char *pattern)
{
    if (!value)
        return;
    size_t len = strlen(value);
    char rule[160];
    if (len < min) {
        snprintf(rule, sizeof rule, "must have length greater than or equal to %zu", min);
        invalid(v, value, field, rule);
    }
    if (len > max) {
        snprintf(rule, sizeof rule, "must have length less than or equal to %zu", max);
        invalid(v, value, field, rule);
    }
    if (extra && !chars_ok(value, extra)) {
        snprintf(rule, sizeof rule, "must satisfy regular expression pattern: %s", pattern);
        invalid(v, value, field, rule);
    }
}

static bool validation_failed(sbx_call *c, sts_validation *v)
{
    if (v->n == 0) {
        strbuf_free(&v->msg);
        return false;
    }
    call_error(c, 400, "ValidationError", "%d validation error%s detected: %s", v->n,
               v->n == 1 ? "" : "s", strbuf_str(&v->msg));
    strbuf_free(&v->msg);
    return true;
}

/* ---- the request ---- */

typedef struct sts_tag {
    const char *key;
    const char *value;
} sts_tag;

typedef struct assume_req {
    const char *role_arn;
    const char *session_name;
    const char *policy;
    const char *external_id;
    const char *source_identity;
    const char *duration_text;
    long duration;
    sts_tag tags[STS_MAX_TAGS + 1];
    size_t ntags;
    char role_account[13];
    char role_name[128];
} assume_req;

static void read_tags(sbx_call *c, assume_req *r)
{
    for (size_t i = 1; i <= STS_MAX_TAGS + 1; i++) {
        char kname[48], vname[48];
        snprintf(kname, sizeof kname, "Tags.member.%zu.Key", i);
        snprintf(vname, sizeof vname, "Tags.member.%zu.Value", i);
        const char *k = call_param(c, kname);
        if (!k)
            break;
        const char *val = call_param(c, vname);
        r->tags[r->ntags++] = (sts_tag){k, val ? val : ""};
    }
}

/* arn:aws:iam::<12 digits>:role/<path/>name: the account and the name. */
static bool split_role_arn(assume_req *r)
{
    static const char prefix[] = "arn:aws:iam::";
    const char *s = r->role_arn;
    if (strncmp(s, prefix, sizeof prefix - 1) != 0)
        return false;
    s += sizeof prefix - 1;
    const char *colon = strchr(s, ':');
    if (!colon || colon - s != 12 || strncmp(colon + 1, "role/", 5) != 0)
        return false;
    const char *name = strrchr(colon + 1, '/') + 1;
    if (!*name || strlen(name) >= sizeof r->role_name)
        return false;
    snprintf(r->role_name, sizeof r->role_name, "%s", name);
    memcpy(r->role_account, s, 12);
    r->role_account[12] = '\0';
    return true;
}

static bool read_assume(sbx_call *c, assume_req *r)
{
    memset(r, 0, sizeof *r);
    r->role_arn = call_param(c, "RoleArn");
    r->session_name = call_param(c, "RoleSessionName");
    r->policy = call_param(c, "Policy");
    r->external_id = call_param(c, "ExternalId");
    r->source_identity = call_param(c, "SourceIdentity");
    r->duration_text = call_param(c, "DurationSeconds");
    r->duration = STS_DEFAULT_DURATION;
    read_tags(c, r);

    sts_validation v = {STRBUF_INIT, 0};
    if (!r->role_arn)
        invalid(&v, NULL, "roleArn", "must not be null");
    check_string(&v, r->role_arn, "roleArn", 20, 2048, NULL, NULL);
    if (!r->session_name)
        invalid(&v, NULL, "roleSessionName", "must not be null");
    check_string(&v, r->session_name, "roleSessionName", 2, 64, "+=,.@-", "[\\w+=,.@-]*");
    if (r->duration_text) {
        char *end;
        errno = 0;
        r->duration = strtol(r->duration_text, &end, 10);
        if (errno || end == r->duration_text || *end)
            invalid(&v, r->duration_text, "durationSeconds", "must be a number");
        else if (r->duration < 900)
            invalid(&v, r->duration_text, "durationSeconds",
                    "must have value greater than or equal to 900");
        else if (r->duration > 43200)
            invalid(&v, r->duration_text, "durationSeconds",
                    "must have value less than or equal to 43200");
    }
    check_string(&v, r->policy, "policy", 1, STS_POLICY_MAX, NULL, NULL);
    check_string(&v, r->external_id, "externalId", 2, 1224, "+=,.@:/-", "[\\w+=,.@:\\/-]*");
    check_string(&v, r->source_identity, "sourceIdentity", 2, 64, "+=,.@-", "[\\w+=,.@-]*");
    if (r->ntags > STS_MAX_TAGS)
        invalid(&v, "[...]", "tags", "must have length less than or equal to 50");
    for (size_t i = 0; i < r->ntags && i < STS_MAX_TAGS; i++) {
        char field[32];
        snprintf(field, sizeof field, "tags.%zu.member.key", i + 1);
        check_string(&v, r->tags[i].key, field, 1, 128, NULL, NULL);
        snprintf(field, sizeof field, "tags.%zu.member.value", i + 1);
        check_string(&v, r->tags[i].value, field, 0, 256, NULL, NULL);
    }
    if (validation_failed(c, &v))
        return false;
    if (!split_role_arn(r))
        return call_error(c, 400, "ValidationError", "%s is invalid", r->role_arn);
    return true;
}

/* AWS's answer for every refusal, whatever the reason, so a caller cannot
 * probe which roles exist or what their trust policies say. */
static bool assume_denied(sbx_call *c, const assume_req *r, const char *action, const char *why)
{
    call_note(c, "denied %s: %s", action, why);
    return call_error(c, 403, "AccessDenied",
                      "User: %s is not authorized to perform: %s on resource: %s",
                      call_principal(c)->arn, action, r->role_arn);
}

/* The request keys the trust policy and the caller's policies see. */
static size_t request_keys(const assume_req *r, policy_kv *kv, size_t cap, char tagkeys[][160])
{
    size_t n = 0;
    if (r->external_id)
        kv[n++] = (policy_kv){"sts:ExternalId", r->external_id};
    if (r->source_identity)
        kv[n++] = (policy_kv){"sts:SourceIdentity", r->source_identity};
    kv[n++] = (policy_kv){"sts:RoleSessionName", r->session_name};
    for (size_t i = 0; i < r->ntags && n + 2 <= cap; i++) {
        snprintf(tagkeys[i], 160, "aws:RequestTag/%s", r->tags[i].key);
        kv[n++] = (policy_kv){tagkeys[i], r->tags[i].value};
        kv[n++] = (policy_kv){"aws:TagKeys", r->tags[i].key};
    }
    return n;
}

/* The actions AssumeRole needs: sts:AssumeRole, plus sts:TagSession with
 * tags and sts:SetSourceIdentity with a source identity, as in AWS. */
static size_t needed_actions(const assume_req *r, const char **acts)
{
    size_t n = 0;
    acts[n++] = "sts:AssumeRole";
    if (r->ntags)
        acts[n++] = "sts:TagSession";
    if (r->source_identity)
        acts[n++] = "sts:SetSourceIdentity";
    return n;
}

/* Caller policies and trust policy both, for every needed action. */
static bool assume_authorized(sbx_call *c, const assume_req *r, const sbx_role *role)
{
    const sbx_principal *p = call_principal(c);
    policy_kv kv[8 + 2 * STS_MAX_TAGS];
    char tagkeys[STS_MAX_TAGS][160];
    size_t nkv = request_keys(r, kv, sizeof kv / sizeof kv[0], tagkeys);
    world *w = call_world(c);
    policy_context ctx = {.region = call_region(c),
                          .now = call_now(c),
                          .secure_transport = false,
                          .org_id = (p->account && p->account != w->hub) ? w->org_id : NULL,
                          .kv = kv,
                          .nkv = nkv};
    const char *acts[3];
    size_t nacts = needed_actions(r, acts);
    char why[256];
    for (size_t i = 0; i < nacts; i++) {
        if (!policy_authorize(p, acts[i], r->role_arn, &ctx, why, sizeof why))
            return assume_denied(c, r, acts[i], why);
        if (!role || !policy_trust_allows(role->trust_policy, p, acts[i], &ctx, why, sizeof why))
            return assume_denied(c, r, acts[i], role ? why : "no such role");
    }
    /* A source identity, once set, stays with every chained session. */
    const char *had = p->session ? p->session->source_identity : NULL;
    if (had && r->source_identity && strcmp(had, r->source_identity) != 0)
        return assume_denied(c, r, "sts:SetSourceIdentity",
                             "source identity cannot change when chaining");
    return true;
}

/* PackedPolicySize: the share (percent) of the packed limit that the
 * session policy and tags use. AWS compresses; the sandbox approximates
 * with the compact JSON, so the number is stable and grows with the input. */
static int packed_percent(const char *policy, const assume_req *r)
{
    size_t packed = 0;
    if (policy) {
        json_t *j = json_loads(policy, 0, NULL);
        char *compact = j ? json_dumps(j, JSON_COMPACT) : NULL;
        packed += compact ? strlen(compact) / 2 : strlen(policy) / 2;
        free(compact);
        json_decref(j);
    }
    for (size_t i = 0; i < r->ntags; i++)
        packed += strlen(r->tags[i].key) + strlen(r->tags[i].value) + 2;
    return (int)((packed * 100 + STS_POLICY_MAX - 1) / STS_POLICY_MAX);
}

static bool check_duration(sbx_call *c, const assume_req *r, const sbx_role *role)
{
    const sbx_principal *p = call_principal(c);
    if (p->session && r->duration > STS_CHAIN_MAX)
        return call_error(c, 400, "ValidationError",
                          "The requested DurationSeconds exceeds the 1 hour session limit for "
                          "roles assumed by role chaining.");
    if (r->duration > role->max_session_duration)
        return call_error(c, 400, "ValidationError",
                          "The requested DurationSeconds exceeds the MaxSessionDuration set for "
                          "this role.");
    return true;
}

static sbx_session *new_session(sbx_call *c, const assume_req *r, const sbx_role *role,
                                const char *source_identity)
{
    world *w = call_world(c);
    sbx_session *s = xcalloc(1, sizeof *s);
    s->access_key_id = world_new_chars(w, "ASIA", NULL, 16);
    s->secret = world_new_chars(w, "", SECRET_CHARS, 40);
    s->token = world_new_chars(w, "IQoJb3JpZ2luX2VjE", TOKEN_CHARS, 340);
    s->account_id = xstrdup(r->role_account);
    s->role_name = xstrdup(role->name);
    s->role_arn = xstrdup(role->arn);
    s->session_name = xstrdup(r->session_name);
    s->assumed_role_id = xasprintf("%s:%s", role->id, r->session_name);
    s->policy = r->policy ? xstrdup(r->policy) : NULL;
    s->source_identity = source_identity ? xstrdup(source_identity) : NULL;
    s->external_id = r->external_id ? xstrdup(r->external_id) : NULL;
    s->chained = call_principal(c)->session != NULL;
    s->expiration = call_now(c) + r->duration;
    world_add_session(w, s);
    return s;
}

static bool sts_assume_role(sbx_call *c)
{
    assume_req r;
    if (!read_assume(c, &r))
        return false;
    if (r.policy) {
        err e;
        if (!policy_validate(r.policy, POLICY_KIND_IDENTITY, &e))
            return call_error(c, 400, "MalformedPolicyDocument", "%s", e.message);
    }
    sbx_account *acct = world_account(call_world(c), r.role_account);
    sbx_role *role = acct ? world_role(acct, r.role_name) : NULL;
    if (role && strcmp(role->arn, r.role_arn) != 0)
        role = NULL; /* same name, other path */
    if (!assume_authorized(c, &r, role))
        return false;
    if (!check_duration(c, &r, role))
        return false;
    int packed = (r.policy || r.ntags) ? packed_percent(r.policy, &r) : -1;
    if (packed > 100)
        return call_error(c, 400, "PackedPolicyTooLarge",
                          "Packed size of the session policy and session tags exceeds the "
                          "allowed limit: %d%% of the limit.",
                          packed);
    const sbx_principal *p = call_principal(c);
    const char *src = r.source_identity;
    if (!src && p->session)
        src = p->session->source_identity;
    sbx_session *s = new_session(c, &r, role, src);

    call_xml_open(c, "Credentials");
    call_xml_text(c, "AccessKeyId", s->access_key_id);
    call_xml_text(c, "SecretAccessKey", s->secret);
    call_xml_text(c, "SessionToken", s->token);
    call_xml_time(c, "Expiration", s->expiration);
    call_xml_close(c, "Credentials");
    call_xml_open(c, "AssumedRoleUser");
    call_xml_text(c, "AssumedRoleId", s->assumed_role_id);
    call_xml_text(c, "Arn", s->arn);
    call_xml_close(c, "AssumedRoleUser");
    if (packed >= 0)
        call_xml_int(c, "PackedPolicySize", packed);
    call_xml_text(c, "SourceIdentity", s->source_identity);
    call_note(c, "session %s for %s until +%lds%s", s->session_name, s->role_arn, r.duration,
              s->policy ? " with session policy" : "");
    return true;
}

/* Needs no permission: AWS answers it even under an explicit deny. */
static bool sts_get_caller_identity(sbx_call *c)
{
    const sbx_principal *p = call_principal(c);
    const char *user_id = p->session ? p->session->assumed_role_id : (p->user ? p->user->id : NULL);
    call_xml_text(c, "UserId", user_id);
    call_xml_text(c, "Account", p->account ? p->account->id : NULL);
    call_xml_text(c, "Arn", p->arn);
    return true;
}

/* Both authorize themselves (per_resource): AssumeRole to answer AWS's
 * own denial message, GetCallerIdentity because it needs no permission. */
static const sbx_action sts_actions[] = {
    {"AssumeRole", SBX_MUTATE, sts_assume_role, true, NULL, NULL, false},
    {"GetCallerIdentity", SBX_DESCRIBE, sts_get_caller_identity, true, NULL, NULL, false},
};

/* AWS Security Token Service, API version 2011-06-15. */
const sbx_service svc_sts = {
    .signing_name = "sts",
    .iam_prefix = "sts",
    .protocol = AWS_PROTO_QUERY,
    .xml_namespace = STS_XMLNS,
    .json_target = NULL,
    .global = false,
    .actions = sts_actions,
    .nactions = sizeof sts_actions / sizeof sts_actions[0],
};
