#include "core/log.h"

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---------------------------------------------------------------- output */

/* Shared by a root logger and all its children, freed with the last of them. */
typedef struct log_sink {
    atomic_int refs;
    atomic_int min;
    int fd;
    char *service;
    pthread_mutex_t mu; /* serialises writes so partial writes of long lines cannot interleave */
} log_sink;

typedef struct ctx_field {
    char *key;
    log_field_type type;
    char *s; /* already redacted */
    int64_t i;
    bool b;
} ctx_field;

struct logger {
    log_sink *sink;
    ctx_field *ctx;
    size_t nctx;
};

const char *const log_level_names[] = {"debug", "info", "warn", "error", NULL};
/* Entries before the NULL terminator. */
#define NLEVELS (sizeof log_level_names / sizeof log_level_names[0] - 1)

const char *log_level_name(log_level level)
{
    if ((int)level < 0 || (size_t)level >= NLEVELS)
        return "unknown";
    return log_level_names[level];
}

bool log_level_parse(const char *s, log_level *out, err *e)
{
    for (size_t i = 0; i < NLEVELS; i++) {
        if (strcasecmp(s, log_level_names[i]) == 0) {
            *out = (log_level)i;
            return true;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return true;
    }
    char *shown = log_redact_value(NULL, s);
    err_set(e, ERR_INVALID, "'%s' is not a log level (debug, info, warn, error)", shown);
    free(shown);
    return false;
}

logger *log_new(const char *service, log_level min, int fd)
{
    log_sink *sink = xcalloc(1, sizeof *sink);
    atomic_init(&sink->refs, 1);
    atomic_init(&sink->min, (int)min);
    sink->fd = fd < 0 ? STDERR_FILENO : fd;
    sink->service = xstrdup(service ? service : "");
    pthread_mutex_init(&sink->mu, NULL);
    logger *l = xcalloc(1, sizeof *l);
    l->sink = sink;
    return l;
}

static void sink_release(log_sink *sink)
{
    if (atomic_fetch_sub(&sink->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&sink->mu);
    free(sink->service);
    free(sink);
}

static void ctx_copy(ctx_field *dst, const log_field *src)
{
    dst->key = xstrdup(src->key ? src->key : "");
    dst->type = src->type;
    dst->i = src->i;
    dst->b = src->b;
    dst->s = NULL;
    if (log_key_is_secret(dst->key)) {
        /* Whatever the type, a secret-named value is never kept. */
        dst->type = LOG_FIELD_STR;
        dst->s = xstrdup(LOG_REDACTED);
    } else if (src->type == LOG_FIELD_STR && src->s != NULL) {
        dst->s = log_redact_value(NULL, src->s);
    }
}

logger *log_child_a(const logger *parent, const log_field *fields)
{
    size_t n = 0;
    while (fields && fields[n].type != LOG_FIELD_END)
        n++;
    logger *l = xcalloc(1, sizeof *l);
    l->sink = parent->sink;
    atomic_fetch_add(&l->sink->refs, 1);
    l->nctx = parent->nctx + n;
    l->ctx = l->nctx ? xreallocarray(NULL, l->nctx, sizeof *l->ctx) : NULL;
    for (size_t i = 0; i < parent->nctx; i++) {
        const ctx_field *p = &parent->ctx[i];
        l->ctx[i] = (ctx_field){.key = xstrdup(p->key),
                                .type = p->type,
                                .s = p->s ? xstrdup(p->s) : NULL,
                                .i = p->i,
                                .b = p->b};
    }
    for (size_t i = 0; i < n; i++)
        ctx_copy(&l->ctx[parent->nctx + i], &fields[i]);
    return l;
}

void log_free(logger *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->nctx; i++) {
        free(l->ctx[i].key);
        free(l->ctx[i].s);
    }
    free(l->ctx);
    sink_release(l->sink);
    free(l);
}

void log_set_level(logger *l, log_level min)
{
    atomic_store(&l->sink->min, (int)min);
}

log_level log_get_level(const logger *l)
{
    return (log_level)atomic_load(&l->sink->min);
}

bool log_enabled(const logger *l, log_level level)
{
    return l != NULL && (int)level >= atomic_load(&l->sink->min);
}

/* Copies s replacing each invalid UTF-8 sequence with U+FFFD, because jansson
 * refuses invalid UTF-8 and a log line must not vanish over one bad byte. */
static char *utf8_sanitize(const char *s)
{
    strbuf out = STRBUF_INIT;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n = 0;
        unsigned cp = 0, min = 0;
        if (c < 0x80) {
            strbuf_putc(&out, (char)c);
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            strbuf_puts(&out, "\xEF\xBF\xBD");
            p++;
            continue;
        }
        size_t k = 1;
        for (; k <= n; k++) {
            if ((p[k] & 0xC0) != 0x80)
                break;
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        if (k <= n || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            strbuf_puts(&out, "\xEF\xBF\xBD");
            p++; /* resynchronise on the next byte */
            continue;
        }
        strbuf_append(&out, p, n + 1);
        p += n + 1;
    }
    return strbuf_detach(&out);
}

static bool key_reserved(const char *key)
{
    return strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "service") == 0 ||
           strcmp(key, "msg") == 0;
}

