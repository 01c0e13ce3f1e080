#include "db/migrate.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "db/db.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A migration file must fit in memory comfortably; a bigger one is a mistake. */
#define MIGRATE_FILE_MAX (16u * 1024u * 1024u)

typedef struct mfile {
    int version;
    char *name;
    char *sql;
    char checksum[65];
} mfile;

typedef struct applied_row {
    int version;
    char *name;
    char checksum[65];
    char applied_at[40];
} applied_row;

static void mfiles_free(mfile *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].name);
        free(f[i].sql);
    }
    free(f);
}

static void rows_free(applied_row *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].name);
    free(r);
}

/* NNNN_name.sql with name in [a-z0-9_]+; *version gets NNNN (must be >= 1). */
static bool parse_name(const char *n, int *version)
{
    size_t len = strlen(n);
    if (len < 10 || strcmp(n + len - 4, ".sql") != 0 || n[4] != '_')
        return false;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        if (n[i] < '0' || n[i] > '9')
            return false;
        v = v * 10 + (n[i] - '0');
    }
    for (size_t i = 5; i < len - 4; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    *version = v;
    return v >= 1;
}

static bool read_all(const char *path, char **out, size_t *len, err *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(e, ERR_IO, "opening migration \"%s\": %s", path, strerror(errno));
    strbuf sb = STRBUF_INIT;
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        strbuf_append(&sb, buf, n);
        if (sb.len > MIGRATE_FILE_MAX) {
            fclose(f);
            strbuf_free(&sb);
            return err_set(e, ERR_LIMIT, "migration \"%s\" is larger than %u bytes", path,
                           MIGRATE_FILE_MAX);
        }
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) {
        strbuf_free(&sb);
        return err_set(e, ERR_IO, "reading migration \"%s\" failed", path);
    }
    if (memchr(strbuf_str(&sb), '\0', sb.len) != NULL) {
        strbuf_free(&sb);
        return err_set(e, ERR_INVALID, "migration \"%s\" contains a NUL byte", path);
    }
    *len = sb.len;
    *out = strbuf_detach(&sb);
    return true;
}

static bool sha256_hex(const char *data, size_t len, char out[65], err *e)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return err_set(e, ERR_INTERNAL, "SHA-256 of a migration failed");
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return true;
}

static int by_version(const void *a, const void *b)
{
    const mfile *x = a, *y = b;
    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Reads, checks and checksums every migration of dir, sorted by version. */
static bool list_files(const char *dir, mfile **out, size_t *count, err *e)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return err_set(e, ERR_IO, "opening migrations directory \"%s\": %s", dir, strerror(errno));
    mfile *files = NULL;
    size_t n = 0;
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        int version;
        if (!parse_name(de->d_name, &version)) {
            ok = err_set(e, ERR_INVALID,
                         "migration file \"%s\" in \"%s\" is badly named (want NNNN_name.sql: "
                         "four digits from 0001, then [a-z0-9_])",
                         de->d_name, dir);
            break;
        }
        char *path = xasprintf("%s/%s", dir, de->d_name);
        char *sql = NULL;
        size_t len = 0;
        ok = read_all(path, &sql, &len, e);
        free(path);
        if (!ok)
            break;
        files = xreallocarray(files, n + 1, sizeof *files);
        files[n] = (mfile){.version = version, .name = xstrdup(de->d_name), .sql = sql};
        n++;
        ok = sha256_hex(sql, len, files[n - 1].checksum, e);
    }
    closedir(d);
    if (ok && n > 1) {
        qsort(files, n, sizeof *files, by_version);
        for (size_t i = 1; i < n && ok; i++)
            if (files[i].version == files[i - 1].version)
                ok = err_set(e, ERR_INVALID,
                             "migrations \"%s\" and \"%s\" in \"%s\" have the same number %04d",
                             files[i - 1].name, files[i].name, dir, files[i].version);
    }
    if (!ok) {
        mfiles_free(files, n);
        return false;
    }
    *out = files;
    *count = n;
    return true;
}

