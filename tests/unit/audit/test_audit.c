/* lib/audit against a real PostgreSQL (tests/run.sh starts one): appends,
 * verification, tampering by a superuser, concurrent appends, tenant
 * independence, RLS/grants, and the canonical encoding. */
#include "audit/audit.h"
#include "support/pgtest.h"

#ifdef AUDIT_TEST_HAVE_MIGRATE
#include "db/migrate.h"
#endif

#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static pgtest db;
static bool have_db;

#define NEED_DB()                                                                                  \
    do {                                                                                           \
        if (!have_db) {                                                                            \
            fprintf(stderr, "SKIP: ESCHER_TEST_PG_URL is unset; run through tests/run.sh\n");      \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Runs SQL (printf-formatted) and returns the result; fails the test on error. */
static PGresult *q(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static PGresult *q(PGconn *c, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    return r;
}

/* Runs SQL that must fail with the given SQLSTATE. */
static void q_fails(PGconn *c, const char *state, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    const char *got = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (PQresultStatus(r) != PGRES_FATAL_ERROR || got == NULL || strcmp(got, state) != 0)
        fail_msg("%s: expected SQLSTATE %s, got status %s state %s", sql, state,
                 PQresStatus(PQresultStatus(r)), got ? got : "none");
    PQclear(r);
}

static void q1(PGconn *c, const char *sql)
{
    PQclear(q(c, "%s", sql));
}

static void read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = calloc(1, (size_t)n + 1);
    if (fread(*out, 1, (size_t)n, f) != (size_t)n)
        fail_msg("cannot read %s", path);
    fclose(f);
}

static void exec_file(PGconn *c, const char *path)
{
    char *sql = NULL;
    read_file(path, &sql);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", path, PQerrorMessage(c));
    PQclear(r);
    free(sql);
}

static int setup(void **state)
{
    (void)state;
    if (pgtest_create(&db, "audit") != 0)
        return 0;
    have_db = true;
    PGconn *c = pgtest_connect(&db);
    const char *src = getenv("ESCHER_SOURCE_DIR");
    char dir[1024], core[1200];
    snprintf(dir, sizeof dir, "%s/migrations", src ? src : ".");
    snprintf(core, sizeof core, "%s/0001_core.sql", dir);
    FILE *f = fopen(core, "r");
#ifdef AUDIT_TEST_HAVE_MIGRATE
    if (f != NULL) {
        fclose(f);
        err e;
        int n = 0;
        if (!migrate_apply(c, dir, &n, &e))
            fail_msg("migrate_apply %s: %s", dir, e.message);
        PQfinish(c);
        return 0;
    }
#endif
    /* lib/db's runner not built yet: 0001 then 0003 (0002 is not needed). */
    if (f == NULL)
        fail_msg("%s is missing", core);
    fclose(f);
    q1(c, "BEGIN");
    exec_file(c, core);
    q1(c, "COMMIT");
    char audit_sql[1200];
    snprintf(audit_sql, sizeof audit_sql, "%s/0003_audit.sql", dir);
    q1(c, "BEGIN");
    exec_file(c, audit_sql);
    q1(c, "COMMIT");
    PQfinish(c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (have_db)
        pgtest_drop(&db);
    return 0;
}

/* The login role must be able to SET ROLE to the app roles. */
static PGconn *connect_as(const char *role)
{
    PGconn *c = pgtest_connect(&db);
    if (role)
        PQclear(q(c, "SET ROLE %s", role));
    return c;
}

static void new_tenant(PGconn *super, char out[37])
{
    static int n;
    PGresult *r = q(super,
                    "INSERT INTO tenants (name, external_id) VALUES ('audit-%d-%d',"
                    " encode(sha256(gen_random_uuid()::text::bytea), 'hex')) RETURNING id::text",
                    (int)getpid(), ++n);
    snprintf(out, 37, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static void append_n(PGconn *c, const char *tenant, int n)
{
    for (int i = 0; i < n; i++) {
        json_t *d = json_pack("{s:i, s:s}", "i", i, "note", "row");
        err e;
        int64_t seq = 0;
        char target[32];
        snprintf(target, sizeof target, "acct-%d", i);
        if (!audit_append(c, tenant, "alice@example.com", "accounts.update", target, d, &seq, &e))
            fail_msg("append %d: %s", i, e.message);
        json_decref(d);
    }
}

static audit_report verify_ok(PGconn *c, const char *tenant)
{
    audit_report rep;
    err e;
    if (!audit_verify(c, tenant, &rep, &e))
        fail_msg("verify %s: %s", tenant, e.message);
    return rep;
}

static void test_empty_chain_is_intact(void **state)
{
    (void)state;
    NEED_DB();
    PGconn *s = connect_as(NULL);
    char t[37];
    new_tenant(s, t);
    PGconn *api = connect_as("escher_api");
    audit_report rep = verify_ok(api, t);
    assert_int_equal(rep.rows_checked, 0);
    assert_int_equal(rep.last_seq, 0);
    assert_int_equal(rep.first_broken_seq, 0);
    PQfinish(api);
    PQfinish(s);
}

/* More rows than one cursor batch (500), appended under the API role. */
static void test_append_many_then_verify(void **state)
{
    (void)state;
    NEED_DB();
    PGconn *s = connect_as(NULL);
    char t[37];
    new_tenant(s, t);
    PGconn *api = connect_as("escher_api");
    for (int i = 1; i <= 1100; i++) {
        err e;
        int64_t seq = 0;
        json_t *d = json_pack("{s:i}", "n", i);
        if (!audit_append(api, t, "token:abc", "job.step", "job-1", d, &seq, &e))
            fail_msg("append %d: %s", i, e.message);
        json_decref(d);
        assert_int_equal(seq, i);
    }
    assert_int_equal(PQtransactionStatus(api), PQTRANS_IDLE);
    audit_report rep = verify_ok(api, t);
    assert_int_equal(rep.first_broken_seq, 0);
    assert_int_equal(rep.rows_checked, 1100);
    assert_int_equal(rep.last_seq, 1100);
    /* The chain as stored: first prev_hash is zeros, each links its predecessor. */
    PGresult *r = q(s,
                    "SELECT count(*) FROM audit_log a JOIN audit_log b"
                    " ON b.tenant_id = a.tenant_id AND b.seq = a.seq + 1"
                    " WHERE a.tenant_id = '%s' AND b.prev_hash = a.hash",
                    t);
    assert_string_equal(PQgetvalue(r, 0, 0), "1099");
    PQclear(r);
    r = q(s,
          "SELECT prev_hash = '\\x%064d'::bytea FROM audit_log WHERE tenant_id = '%s' AND seq = 1",
          0, t);
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    PQfinish(api);
    PQfinish(s);
}

/* Each tampering, done as superuser on a fresh 10-row chain, names exactly the
 * tampered row (or the missing seq). */
static void test_tampering_names_the_row(void **state)
{
    (void)state;
    NEED_DB();
    static const struct {
        const char *set; /* UPDATE's SET clause; NULL = DELETE the row */
        int seq;
        int64_t broken;
    } cases[] = {
        {"detail = '{\"i\": 99, \"note\": \"row\"}'", 5, 5},
        {"actor = 'mallory@example.com'", 3, 3},
        {"hash = sha256('x')", 7, 7},
        {"prev_hash = sha256('x')", 6, 6},
        {"at = at + interval '1 microsecond'", 8, 8},
        {"target = 'acct-x'", 2, 2},
        {"action = 'accounts.delete'", 10, 10},
        {NULL, 4, 4},
        {NULL, 1, 1},
        /* Moving a field boundary inside the row keeps the concatenation. */
        {"actor = 'alice@example.comaccounts', action = '.update'", 9, 9},
    };
    PGconn *s = connect_as(NULL);
    PGconn *w = connect_as("escher_worker");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char t[37];
        new_tenant(s, t);
        append_n(w, t, 10);
        assert_int_equal(verify_ok(w, t).first_broken_seq, 0);
        if (cases[i].set)
            PQclear(q(s, "UPDATE audit_log SET %s WHERE tenant_id = '%s' AND seq = %d",
                      cases[i].set, t, cases[i].seq));
        else
            PQclear(
                q(s, "DELETE FROM audit_log WHERE tenant_id = '%s' AND seq = %d", t, cases[i].seq));
        audit_report rep = verify_ok(w, t);
        if (rep.first_broken_seq != cases[i].broken)
            fail_msg("case %zu (%s): broken %" PRId64 ", expected %" PRId64 " (%s)", i,
                     cases[i].set ? cases[i].set : "DELETE", rep.first_broken_seq, cases[i].broken,
                     rep.reason);
        assert_true(rep.reason[0] != '\0');
    }
    PQfinish(w);
    PQfinish(s);
}

static void test_app_roles_cannot_rewrite(void **state)
{
    (void)state;
    NEED_DB();
    PGconn *s = connect_as(NULL);
    char t[37];
    new_tenant(s, t);
    const char *roles[] = {"escher_api", "escher_worker"};
    for (int i = 0; i < 2; i++) {
        PGconn *c = connect_as(roles[i]);
        append_n(c, t, 2);
        q1(c, "BEGIN");
        PQclear(q(c, "SELECT set_config('escher.tenant_id', '%s', true)", t));
        q_fails(c, "42501", "UPDATE audit_log SET actor = 'x'");
        q1(c, "ROLLBACK");
        q1(c, "BEGIN");
        PQclear(q(c, "SELECT set_config('escher.tenant_id', '%s', true)", t));
        q_fails(c, "42501", "DELETE FROM audit_log");
        q1(c, "ROLLBACK");
        q_fails(c, "42501", "TRUNCATE audit_log");
        PQfinish(c);
    }
    PQfinish(s);
}

typedef struct worker_arg {
    const char *tenant;
    const char *role;
    int n;
    int64_t seqs[64];
    char error[ERR_MESSAGE_MAX];
} worker_arg;

static void *appender(void *p)
{
    worker_arg *a = p;
    PGconn *c = pgtest_connect(&db);
    char set[64];
    snprintf(set, sizeof set, "SET ROLE %s", a->role);
    PQclear(PQexec(c, set));
    for (int i = 0; i < a->n; i++) {
        err e;
        json_t *d = json_pack("{s:i}", "i", i);
        if (!audit_append(c, a->tenant, "worker:w", "job.step", "job", d, &a->seqs[i], &e)) {
            snprintf(a->error, sizeof a->error, "%s", e.message);
            json_decref(d);
            break;
        }
        json_decref(d);
    }
    PQfinish(c);
    return NULL;
}

/* Eight connections appending at once to one tenant make one chain 1..400. */
static void test_concurrent_appends_one_chain(void **state)
{
    (void)state;
    NEED_DB();
    enum { THREADS = 8, PER = 50 };
    PGconn *s = connect_as(NULL);
    char t[37];
    new_tenant(s, t);
    pthread_t th[THREADS];
    static worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].tenant = t;
        args[i].role = (i % 2) ? "escher_api" : "escher_worker";
        args[i].n = PER;
        assert_int_equal(pthread_create(&th[i], NULL, appender, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    static bool seen[THREADS * PER + 1];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < THREADS; i++) {
        if (args[i].error[0])
            fail_msg("thread %d: %s", i, args[i].error);
        for (int j = 0; j < PER; j++) {
            int64_t sq = args[i].seqs[j];
            assert_true(sq >= 1 && sq <= THREADS * PER);
            assert_false(seen[sq]);
            seen[sq] = true;
        }
    }
    audit_report rep = verify_ok(s, t);
    if (rep.first_broken_seq != 0)
        fail_msg("broken at %" PRId64 ": %s", rep.first_broken_seq, rep.reason);
    assert_int_equal(rep.rows_checked, THREADS * PER);
    assert_int_equal(rep.last_seq, THREADS * PER);
    PQfinish(s);
}

static void test_tenants_are_independent(void **state)
{
    (void)state;
    NEED_DB();
    PGconn *s = connect_as(NULL);
    char a[37], b[37];
    new_tenant(s, a);
    new_tenant(s, b);
    PGconn *api = connect_as("escher_api");
    for (int i = 1; i <= 20; i++) {
        int64_t sa = 0, sb = 0;
        err e;
        assert_true(
            audit_append(api, a, "alice@example.com", "accounts.create", "x", NULL, &sa, &e));
        assert_true(audit_append(api, b, "bob@example.com", "accounts.create", "x", NULL, &sb, &e));
        assert_int_equal(sa, i);
        assert_int_equal(sb, i);
    }
    /* RLS: scoped to a, the API role sees only a's rows. */
    q1(api, "BEGIN");
    PQclear(q(api, "SELECT set_config('escher.tenant_id', '%s', true)", a));
    PGresult *r = q(api, "SELECT count(*), count(*) FILTER (WHERE actor = 'alice@example.com')"
                         " FROM audit_log");
    assert_string_equal(PQgetvalue(r, 0, 0), "20");
    assert_string_equal(PQgetvalue(r, 0, 1), "20");
    PQclear(r);
    /* Inserting into b's chain from a's scope is refused before touching it. */
    err e;
    assert_false(audit_append(api, b, "alice@example.com", "x.y", "", NULL, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, b));
    q1(api, "ROLLBACK");
    /* And a direct INSERT of b's row from a's scope is refused by RLS. */
    q1(api, "BEGIN");
    PQclear(q(api, "SELECT set_config('escher.tenant_id', '%s', true)", a));
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO audit_log (tenant_id, seq, at, actor, action, prev_hash, hash)"
             " VALUES ('%s', 21, now(), 'm', 'x', sha256(''), sha256(''))",
             b);
    q_fails(api, "42501", sql);
    q1(api, "ROLLBACK");

    PQclear(
        q(s, "UPDATE audit_log SET detail = '{\"x\": 1}' WHERE tenant_id = '%s' AND seq = 3", a));
    assert_int_equal(verify_ok(api, a).first_broken_seq, 3);
    audit_report rb = verify_ok(api, b);
    assert_int_equal(rb.first_broken_seq, 0);
    assert_int_equal(rb.rows_checked, 20);
    PQfinish(api);
    PQfinish(s);
}

/* In the caller's transaction the row commits or rolls back with it. */
static void test_caller_transaction(void **state)
{
    (void)state;
    NEED_DB();
    PGconn *s = connect_as(NULL);
    char t[37];
    new_tenant(s, t);
    PGconn *api = connect_as("escher_api");
    err e;
    int64_t seq = 0;
    q1(api, "BEGIN");
    assert_true(audit_append(api, t, "alice@example.com", "accounts.create", "a", NULL, &seq, &e));
    assert_int_equal(seq, 1);
    assert_int_equal(PQtransactionStatus(api), PQTRANS_INTRANS);
    q1(api, "ROLLBACK");
    assert_int_equal(verify_ok(api, t).rows_checked, 0);

    q1(api, "BEGIN");
    PQclear(q(api, "SELECT set_config('escher.tenant_id', '%s', true)", t));
    assert_true(audit_append(api, t, "alice@example.com", "accounts.create", "a", NULL, &seq, &e));
    assert_int_equal(seq, 1);
    assert_true(audit_append(api, t, "alice@example.com", "accounts.delete", "a", NULL, &seq, &e));
    assert_int_equal(seq, 2);
    audit_report rep = verify_ok(api, t); /* sees its own uncommitted rows */
    assert_int_equal(rep.rows_checked, 2);
    q1(api, "COMMIT");
    rep = verify_ok(api, t);
    assert_int_equal(rep.rows_checked, 2);
    assert_int_equal(rep.first_broken_seq, 0);
    PQfinish(api);
    PQfinish(s);
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    NEED_DB();
    PGconn *s = connect_as(NULL);
    char t[37];
    new_tenant(s, t);
    err e;
    assert_false(audit_append(s, "not-a-uuid", "a", "b.c", "", NULL, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "'not-a-uuid'"));
    assert_false(audit_append(s, t, "", "b.c", "", NULL, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_false(audit_append(s, t, "a", "", "", NULL, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    audit_report rep;
    assert_false(audit_verify(s, "1234", &rep, &e));
    assert_non_null(strstr(e.message, "'1234'"));
    /* A tenant that does not exist: the foreign key refuses, with SQLSTATE. */
    assert_false(
        audit_append(s, "00000000-0000-0000-0000-000000000001", "a", "b.c", "", NULL, NULL, &e));
    assert_int_equal(e.code, ERR_IO);
    assert_string_equal(e.remote_code, "23503");
    assert_int_equal(PQtransactionStatus(s), PQTRANS_IDLE);
    /* Upper-case tenant ids are the same tenant. */
    char up[37];
    for (int i = 0; i < 37; i++)
        up[i] = (char)((t[i] >= 'a' && t[i] <= 'f') ? t[i] - 32 : t[i]);
    int64_t seq = 0;
    assert_true(audit_append(s, up, "a", "b.c", "", NULL, &seq, &e));
    assert_true(audit_append(s, t, "a", "b.c", "", NULL, &seq, &e));
    assert_int_equal(seq, 2);
    assert_int_equal(verify_ok(s, up).first_broken_seq, 0);
    PQfinish(s);
}

/* Detail is hashed in jsonb's normal form: numbers written differently,
 * duplicate keys and key order all verify. */
static void test_detail_round_trips(void **state)
{
    (void)state;
    NEED_DB();
    PGconn *s = connect_as(NULL);
    char t[37];
    new_tenant(s, t);
    const char *docs[] = {
        "{\"b\": 1e2, \"a\": 1.0, \"c\": 0.1, \"d\": -0.0, \"e\": 12345678901234}",
        "{\"z\": [3, 2, {\"y\": null, \"x\": true}], \"s\": \"\\u00e9\\u2603\\n\\\"\"}",
        "[1, \"two\", 3.5]",
        "\"just a string\"",
        "{}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t je;
        json_t *d = json_loads(docs[i], JSON_DECODE_ANY, &je);
        assert_non_null(d);
        err e;
        if (!audit_append(s, t, "a", "b.c", "", d, NULL, &e))
            fail_msg("%s: %s", docs[i], e.message);
        json_decref(d);
    }
    audit_report rep = verify_ok(s, t);
    if (rep.first_broken_seq != 0)
        fail_msg("broken: %s", rep.reason);
    assert_int_equal(rep.rows_checked, 5);
    PQfinish(s);
}

/* The encoding, rebuilt here independently, pins the format: old rows must
 * keep verifying, so a change to it has to be deliberate. */
static void put_field(unsigned char *buf, size_t *n, const void *p, size_t len)
{
    for (int i = 7; i >= 0; i--)
        buf[(*n)++] = (unsigned char)(((uint64_t)len >> (8 * i)) & 0xff);
    memcpy(buf + *n, p, len);
    *n += len;
}

static void put_i64(unsigned char *buf, size_t *n, int64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(((uint64_t)v >> (8 * (7 - i))) & 0xff);
    put_field(buf, n, b, 8);
}

static void test_hash_known_encoding(void **state)
{
    (void)state;
    const char *tenant = "0b5e8f7a-1c2d-4e3f-9a8b-7c6d5e4f3a2b";
    unsigned char prev[32];
    for (int i = 0; i < 32; i++)
        prev[i] = (unsigned char)i;
    unsigned char buf[1024];
    size_t n = 0;
    memcpy(buf, "escher.audit.v1\n", 16);
    n = 16;
    put_field(buf, &n, tenant, strlen(tenant));
    put_i64(buf, &n, 42);
    put_i64(buf, &n, -1);
    put_field(buf, &n, "alice", 5);
    put_field(buf, &n, "accounts.create", 15);
    put_field(buf, &n, "", 0);
    put_field(buf, &n, "{\"a\":1}", 7);
    put_field(buf, &n, prev, 32);
    unsigned char want[32];
    unsigned int wl = 0;
    assert_int_equal(EVP_Digest(buf, n, want, &wl, EVP_sha256(), NULL), 1);
    unsigned char got[32];
    audit_hash(tenant, 42, -1, "alice", "accounts.create", "", "{\"a\":1}", prev, got);
    assert_memory_equal(got, want, 32);
}

static void test_hash_boundaries_differ(void **state)
{
    (void)state;
    const char *t = "0b5e8f7a-1c2d-4e3f-9a8b-7c6d5e4f3a2b";
    unsigned char z[32] = {0};
    struct {
        const char *actor, *action, *target, *detail;
    } rows[] = {
        {"ab", "c", "", "{}"}, {"a", "bc", "", "{}"}, {"a", "b", "c", "{}"}, {"a", "b", "", "c{}"},
        {"a", "b", "c{", "}"}, {"", "ab", "", "{}"},  {"a", "", "b", "{}"},
    };
    enum { N = sizeof rows / sizeof rows[0] };
    unsigned char h[N][32];
    for (int i = 0; i < N; i++)
        audit_hash(t, 1, 0, rows[i].actor, rows[i].action, rows[i].target, rows[i].detail, z, h[i]);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (memcmp(h[i], h[j], 32) == 0)
                fail_msg("rows %d and %d hash alike", i, j);
    /* seq and at are fields too: (seq 1, at 256) vs (seq 256, at 1). */
    unsigned char x[32], y[32];
    audit_hash(t, 1, 256, "a", "b", "", "{}", z, x);
    audit_hash(t, 256, 1, "a", "b", "", "{}", z, y);
    assert_memory_not_equal(x, y, 32);
}

static void test_canonical_json(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i, s:[i,i], s:{s:s, s:n}}", "b", 1, "a", 2, 3, "c", "z", "q", "y");
    char *s = audit_canonical_json(v);
    assert_string_equal(s, "{\"a\":[2,3],\"b\":1,\"c\":{\"y\":null,\"z\":\"q\"}}");
    free(s);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_known_encoding),
        cmocka_unit_test(test_hash_boundaries_differ),
        cmocka_unit_test(test_canonical_json),
        cmocka_unit_test(test_empty_chain_is_intact),
        cmocka_unit_test(test_append_many_then_verify),
        cmocka_unit_test(test_tampering_names_the_row),
        cmocka_unit_test(test_app_roles_cannot_rewrite),
        cmocka_unit_test(test_concurrent_appends_one_chain),
        cmocka_unit_test(test_tenants_are_independent),
        cmocka_unit_test(test_caller_transaction),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_detail_round_trips),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
