/* Command output: table (people; colour only on a terminal), json (scripts)
 * or csv (spreadsheets). Listings follow next_cursor to the last page. */
#ifndef ESCHER_CLIENT_OUT_H
#define ESCHER_CLIENT_OUT_H

#include "client_api.h"

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

typedef enum client_out_format {
    CLIENT_OUT_TABLE,
    CLIENT_OUT_JSON,
    CLIENT_OUT_CSV
} client_out_format;

/* "table", "json" or "csv" (also "text" for table); false for anything else. */
bool client_out_parse(const char *name, client_out_format *f);

/* Prints items (an array of objects) with the given columns (NULL-terminated);
 * json prints the whole array. */
void client_out_items(FILE *out, client_out_format f, const json_t *items,
                      const char *const *columns);

/* Prints one object: "key: value" lines, the JSON object, or a header and row. */
void client_out_object(FILE *out, client_out_format f, const json_t *obj);

/* GETs path (which may have a query) page by page through next_cursor and
 * prints every item. */
bool client_out_list(FILE *out, client_out_format f, client_api *api, const char *path,
                     const char *const *columns, err *e);

#endif
