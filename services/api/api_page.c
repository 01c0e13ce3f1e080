/* Cursor paging (see api_page.h). */
#include "api_page.h"

#include "core/strbuf.h"

#include <openssl/evp.h>
#include <stdio.h>
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

void api_page_fetch_limit(const api_page *p, char out[16])
{
    snprintf(out, 16, "%d", p->limit + 1);
}

/* The common end of a list: items from the shown rows (each appended by
 * one of the two row writers below), then the next cursor when more rows
 * came than shown. Rows are pasted as JSON text, never parsed and dumped
 * again (that round trip was most of a list's cost). */
typedef void (*row_writer)(strbuf *out, const PGresult *res, int row, int col,
                           const api_col_kind *kinds);

static void reply_page(api_req *r, const api_page *p, PGresult *res, int key_col, row_writer put,
                       int col, const api_col_kind *kinds)
{
    int n = PQntuples(res);
    int shown = n > p->limit ? p->limit : n;
    strbuf body;
    strbuf_init(&body);
    strbuf_puts(&body, "{\"items\":[");
    for (int i = 0; i < shown; i++) {
        if (i)
            strbuf_putc(&body, ',');
        put(&body, res, i, col, kinds);
    }
    strbuf_puts(&body, "],\"next_cursor\":");
    if (n > p->limit) {
        char enc[API_CURSOR_MAX * 2];
        b64url_encode(PQgetvalue(res, shown - 1, key_col), enc, sizeof enc);
        strbuf_printf(&body, "\"%s\"}", enc);
    } else {
        strbuf_puts(&body, "null}");
    }
    api_reply_raw(r, 200, strbuf_detach(&body));
}

static void put_json_column(strbuf *out, const PGresult *res, int row, int col,
                            const api_col_kind *kinds)
{
    (void)kinds;
    strbuf_append(out, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

void api_page_reply_rows(api_req *r, const api_page *p, PGresult *res, int key_col, int json_col)
{
    reply_page(r, p, res, key_col, put_json_column, json_col, NULL);
}

void api_page_reply_cols(api_req *r, const api_page *p, PGresult *res, int key_col, int first_col,
                         const api_col_kind *kinds)
{
    reply_page(r, p, res, key_col, api_json_row, first_col, kinds);
}

bool api_page_bad_cursor(api_req *r)
{
    return api_fail(r, 400, "invalid_query",
                    "query parameter 'cursor' is '%.64s', which no earlier page gave; "
                    "pass next_cursor from the previous answer unchanged",
                    api_query(r, "cursor"));
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
        /* strtol also takes leading blanks and a sign: digits only. */
        if (*limit < '0' || *limit > '9' || *end != '\0' || v < 1 || v > API_PAGE_MAX)
            return api_fail(r, 400, "invalid_query",
                            "query parameter 'limit' is '%.32s'; want an integer from 1 to %d",
                            limit, API_PAGE_MAX);
        p->limit = (int)v;
    }
    const char *cursor = api_query(r, "cursor");
    if (cursor) {
        if (!b64url_decode(cursor, p->key, sizeof p->key))
            return api_page_bad_cursor(r);
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

bool api_page_time_id(api_req *r, const api_page *p, char ts[API_PAGE_TIME_LEN],
                      char id[API_ID_LEN])
{
    /* The key is decoded client input: its shape is checked here so that the
     * database only ever sees a well-formed time and uuid. */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    const char *bar = strchr(p->key, '|');
    bool ok = p->has_cursor && bar != NULL && (size_t)(bar - p->key) == sizeof shape - 1;
    for (size_t i = 0; ok && i < sizeof shape - 1; i++)
        ok = shape[i] == 'd' ? p->key[i] >= '0' && p->key[i] <= '9' : p->key[i] == shape[i];
    if (!ok || !api_uuid_parse(bar + 1, id))
        return api_page_bad_cursor(r);
    memcpy(ts, p->key, sizeof shape - 1);
    ts[sizeof shape - 1] = '\0';
    return true;
}
