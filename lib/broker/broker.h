/* The credential broker of the workers: temporary credentials in a
 * tenant's role for one job.
 *
 * Each request becomes an STS AssumeRole signed with the server's own
 * identity (the aws_client given to broker_new, whose credentials come from
 * lib/aws's default chain) carrying the tenant's ExternalId, RoleSessionName
 * "escher-<job id>", DurationSeconds 900 unless the job asks for longer,
 * SourceIdentity the user who caused the job, and an inline session policy
 * allowing exactly the actions the job kind declares, so the session can do
 * no more than the job needs even when the tenant's role allows more.
 *
 * Cache. Credentials are cached in memory only, until `refresh_margin`
 * (5 minutes) before they expire, and wiped (creds_free) when evicted,
 * replaced or when the broker is freed; callers get their own copy, which
 * they wipe with creds_free. Nothing secret is ever logged or put in an
 * error message (the broker logs nothing at all).
 *
 * The cache key is (account of the role ARN, role ARN, SHA-256 of the
 * session policy) as issue 4 says, plus two fields the issue does not name:
 *  - the external id: without it a job of another tenant that registered
 *    the same role ARN (with its own, wrong external id) would be served
 *    the first tenant's cached session, which is exactly the confused
 *    deputy the external id exists to prevent;
 *  - the source identity: AWS records it in CloudTrail as the person behind
 *    every call of the session, and a session of user A must not carry out
 *    user B's job under A's name.
 * The job id (and so the session name) is deliberately NOT part of the key:
 * a session assumed for job 1 may serve job 2 of the same tenant, role,
 * policy and user. CloudTrail then shows the session name
 * "escher-<first job id>" for the later job's calls; Escher's own audit log
 * records which job made which call, and tying the CloudTrail session to
 * the first job is the price of not calling STS once per job.
 * A cached session also serves only requests whose duration_seconds is at
 * most the one it was assumed with; a longer request assumes anew and
 * replaces the entry.
 *
 * Concurrency: a broker is not thread-safe; give each worker thread (event
 * loop) its own. Concurrent broker_get_async calls for one cache key share
 * one AssumeRole in flight. */
#ifndef ESCHER_BROKER_BROKER_H
#define ESCHER_BROKER_BROKER_H

#include "aws/aws_client.h"
#include "aws/creds.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct event_base;

#define BROKER_DEFAULT_DURATION 900
#define BROKER_DEFAULT_MARGIN   300  /* seconds before expiry a cached session stops serving */
#define BROKER_POLICY_MAX       2048 /* characters of the compact session policy JSON */
#define BROKER_SESSION_NAME_MAX 64

typedef struct broker_options {
    int refresh_margin_seconds; /* 0: BROKER_DEFAULT_MARGIN */
    size_t max_entries;         /* 0: 1024; the entry closest to expiry goes first */
    /* Clock judging cache expiry against the credentials' Expiration (AWS
     * time); NULL: timeutil_now. Tests point it at the sandbox clock. */
    time_t (*now)(void *arg);
    void *now_arg;
    /* The loop of the aws_client; required for broker_get_async (answers
     * from the cache are delivered through it), may be NULL otherwise. */
    struct event_base *base;
} broker_options;

typedef struct broker_request {
    const char *role_arn;        /* arn:<partition>:iam::<12 digits>:role/<name>; required */
    const char *external_id;     /* the tenant's external id; required */
    const char *job_id;          /* required; the session name is "escher-<job id>" */
    const char *source_identity; /* the user who caused the job; NULL for none */
    const char *const
        *actions; /* "service:Action", at least one; order and repeats do not matter */
    size_t nactions;
    const char *const *resources; /* NULL/0: "*" */
    size_t nresources;
    int duration_seconds; /* 0: BROKER_DEFAULT_DURATION; else 900..43200 */
} broker_request;

typedef struct broker broker;

/* Creates a broker calling STS through sts_client (borrowed: it must
 * outlive the broker, and should be signed with the server's identity).
 * opts may be NULL. Fails with ERR_INVALID on bad options. */
broker *broker_new(aws_client *sts_client, const broker_options *opts, err *e);

/* Wipes and frees every cached credential. Asynchronous gets still waiting
 * get their callback now with ERR_INTERNAL ("broker freed"). Must not be
 * called from inside a broker_done_fn. NULL is accepted. */
void broker_free(broker *b);

/* Writes "escher-<job_id>" to out (BROKER_SESSION_NAME_MAX + 1 bytes).
 * Fails with ERR_INVALID quoting the job id when the name would break
 * STS's rules (2-64 characters of [A-Za-z0-9_+=,.@-]). */
bool broker_session_name(const char *job_id, char out[BROKER_SESSION_NAME_MAX + 1], err *e);

/* The session policy for r as compact JSON (caller frees): one Allow
 * statement with the sorted, de-duplicated actions (always an array) and
 * resources ("*" when none, else a sorted array). Deterministic: the same
 * sets give the same bytes. Fails with ERR_INVALID quoting a malformed
 * action or an empty action list, and with ERR_LIMIT naming the job when
 * the JSON exceeds BROKER_POLICY_MAX characters. */
char *broker_policy(const broker_request *r, err *e);

/* Blocking: credentials for r, from the cache or a new AssumeRole. On
 * success *out is the caller's own copy (free with creds_free). Fails with
 * ERR_INVALID (request), ERR_LIMIT (policy), or the STS call's error
 * (ERR_AWS with remote_code "AccessDenied" when the role's trust refuses,
 * message naming the role and the job). Nothing is cached on failure. */
bool broker_get(broker *b, const broker_request *r, aws_creds **out, err *e);

/* Called exactly once on the broker's loop, never inside broker_get_async:
 * creds is the callee's own copy (free with creds_free) on success, NULL
 * with e set on failure. */
typedef void (*broker_done_fn)(aws_creds *creds, const err *e, void *arg);

/* Asynchronous broker_get on the loop given in the options. The request is
 * copied. Returns false (and never calls done) when r is invalid or the
 * call cannot be started. */
bool broker_get_async(broker *b, const broker_request *r, broker_done_fn done, void *arg, err *e);

/* Cached sessions (including ones past the margin not yet evicted). */
size_t broker_cache_size(const broker *b);
/* AssumeRole calls made so far (tests and metrics). */
unsigned long broker_assume_count(const broker *b);

#endif
