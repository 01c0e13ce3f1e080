/* Local state in SQLite. The schema is a list of migrations applied in order
 * inside one transaction, with PRAGMA user_version recording how far a file
 * has come; a file from a newer escher is refused rather than guessed at.
 * Errors name the file: a locked one asks for a retry, a damaged one is left
 * exactly as it is (never recreated over) so the user can move it aside. */
#include "client_state.h"

#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Long enough to ride over another client's short write, short enough that a
 * user whose database is held open in a transaction hears about it. */
#define STATE_BUSY_MS 2000

struct client_state {
    sqlite3 *db;
    char *path;
    bool fts; /* chat_fts exists: search with MATCH, else LIKE */
};

typedef struct state_migration {
    int version;
    /* May fail without failing the open: FTS5 is a compile-time option of
     * SQLite, and search falls back to LIKE without it. */
    bool optional;
    const char *sql;
} state_migration;

#define STATE_NOW "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

static const state_migration state_migrations[] = {
    {1, false,
     "CREATE TABLE chat_history ("
     " id INTEGER PRIMARY KEY,"
     " at TEXT NOT NULL DEFAULT (" STATE_NOW "),"
     " role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),"
     " text TEXT NOT NULL);"
     "CREATE TABLE estate ("
     " account TEXT NOT NULL, region TEXT NOT NULL, resource_type TEXT NOT NULL,"
     " resource_id TEXT NOT NULL, name TEXT, state TEXT,"
     " data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),"
     " fetched_at TEXT NOT NULL,"
     " PRIMARY KEY (account, region, resource_type, resource_id)) WITHOUT ROWID;"
     "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"},
    {2, true,
     "CREATE VIRTUAL TABLE chat_fts USING fts5(text, content='chat_history', "
     "content_rowid='id');"
     "CREATE TRIGGER chat_history_fts_ins AFTER INSERT ON chat_history BEGIN"
     " INSERT INTO chat_fts(rowid, text) VALUES (new.id, new.text); END;"
     "CREATE TRIGGER chat_history_fts_del AFTER DELETE ON chat_history BEGIN"
     " INSERT INTO chat_fts(chat_fts, rowid, text) VALUES ('delete', old.id, old.text); END;"
     "CREATE TRIGGER chat_history_fts_upd AFTER UPDATE ON chat_history BEGIN"
     " INSERT INTO chat_fts(chat_fts, rowid, text) VALUES ('delete', old.id, old.text);"
     " INSERT INTO chat_fts(rowid, text) VALUES (new.id, new.text); END;"
     "INSERT INTO chat_fts(chat_fts) VALUES ('rebuild');"},
};
#define STATE_NMIGRATIONS (sizeof state_migrations / sizeof state_migrations[0])

char *client_state_path(const opts *o, err *e)
{
    const char *dir = o ? opts_get_string(o, "data-dir") : NULL;
    if (dir && dir[0])
        return xasprintf("%s/state.db", dir);
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && xdg[0])
        return xasprintf("%s/escher/state.db", xdg);
    const char *home = getenv("HOME");
    if (home && home[0])
        return xasprintf("%s/.local/share/escher/state.db", home);
    err_set(e, ERR_CONFIG,
            "neither XDG_DATA_HOME nor HOME is set: nowhere to keep the local state database");
    return NULL;
}

/* Turns an SQLite failure into the message the user acts on. Call before
 * anything else touches the connection (sqlite3_errmsg is the last call's). */
static bool state_fail(const client_state *s, int rc, const char *what, err *e)
{
    int primary = rc & 0xff;
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        return err_set(e, ERR_IO,
                       "the local state database %s is locked by another escher process; retry",
                       s->path);
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
        return err_set(e, ERR_IO,
                       "the local state database %s is damaged (%s); move it aside to start "
                       "afresh \xe2\x80\x94 history in it is not lost until you delete it",
                       s->path, msg);
    return err_set(e, ERR_IO, "the local state database %s: %s: %s", s->path, what, msg);
}

/* mkdir -p with 0700 for every directory it creates (XDG says data
 * directories are the user's alone). */
