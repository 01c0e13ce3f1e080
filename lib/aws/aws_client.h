/* Calling AWS: resolve the endpoint, sign with SigV4, send, and retry the way
 * the SDKs' "standard" mode does (3 attempts, full-jitter backoff, a retry
 * quota, clock-skew correction). Blocking for the client program;
 * asynchronous on a libevent loop for the workers. Protocol-specific request
 * building and response parsing live in the protocol modules. */
#ifndef ESCHER_AWS_AWS_CLIENT_H
#define ESCHER_AWS_AWS_CLIENT_H

#include "aws/awserror.h"
#include "aws/credprov.h"
#include "aws/http.h"
#include "core/err.h"
#include "core/strbuf.h"

struct event_base;

typedef struct aws_client_options {
    const char *region;       /* default region when a request names none; NULL: "us-east-1" */
    const char *endpoint_url; /* program option; overrides AWS_ENDPOINT_URL* when set */
    long connect_timeout_ms;  /* 0: 3000 */
    long timeout_ms;          /* per attempt; 0: 30000 */
    int max_attempts;         /* 0: 3 (AWS_MAX_ATTEMPTS is honoured when 0) */
    const char *ca_file;      /* NULL: system store */
} aws_client_options;

/* One AWS request, before signing. The protocol module fills it. */
typedef struct aws_request {
    const char *service;   /* endpoint prefix and signing name, e.g. "ec2", "sts", "s3" */
    const char *operation; /* for logs and errors, e.g. "DescribeInstances" */
    const char *region;    /* NULL: client's default */
    aws_protocol protocol;
    const char *method;   /* "POST", "GET", ... */
    const char *path;     /* URI-encoded path, "/" at least */
    const char *query;    /* URI-encoded query without '?', or NULL */
    http_headers headers; /* protocol headers (Content-Type, X-Amz-Target, ...) */
    strbuf body;
} aws_request;

/* Initialises r for a call; the caller then adds headers/body and frees with
 * aws_request_free. Strings passed here are borrowed and must outlive r. */
void aws_request_init(aws_request *r, const char *service, const char *operation,
                      aws_protocol protocol, const char *method, const char *path);
void aws_request_free(aws_request *r);

typedef struct aws_client aws_client;

/* Creates a client. `creds` is borrowed (caller frees it after the client);
 * NULL makes an anonymous client whose requests go unsigned (STS
 * AssumeRoleWithWebIdentity is called that way).
 * `base` may be NULL for a blocking-only client; with a base, asynchronous
 * calls run on it. Returns NULL and fills e on invalid options. */
aws_client *aws_client_new(const aws_client_options *opts, credprov *creds, struct event_base *base,
                           err *e);
void aws_client_free(aws_client *c);

/* Blocking call with retries. On HTTP success (2xx) fills *resp (caller frees
 * with http_response_free). On an AWS error answer fails with ERR_AWS via
 * awserror_from_response; on transport failure ERR_HTTP / ERR_TIMEOUT; on
 * missing credentials the provider's error. Messages name service, operation,
 * region and endpoint. */
bool aws_client_call(aws_client *c, const aws_request *req, http_response *resp, err *e);

/* Asynchronous call with retries (requires a client made with a base). The
 * request is copied. done runs on the loop exactly once: resp non-NULL on
 * success (freed after done returns), e non-NULL on failure. */
typedef void (*aws_done_fn)(const http_response *resp, const err *e, void *arg);
bool aws_client_call_async(aws_client *c, const aws_request *req, aws_done_fn done, void *arg,
                           err *e);

/* Seconds the server's clock is ahead of ours as learned from skew errors (0 until one). */
long aws_client_clock_offset(const aws_client *c);

/* Replaces the retry jitter source, a function returning [0, 1) (tests pin
 * backoff with it). NULL restores the default random source. */
void aws_client_set_retry_random(aws_client *c, double (*rnd)(void *arg), void *arg);

/* Tokens left in the client's retry quota (500 when full; see retry.h). */
int aws_client_retry_quota(const aws_client *c);

#endif
