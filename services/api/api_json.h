/* JSON text straight from result rows, for the hot list routes: no jansson
 * object per row, no JSON building in SQL (json_build_object and to_char
 * were most of GET /v1/accounts' cost, see docs/performance.md). */
#ifndef ESCHER_API_JSON_H
#define ESCHER_API_JSON_H

#include "core/strbuf.h"

#include <libpq-fe.h>

/* How a column becomes a JSON value (SQL NULL is always null). */
typedef enum api_col_kind {
    API_COL_TEXT, /* a string, escaped */
    API_COL_TIME, /* a timestamptz read with TimeZone UTC: "2026-11-24T05:10:43Z" */
    API_COL_JSON, /* already JSON text (e.g. array_to_json(...)): copied as is */
    API_COL_END,  /* ends a kinds list */
} api_col_kind;

/* Appends s as a JSON string (quotes included) to out. s is UTF-8 from the
 * database; control characters and quotes are escaped. */
void api_json_string(strbuf *out, const char *s);

/* Appends row `row` of res as a JSON object: columns first_col, first_col+1,
 * ... for each entry of kinds up to API_COL_END, keyed by the column's name. */
void api_json_row(strbuf *out, const PGresult *res, int row, int first_col,
                  const api_col_kind *kinds);

#endif