static bool state_mkdirs(const char *path, err *e)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    bool ok = true;
    for (char *p = dir + 1; ok; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            char c = *p;
            *p = '\0';
            if (dir[0] && mkdir(dir, 0700) != 0 && errno != EEXIST)
                ok = err_set(e, ERR_IO, "cannot create %s: %s", dir, strerror(errno));
            *p = c;
        }
        if (end)
            break;
    }
    free(dir);
    return ok;
}

/* Runs one statement with text parameters (NULL binds NULL) to completion. */
static bool state_run(client_state *s, const char *sql, const char *const *params, int n, err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return state_fail(s, rc, "preparing a statement", e);
    for (int i = 0; i < n; i++)
        sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    bool ok = rc == SQLITE_DONE || state_fail(s, rc, "writing", e);
    sqlite3_finalize(st);
    return ok;
}

static bool state_exec(client_state *s, const char *sql, const char *what, err *e)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK || state_fail(s, rc, what, e);
}

static void state_rollback(client_state *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* One write statement in its own transaction. IMMEDIATE takes the write lock
 * up front, so a busy database is met (and waited on) at BEGIN, not halfway. */
static bool state_write(client_state *s, const char *sql, const char *const *params, int n, err *e)
{
    if (!state_exec(s, "BEGIN IMMEDIATE", "starting a transaction", e))
        return false;
    if (!state_run(s, sql, params, n, e) || !state_exec(s, "COMMIT", "committing", e)) {
        state_rollback(s);
        return false;
    }
    return true;
}

static bool state_int(client_state *s, const char *sql, int *out, err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return state_fail(s, rc, "reading", e);
    rc = sqlite3_step(st);
    bool ok = true;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else if (rc == SQLITE_DONE)
        *out = 0;
    else
        ok = state_fail(s, rc, "reading", e);
    sqlite3_finalize(st);
    return ok;
}

static bool state_migrate(client_state *s, err *e)
{
    int latest = state_migrations[STATE_NMIGRATIONS - 1].version, have = 0;
    if (!state_int(s, "PRAGMA user_version", &have, e))
        return false;
    if (have > latest)
        return err_set(e, ERR_CONFIG,
                       "the local state database %s has schema version %d, newer than this "
                       "escher knows (%d); use a newer escher",
                       s->path, have, latest);
    if (have < latest) {
        if (!state_exec(s, "BEGIN IMMEDIATE", "starting the schema upgrade", e))
            return false;
        /* Another client may have upgraded it while we waited for the lock. */
        bool ok = state_int(s, "PRAGMA user_version", &have, e);
        for (size_t i = 0; ok && i < STATE_NMIGRATIONS; i++) {
            const state_migration *m = &state_migrations[i];
            if (m->version <= have)
                continue;
            if (!m->optional) {
                ok = state_exec(s, m->sql, "upgrading the schema", e);
                continue;
            }
            ok = state_exec(s, "SAVEPOINT optional", "upgrading the schema", e);
            if (ok && sqlite3_exec(s->db, m->sql, NULL, NULL, NULL) != SQLITE_OK)
                ok = state_exec(s, "ROLLBACK TO optional", "upgrading the schema", e);
            ok = ok && state_exec(s, "RELEASE optional", "upgrading the schema", e);
        }
        if (ok) {
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", latest);
            ok = state_exec(s, sql, "upgrading the schema", e) &&
                 state_exec(s, "COMMIT", "committing the schema upgrade", e);
        }
        if (!ok) {
            state_rollback(s);
            return false;
        }
    }
    int fts = 0;
    if (!state_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'chat_fts'", &fts, e))
        return false;
    s->fts = fts > 0;
    return true;
}

client_state *client_state_open(const opts *o, err *e)
{
    char *path = client_state_path(o, e);
    if (!path)
        return NULL;
    if (!state_mkdirs(path, e)) {
        free(path);
        return NULL;
    }
    /* Created here rather than by SQLite so it is 0600 from the first moment
     * (SQLite gives its -wal and -shm files the same mode). An existing file is
     * opened without being touched. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(e, ERR_IO, "cannot open the local state database %s: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    /* The history is the user's conversation with their estate: say so when
     * others can read it (a copy or a restore may not have kept 0600). */
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
        fprintf(stderr, "escher: warning: %s is readable by others (mode %03o): chmod 600 it\n",
                path, (unsigned)(st.st_mode & 0777));
    close(fd);
    client_state *s = xcalloc(1, sizeof *s);
    s->path = path;
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        state_fail(s, rc, "opening", e);
        client_state_close(s);
        return NULL;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, STATE_BUSY_MS);
    /* WAL: a killed writer leaves committed transactions in the log, replayed
     * on the next open; readers never block the writer. synchronous=FULL
     * makes each commit durable across power loss too. */
    if (!state_exec(s, "PRAGMA journal_mode = WAL", "switching to WAL", e) ||
        !state_exec(s, "PRAGMA synchronous = FULL", "setting synchronous", e) ||
        !state_migrate(s, e)) {
        client_state_close(s);
        return NULL;
    }
    return s;
}

void client_state_close(client_state *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

bool client_state_history_add(client_state *s, const char *role, const char *text, err *e)
{
    if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)
        return err_set(e, ERR_INVALID, "role '%s': want user or assistant", role);
    const char *p[] = {role, text};
    return state_write(s, "INSERT INTO chat_history (role, text) VALUES (?1, ?2)", p, 2, e);
}

/* Rows of (id, at, role, text) from a prepared statement into a JSON array. */
static bool state_rows(client_state *s, sqlite3_stmt *st, json_t **rows, err *e)
{
    json_t *a = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s}", "id",
                                           (json_int_t)sqlite3_column_int64(st, 0), "at",
                                           (const char *)sqlite3_column_text(st, 1), "role",
                                           (const char *)sqlite3_column_text(st, 2), "text",
                                           (const char *)sqlite3_column_text(st, 3)));
    if (rc != SQLITE_DONE) {
        state_fail(s, rc, "reading the history", e);
        json_decref(a);
        return false;
    }
    *rows = a;
    return true;
}

