#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[ERR_CODE_COUNT] = {
    [ERR_OK] = "ok",
    [ERR_INVALID] = "invalid",
    [ERR_NOT_FOUND] = "not_found",
    [ERR_IO] = "io",
    [ERR_PARSE] = "parse",
    [ERR_HTTP] = "http",
    [ERR_TIMEOUT] = "timeout",
    [ERR_AWS] = "aws",
    [ERR_NO_CREDENTIALS] = "no_credentials",
    [ERR_AUTH] = "auth",
    [ERR_CONFIG] = "config",
    [ERR_LIMIT] = "limit",
    [ERR_INTERNAL] = "internal",
};

void err_clear(err *e)
{
    if (e == NULL)
        return;
    e->code = ERR_OK;
    e->message[0] = '\0';
    e->http_status = 0;
    e->remote_code[0] = '\0';
    e->request_id[0] = '\0';
}

static void set_message(err *e, const char *fmt, va_list ap)
{
    vsnprintf(e->message, sizeof e->message, fmt, ap);
}

bool err_set(err *e, err_code code, const char *fmt, ...)
{
    if (e == NULL)
        return false;
    err_clear(e);
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    set_message(e, fmt, ap);
    va_end(ap);
    return false;
}

bool err_set_remote(err *e, err_code code, int http_status, const char *remote_code,
                    const char *request_id, const char *fmt, ...)
{
    if (e == NULL)
        return false;
    err_clear(e);
    e->code = code;
    e->http_status = http_status;
    snprintf(e->remote_code, sizeof e->remote_code, "%s", remote_code ? remote_code : "");
    snprintf(e->request_id, sizeof e->request_id, "%s", request_id ? request_id : "");
    va_list ap;
    va_start(ap, fmt);
    set_message(e, fmt, ap);
    va_end(ap);
    return false;
}

bool err_prefix(err *e, const char *fmt, ...)
{
    if (e == NULL)
        return false;
    char prefix[ERR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Assemble by hand: snprintf("%s: %s") into a fixed buffer trips -Wformat-truncation. */
    char joined[ERR_MESSAGE_MAX];
    size_t pl = strlen(prefix), ml = strlen(e->message), n = 0;
    size_t room = sizeof joined - 1;
    memcpy(joined, prefix, pl < room ? pl : room);
    n = pl < room ? pl : room;
    if (n + 2 <= room) {
        memcpy(joined + n, ": ", 2);
        n += 2;
    }
    size_t take = ml < room - n ? ml : room - n;
    memcpy(joined + n, e->message, take);
    n += take;
    joined[n] = '\0';
    memcpy(e->message, joined, n + 1);
    return false;
}

const char *err_code_name(err_code code)
{
    if ((int)code < 0 || code >= ERR_CODE_COUNT || code_names[code] == NULL)
        return "unknown";
    return code_names[code];
}
