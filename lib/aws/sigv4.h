/* AWS Signature Version 4: the Authorization header variant and the
 * presigned query-string variant, with session tokens and signed payload
 * hashes. Pure computation, no I/O. Derived signing keys are cached per
 * (secret, date, region, service); the cache holds only hashes of secrets
 * and wipes keys it evicts. Thread-safe. */
#ifndef ESCHER_AWS_SIGV4_H
#define ESCHER_AWS_SIGV4_H

#include "aws/creds.h"
#include "aws/http.h"
#include "core/err.h"
#include "core/strbuf.h"

#include <stdbool.h>
#include <time.h>

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* Hex SHA-256 of zero bytes: the payload hash of a request without body. */
#define SIGV4_EMPTY_PAYLOAD_SHA256                                                                 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct sigv4_request {
    const char *method;          /* "GET" */
    const char *path;            /* as it will be sent: already percent-encoded, "/" at least */
    const char *query;           /* as it will be sent, without '?'; NULL or "" for none */
    const http_headers *headers; /* the request's headers (Host must be among them) */
    const void *body;            /* hashed when payload_hash is NULL */
    size_t body_len;
    const char *payload_hash; /* hex SHA-256, SIGV4_UNSIGNED_PAYLOAD, or NULL */
} sigv4_request;

typedef struct sigv4_config {
    const aws_creds *creds;
    const char *region;
    const char *service;
    time_t when;             /* signing time, UTC */
    bool normalize_path;     /* true except for S3 */
    bool double_encode;      /* true except for S3 */
    bool add_content_sha256; /* add and sign x-amz-content-sha256 (S3 and the suite's sign_body) */
    bool omit_session_token; /* add the token after signing (the suite's post-sts-header-after) */
    int expires;             /* presign only: X-Amz-Expires seconds, 1..604800 */
} sigv4_config;

/* Signs for the Authorization header. Appends to *add the headers the caller
 * must send in addition to req->headers: X-Amz-Date, X-Amz-Security-Token
 * (when the credentials have a token), X-Amz-Content-Sha256 (when asked) and
 * Authorization. When canonical/string_to_sign are non-NULL they receive those
 * texts (tests, debugging). Fails with ERR_INVALID naming what is missing.
 * Request copies of the headers it adds (a retry's stale X-Amz-Date,
 * Authorization, ...) are not signed: apply *add with http_headers_set.
 * User-Agent, Expect and X-Amzn-Trace-Id are never signed (as botocore). */
bool sigv4_sign_headers(const sigv4_request *req, const sigv4_config *cfg, http_headers *add,
                        strbuf *canonical, strbuf *string_to_sign, err *e);

/* Presigns: writes to *query_out the full query string to send (the request's
 * own parameters plus X-Amz-Algorithm, -Credential, -Date, -Expires,
 * -SignedHeaders, -Security-Token, -Signature). canonical/string_to_sign as above.
 * The request's own parameters are copied as given; add_content_sha256 does
 * not apply (pass payload_hash SIGV4_UNSIGNED_PAYLOAD for S3). */
bool sigv4_presign(const sigv4_request *req, const sigv4_config *cfg, strbuf *query_out,
                   strbuf *canonical, strbuf *string_to_sign, err *e);

/* Empties the signing-key cache, wiping the keys. */
void sigv4_cache_clear(void);

#endif