/* The newest `limit` matches, shown oldest first like a conversation. */
static bool state_history_query(client_state *s, const char *where, const char *arg, int limit,
                                json_t **rows, err *e)
{
    char *sql = xasprintf("SELECT id, at, role, text FROM (SELECT h.id, h.at, h.role, h.text "
                          "FROM chat_history h %s ORDER BY h.id DESC LIMIT ?2) ORDER BY id",
                          where);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return state_fail(s, rc, "reading the history", e);
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, limit);
    bool ok = state_rows(s, st, rows, e);
    sqlite3_finalize(st);
    return ok;
}

bool client_state_history_list(client_state *s, int limit, json_t **rows, err *e)
{
    return state_history_query(s, "", NULL, limit, rows, e);
}

bool client_state_history_search(client_state *s, const char *word, int limit, json_t **rows,
                                 err *e)
{
    /* The word is quoted as an FTS5 phrase (or escaped for LIKE) so that
     * punctuation in it is searched for, never read as query syntax. */
    char *arg = xmalloc(2 * strlen(word) + 3);
    char *q = arg;
    if (s->fts) {
        *q++ = '"';
        for (const char *p = word; *p; p++) {
            if (*p == '"')
                *q++ = '"';
            *q++ = *p;
        }
        *q++ = '"';
    } else {
        for (const char *p = word; *p; p++) {
            if (*p == '%' || *p == '_' || *p == '\\')
                *q++ = '\\';
            *q++ = *p;
        }
    }
    *q = '\0';
    bool ok =
        state_history_query(s,
                            s->fts ? "JOIN chat_fts f ON f.rowid = h.id WHERE chat_fts MATCH ?1"
                                   : "WHERE h.text LIKE '%' || ?1 || '%' ESCAPE '\\'",
                            arg, limit, rows, e);
    free(arg);
    return ok;
}

