/* Cursor paging (see api_page.h). */
#include "api_page.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void b64url_encode(const char *in, char *out, size_t cap)
{
    unsigned char tmp[API_CURSOR_MAX * 2];
    size_t n = strlen(in);
    if (n > API_CURSOR_MAX - 1)
        n = API_CURSOR_MAX - 1;
    int len = EVP_EncodeBlock(tmp, (const unsigned char *)in, (int)n);
    size_t j = 0;
    for (int i = 0; i < len && j + 1 < cap; i++) {
        char c = (char)tmp[i];
        if (c == '=')
            break;
        out[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[j] = '\0';
}

static bool b64url_decode(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    if (n == 0 || n > (cap - 1) / 3 * 4 || n % 4 == 1)
        return false;
    char tmp[API_CURSOR_MAX * 2 + 4];
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
        tmp[j++] = c;
    }
    while (j % 4)
        tmp[j++] = '=';
    unsigned char bin[API_CURSOR_MAX * 2];
    int len = EVP_DecodeBlock(bin, (const unsigned char *)tmp, (int)j);
    if (len < 0)
        return false;
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    for (size_t k = n; k % 4; k++)
        len--;
    if (len <= 0 || (size_t)len >= cap || memchr(bin, '\0', (size_t)len) != NULL)
        return false;
    memcpy(out, bin, (size_t)len);
    out[len] = '\0';
    return true;
}

bool api_page_parse(api_req *r, api_page *p)
{
    p->limit = API_PAGE_DEFAULT;
    p->has_cursor = false;
    p->key[0] = '\0';
    const char *limit = api_query(r, "limit");
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*limit == '\0' || *end != '\0' || v < 1 || v > API_PAGE_MAX)
            return api_fail(r, 400, "invalid_query",
                            "query parameter 'limit' is '%.32s'; want an integer from 1 to %d",
                            limit, API_PAGE_MAX);
        p->limit = (int)v;
    }
    const char *cursor = api_query(r, "cursor");
    if (cursor) {
        if (!b64url_decode(cursor, p->key, sizeof p->key))
            return api_fail(r, 400, "invalid_query",
                            "query parameter 'cursor' is '%.64s', which no earlier page gave; "
                            "pass next_cursor from the previous answer unchanged",
                            cursor);
        p->has_cursor = true;
    }
    return true;
}

void api_page_reply(api_req *r, json_t *items, const char *next_key)
{
    json_t *next = json_null();
    if (next_key) {
        char enc[API_CURSOR_MAX * 2];
        b64url_encode(next_key, enc, sizeof enc);
        next = json_string(enc);
    }
    api_reply(r, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}
