/* Email addresses as escher-api accepts them: users are named by email (the
 * actor of their audit rows, the SourceIdentity of their jobs), and both the
 * bootstrap command and POST /v1/users check them the same way. */
#ifndef ESCHER_API_EMAIL_H
#define ESCHER_API_EMAIL_H

#include "core/err.h"

#include <stdbool.h>

/* True when email looks like an address: one '@' with a non-empty local part
 * and a dotted domain, 3..320 bytes, no spaces, controls, quotes or angle
 * brackets. Fills e (ERR_INVALID quoting the value) otherwise. */
bool api_email_valid(const char *email, err *e);

#endif