bool client_state_estate_put(client_state *s, const char *account, const char *region,
                             const char *resource_type, const char *resource_id, const char *name,
                             const char *state, const char *data, err *e)
{
    const char *p[] = {account, region, resource_type,     resource_id,
                       name,    state,  data ? data : "{}"};
    return state_write(s,
                       "INSERT INTO estate (account, region, resource_type, resource_id, name, "
                       "state, data, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, " STATE_NOW
                       ") ON CONFLICT (account, region, resource_type, resource_id) DO UPDATE "
                       "SET name = excluded.name, state = excluded.state, data = excluded.data, "
                       "fetched_at = excluded.fetched_at",
                       p, 7, e);
}

bool client_state_estate_replace(client_state *s, const char *region, const char *resource_type,
                                 const json_t *items, char **fetched_at, err *e)
{
    if (!state_exec(s, "BEGIN IMMEDIATE", "starting a transaction", e))
        return false;
    /* One time for the whole listing: the rows not stamped with it are the
     * ones AWS no longer returned. */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT " STATE_NOW, -1, &st, NULL);
    char *now = NULL;
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        now = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    bool ok = now || state_fail(s, rc == SQLITE_OK ? SQLITE_ERROR : rc, "reading the time", e);
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        if (!ok)
            break;
        char *data = json_dumps(json_object_get(it, "data"), JSON_COMPACT | JSON_SORT_KEYS);
        const char *p[] = {json_string_value(json_object_get(it, "account")),
                           region,
                           resource_type,
                           json_string_value(json_object_get(it, "id")),
                           json_string_value(json_object_get(it, "name")),
                           json_string_value(json_object_get(it, "state")),
                           data ? data : "{}",
                           now};
        ok = state_run(s,
                       "INSERT INTO estate (account, region, resource_type, resource_id, name, "
                       "state, data, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                       "ON CONFLICT (account, region, resource_type, resource_id) DO UPDATE "
                       "SET name = excluded.name, state = excluded.state, data = excluded.data, "
                       "fetched_at = excluded.fetched_at",
                       p, 8, e);
        free(data);
    }
    if (ok) {
        const char *p[] = {region, resource_type, now};
        ok = state_run(s,
                       "DELETE FROM estate WHERE region = ?1 AND resource_type = ?2 AND "
                       "fetched_at <> ?3",
                       p, 3, e) &&
             state_exec(s, "COMMIT", "committing", e);
    }
    if (!ok) {
        state_rollback(s);
        free(now);
        return false;
    }
    *fetched_at = now;
    return true;
}

bool client_state_estate_list(client_state *s, const char *region, json_t **rows, err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT account, region, resource_type, resource_id, name, state, "
                                "fetched_at, data FROM estate WHERE ?1 IS NULL OR region = ?1 "
                                "ORDER BY account, region, resource_type, resource_id",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return state_fail(s, rc, "reading the estate", e);
    if (region)
        sqlite3_bind_text(st, 1, region, -1, SQLITE_TRANSIENT);
    json_t *a = json_array();
    static const char *const names[] = {"account", "region", "type",       "id",
                                        "name",    "state",  "fetched_at", "data"};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        for (int c = 0; c < 7; c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            json_object_set_new(row, names[c], v ? json_string(v) : json_null());
        }
        json_t *d = json_loads((const char *)sqlite3_column_text(st, 7), 0, NULL);
        json_object_set_new(row, names[7], d ? d : json_object());
        json_array_append_new(a, row);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(a);
        return state_fail(s, rc, "reading the estate", e);
    }
    *rows = a;
    return true;
}

bool client_state_setting_get(client_state *s, const char *key, char **value, err *e)
{
    *value = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT value FROM settings WHERE key = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return state_fail(s, rc, "reading a setting", e);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    bool ok = true;
    if (rc == SQLITE_ROW)
        *value = xstrdup((const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_DONE)
        ok = state_fail(s, rc, "reading a setting", e);
    sqlite3_finalize(st);
    return ok;
}

bool client_state_setting_set(client_state *s, const char *key, const char *value, err *e)
{
    const char *p[] = {key, value};
    return state_write(s,
                       "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO "
                       "UPDATE SET value = excluded.value",
                       p, 2, e);
}
