/* Audit trail: an append-only, hash-chained log per tenant (table audit_log,
 * migrations/0003_audit.sql).
 *
 * Every row carries hash = SHA-256(encoding) where the encoding is, in order:
 *
 *   the 16 bytes "escher.audit.v1\n"            (format tag; change = new tag)
 *   field(tenant_id)    lower-case 36-character uuid text
 *   field(seq)          8 bytes, big-endian two's complement
 *   field(at)           8 bytes, big-endian: microseconds since 1970 UTC
 *   field(actor)        UTF-8 bytes
 *   field(action)       UTF-8 bytes
 *   field(target)       UTF-8 bytes
 *   field(detail)       canonical JSON text (see below)
 *   field(prev_hash)    32 bytes
 *
 * where field(x) is the 8-byte big-endian length of x followed by x. Every
 * field is length-prefixed, so no two different rows encode alike.
 *
 * The canonical detail is jansson's JSON_SORT_KEYS|JSON_COMPACT dump of the
 * value as PostgreSQL's jsonb gives it back (jsonb normalizes numbers and
 * drops duplicate keys); append and verify both canonicalize through jsonb so
 * the stored row always re-hashes to the same bytes.
 *
 * Tenant scoping: both functions run with escher.tenant_id set to the tenant
 * (RLS), setting it for the transaction when it is unset and refusing when it
 * names another tenant. They work for escher_api (RLS) and escher_worker. */
#ifndef ESCHER_AUDIT_AUDIT_H
#define ESCHER_AUDIT_AUDIT_H

#include "core/err.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_HASH_LEN   32
#define AUDIT_REASON_MAX 256

/* Appends one row to tenant_id's chain and stores its seq in *seq_out (may be
 * NULL). actor ("alice@example.com", "token:<id>", "worker:<id>") and action
 * ("accounts.create", "job.step") must be non-empty; target may be NULL
 * (stored as ""); detail may be NULL (stored as {}); detail is borrowed.
 *
 * When conn is idle the append runs in its own transaction and is committed
 * on success. When conn is inside a transaction the row joins it, so it
 * commits or rolls back with the caller's mutation; a failure then leaves that
 * transaction aborted and the caller must roll back. Appends to one tenant are
 * serialized by a transaction-scoped advisory lock, held until the caller's
 * transaction ends, so call this late in a long transaction. Under REPEATABLE
 * READ or SERIALIZABLE a concurrent append can make this fail with a unique
 * violation (never a forked chain): retry the transaction.
 *
 * Fails (ERR_INVALID) on a malformed tenant id, empty actor/action, or a detail
 * that jansson cannot round-trip (e.g. integers beyond 64 bits); ERR_IO on
 * database errors, quoting the server's message, with the SQLSTATE in
 * e->remote_code. */
bool audit_append(PGconn *conn, const char *tenant_id, const char *actor, const char *action,
                  const char *target, const json_t *detail, int64_t *seq_out, err *e);

/* What audit_verify found. first_broken_seq is 0 when the chain is intact;
 * otherwise the first seq that is missing (a gap) or whose hash or prev_hash
 * link does not match, and reason says which. */
typedef struct audit_report {
    int64_t rows_checked;     /* rows read up to and including the broken one */
    int64_t last_seq;         /* seq of the last row read; 0 for an empty log */
    int64_t first_broken_seq; /* 0 = intact */
    char reason[AUDIT_REASON_MAX];
} audit_report;

/* Recomputes tenant_id's chain in seq order through a server-side cursor
 * (bounded memory) and fills *out. Returns true when the check ran, whether
 * or not the chain is intact (look at out->first_broken_seq); false with *e
 * on a malformed tenant id or a database error. Runs in its own REPEATABLE
 * READ READ ONLY transaction when conn is idle, else inside the caller's.
 *
 * Limitation: truncation of the newest rows leaves a shorter valid chain;
 * compare out->last_seq with a head recorded elsewhere to detect it. */
bool audit_verify(PGconn *conn, const char *tenant_id, audit_report *out, err *e);

/* Computes a row's hash from its fields as described above (exposed for the
 * API's export/offline verification and for tests). tenant_id must already be
 * the lower-case uuid text; detail_canon is the canonical JSON text. Pure. */
void audit_hash(const char *tenant_id, int64_t seq, int64_t at_us, const char *actor,
                const char *action, const char *target, const char *detail_canon,
                const unsigned char prev_hash[AUDIT_HASH_LEN], unsigned char out[AUDIT_HASH_LEN]);

/* The canonical text of a JSON value (JSON_SORT_KEYS|JSON_COMPACT|
 * JSON_ENCODE_ANY). Caller frees. Returns NULL only when jansson cannot
 * encode the value. */
char *audit_canonical_json(const json_t *v);

#endif