static bool table_exists(PGconn *conn, bool *exists, err *e)
{
    PGresult *r = db_query(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL, e);
    if (r == NULL)
        return err_prefix(e, "checking for schema_migrations");
    *exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return true;
}

static bool load_applied(PGconn *conn, applied_row **out, size_t *count, err *e)
{
    PGresult *r = db_query(conn,
                           "SELECT version, name, checksum, applied_at FROM schema_migrations "
                           "ORDER BY version",
                           0, NULL, e);
    if (r == NULL)
        return false;
    size_t n = (size_t)PQntuples(r);
    applied_row *rows = xcalloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        rows[i].version = atoi(PQgetvalue(r, (int)i, 0));
        rows[i].name = xstrdup(PQgetvalue(r, (int)i, 1));
        snprintf(rows[i].checksum, sizeof rows[i].checksum, "%s", PQgetvalue(r, (int)i, 2));
        snprintf(rows[i].applied_at, sizeof rows[i].applied_at, "%s", PQgetvalue(r, (int)i, 3));
    }
    PQclear(r);
    *out = rows;
    *count = n;
    return true;
}

static const mfile *find_file(const mfile *f, size_t n, int version)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].version == version)
            return &f[i];
    return NULL;
}

static const applied_row *find_row(const applied_row *r, size_t n, int version)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].version == version)
            return &r[i];
    return NULL;
}

/* 1-based line of a 1-based character position (exact for ASCII files). */
static int line_of(const char *sql, const char *pos)
{
    long p = pos ? strtol(pos, NULL, 10) : 0;
    int line = 1;
    for (long i = 0; i + 1 < p && sql[i]; i++)
        if (sql[i] == '\n')
            line++;
    return line;
}

static bool apply_one(PGconn *conn, const char *dir, const mfile *f, err *e)
{
    if (!db_begin(conn, e))
        return err_prefix(e, "applying \"%s/%s\"", dir, f->name);
    /* Simple-query protocol: a file holds many statements and no parameters. */
    PGresult *r = PQexec(conn, f->sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY) {
        char what[600];
        const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
        if (pos)
            snprintf(what, sizeof what, "applying \"%s/%s\" (near line %d)", dir, f->name,
                     line_of(f->sql, pos));
        else
            snprintf(what, sizeof what, "applying \"%s/%s\"", dir, f->name);
        db_error(e, conn, r, what);
        PQclear(r);
        db_rollback(conn, NULL);
        return false;
    }
    PQclear(r);
    if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
        db_rollback(conn, NULL);
        return err_set(e, ERR_INVALID,
                       "migration \"%s/%s\" ended the runner's transaction (it must not contain "
                       "COMMIT or ROLLBACK)",
                       dir, f->name);
    }
    char version[16];
    snprintf(version, sizeof version, "%d", f->version);
    const char *p[3] = {version, f->name, f->checksum};
    if (!db_exec(conn,
                 "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3,
                 p, NULL, e) ||
        !db_commit(conn, e)) {
        db_rollback(conn, NULL);
        return err_prefix(e, "recording \"%s/%s\"", dir, f->name);
    }
    return true;
}

/* Every applied migration must still have its file, unchanged. */
static bool verify_applied(const char *dir, const mfile *files, size_t nf, const applied_row *rows,
                           size_t nr, err *e)
{
    for (size_t i = 0; i < nr; i++) {
        const mfile *f = find_file(files, nf, rows[i].version);
        if (f == NULL)
            return err_set(e, ERR_INVALID,
                           "migration %04d (\"%s\") was applied but has no file in \"%s\"; "
                           "refusing to migrate",
                           rows[i].version, rows[i].name, dir);
        if (strcmp(f->checksum, rows[i].checksum) != 0)
            return err_set(e, ERR_INVALID,
                           "migration \"%s/%s\" was edited after it was applied (applied "
                           "checksum %s, file checksum %s); refusing to migrate: add a new "
                           "migration instead",
                           dir, f->name, rows[i].checksum, f->checksum);
    }
    return true;
}

