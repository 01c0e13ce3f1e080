/* Credential providers and the SDKs' default chain.
 *
 * A provider hands out credentials and refreshes them before they expire.
 * The default chain tries, in the SDKs' order: environment, shared config and
 * credentials files (profiles with role_arn/source_profile/credential_source,
 * credential_process), web identity, container credentials, IMDSv2. */
#ifndef ESCHER_AWS_CREDPROV_H
#define ESCHER_AWS_CREDPROV_H

#include "aws/creds.h"
#include "core/err.h"

#include <time.h>

typedef struct credprov credprov;

/* Provider that always returns a copy of `creds` (copied here; caller keeps its own). */
credprov *credprov_static(const aws_creds *creds);

/* Fills *out with a fresh copy of current credentials (caller frees with
 * creds_free), refreshing first when they expire within the refresh margin.
 * Fails with the provider's error; for the default chain with nothing found,
 * ERR_NO_CREDENTIALS listing every source tried and why each gave nothing. */
bool credprov_get(credprov *p, aws_creds **out, err *e);

/* Frees the provider and wipes any cached credentials. NULL is accepted. */
void credprov_free(credprov *p);

/* ---- configuration of the default chain and the other providers ---- */

/* Refresh margins (botocore's): from 15 minutes before expiry a refresh is
 * tried but a failure keeps the still-valid credentials; from 10 minutes
 * before expiry the refresh must succeed. */
#define CREDPROV_ADVISORY_REFRESH_SECONDS  (15 * 60)
#define CREDPROV_MANDATORY_REFRESH_SECONDS (10 * 60)

/* Environment lookup: the value of name, or NULL when unset. The string must
 * stay valid until the next call. */
typedef const char *(*credprov_getenv_fn)(const char *name, void *arg);
/* Wall clock in Unix seconds (tests inject one to test refreshing). */
typedef time_t (*credprov_clock_fn)(void *arg);

typedef struct credprov_options {
    /* Profile to use. NULL: AWS_DEFAULT_PROFILE, then AWS_PROFILE, then
     * "default". Naming a profile here also skips the environment-variable
     * credentials (AWS_ACCESS_KEY_ID...), as botocore does for an explicit
     * session profile; a named profile (here or from the environment) that
     * exists in neither file is an error, not a fallthrough. */
    const char *profile;
    /* Environment: NULL reads the process environment (getenv). Note that a
     * credential_process child always inherits the real process environment. */
    credprov_getenv_fn getenv;
    void *getenv_arg;
    /* STS calls (role_arn profiles, web identity): region (NULL: AWS_REGION,
     * then AWS_DEFAULT_REGION, else the client's default), endpoint (NULL: the
     * client's own resolution) and CA file (NULL: system store). */
    const char *region;
    const char *endpoint_url;
    const char *ca_file;
    /* IMDS base URL. NULL: AWS_EC2_METADATA_SERVICE_ENDPOINT, the profile's
     * ec2_metadata_service_endpoint, the IPv6 endpoint when
     * AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE is IPv6, else http://169.254.169.254 */
    const char *imds_endpoint;
    /* Base for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI. NULL: http://169.254.170.2.
     * Tests point it at a local responder. */
    const char *container_base_url;
    /* Pause between the container endpoint's 3 attempts; 0: 1000 ms, <0: none. */
    long container_retry_delay_ms;
    /* Clock; NULL: the system clock. */
    credprov_clock_fn clock;
    void *clock_arg;
} credprov_options;

/* The SDKs' default chain in botocore's order: environment; the profile's
 * role_arn (source_profile chain or credential_source); web identity
 * (environment, then profile); the shared credentials file;
 * credential_process; the config file; container credentials; IMDSv2.
 * Sources are tried on the first credprov_get, and the first that yields
 * credentials is kept (and refreshed) from then on. opts may be NULL; its
 * strings are copied. Returns NULL with ERR_INVALID only for invalid options.
 * Caller frees with credprov_free. */
credprov *credprov_default_chain(const credprov_options *opts, err *e);

/* What an assumed-role provider sends to STS AssumeRole. */
typedef struct credprov_role {
    const char *role_arn;     /* required */
    const char *session_name; /* NULL: "escher-session-<unix time>" */
    const char *external_id;  /* optional */
    int duration_seconds;     /* 0: STS default */
} credprov_role;

/* Provider that assumes `role` with credentials from `source`, refreshing
 * before expiry. Takes ownership of source (also on failure). STS is reached
 * with opts' region/endpoint_url/ca_file (opts may be NULL). Fails with
 * ERR_INVALID when role_arn is missing. Caller frees with credprov_free. */
credprov *credprov_assume_role(credprov *source, const credprov_role *role,
                               const credprov_options *opts, err *e);

/* Where p's credentials come from, for messages: "environment", "shared
 * credentials file", "assume role '<role arn>'", ...; "default chain" before
 * the chain has resolved. Owned by p. */
const char *credprov_name(const credprov *p);

#endif
