/* AWS credentials as a value: an access key pair, an optional session token
 * and an expiry. Secrets are wiped from memory when freed. */
#ifndef ESCHER_AWS_CREDS_H
#define ESCHER_AWS_CREDS_H

#include <stdbool.h>
#include <time.h>

typedef struct aws_creds {
    char *access_key_id;
    char *secret_access_key; /* wiped on free */
    char *session_token;     /* NULL for long-term keys; wiped on free */
    time_t expiration;       /* 0 when the credentials do not expire */
    char *source;            /* which provider produced them, for messages ("environment") */
} aws_creds;

/* Copies every string; token and source may be NULL. Caller frees with creds_free. */
aws_creds *creds_new(const char *access_key_id, const char *secret_access_key,
                     const char *session_token, time_t expiration, const char *source);
/* Deep copy; NULL gives NULL. */
aws_creds *creds_dup(const aws_creds *c);
/* Wipes the secret and token, then frees. NULL is accepted. */
void creds_free(aws_creds *c);
/* True when c expires within `margin` seconds of `now` (never for expiration 0). */
bool creds_expiring(const aws_creds *c, time_t now, int margin);

#endif