bool migrate_apply(PGconn *conn, const char *dir, int *applied_count, err *e)
{
    if (applied_count)
        *applied_count = 0;
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        return err_set(e, ERR_INVALID,
                       "migrating \"%s\": the connection is inside a transaction; each migration "
                       "needs its own",
                       dir);
    mfile *files = NULL;
    size_t nf = 0;
    if (!list_files(dir, &files, &nf, e))
        return false;

    char key[32];
    snprintf(key, sizeof key, "%lld", MIGRATE_LOCK_KEY);
    const char *kp[1] = {key};
    if (!db_exec(conn, "SELECT pg_advisory_lock($1::bigint)", 1, kp, NULL, e)) {
        mfiles_free(files, nf);
        return err_prefix(e, "taking the migration lock");
    }
    applied_row *rows = NULL;
    size_t nr = 0;
    bool ok = db_exec(conn,
                      "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, "
                      "name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT "
                      "NULL DEFAULT now())",
                      0, NULL, NULL, e) &&
              load_applied(conn, &rows, &nr, e) && verify_applied(dir, files, nf, rows, nr, e);
    for (size_t i = 0; ok && i < nf; i++) {
        if (find_row(rows, nr, files[i].version))
            continue;
        ok = apply_one(conn, dir, &files[i], e);
        if (ok && applied_count)
            (*applied_count)++;
    }
    /* Unlock even after a failure; a lost connection releases the lock anyway. */
    db_exec(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, kp, NULL, NULL);
    rows_free(rows, nr);
    mfiles_free(files, nf);
    return ok;
}

static int entry_order(const void *a, const void *b)
{
    const migrate_entry *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

bool migrate_status(PGconn *conn, const char *dir, migrate_entry **out, size_t *count, err *e)
{
    mfile *files = NULL;
    size_t nf = 0;
    if (!list_files(dir, &files, &nf, e))
        return false;
    applied_row *rows = NULL;
    size_t nr = 0;
    bool exists = false;
    if (!table_exists(conn, &exists, e) || (exists && !load_applied(conn, &rows, &nr, e))) {
        mfiles_free(files, nf);
        return false;
    }
    migrate_entry *ents = xcalloc(nf + nr + 1, sizeof *ents);
    size_t n = 0;
    for (size_t i = 0; i < nf; i++) {
        const applied_row *r = find_row(rows, nr, files[i].version);
        migrate_entry *m = &ents[n++];
        m->version = files[i].version;
        m->name = xstrdup(files[i].name);
        memcpy(m->checksum, files[i].checksum, sizeof m->checksum);
        if (r) {
            m->state =
                strcmp(r->checksum, files[i].checksum) == 0 ? MIGRATE_APPLIED : MIGRATE_EDITED;
            snprintf(m->applied_at, sizeof m->applied_at, "%s", r->applied_at);
        } else {
            m->state = MIGRATE_PENDING;
        }
    }
    for (size_t i = 0; i < nr; i++) {
        if (find_file(files, nf, rows[i].version))
            continue;
        migrate_entry *m = &ents[n++];
        m->version = rows[i].version;
        m->name = xstrdup(rows[i].name);
        m->state = MIGRATE_MISSING_FILE;
        snprintf(m->applied_at, sizeof m->applied_at, "%s", rows[i].applied_at);
    }
    qsort(ents, n, sizeof *ents, entry_order);
    rows_free(rows, nr);
    mfiles_free(files, nf);
    *out = ents;
    *count = n;
    return true;
}

void migrate_entries_free(migrate_entry *entries, size_t count)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(entries[i].name);
    free(entries);
}

const char *migrate_state_name(migrate_state s)
{
    switch (s) {
    case MIGRATE_PENDING:
        return "pending";
    case MIGRATE_APPLIED:
        return "applied";
    case MIGRATE_EDITED:
        return "edited";
    case MIGRATE_MISSING_FILE:
        return "missing-file";
    }
    return "unknown";
}
