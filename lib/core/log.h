/* Structured logging: one JSON object per line.
 *
 *   {"ts":"2024-05-01T12:00:00.123Z","level":"info","service":"escher-worker",
 *    "msg":"job leased","job_id":"j-42","attempt":2}
 *
 * Lines go to one file descriptor (stderr unless told otherwise) with one
 * write() per line under a lock, so lines from many threads never interleave
 * and a log shipper can split on '\n'. JSON is built with jansson so any byte
 * in a message or field is escaped correctly; invalid UTF-8 is replaced by
 * U+FFFD rather than dropping the line.
 *
 * Secrets never reach the output in clear: a field whose name looks secret is
 * written as "[REDACTED]", and every string (message included) is scanned for
 * values that look like AWS secret keys, session tokens, JWTs, URL passwords
 * and `password=...` pairs, which are masked wherever they appear. The same
 * scanner is exported as log_redact_value() for code that prints or stores
 * text (configuration dumps, error messages, audit rows).
 *
 * A logger made by log_child() carries context fields (a job id, a connection
 * id) that appear on every line it writes, the way PgBouncer prefixes each line
 * with its connection. Children share the parent's output and level. */
#ifndef ESCHER_CORE_LOG_H
#define ESCHER_CORE_LOG_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names avoid syslog.h's LOG_DEBUG/LOG_INFO macros. */
typedef enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
} log_level;

typedef enum log_field_type {
    LOG_FIELD_END = 0, /* terminates a field array */
    LOG_FIELD_STR,
    LOG_FIELD_INT,
    LOG_FIELD_BOOL,
} log_field_type;

/* One key-value pair. Build with the LOG_STR/LOG_INT/LOG_BOOL macros; the key
 * and string are borrowed for the duration of the call only. */
typedef struct log_field {
    log_field_type type;
    const char *key;
    const char *s; /* LOG_FIELD_STR; NULL is written as JSON null */
    int64_t i;     /* LOG_FIELD_INT */
    bool b;        /* LOG_FIELD_BOOL */
} log_field;

#define LOG_STR(k, v)  ((log_field){.type = LOG_FIELD_STR, .key = (k), .s = (v)})
#define LOG_INT(k, v)  ((log_field){.type = LOG_FIELD_INT, .key = (k), .i = (int64_t)(v)})
#define LOG_BOOL(k, v) ((log_field){.type = LOG_FIELD_BOOL, .key = (k), .b = (v)})
#define LOG_END        ((log_field){.type = LOG_FIELD_END})

typedef struct logger logger;

/* Creates a logger that writes lines for `service` (e.g. "escher-api") to fd,
 * dropping lines below `min`. fd is borrowed: the caller keeps it open for the
 * logger's life and closes it afterwards; -1 means stderr. The caller owns
 * the result and frees it with log_free. Never fails (aborts on OOM). */
logger *log_new(const char *service, log_level min, int fd);

/* Creates a logger that writes through `parent`'s output with the parent's
 * context fields plus `fields` (terminated by LOG_END) on every line. Values
 * are copied and redacted now. Parent and child may be freed in any order.
 * The caller owns the result (log_free). */
logger *log_child_a(const logger *parent, const log_field *fields);
#define log_child(parent, ...) log_child_a((parent), (const log_field[]){__VA_ARGS__, LOG_END})

/* Frees a logger (and its output state once no child uses it). NULL is accepted.
 * Does not close the fd. */
void log_free(logger *l);

/* Sets the minimum level for this logger and every logger sharing its output. */
void log_set_level(logger *l, log_level min);
log_level log_get_level(const logger *l);
/* True when a line at `level` would be written: guard expensive field building. */
bool log_enabled(const logger *l, log_level level);

/* Writes one line at `level` with `msg` and `fields` (terminated by LOG_END;
 * NULL for none) after the context fields. Lines below the minimum level are
 * dropped. Write errors are ignored: a logger cannot report its own failure,
 * and a full disk must not stop the daemon. NULL l is accepted (no-op). */
void log_emit(const logger *l, log_level level, const char *msg, const log_field *fields);

/* __VA_OPT__ (C23; GCC >= 8 and Clang >= 12 accept it in C17 mode) lets the
 * field list be empty while still type-checking every field as a log_field. */
#define LOG__FIELDS(...)       ((const log_field[]){__VA_ARGS__ __VA_OPT__(, ) LOG_END})
#define log_debug(l, msg, ...) log_emit((l), LOG_LEVEL_DEBUG, (msg), LOG__FIELDS(__VA_ARGS__))
#define log_info(l, msg, ...)  log_emit((l), LOG_LEVEL_INFO, (msg), LOG__FIELDS(__VA_ARGS__))
#define log_warn(l, msg, ...)  log_emit((l), LOG_LEVEL_WARN, (msg), LOG__FIELDS(__VA_ARGS__))
#define log_error(l, msg, ...) log_emit((l), LOG_LEVEL_ERROR, (msg), LOG__FIELDS(__VA_ARGS__))

/* The level names in order, NULL-terminated: the choices of every program's
 * log-level option. */
extern const char *const log_level_names[];

/* Stable lower-case level name ("debug", "info", "warn", "error"). Never NULL. */
const char *log_level_name(log_level level);

/* Parses a level name (case-insensitive; "warning" is accepted for "warn").
 * Fails with ERR_INVALID quoting s and listing the valid names. */
bool log_level_parse(const char *s, log_level *out, err *e);

/* Placeholder written instead of a secret. */
#define LOG_REDACTED "[REDACTED]"

/* True when a field or option name looks like it holds a secret: it contains
 * (case-insensitive, ignoring '_', '-', '.' and spaces) secret, password,
 * passwd, token, authorization, credential, private key, api key, cookie or
 * signature; this covers session_token, secret_access_key and webhook_secret. */
bool log_key_is_secret(const char *key);

/* Returns a new string (caller frees) safe to print for the pair key/value:
 * LOG_REDACTED when key looks secret (key may be NULL to skip that check);
 * otherwise value with every secret-looking part replaced by LOG_REDACTED:
 * 40-character mixed-case base64 runs (AWS secret access keys), base64 runs of
 * 100+ characters (STS session tokens), JWTs, the password in URL userinfo
 * (scheme://user:PASS@host) and the value of secret-named `name=value` pairs
 * (query strings, libpq conninfo). NULL value gives NULL. */
char *log_redact_value(const char *key, const char *value);

#endif
