/* Writes an AWS config and credentials file for the simulated organization,
 * so escher and the AWS CLI reach it by profile name. */
#ifndef ESCHER_SANDBOX_AWSCONFIG_OUT_H
#define ESCHER_SANDBOX_AWSCONFIG_OUT_H

#include "core/err.h"
#include "world.h"

#include <stdbool.h>

/* Writes DIR/credentials and DIR/config (mode 0600, replaced atomically)
 * with the profiles: `hub` (the Escher hub principal), `mgmt` (an
 * administrator of the management account) and `acct-<id>` (an
 * administrator of each account of the organization), each with region =
 * the world's first region and output json. Creates DIR when missing.
 * Fails with ERR_IO naming the file. */
bool awsconfig_write(const world *w, const char *dir, err *e);

#endif
