#include "audit/audit.h"

#include "core/text.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_TAG     "escher.audit.v1\n"
#define UUID_TEXT_LEN 36
/* Rows fetched per cursor round trip in audit_verify: bounds memory. */
#define VERIFY_FETCH "FETCH 500 FROM escher_audit_verify"

/* ---- canonical encoding ------------------------------------------------ */

static void put_u64(unsigned char out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static void hash_field(EVP_MD_CTX *ctx, const void *data, size_t len)
{
    unsigned char n[8];
    put_u64(n, (uint64_t)len);
    EVP_DigestUpdate(ctx, n, sizeof n);
    if (len > 0)
        EVP_DigestUpdate(ctx, data, len);
}

static void hash_int(EVP_MD_CTX *ctx, int64_t v)
{
    unsigned char b[8];
    put_u64(b, (uint64_t)v);
    hash_field(ctx, b, sizeof b);
}

void audit_hash(const char *tenant_id, int64_t seq, int64_t at_us, const char *actor,
                const char *action, const char *target, const char *detail_canon,
                const unsigned char prev_hash[AUDIT_HASH_LEN], unsigned char out[AUDIT_HASH_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        /* Only on allocation failure inside OpenSSL, like xmalloc. */
        fprintf(stderr, "audit_hash: cannot initialise SHA-256\n");
        abort();
    }
    EVP_DigestUpdate(ctx, AUDIT_TAG, strlen(AUDIT_TAG));
    hash_field(ctx, tenant_id, strlen(tenant_id));
    hash_int(ctx, seq);
    hash_int(ctx, at_us);
    hash_field(ctx, actor, strlen(actor));
    hash_field(ctx, action, strlen(action));
    hash_field(ctx, target, strlen(target));
    hash_field(ctx, detail_canon, strlen(detail_canon));
    hash_field(ctx, prev_hash, AUDIT_HASH_LEN);
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, out, &n);
    EVP_MD_CTX_free(ctx);
}

char *audit_canonical_json(const json_t *v)
{
    return json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Canonical text of jsonb's own text output (see audit.h for why jsonb's). */
static char *canonical_from_jsonb_text(const char *text, err *e)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (v == NULL) {
        err_set(e, ERR_INVALID, "audit: detail %.200s cannot be canonicalized: %s", text, je.text);
        return NULL;
    }
    char *c = audit_canonical_json(v);
    json_decref(v);
    if (c == NULL)
        err_set(e, ERR_INVALID, "audit: detail %.200s cannot be encoded", text);
    return c;
}

/* ---- helpers ------------------------------------------------------------ */