/* Adds key=value to obj; keys that would overwrite the fixed members get a
 * leading '_' so a field can never forge the level or the message. */
static void put(json_t *obj, const char *key, json_t *value)
{
    char *k = utf8_sanitize(key ? key : "");
    if (key_reserved(k)) {
        char *renamed = xasprintf("_%s", k);
        free(k);
        k = renamed;
    }
    json_object_set_new(obj, k, value);
    free(k);
}

static json_t *str_value(const char *s)
{
    if (s == NULL)
        return json_null();
    char *clean = utf8_sanitize(s);
    json_t *v = json_string(clean);
    free(clean);
    return v;
}

static void put_field(json_t *obj, const log_field *f)
{
    const char *key = f->key ? f->key : "";
    if (log_key_is_secret(key)) {
        put(obj, key, json_string(LOG_REDACTED));
        return;
    }
    switch (f->type) {
    case LOG_FIELD_STR: {
        char *safe = log_redact_value(NULL, f->s);
        put(obj, key, str_value(safe));
        free(safe);
        break;
    }
    case LOG_FIELD_INT:
        put(obj, key, json_integer((json_int_t)f->i));
        break;
    case LOG_FIELD_BOOL:
        put(obj, key, json_boolean(f->b));
        break;
    case LOG_FIELD_END:
        break;
    }
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void log_emit(const logger *l, log_level level, const char *msg, const log_field *fields)
{
    if (!log_enabled(l, level))
        return;
    char ts[25];
    timeutil_format_log(timeutil_now_ms(), ts);
    json_t *obj = json_object();
    json_object_set_new(obj, "ts", json_string(ts));
    json_object_set_new(obj, "level", json_string(log_level_name(level)));
    json_object_set_new(obj, "service", str_value(l->sink->service));
    char *safe_msg = log_redact_value(NULL, msg ? msg : "");
    json_object_set_new(obj, "msg", str_value(safe_msg));
    free(safe_msg);
    for (size_t i = 0; i < l->nctx; i++) {
        const ctx_field *c = &l->ctx[i];
        /* Context values were redacted when the child was made. */
        switch (c->type) {
        case LOG_FIELD_STR:
            put(obj, c->key, str_value(c->s));
            break;
        case LOG_FIELD_INT:
            put(obj, c->key, json_integer((json_int_t)c->i));
            break;
        case LOG_FIELD_BOOL:
            put(obj, c->key, json_boolean(c->b));
            break;
        case LOG_FIELD_END:
            break;
        }
    }
    for (size_t i = 0; fields && fields[i].type != LOG_FIELD_END; i++)
        put_field(obj, &fields[i]);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (text == NULL)
        return;
    size_t len = strlen(text);
    char *line = xmalloc(len + 2);
    memcpy(line, text, len);
    line[len] = '\n';
    line[len + 1] = '\0';
    free(text);
    pthread_mutex_lock(&l->sink->mu);
    write_all(l->sink->fd, line, len + 1);
    pthread_mutex_unlock(&l->sink->mu);
    free(line);
}

/* ------------------------------------------------------------- redaction */

/* Normalised forms: lower case, without '_', '-', '.' and spaces. */
static const char *const secret_words[] = {
    "secret",     "password",   "passwd", "passphrase", "token",     "authorization",
    "credential", "privatekey", "apikey", "cookie",     "signature",
};

bool log_key_is_secret(const char *key)
{
    if (key == NULL)
        return false;
    char norm[256];
    size_t n = 0;
    for (const char *p = key; *p && n + 1 < sizeof norm; p++) {
        if (*p == '_' || *p == '-' || *p == '.' || *p == ' ')
            continue;
        norm[n++] = (char)tolower((unsigned char)*p);
    }
    norm[n] = '\0';
    for (size_t i = 0; i < sizeof secret_words / sizeof secret_words[0]; i++)
        if (strstr(norm, secret_words[i]) != NULL)
            return true;
    return false;
}

static bool is_b64(unsigned char c)
{
    return isalnum(c) || c == '+' || c == '/';
}

static bool is_b64url(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_';
}

static bool is_name_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static void mark(bool *mask, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        mask[i] = true;
}

/* Random base64 has upper, lower and digits almost surely; paths, words and hex
 * digests rarely have all three, which keeps false positives down. */
static bool looks_random(const char *s, size_t len)
{
    bool up = false, low = false, dig = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        up |= isupper(c) != 0;
        low |= islower(c) != 0;
        dig |= isdigit(c) != 0;
    }
    return up && low && dig;
}

