#include "aws/creds.h"

#include "core/secure.h"
#include "core/xmalloc.h"

#include <stdlib.h>

aws_creds *creds_new(const char *access_key_id, const char *secret_access_key,
                     const char *session_token, time_t expiration, const char *source)
{
    aws_creds *c = xcalloc(1, sizeof *c);
    c->access_key_id = xstrdup(access_key_id);
    c->secret_access_key = xstrdup(secret_access_key);
    c->session_token = session_token ? xstrdup(session_token) : NULL;
    c->expiration = expiration;
    c->source = xstrdup(source ? source : "static");
    return c;
}

aws_creds *creds_dup(const aws_creds *c)
{
    if (c == NULL)
        return NULL;
    return creds_new(c->access_key_id, c->secret_access_key, c->session_token, c->expiration,
                     c->source);
}

void creds_free(aws_creds *c)
{
    if (c == NULL)
        return;
    free(c->access_key_id);
    secure_free_string(c->secret_access_key);
    secure_free_string(c->session_token);
    free(c->source);
    free(c);
}

bool creds_expiring(const aws_creds *c, time_t now, int margin)
{
    return c->expiration != 0 && c->expiration - margin <= now;
}
