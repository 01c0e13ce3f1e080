/* IAM policy evaluation for the sandbox, as AWS does it for one account.
 *
 * Pure: JSON in, decision out, no I/O. Policies are the texts the world
 * keeps (user/role identity policies, role trust policies, session
 * policies); each distinct text is parsed once and the parsed form cached.
 *
 * Cache design: keyed by the policy's content (64-bit hash of the text,
 * confirmed by comparing the stored copy), not by pointer. The world frees
 * and re-creates policy strings (reset, load, AssumeRole with a session
 * policy), and a pointer key would need a free hook in every place that
 * frees one and would silently return a stale parse when malloc reuses an
 * address. Content keys need no invalidation, and the 2,000 roles of a
 * 1,000-account world share a handful of texts, so the cache stays small.
 * Per request the cost is one hash and one memcmp of a few hundred bytes
 * per policy. The cache is bounded (it is emptied when it grows past
 * POLICY_CACHE_MAX entries, e.g. from many distinct session policies) and
 * not thread-safe (the sandbox serves from one event loop).
 *
 * Evaluation (policy_authorize):
 *   1. an explicit Deny in any applicable policy (identity or session)
 *      denies;
 *   2. otherwise some identity policy must Allow;
 *   3. and when the caller is a session with a session policy, that policy
 *      must Allow too (the permissions are the intersection);
 *   4. anything else is the default (implicit) deny.
 * Actions match case-insensitively with * and ? wildcards; resources match
 * case-sensitively with wildcards. Conditions: String*, StringLike/NotLike,
 * *IgnoreCase, Bool, Numeric*, Date*, Arn*, IpAddress/NotIpAddress, Null,
 * the IfExists suffix and the ForAnyValue:/ForAllValues: prefixes; values
 * of one key are OR-ed, keys and operators AND-ed; key names are
 * case-insensitive. Policy variables such as ${aws:username} in Resource are
 * substituted. */
#ifndef ESCHER_SANDBOX_POLICY_H
#define ESCHER_SANDBOX_POLICY_H

#include "core/err.h"
#include "world.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define POLICY_CACHE_MAX 4096

/* One request context key; a key given several times is multi-valued
 * (e.g. aws:TagKeys). */
typedef struct policy_kv {
    const char *key; /* "sts:ExternalId", "ec2:ResourceTag/env" */
    const char *value;
} policy_kv;

/* What the request brings besides the caller. Every field may be left
 * zero/NULL: a key that is absent simply is not in the request context. */
typedef struct policy_context {
    const char *region;    /* aws:RequestedRegion and every "<service>:Region" */
    time_t now;            /* aws:CurrentTime / aws:EpochTime; 0: absent */
    const char *source_ip; /* aws:SourceIp */
    bool secure_transport; /* aws:SecureTransport */
    const char *org_id;    /* aws:PrincipalOrgID, NULL when not in an organization */
    const policy_kv *kv;   /* further keys, looked up first */
    size_t nkv;
} policy_context;

typedef enum policy_decision {
    POLICY_IMPLICIT_DENY = 0, /* no statement applies */
    POLICY_ALLOW,
    POLICY_EXPLICIT_DENY,
} policy_decision;

/* The kind of document, for validation: identity and session policies need
 * Resource and must not name a Principal; trust policies need Principal. */
typedef enum policy_kind {
    POLICY_KIND_IDENTITY,
    POLICY_KIND_TRUST,
} policy_kind;

/* Checks that text is a policy document AWS would accept for kind. Fails
 * with ERR_PARSE and AWS's MalformedPolicyDocument message: "The policy is
 * not in the valid JSON format." for bad JSON, "Syntax errors in policy."
 * for a bad structure (unknown Effect, missing Statement/Action/Resource,
 * wrong types), "Policy document should not specify a principal." for an
 * identity policy with a Principal. */
bool policy_validate(const char *text, policy_kind kind, err *e);

/* Evaluates one policy document (identity/session kind) for the request on
 * behalf of caller p (NULL: no principal keys). An unparsable policy never
 * applies (implicit deny). */
policy_decision policy_eval(const char *text, const sbx_principal *p, const char *action,
                            const char *resource, const policy_context *ctx);

/* The whole decision for a signed caller: the identity policies of the
 * user (p->user->policies) or of the session's role (p->role->policies),
 * intersected with the session policy (p->session->policy) when present.
 * action is "service:Operation" in any case ("ec2:StopInstances"); resource
 * is an ARN or "*". ctx may be NULL. On denial returns false and, when why
 * is not NULL, writes the reason AWS appends to its AccessDenied message,
 * without a leading space: "because no identity-based policy allows the
 * ec2:StopInstances action", "because no session policy allows the
 * ec2:StopInstances action", "with an explicit deny in an identity-based
 * policy" or "with an explicit deny in a session policy". The caller builds
 * "User: <arn> is not authorized to perform: <action> on resource: <res>
 * <why>". */
bool policy_authorize(const sbx_principal *p, const char *action, const char *resource,
                      const policy_context *ctx, char *why, size_t whylen);

/* Does the role trust policy let caller p perform action ("sts:AssumeRole",
 * "sts:TagSession", "sts:SetSourceIdentity")? The policy's Principal must
 * name the caller: "*", {"AWS": "*"}, the caller's account id or
 * "arn:aws:iam::<id>:root", the user's ARN, or for an assumed-role caller
 * its role ARN or its session ARN (NotPrincipal is honoured too); its
 * Condition is evaluated with ctx (e.g. sts:ExternalId) plus the caller's
 * own keys. Explicit Deny wins. On refusal returns false and writes a short
 * reason to why (for the call log; AWS's answer does not carry it). */
bool policy_trust_allows(const char *trust_policy, const sbx_principal *p, const char *action,
                         const policy_context *ctx, char *why, size_t whylen);

/* Glob matching as IAM does: * any run, ? one character. Exposed for
 * handlers that match names the same way. */
bool policy_glob(const char *pattern, const char *s, bool ignore_case);

/* Frees every cached parse (at exit, so leak checkers see a clean heap,
 * or after a world reset to drop texts that no longer exist). */
void policy_cache_clear(void);

/* Number of cached parses (tests check that texts are parsed once). */
size_t policy_cache_size(void);

#endif
