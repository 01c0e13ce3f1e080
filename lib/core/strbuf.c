#include "core/strbuf.h"

#include "core/secure.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(strbuf *sb)
{
    sb->buf = NULL;
    sb->len = 0;
    sb->cap = 0;
}

void strbuf_grow(strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    sb->buf = xrealloc(sb->buf, cap);
    sb->cap = cap;
    /* A fresh buffer must read as "" even if nothing is appended to it. */
    sb->buf[sb->len] = '\0';
}

void strbuf_append(strbuf *sb, const void *data, size_t len)
{
    strbuf_grow(sb, len);
    if (len)
        memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void strbuf_puts(strbuf *sb, const char *s)
{
    strbuf_append(sb, s, strlen(s));
}

void strbuf_putc(strbuf *sb, char c)
{
    strbuf_grow(sb, 1);
    sb->buf[sb->len++] = c;
    sb->buf[sb->len] = '\0';
}

void strbuf_vprintf(strbuf *sb, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    strbuf_grow(sb, (size_t)n);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void strbuf_printf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
}

void strbuf_hex(strbuf *sb, const unsigned char *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    strbuf_grow(sb, len * 2);
    char *out = sb->buf + sb->len;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    sb->len += len * 2;
    sb->buf[sb->len] = '\0';
}

static int hex_digit(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

void strbuf_form_decode(strbuf *sb, const char *s, size_t n)
{
    strbuf_grow(sb, n);
    char *out = sb->buf + sb->len;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hex_digit((unsigned char)s[i + 1])) >= 0 &&
            (lo = hex_digit((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    sb->len += o;
    sb->buf[sb->len] = '\0';
}

void strbuf_reset(strbuf *sb)
{
    strbuf_truncate(sb, 0);
}

void strbuf_truncate(strbuf *sb, size_t len)
{
    if (sb->buf == NULL || len >= sb->len)
        return;
    sb->len = len;
    sb->buf[len] = '\0';
}

const char *strbuf_str(const strbuf *sb)
{
    return sb->buf ? sb->buf : "";
}

char *strbuf_detach(strbuf *sb)
{
    char *out = sb->buf ? sb->buf : xstrdup("");
    strbuf_init(sb);
    return out;
}

void strbuf_free(strbuf *sb)
{
    free(sb->buf);
    strbuf_init(sb);
}

void strbuf_free_secret(strbuf *sb)
{
    if (sb->buf)
        secure_wipe(sb->buf, sb->cap);
    strbuf_free(sb);
}
