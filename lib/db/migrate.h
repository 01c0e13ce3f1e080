/* Schema migrations: every file migrations/NNNN_name.sql applied once, in
 * numeric order, each in its own transaction, recorded in schema_migrations
 * (version, name, SHA-256 hex checksum, applied_at).
 *
 * Concurrent runners (several escher-api processes starting at once) are
 * serialized by a session advisory lock with a fixed key, so each file runs
 * exactly once. A runner refuses to apply anything when a file that was
 * already applied has been edited since, or has disappeared: the database no
 * longer matches the source, and guessing would be worse than stopping.
 *
 * Every non-hidden entry of the directory must be a migration named
 * NNNN_name.sql (four digits, 0001 and up; name in [a-z0-9_]); anything else is
 * an error quoting the name, so a typo never silently skips a file. Roles are
 * created by migrations, which therefore need a superuser (or CREATEROLE and
 * BYPASSRLS) connection. */
#ifndef ESCHER_DB_MIGRATE_H
#define ESCHER_DB_MIGRATE_H

#include "core/err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The advisory lock key (pg_advisory_lock) that serializes runners: the
 * bytes "escher\0\1", so it cannot collide with small keys other code picks. */
#define MIGRATE_LOCK_KEY 7310295920182165505LL

/* Applies every pending migration of dir on conn (which must not be inside a
 * transaction). *applied_count (may be NULL) receives how many files this call
 * applied, also on failure (files before the failing one stay applied).
 * Fails with ERR_INVALID naming the file for bad names, duplicate numbers, an
 * edited applied file (both checksums) or a missing applied file; with the
 * server's error (SQLSTATE, file and line) when a file fails to apply; ERR_IO
 * when dir or a file cannot be read. */
bool migrate_apply(PGconn *conn, const char *dir, int *applied_count, err *e);

typedef enum migrate_state {
    MIGRATE_PENDING,      /* file present, not applied */
    MIGRATE_APPLIED,      /* applied, file unchanged */
    MIGRATE_EDITED,       /* applied, but the file's checksum differs */
    MIGRATE_MISSING_FILE, /* applied, but no file with that number in dir */
} migrate_state;

typedef struct migrate_entry {
    int version;
    char *name; /* file name ("0001_core.sql"), or the recorded name if missing */
    migrate_state state;
    char checksum[65];   /* of the file; "" when missing */
    char applied_at[40]; /* as PostgreSQL prints it; "" when pending */
} migrate_entry;

/* Lists every migration known to dir or to the database, in version order,
 * without changing anything and without taking the lock. The caller frees the
 * array with migrate_entries_free. Fails like migrate_apply for unreadable or
 * badly named files. */
bool migrate_status(PGconn *conn, const char *dir, migrate_entry **out, size_t *count, err *e);

void migrate_entries_free(migrate_entry *entries, size_t count);

/* Stable name of a state ("pending", "applied", "edited", "missing-file"). */
const char *migrate_state_name(migrate_state s);

#endif
