/* AWS STS (query protocol): AssumeRole, AssumeRoleWithWebIdentity and
 * GetCallerIdentity. Each operation has a request builder and a response
 * parser so asynchronous callers (workers) reuse them with
 * aws_client_call_async; the blocking wrappers combine the two. */
#ifndef ESCHER_AWS_STS_H
#define ESCHER_AWS_STS_H

#include "aws/aws_client.h"
#include "aws/creds.h"
#include "core/err.h"

#include <stddef.h>

typedef struct sts_tag {
    const char *key;
    const char *value;
} sts_tag;

typedef struct sts_assume_role_params {
    const char *role_arn;        /* required */
    const char *session_name;    /* required, 2-64 chars of [\w+=,.@-] */
    const char *external_id;     /* optional */
    int duration_seconds;        /* 0: omit (AWS default 3600); else 900..43200 */
    const char *policy;          /* optional inline session policy JSON */
    const char *source_identity; /* optional */
    const sts_tag *tags;         /* optional session tags */
    size_t ntags;
} sts_assume_role_params;

typedef struct sts_identity {
    char *account;
    char *arn;
    char *user_id;
} sts_identity;

/* Validates params (ERR_INVALID naming the field and value) and fills req
 * (initialised here; caller frees with aws_request_free). */
bool sts_assume_role_request(const sts_assume_role_params *p, aws_request *req, err *e);
/* Parses an AssumeRoleResponse body into new credentials (caller frees with
 * creds_free); `source` names them for messages. ERR_PARSE when a field is missing. */
bool sts_assume_role_parse(const char *body, size_t len, const char *source, aws_creds **out,
                           err *e);

bool sts_assume_role_with_web_identity_request(const char *role_arn, const char *session_name,
                                               const char *web_identity_token, int duration_seconds,
                                               aws_request *req, err *e);
bool sts_assume_role_with_web_identity_parse(const char *body, size_t len, const char *source,
                                             aws_creds **out, err *e);

void sts_get_caller_identity_request(aws_request *req);
/* Fills *out (free with sts_identity_free). */
bool sts_get_caller_identity_parse(const char *body, size_t len, sts_identity *out, err *e);
void sts_identity_free(sts_identity *id);

/* Blocking wrappers: build, aws_client_call, parse. */
bool sts_assume_role(aws_client *c, const sts_assume_role_params *p, aws_creds **out, err *e);
/* c should be anonymous (no credentials): this call is unsigned. */
bool sts_assume_role_with_web_identity(aws_client *c, const char *role_arn,
                                       const char *session_name, const char *web_identity_token,
                                       int duration_seconds, aws_creds **out, err *e);
bool sts_get_caller_identity(aws_client *c, sts_identity *out, err *e);

#endif
