/* Internal to the credential providers (credprov*.c): the provider object
 * layout, the refreshing base every expiring source is built on, and the
 * per-source fetchers the default chain calls. Not for use outside lib/aws. */
#ifndef ESCHER_AWS_CREDPROV_INTERNAL_H
#define ESCHER_AWS_CREDPROV_INTERNAL_H

#include "aws/awsconfig.h"
#include "aws/credprov.h"
#include "core/strbuf.h"

typedef struct credprov_ops {
    bool (*get)(credprov *p, aws_creds **out, err *e);
    const char *(*name)(const credprov *p);
    void (*destroy)(credprov *p);
} credprov_ops;

struct credprov {
    const credprov_ops *ops;
};

/* Resolved options, copied into every provider that needs them. */
typedef struct cp_ctx {
    credprov_getenv_fn getenv;
    void *getenv_arg;
    credprov_clock_fn clock;
    void *clock_arg;
    char *region;
    char *endpoint_url;
    char *ca_file;
    char *imds_endpoint;
    char *container_base_url;
    long container_retry_delay_ms;
} cp_ctx;

void cp_ctx_init(cp_ctx *c, const credprov_options *o);
void cp_ctx_copy(cp_ctx *dst, const cp_ctx *src);
void cp_ctx_free(cp_ctx *c);
/* Environment value, NULL when unset or empty (botocore treats both alike). */
const char *cp_getenv(const cp_ctx *c, const char *name);
time_t cp_now(const cp_ctx *c);
/* Expands a leading "~/" with HOME (from the context's environment). */
char *cp_expand_user(const cp_ctx *c, const char *path);

/* Fetches fresh credentials; impl is the source's state. */
typedef bool (*cp_fetch_fn)(void *impl, aws_creds **out, err *e);

/* A provider that caches what fetch returns and refreshes within the
 * advisory/mandatory margins. Takes ownership of impl (freed with impl_free)
 * and of initial (may be NULL: first get fetches). `name` is copied. */
credprov *cp_refreshing_new(const cp_ctx *ctx, const char *name, cp_fetch_fn fetch,
                            void (*impl_free)(void *), void *impl, aws_creds *initial);

/* Outcome of trying one source in the chain. */
typedef enum cp_result {
    CP_FOUND, /* *out is a provider */
    CP_NONE,  /* nothing configured or available; why was appended to the reason */
    CP_ERROR, /* a hard error in e: the chain stops */
} cp_result;

/* Environment variables (AWS_ACCESS_KEY_ID ...). */
cp_result cp_env_resolve(const cp_ctx *ctx, credprov **out, strbuf *why, err *e);

/* credential_process: runs command (shlex split, no shell) and parses its
 * Version 1 JSON. */
bool cp_process_run(const char *command, const char *profile, aws_creds **out, err *e);
credprov *cp_process_new(const cp_ctx *ctx, const char *command, const char *profile);

/* Container credentials (AWS_CONTAINER_CREDENTIALS_*). */
cp_result cp_container_resolve(const cp_ctx *ctx, credprov **out, strbuf *why, err *e);
/* IMDSv2. profile_endpoint: the profile's ec2_metadata_service_endpoint or NULL. */
cp_result cp_imds_resolve(const cp_ctx *ctx, const char *profile_endpoint, credprov **out,
                          strbuf *why, err *e);

/* STS-backed providers (fetch lazily, on first get). */
credprov *cp_assume_role_new(const cp_ctx *ctx, credprov *source, const credprov_role *role,
                             const char *name);
credprov *cp_web_identity_new(const cp_ctx *ctx, const char *token_file, const char *role_arn,
                              const char *session_name);

/* "escher-session-<unix time>" */
char *cp_default_session_name(const cp_ctx *ctx);

/* Builds credentials from a JSON object with AccessKeyId, SecretAccessKey,
 * token_key (may be NULL) and Expiration (required when need_expiration).
 * `what` names the source in messages. Never quotes secret values. */
struct json_t;
bool cp_creds_from_json(const struct json_t *obj, const char *token_key, bool need_expiration,
                        const char *what, aws_creds **out, err *e);

/* Reads a small file (tokens) into a new string, trailing newline kept. */
bool cp_read_file(const char *path, size_t max, char **out, err *e);

#endif
