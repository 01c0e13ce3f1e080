/* Output formats. Colour (a bold table header) only when stdout is a terminal
 * and NO_COLOR is unset, so pipes and files never get escape codes. */
#include "client_out.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool client_out_parse(const char *name, client_out_format *f)
{
    if (strcmp(name, "table") == 0 || strcmp(name, "text") == 0)
        *f = CLIENT_OUT_TABLE;
    else if (strcmp(name, "json") == 0)
        *f = CLIENT_OUT_JSON;
    else if (strcmp(name, "csv") == 0)
        *f = CLIENT_OUT_CSV;
    else
        return false;
    return true;
}

static bool colour(FILE *out)
{
    const char *no = getenv("NO_COLOR");
    return isatty(fileno(out)) && !(no && no[0]);
}

/* Text of a value: strings as they are, null as `dash`, the rest compact JSON. */
static char *cell(const json_t *v, const char *dash)
{
    if (!v || json_is_null(v))
        return xstrdup(dash);
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *r = xstrdup(s ? s : "");
    free(s);
    return r;
}

static void csv_field(FILE *out, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void client_out_items(FILE *out, client_out_format f, const json_t *items,
                      const char *const *columns)
{
    size_t ncol = 0;
    while (columns[ncol])
        ncol++;
    size_t nrow = json_array_size(items);
    if (f == CLIENT_OUT_JSON) {
        json_dumpf(items, out, JSON_INDENT(2));
        fputc('\n', out);
        return;
    }
    if (f == CLIENT_OUT_CSV) {
        for (size_t c = 0; c < ncol; c++) {
            if (c)
                fputc(',', out);
            csv_field(out, columns[c]);
        }
        fputc('\n', out);
        for (size_t r = 0; r < nrow; r++) {
            for (size_t c = 0; c < ncol; c++) {
                char *s = cell(json_object_get(json_array_get(items, r), columns[c]), "");
                if (c)
                    fputc(',', out);
                csv_field(out, s);
                free(s);
            }
            fputc('\n', out);
        }
        return;
    }
    size_t *width = xcalloc(ncol, sizeof *width);
    char **cells = xcalloc(nrow * ncol + 1, sizeof *cells);
    for (size_t c = 0; c < ncol; c++)
        width[c] = strlen(columns[c]);
    for (size_t r = 0; r < nrow; r++)
        for (size_t c = 0; c < ncol; c++) {
            char *s = cell(json_object_get(json_array_get(items, r), columns[c]), "-");
            cells[r * ncol + c] = s;
            if (strlen(s) > width[c])
                width[c] = strlen(s);
        }
    bool bold = colour(out);
    if (bold)
        fputs("\033[1m", out);
    for (size_t c = 0; c < ncol; c++) {
        fprintf(out, "%-*s%s", c + 1 < ncol ? (int)width[c] : 0, columns[c],
                c + 1 < ncol ? "  " : "");
    }
    fputs(bold ? "\033[0m\n" : "\n", out);
    for (size_t r = 0; r < nrow; r++) {
        for (size_t c = 0; c < ncol; c++)
            fprintf(out, "%-*s%s", c + 1 < ncol ? (int)width[c] : 0, cells[r * ncol + c],
                    c + 1 < ncol ? "  " : "");
        fputc('\n', out);
    }
    for (size_t i = 0; i < nrow * ncol; i++)
        free(cells[i]);
    free(cells);
    free(width);
}

void client_out_object(FILE *out, client_out_format f, const json_t *obj)
{
    if (f == CLIENT_OUT_JSON || !json_is_object(obj)) {
        json_dumpf(obj, out, JSON_INDENT(2) | JSON_ENCODE_ANY);
        fputc('\n', out);
        return;
    }
    size_t n = json_object_size(obj), i = 0;
    const char **keys = xcalloc(n + 1, sizeof *keys);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v) keys[i++] = k;
    if (f == CLIENT_OUT_CSV) {
        json_t *rows = json_array();
        json_array_append(rows, (json_t *)obj);
        client_out_items(out, f, rows, keys);
        json_decref(rows);
        free(keys);
        return;
    }
    size_t w = 0;
    for (i = 0; i < n; i++)
        if (strlen(keys[i]) > w)
            w = strlen(keys[i]);
    for (i = 0; i < n; i++) {
        char *s = cell(json_object_get(obj, keys[i]), "-");
        fprintf(out, "%-*s  %s\n", (int)w + 1, keys[i], s);
        free(s);
    }
    free(keys);
}

static void url_escape(strbuf *sb, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            strbuf_putc(sb, (char)c);
        else
            strbuf_printf(sb, "%%%02X", c);
    }
}

bool client_out_list(FILE *out, client_out_format f, client_api *api, const char *path,
                     const char *const *columns, err *e)
{
    json_t *all = json_array();
    char *cursor = NULL;
    bool ok = true;
    for (;;) {
        strbuf p = STRBUF_INIT;
        strbuf_puts(&p, path);
        strbuf_puts(&p, strchr(path, '?') ? "&limit=500" : "?limit=500");
        if (cursor) {
            strbuf_puts(&p, "&cursor=");
            url_escape(&p, cursor);
        }
        json_t *page = NULL;
        ok = client_api_call(api, "GET", strbuf_str(&p), NULL, &page, e);
        strbuf_free(&p);
        free(cursor);
        cursor = NULL;
        if (!ok)
            break;
        json_array_extend(all, json_object_get(page, "items"));
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        if (next)
            cursor = xstrdup(next);
        json_decref(page);
        if (!cursor)
            break;
    }
    if (ok)
        client_out_items(out, f, all, columns);
    json_decref(all);
    return ok;
}
