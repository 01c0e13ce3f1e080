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

#endif
