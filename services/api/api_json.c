/* JSON text from result rows (see api_json.h). */
#include "api_json.h"

#include <stdbool.h>
#include <string.h>

void api_json_string(strbuf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    strbuf_putc(out, '"');
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        strbuf_append(out, run, (size_t)(p - run));
        run = p + 1;
        switch (c) {
        case '"':
            strbuf_puts(out, "\\\"");
            break;
        case '\\':
            strbuf_puts(out, "\\\\");
            break;
        case '\n':
            strbuf_puts(out, "\\n");
            break;
        case '\t':
            strbuf_puts(out, "\\t");
            break;
        case '\r':
            strbuf_puts(out, "\\r");
            break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            strbuf_puts(out, u);
        }
        }
    }
    strbuf_puts(out, run);
    strbuf_putc(out, '"');
}

/* "2026-11-24 05:10:43.123456+00" -> "2026-11-24T05:10:43Z". Anything else
 * (a connection whose TimeZone is not UTC) is passed on as a string rather
 * than misread. */
static void put_time(strbuf *out, const char *v)
{
    size_t n = strlen(v);
    bool utc = n >= 22 && v[10] == ' ' && strcmp(v + n - 3, "+00") == 0;
    if (!utc) {
        api_json_string(out, v);
        return;
    }
    char t[24];
    memcpy(t, v, 19);
    t[10] = 'T';
    t[19] = 'Z';
    t[20] = '\0';
    strbuf_putc(out, '"');
    strbuf_puts(out, t);
    strbuf_putc(out, '"');
}

void api_json_row(strbuf *out, const PGresult *res, int row, int first_col,
                  const api_col_kind *kinds)
{
    strbuf_putc(out, '{');
    for (int i = 0; kinds[i] != API_COL_END; i++) {
        int col = first_col + i;
        if (i)
            strbuf_putc(out, ',');
        api_json_string(out, PQfname(res, col));
        strbuf_putc(out, ':');
        if (PQgetisnull(res, row, col)) {
            strbuf_puts(out, "null");
            continue;
        }
        const char *v = PQgetvalue(res, row, col);
        switch (kinds[i]) {
        case API_COL_TIME:
            put_time(out, v);
            break;
        case API_COL_JSON:
            strbuf_puts(out, v);
            break;
        default:
            api_json_string(out, v);
        }
    }
    strbuf_putc(out, '}');
}
