/* Cursor paging for list routes: `?limit=N&cursor=C`, answered as
 * {"items": [...], "next_cursor": "..." | null}.
 *
 * A cursor is the base64url of the last returned row's sort key (text the
 * handler chooses, e.g. an account id or "<created_at>|<id>"): opaque to
 * clients, stable across inserts (keyset paging, never OFFSET), and never
 * trusted: handlers validate the decoded key like any input. */
#ifndef ESCHER_API_PAGE_H
#define ESCHER_API_PAGE_H

#include "api_req.h"

#include <jansson.h>
#include <stdbool.h>

#define API_PAGE_DEFAULT 50
#define API_PAGE_MAX     500
#define API_CURSOR_MAX   256

typedef struct api_page {
    int limit; /* 1..API_PAGE_MAX */
    bool has_cursor;
    char key[API_CURSOR_MAX]; /* the decoded key when has_cursor */
} api_page;

/* Reads limit and cursor from the query. Records a 400 naming the parameter
 * and value and returns false when either is malformed. */
bool api_page_parse(api_req *r, api_page *p);

/* Records the 200 answer {"items": items, "next_cursor": ...} (steals
 * items): next_key is the sort key of the last item when there may be more
 * (the handler fetched limit + 1 rows and got them all), NULL otherwise. */
void api_page_reply(api_req *r, json_t *items, const char *next_key);

#endif
