/* Growable byte string, always NUL-terminated.
 *
 * Unlike most Escher types this struct is public: it is a value embedded in
 * other structs and used on hot paths (signing, parsing) where a heap handle
 * per buffer would cost more than it protects. Only touch the fields to read;
 * change them through these functions. */
#ifndef ESCHER_CORE_STRBUF_H
#define ESCHER_CORE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
    char *buf;  /* NUL-terminated; NULL until the first append */
    size_t len; /* bytes before the NUL */
    size_t cap; /* allocated bytes */
} strbuf;

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void strbuf_init(strbuf *sb);
/* Makes room for `extra` more bytes plus the NUL. Aborts on allocation failure. */
void strbuf_grow(strbuf *sb, size_t extra);
void strbuf_append(strbuf *sb, const void *data, size_t len);
void strbuf_puts(strbuf *sb, const char *s);
void strbuf_putc(strbuf *sb, char c);
void strbuf_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vprintf(strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends bytes as lower-case hex. */
void strbuf_hex(strbuf *sb, const unsigned char *data, size_t len);
/* Appends s[0..n) decoded as application/x-www-form-urlencoded: %XX as the
 * byte, '+' as a space; a '%' not followed by two hex digits stays literal,
 * as servers answering AWS clients treat it. */
void strbuf_form_decode(strbuf *sb, const char *s, size_t n);
/* Empties without freeing. */
void strbuf_reset(strbuf *sb);
/* Shortens to len bytes (no-op if already shorter). */
void strbuf_truncate(strbuf *sb, size_t len);
/* Returns the contents ("" when empty); the buffer keeps ownership. */
const char *strbuf_str(const strbuf *sb);
/* Hands the buffer to the caller (free() it) and leaves sb empty. Never NULL. */
char *strbuf_detach(strbuf *sb);
/* Frees the buffer. */
void strbuf_free(strbuf *sb);
/* Wipes the contents (secure_wipe) and frees: for buffers that held secrets. */
void strbuf_free_secret(strbuf *sb);

#endif