/* AWS secret access keys (exactly 40) and STS session tokens (hundreds). */
static void mask_base64_runs(const char *s, size_t len, bool *mask)
{
    size_t i = 0;
    while (i < len) {
        if (!is_b64((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && is_b64((unsigned char)s[i]))
            i++;
        size_t run = i - start;
        size_t end = i;
        while (end < len && s[end] == '=' && end - i < 2)
            end++;
        if ((run == 40 || run >= 100) && looks_random(s + start, run))
            mark(mask, start, end);
        i = end > i ? end : i;
    }
}

/* JWTs (web identity tokens, OIDC): eyJ<header>.<payload>.<signature>. */
static void mask_jwts(const char *s, size_t len, bool *mask)
{
    for (size_t i = 0; i + 3 < len; i++) {
        if (strncmp(s + i, "eyJ", 3) != 0 || (i > 0 && is_b64url((unsigned char)s[i - 1])))
            continue;
        size_t j = i, dots = 0;
        while (j < len && (is_b64url((unsigned char)s[j]) || s[j] == '.')) {
            dots += s[j] == '.';
            j++;
        }
        if (dots >= 2) {
            mark(mask, i, j);
            i = j;
        }
    }
}

/* scheme://user:PASSWORD@host */
static void mask_url_passwords(const char *s, size_t len, bool *mask)
{
    for (const char *p = strstr(s, "://"); p != NULL; p = strstr(p + 3, "://")) {
        size_t auth = (size_t)(p - s) + 3, end = auth;
        while (end < len && !strchr("/?# \t\r\n\"'<>", s[end]))
            end++;
        size_t at = end;
        while (at > auth && s[at - 1] != '@')
            at--;
        if (at == auth)
            continue; /* no userinfo */
        at--;         /* index of '@' */
        const char *colon = memchr(s + auth, ':', at - auth);
        if (colon != NULL && (size_t)(colon - s) + 1 < at)
            mark(mask, (size_t)(colon - s) + 1, at);
    }
}

/* name=value, name: value and "name":"value" where name looks secret. */
static void mask_named_values(const char *s, size_t len, bool *mask)
{
    for (size_t i = 1; i < len; i++) {
        if (s[i] != '=' && s[i] != ':')
            continue;
        if (s[i] == ':' && i + 2 < len && s[i + 1] == '/' && s[i + 2] == '/')
            continue; /* a URL scheme */
        size_t ne = i;
        if (s[ne - 1] == '"')
            ne--;
        size_t ns = ne;
        while (ns > 0 && is_name_char((unsigned char)s[ns - 1]))
            ns--;
        if (ns == ne)
            continue;
        char name[128];
        size_t nl = ne - ns < sizeof name - 1 ? ne - ns : sizeof name - 1;
        memcpy(name, s + ns, nl);
        name[nl] = '\0';
        if (!log_key_is_secret(name))
            continue;
        size_t v = i + 1;
        while (v < len && (s[v] == ' ' || s[v] == '\t'))
            v++;
        char quote = 0;
        if (v < len && (s[v] == '"' || s[v] == '\'')) {
            quote = s[v];
            v++;
        }
        size_t ve = v;
        if (quote)
            while (ve < len && s[ve] != quote)
                ve++;
        else if (s[i] == ':')
            /* Header style ("Authorization: Bearer x"): the value runs to the line's end. */
            while (ve < len && s[ve] != '\n' && s[ve] != '\r')
                ve++;
        else
            while (ve < len && !strchr(" \t\r\n&;,\"'", s[ve]))
                ve++;
        if (ve > v)
            mark(mask, v, ve);
    }
}

char *log_redact_value(const char *key, const char *value)
{
    if (value == NULL)
        return NULL;
    if (key != NULL && log_key_is_secret(key))
        return xstrdup(LOG_REDACTED);
    size_t len = strlen(value);
    bool *mask = xcalloc(len + 1, sizeof *mask);
    mask_base64_runs(value, len, mask);
    mask_jwts(value, len, mask);
    mask_url_passwords(value, len, mask);
    mask_named_values(value, len, mask);
    strbuf out = STRBUF_INIT;
    for (size_t i = 0; i < len;) {
        if (!mask[i]) {
            strbuf_putc(&out, value[i++]);
            continue;
        }
        strbuf_puts(&out, LOG_REDACTED);
        while (i < len && mask[i])
            i++;
    }
    free(mask);
    return strbuf_detach(&out);
}
