/* Email address checks (see api_email.h). */
#include "api_email.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>

bool api_email_valid(const char *email, err *e)
{
    size_t n = strlen(email);
    const char *at = strchr(email, '@');
    bool ok = n >= 3 && n <= 320 && at != NULL && at != email && strchr(at + 1, '@') == NULL;
    if (ok) {
        const char *domain = at + 1;
        const char *dot = strchr(domain, '.');
        ok = dot != NULL && dot != domain && domain[strlen(domain) - 1] != '.' &&
             strstr(domain, "..") == NULL;
    }
    for (const char *p = email; ok && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == 0x7f || strchr("\"'<>(),;:\\[]", c) != NULL)
            ok = false;
    }
    if (!ok) {
        char *shown = log_redact_value(NULL, email);
        err_set(e, ERR_INVALID,
                "'%s' is not an email address (want one like 'name@example.com': one '@', a "
                "dotted domain, no spaces or quotes)",
                shown);
        free(shown);
    }
    return ok;
}
