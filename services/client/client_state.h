/* The client's local state: one SQLite database at DIR/state.db for
 * --data-dir DIR (ESCHER_DATA_DIR), else $XDG_DATA_HOME/escher/state.db, else
 * ~/.local/share/escher/state.db, with
 * chat history, the estate cache and settings. WAL mode and a transaction per
 * write, so a client killed at any moment keeps every row it committed. A
 * locked or damaged database is reported as such and never deleted or
 * rewritten: the history in it belongs to the user. */
#ifndef ESCHER_CLIENT_STATE_H
#define ESCHER_CLIENT_STATE_H

#include "core/err.h"
#include "core/opts.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct client_state client_state;

/* The database's path (caller frees): the data-dir option of o (may be
 * NULL), else the environment's. ERR_CONFIG when neither says. */
char *client_state_path(const opts *o, err *e);

/* Opens (creating the directory 0700 and the file 0600 when missing) and
 * brings the schema up to date. NULL with *e set when it cannot. */
client_state *client_state_open(const opts *o, err *e);

void client_state_close(client_state *s);

/* Appends one message; role is "user" or "assistant". */
bool client_state_history_add(client_state *s, const char *role, const char *text, err *e);

/* The last `limit` messages, oldest first, as an array of objects {id, at,
 * role, text} in *rows (caller decrefs). */
bool client_state_history_list(client_state *s, int limit, json_t **rows, err *e);

/* Messages containing `word` (full-text when SQLite has FTS5, else a
 * substring match), oldest first, at most `limit`. */
bool client_state_history_search(client_state *s, const char *word, int limit, json_t **rows,
                                 err *e);

/* Records (or replaces) one resource seen in an account and region. data is a
 * JSON object text; fetched_at is set to now. */
bool client_state_estate_put(client_state *s, const char *account, const char *region,
                             const char *resource_type, const char *resource_id, const char *name,
                             const char *state, const char *data, err *e);

/* Replaces the cached resources of one region and type with items (objects
 * {account, id, name, state, data (object)}), in one transaction: rows not
 * in items are removed. *fetched_at is the time stamped on them (caller
 * frees). */
bool client_state_estate_replace(client_state *s, const char *region, const char *resource_type,
                                 const json_t *items, char **fetched_at, err *e);

/* The cached resources (of one region, or all when region is NULL) as
 * objects {account, region, type, id, name, state, fetched_at, data}. */
bool client_state_estate_list(client_state *s, const char *region, json_t **rows, err *e);

/* A setting's value in *value (caller frees; NULL when unset). */
bool client_state_setting_get(client_state *s, const char *key, char **value, err *e);

bool client_state_setting_set(client_state *s, const char *key, const char *value, err *e);

#endif
