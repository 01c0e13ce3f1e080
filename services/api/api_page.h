/* Cursor paging for list routes: `?limit=N&cursor=C`, answered as
 * {"items": [...], "next_cursor": "..." | null}.
 *
 * A cursor is the base64url of the last returned row's sort key (text the
 * handler chooses, e.g. an account id or "<created_at>|<id>"): opaque to
 * clients, stable across inserts (keyset paging, never OFFSET), and never
 * trusted: handlers validate the decoded key like any input. */
#ifndef ESCHER_API_PAGE_H
#define ESCHER_API_PAGE_H

#include "api_json.h"
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

/* For a list query: the row count to fetch, p->limit + 1 as text (one more
 * than shown, so the answer knows whether a next page exists). */
void api_page_fetch_limit(const api_page *p, char out[16]);

/* Records the 200 answer from res, the rows of a list query that fetched
 * api_page_fetch_limit rows: each shown row's column json_col (JSON text
 * the SQL built) is an item, and when more rows came than shown the last
 * shown row's column key_col is the next cursor's key. res stays the
 * caller's. */
void api_page_reply_rows(api_req *r, const api_page *p, PGresult *res, int key_col, int json_col);

/* api_page_reply_rows for rows of plain columns: each shown row becomes
 * api_json_row(res, row, first_col, kinds) (api_json.h). */
void api_page_reply_cols(api_req *r, const api_page *p, PGresult *res, int key_col, int first_col,
                         const api_col_kind *kinds);

/* Records the 400 for a cursor that no page of this list gave (for a
 * handler whose check of the decoded key fails). Returns false. */
bool api_page_bad_cursor(api_req *r);

/* Lists newest first by (created_at, id) use the key "<created_at>|<id>",
 * the time in UTC to the microsecond (PostgreSQL's precision, so the key
 * finds its row again exactly). API_PAGE_TIME_ID_KEY(ts, id) is the SQL
 * expression that makes it from the columns ts and id. */
#define API_PAGE_TIME_ID_KEY(ts, id)                                                               \
    "(to_char(" ts " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '|' || " id ")"
#define API_PAGE_TIME_LEN 28 /* "2026-11-24T04:54:55.123456Z" and its NUL */

/* Splits p's cursor key (p->has_cursor) into its time and its id, for
 * "(created_at, id) < ($ts::timestamptz, $id::uuid)". Records
 * api_page_bad_cursor's 400 and returns false when the key does not have
 * that shape. */
bool api_page_time_id(api_req *r, const api_page *p, char ts[API_PAGE_TIME_LEN],
                      char id[API_ID_LEN]);

#endif
