/* Error objects: a stable code plus a message that quotes the offending value.
 *
 * Convention across Escher: a function that can fail returns bool (true on
 * success) and takes `err *e` as its last argument; on failure it fills *e and
 * returns false. Callers may pass NULL when they do not care why. The struct
 * is a plain value (no heap) so it can live on the stack of any caller and be
 * copied freely. */
#ifndef ESCHER_CORE_ERR_H
#define ESCHER_CORE_ERR_H

#include <stdbool.h>
#include <stddef.h>

/* Stable codes: they appear in logs and API answers, never renumber. */
typedef enum err_code {
    ERR_OK = 0,
    ERR_INVALID,        /* bad input from a caller or user */
    ERR_NOT_FOUND,      /* a named thing does not exist */
    ERR_IO,             /* file, socket or process I/O failed */
    ERR_PARSE,          /* a document (XML, JSON, INI, HTTP) is malformed */
    ERR_HTTP,           /* transport failure: connect, TLS, reset */
    ERR_TIMEOUT,        /* an operation ran out of time */
    ERR_AWS,            /* AWS answered with an error document */
    ERR_NO_CREDENTIALS, /* no credential source produced credentials */
    ERR_AUTH,           /* authentication or authorization refused */
    ERR_CONFIG,         /* configuration file, environment or flag is wrong */
    ERR_LIMIT,          /* a size or count limit was exceeded */
    ERR_INTERNAL,       /* a bug: an invariant did not hold */
    ERR_CODE_COUNT
} err_code;

#define ERR_MESSAGE_MAX 1024
#define ERR_FIELD_MAX   128

typedef struct err {
    err_code code;
    char message[ERR_MESSAGE_MAX];
    /* Filled only for errors that came from a remote service (ERR_AWS, ERR_HTTP). */
    int http_status;                 /* 0 when there was no HTTP answer */
    char remote_code[ERR_FIELD_MAX]; /* e.g. "ThrottlingException"; "" if none */
    char request_id[ERR_FIELD_MAX];  /* x-amz-request-id or equivalent; "" if none */
} err;

/* Resets *e to ERR_OK with empty fields. NULL is accepted. */
void err_clear(err *e);

/* Sets code and printf-style message (truncated to ERR_MESSAGE_MAX), clears the
 * remote fields, and returns false so callers can `return err_set(...)`.
 * e may be NULL. */
bool err_set(err *e, err_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like err_set but also records the remote service's status, code and request id. */
bool err_set_remote(err *e, err_code code, int http_status, const char *remote_code,
                    const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Prefixes the existing message with context ("reading ~/.aws/config: ...").
 * Keeps code and remote fields. Returns false. */
bool err_prefix(err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stable lower-case name of a code ("invalid", "aws", ...). Never NULL. */
const char *err_code_name(err_code code);

#endif