/* Lower-cases a canonical 8-4-4-4-12 uuid into out; false if malformed. */
static bool normalize_uuid(const char *in, char out[UUID_TEXT_LEN + 1], err *e)
{
    if (in == NULL || strlen(in) != UUID_TEXT_LEN)
        return err_set(e, ERR_INVALID, "audit: tenant id '%.64s' is not a uuid",
                       in ? in : "(null)");
    for (size_t i = 0; i < UUID_TEXT_LEN; i++) {
        unsigned char c = (unsigned char)in[i];
        bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? c != '-' : !isxdigit(c))
            return err_set(e, ERR_INVALID, "audit: tenant id '%s' is not a uuid", in);
        out[i] = (char)tolower(c);
    }
    out[UUID_TEXT_LEN] = '\0';
    return true;
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* Parses exactly 2*AUDIT_HASH_LEN hex digits; false on anything else. */
static bool from_hex(const char *s, unsigned char out[AUDIT_HASH_LEN])
{
    if (strlen(s) != 2 * AUDIT_HASH_LEN)
        return false;
    for (size_t i = 0; i < AUDIT_HASH_LEN; i++) {
        int hi = text_hex_digit(s[2 * i]), lo = text_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

/* Runs a parameterized statement; on failure fills *e with the server's
 * message, quoting what was being done, and returns NULL. */
static PGresult *exec(PGconn *conn, const char *what, const char *tenant, const char *sql,
                      int nparams, const char *const *params, err *e)
{
    PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *msg = PQresultErrorMessage(r);
    if (msg == NULL || *msg == '\0')
        msg = PQerrorMessage(conn);
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    err_set(e, ERR_IO, "audit: %s for tenant '%s': %.*s", what, tenant, (int)len, msg);
    /* The SQLSTATE lets callers tell a retryable unique violation (23505)
     * from other failures, like lib/db's errors do. */
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (e && state)
        snprintf(e->remote_code, sizeof e->remote_code, "%s", state);
    PQclear(r);
    return NULL;
}

static bool exec_cmd(PGconn *conn, const char *what, const char *tenant, const char *sql,
                     int nparams, const char *const *params, err *e)
{
    PGresult *r = exec(conn, what, tenant, sql, nparams, params, e);
    PQclear(r);
    return r != NULL;
}

/* Decides whether we own the transaction: idle means yes (and BEGINs with
 * begin_sql), inside a healthy transaction means no, anything else fails. */
static bool enter_tx(PGconn *conn, const char *tenant, const char *begin_sql, bool *own, err *e)
{
    PGTransactionStatusType ts = PQtransactionStatus(conn);
    if (ts == PQTRANS_INTRANS) {
        *own = false;
        return true;
    }
    if (ts != PQTRANS_IDLE)
        return err_set(e, ERR_INVALID,
                       "audit: connection for tenant '%s' is not usable (transaction status %d)",
                       tenant, (int)ts);
    *own = true;
    return exec_cmd(conn, "BEGIN", tenant, begin_sql, 0, NULL, e);
}

static void abort_own_tx(PGconn *conn, bool own)
{
    if (own && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
}

/* Makes escher.tenant_id name this tenant for the transaction: sets it when
 * unset; refuses when it names another tenant, because writing or reading
 * another tenant's chain from a transaction scoped to someone else is a bug
 * in the caller that RLS would otherwise only partly catch. */
static bool scope_tenant(PGconn *conn, const char *tenant, err *e)
{
    const char *p[1] = {tenant};
    PGresult *r = exec(conn, "reading escher.tenant_id", tenant,
                       "SELECT current_setting('escher.tenant_id', true)", 0, NULL, e);
    if (r == NULL)
        return false;
    bool unset = PQgetisnull(r, 0, 0) || *PQgetvalue(r, 0, 0) == '\0';
    char cur[UUID_TEXT_LEN + 1] = "";
    bool same =
        !unset && normalize_uuid(PQgetvalue(r, 0, 0), cur, NULL) && strcmp(cur, tenant) == 0;
    if (!unset && !same) {
        err_set(e, ERR_INVALID,
                "audit: transaction is scoped to tenant '%.64s', not to tenant '%s'",
                PQgetvalue(r, 0, 0), tenant);
        PQclear(r);
        return false;
    }
    PQclear(r);
    if (same)
        return true;
    return exec_cmd(conn, "setting escher.tenant_id", tenant,
                    "SELECT set_config('escher.tenant_id', $1, true)", 1, p, e);
}

/* ---- append ------------------------------------------------------------- */

static bool append_in_tx(PGconn *conn, const char *tenant, const char *actor, const char *action,
                         const char *target, const char *detail_in, int64_t *seq_out, err *e)
{
    if (!scope_tenant(conn, tenant, e))
        return false;
    const char *p1[1] = {tenant};
    /* Serializes appends per tenant until the transaction ends; distinct
     * tenants hashing to one key only wait for each other, never fork. */
    if (!exec_cmd(conn, "locking the chain", tenant,
                  "SELECT pg_advisory_xact_lock(hashtextextended('escher.audit:' || $1, 0))", 1, p1,
                  e))
        return false;

    /* The clock, the chain head and jsonb's normal form of detail in one
     * round trip. `at` travels as ISO text with microseconds so it is stored
     * exactly as hashed. */
    const char *p2[2] = {tenant, detail_in};
    PGresult *r =
        exec(conn, "reading the chain head", tenant,
             "SELECT to_char(n.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
             " (extract(epoch FROM n.ts) * 1000000)::bigint,"
             " l.seq, encode(l.hash, 'hex'), $2::jsonb::text"
             " FROM (SELECT clock_timestamp() AS ts) n"
             " LEFT JOIN LATERAL (SELECT seq, hash FROM audit_log"
             "   WHERE tenant_id = $1::uuid ORDER BY seq DESC LIMIT 1) l ON true",
             2, p2, e);
    if (r == NULL)
        return false;
    char *at_text = xstrdup(PQgetvalue(r, 0, 0));
    int64_t at_us = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    int64_t seq = 1;
    unsigned char prev[AUDIT_HASH_LEN] = {0};
    bool ok = true;
    if (!PQgetisnull(r, 0, 2)) {
        seq = strtoll(PQgetvalue(r, 0, 2), NULL, 10) + 1;
        if (!from_hex(PQgetvalue(r, 0, 3), prev))
            ok = err_set(e, ERR_INTERNAL, "audit: stored hash of tenant '%s' seq %s is malformed",
                         tenant, PQgetvalue(r, 0, 2));
    }
    char *detail_jsonb = xstrdup(PQgetvalue(r, 0, 4));
    PQclear(r);
    char *canon = ok ? canonical_from_jsonb_text(detail_jsonb, e) : NULL;
    if (canon == NULL) {
        free(at_text);
        free(detail_jsonb);
        return false;
    }

    unsigned char h[AUDIT_HASH_LEN];
    audit_hash(tenant, seq, at_us, actor, action, target, canon, prev, h);
    char seq_s[24], prev_hex[2 * AUDIT_HASH_LEN + 1], hash_hex[2 * AUDIT_HASH_LEN + 1];
    snprintf(seq_s, sizeof seq_s, "%" PRId64, seq);
    to_hex(prev, sizeof prev, prev_hex);
    to_hex(h, sizeof h, hash_hex);
    const char *p3[9] = {tenant, seq_s,        at_text,  actor,   action,
                         target, detail_jsonb, prev_hex, hash_hex};
    ok = exec_cmd(conn, "inserting the audit row", tenant,
                  "INSERT INTO audit_log (tenant_id, seq, at, actor, action, target, detail,"
                  " prev_hash, hash) VALUES ($1::uuid, $2::bigint, $3::timestamptz, $4, $5, $6,"
                  " $7::jsonb, decode($8, 'hex'), decode($9, 'hex'))",
                  9, p3, e);
    free(at_text);
    free(detail_jsonb);
    free(canon);
    if (ok && seq_out)
        *seq_out = seq;
    return ok;
}

bool audit_append(PGconn *conn, const char *tenant_id, const char *actor, const char *action,
                  const char *target, const json_t *detail, int64_t *seq_out, err *e)
{
    char tenant[UUID_TEXT_LEN + 1];
    if (!normalize_uuid(tenant_id, tenant, e))
        return false;
    if (actor == NULL || *actor == '\0')
        return err_set(e, ERR_INVALID, "audit: empty actor for action '%.64s' of tenant '%s'",
                       action ? action : "(null)", tenant);
    if (action == NULL || *action == '\0')
        return err_set(e, ERR_INVALID, "audit: empty action by actor '%.64s' of tenant '%s'", actor,
                       tenant);
    if (target == NULL)
        target = "";
    char *detail_in = detail ? audit_canonical_json(detail) : xstrdup("{}");
    if (detail_in == NULL)
        return err_set(e, ERR_INVALID, "audit: detail of action '%.64s' cannot be encoded", action);

    bool own = false;
    bool ok = enter_tx(conn, tenant, "BEGIN", &own, e) &&
              append_in_tx(conn, tenant, actor, action, target, detail_in, seq_out, e);
    free(detail_in);
    if (ok && own)
        ok = exec_cmd(conn, "COMMIT", tenant, "COMMIT", 0, NULL, e);
    if (!ok)
        abort_own_tx(conn, own);
    return ok;
}

/* ---- verify ------------------------------------------------------------- */

typedef struct chain_state {
    int64_t next_seq;
    unsigned char prev[AUDIT_HASH_LEN];
} chain_state;

/* Checks one fetched row against the chain; false (with out filled) on the
 * first break. */
static bool check_row(const char *tenant, PGresult *r, int i, chain_state *st, audit_report *out,
                      err *e, bool *fatal)
{
    int64_t seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    int64_t at_us = strtoll(PQgetvalue(r, i, 1), NULL, 10);
    out->rows_checked++;
    out->last_seq = seq;
    if (seq != st->next_seq) {
        out->first_broken_seq = st->next_seq;
        snprintf(out->reason, sizeof out->reason,
                 "seq %" PRId64 " is missing (next row is seq %" PRId64 ")", st->next_seq, seq);
        return false;
    }
    unsigned char prev[AUDIT_HASH_LEN], stored[AUDIT_HASH_LEN], h[AUDIT_HASH_LEN];
    if (!from_hex(PQgetvalue(r, i, 6), prev) || memcmp(prev, st->prev, AUDIT_HASH_LEN) != 0) {
        out->first_broken_seq = seq;
        snprintf(out->reason, sizeof out->reason,
                 "seq %" PRId64 ": prev_hash does not match the hash of seq %" PRId64, seq,
                 seq - 1);
        return false;
    }
    char *canon = canonical_from_jsonb_text(PQgetvalue(r, i, 5), e);
    if (canon == NULL) {
        *fatal = true;
        return false;
    }
    audit_hash(tenant, seq, at_us, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
               canon, prev, h);
    free(canon);
    if (!from_hex(PQgetvalue(r, i, 7), stored) || memcmp(h, stored, AUDIT_HASH_LEN) != 0) {
        out->first_broken_seq = seq;
        snprintf(out->reason, sizeof out->reason,
                 "seq %" PRId64 ": stored hash does not match the row's contents", seq);
        return false;
    }
    memcpy(st->prev, stored, AUDIT_HASH_LEN);
    st->next_seq = seq + 1;
    return true;
}

static bool verify_in_tx(PGconn *conn, const char *tenant, audit_report *out, err *e)
{
    if (!scope_tenant(conn, tenant, e))
        return false;
    const char *p[1] = {tenant};
    if (!exec_cmd(conn, "opening the verify cursor", tenant,
                  "DECLARE escher_audit_verify NO SCROLL CURSOR FOR"
                  " SELECT seq, (extract(epoch FROM at) * 1000000)::bigint, actor, action,"
                  " target, detail::text, encode(prev_hash, 'hex'), encode(hash, 'hex')"
                  " FROM audit_log WHERE tenant_id = $1::uuid ORDER BY seq",
                  1, p, e))
        return false;
    chain_state st = {.next_seq = 1};
    bool ok = true, done = false;
    while (ok && !done) {
        PGresult *r = exec(conn, "reading the chain", tenant, VERIFY_FETCH, 0, NULL, e);
        if (r == NULL)
            return false;
        int n = PQntuples(r);
        if (n == 0)
            done = true;
        for (int i = 0; i < n && !done; i++) {
            bool fatal = false;
            if (!check_row(tenant, r, i, &st, out, e, &fatal)) {
                done = true;
                ok = !fatal;
            }
        }
        PQclear(r);
    }
    return exec_cmd(conn, "closing the verify cursor", tenant, "CLOSE escher_audit_verify", 0, NULL,
                    e) &&
           ok;
}

bool audit_verify(PGconn *conn, const char *tenant_id, audit_report *out, err *e)
{
    memset(out, 0, sizeof *out);
    char tenant[UUID_TEXT_LEN + 1];
    if (!normalize_uuid(tenant_id, tenant, e))
        return false;
    bool own = false;
    bool ok = enter_tx(conn, tenant, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &own, e) &&
              verify_in_tx(conn, tenant, out, e);
    if (ok && own)
        ok = exec_cmd(conn, "COMMIT", tenant, "COMMIT", 0, NULL, e);
    if (!ok)
        abort_own_tx(conn, own);
    return ok;
}
