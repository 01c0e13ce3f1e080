/* Confirmation rules. See client_confirm.h. */
#include "client_confirm.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

client_confirm_need client_confirm_need_for(ops_risk risk)
{
    switch (risk) {
    case OPS_RISK_READ:
    case OPS_RISK_LOW:
    case OPS_RISK_MEDIUM:
        return CLIENT_CONFIRM_Y;
    case OPS_RISK_HIGH:
        return CLIENT_CONFIRM_COUNT;
    case OPS_RISK_CRITICAL:
        break;
    }
    return CLIENT_CONFIRM_REFUSED;
}

void client_confirm_question(ops_risk risk, size_t count, char *buf, size_t n)
{
    switch (client_confirm_need_for(risk)) {
    case CLIENT_CONFIRM_Y:
        snprintf(buf, n, "Go ahead? [y/N] ");
        break;
    case CLIENT_CONFIRM_COUNT:
        snprintf(buf, n, "This is %s risk. Type %zu (the number of resources) to go ahead: ",
                 ops_risk_name(risk), count);
        break;
    case CLIENT_CONFIRM_REFUSED:
        snprintf(buf, n, "%s operations do not run from chat", ops_risk_name(risk));
        break;
    }
}

/* answer without surrounding blanks, into buf. */
static const char *trimmed(const char *answer, char *buf, size_t n)
{
    while (*answer && isspace((unsigned char)*answer))
        answer++;
    size_t len = strlen(answer);
    while (len > 0 && isspace((unsigned char)answer[len - 1]))
        len--;
    if (len >= n)
        len = n - 1;
    memcpy(buf, answer, len);
    buf[len] = '\0';
    return buf;
}

bool client_confirm_accepts(ops_risk risk, size_t count, const char *answer)
{
    if (!answer)
        return false;
    char buf[32], want[32];
    const char *a = trimmed(answer, buf, sizeof buf);
    switch (client_confirm_need_for(risk)) {
    case CLIENT_CONFIRM_Y:
        return strcasecmp(a, "y") == 0 || strcasecmp(a, "yes") == 0;
    case CLIENT_CONFIRM_COUNT:
        snprintf(want, sizeof want, "%zu", count);
        return count > 0 && strcmp(a, want) == 0;
    case CLIENT_CONFIRM_REFUSED:
        break;
    }
    return false;
}

bool client_confirm_yes_allowed(ops_risk risk)
{
    return risk <= OPS_RISK_HIGH;
}
