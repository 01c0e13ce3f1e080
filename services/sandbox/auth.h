/* SigV4 verification of incoming requests: parses the Authorization header
 * (or S3's presigned query), checks the credential scope and the clock skew,
 * finds the signer in the world and recomputes the signature with lib/aws's
 * signer over exactly the headers the client signed. Failures map to AWS's
 * own code and message in each protocol (auth_error). */
#ifndef ESCHER_SANDBOX_AUTH_H
#define ESCHER_SANDBOX_AUTH_H

#include "aws/awserror.h"
#include "aws/http.h"
#include "world.h"

#include <stdbool.h>
#include <time.h>

/* A request as received. */
typedef struct sbx_http {
    const char *method;
    const char *path;  /* raw, as sent */
    const char *query; /* raw, without '?'; "" when none */
    const http_headers *headers;
    const void *body;
    size_t body_len;
} sbx_http;

typedef enum auth_status {
    AUTH_OK = 0,
    AUTH_MISSING,       /* no Authorization header nor presigned query */
    AUTH_MALFORMED,     /* unparseable header, missing X-Amz-Date, other algorithm */
    AUTH_BAD_SCOPE,     /* scope date, region, service or terminator wrong */
    AUTH_UNKNOWN_KEY,   /* access key id unknown or inactive */
    AUTH_BAD_TOKEN,     /* session token missing or not the session's */
    AUTH_EXPIRED_TOKEN, /* the session expired (sandbox clock) */
    AUTH_SKEW,          /* X-Amz-Date more than 15 minutes from the real clock */
    AUTH_PRESIGN_EXPIRED,
    AUTH_BAD_SIGNATURE,
} auth_status;

/* What the signature says, and why it failed. */
typedef struct sbx_auth {
    bool presigned;
    char key_id[132];
    char date8[16];
    char region[64];
    char service[64];
    char terminator[32];
    char amz_date[32];
    time_t when;
    int expires; /* presigned only */
    char signed_headers[512];
    char signature[80];
    const char *token; /* X-Amz-Security-Token, borrowed from the request */
    char detail[512];  /* message text for MALFORMED, BAD_SCOPE, SKEW */
} sbx_auth;

/* Parses the signature of r into *a: AUTH_OK, AUTH_MISSING or AUTH_MALFORMED.
 * Presigned query parameters are read from r->query. */
auth_status auth_parse(const sbx_http *r, sbx_auth *a);

/* Scope date against X-Amz-Date, terminator, and the 15-minute window
 * against real_now (the real clock, not the sandbox's). */
auth_status auth_check_time(sbx_auth *a, time_t real_now);

/* Finds the signer (world_find_key), checks its session token and expiry
 * against sandbox_now, then the signature. S3 signs the path as sent
 * (no normalisation, no double encoding). Fills *p on AUTH_OK. */
auth_status auth_verify(const sbx_http *r, sbx_auth *a, world *w, time_t sandbox_now, bool s3,
                        sbx_principal *p);

/* AWS's answer to a failure in protocol proto: HTTP status, code and message
 * (into msg). */
void auth_error(auth_status st, aws_protocol proto, const sbx_auth *a, int *status,
                const char **code, char *msg, size_t msglen);

#endif
