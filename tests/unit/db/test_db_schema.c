/* migrations/0001_core.sql: applies through the runner, row-level security
 * isolates tenants for escher_api, and the CHECK constraints reject bad
 * ExternalIds, account ids and role ARNs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dbtest.h"

#include "db/db.h"
#include "db/migrate.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TA    "0a0a0a0a-0000-4000-8000-00000000000a"
#define TB    "0b0b0b0b-0000-4000-8000-00000000000b"
#define UA    "1a1a1a1a-0000-4000-8000-00000000000a"
#define UB    "1b1b1b1b-0000-4000-8000-00000000000b"
#define EXT_A "extA-0123456789abcdefghijklmnopqrstuv"
#define EXT_B "extB-0123456789abcdefghijklmnopqrstuv"

static const char *const tenant_tables[] = {"tenants", "users", "api_tokens", "aws_accounts"};
#define NTABLES (sizeof tenant_tables / sizeof tenant_tables[0])

/* The whole source migrations directory (other issues add files to it): it
 * must apply, once, with 0001 recorded under the file's checksum. */
static void test_source_migrations_apply_once(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = dbtest_open(&t, "schema_all");
    if (c == NULL)
        skip();
    char *dir = dbtest_migrations_dir();
    err e;
    int n = -1;
    if (!migrate_apply(c, dir, &n, &e))
        fail_msg("%s", e.message);
    assert_true(n >= 1);
    n = -1;
    assert_true(migrate_apply(c, dir, &n, &e));
    assert_int_equal(n, 0);

    char *path = NULL;
    {
        size_t len = strlen(dir) + sizeof "/0001_core.sql";
        path = malloc(len);
        snprintf(path, len, "%s/0001_core.sql", dir);
    }
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    free(path);
    unsigned char md[32];
    unsigned int mdlen = 0;
    assert_int_equal(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL), 1);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    PGresult *r = PQexec(c, "SELECT name, checksum FROM schema_migrations WHERE version = 1");
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "0001_core.sql");
    assert_string_equal(PQgetvalue(r, 0, 1), hex);
    PQclear(r);

    migrate_entry *ents = NULL;
    size_t cnt = 0;
    assert_true(migrate_status(c, dir, &ents, &cnt, &e));
    assert_true(cnt >= 1);
    assert_int_equal(ents[0].version, 1);
    for (size_t i = 0; i < cnt; i++)
        assert_int_equal(ents[i].state, MIGRATE_APPLIED);
    migrate_entries_free(ents, cnt);
    free(dir);
    dbtest_close(&t, c);
}

/* A database with only 0001 applied (independent of files other issues add). */
static PGconn *open_core(pgtest *t, const char *prefix)
{
    PGconn *c = dbtest_open(t, prefix);
    if (c == NULL)
        return NULL;
    char *dir = dbtest_mkdir();
    dbtest_copy_migration(dir, "0001_core.sql");
    err e;
    int n = 0;
    if (!migrate_apply(c, dir, &n, &e))
        fail_msg("%s", e.message);
    assert_int_equal(n, 1);
    dbtest_rmdir(dir);
    free(dir);
    return c;
}

static void seed(PGconn *c)
{
    dbtest_exec(c, "INSERT INTO tenants (id, name, external_id) VALUES "
                   "('" TA "', 'a', '" EXT_A "'), ('" TB "', 'b', '" EXT_B "')");
    dbtest_exec(c, "INSERT INTO users (id, tenant_id, email, role) VALUES "
                   "('" UA "', '" TA "', 'm@a.example', 'manager'), "
                   "('" UB "', '" TB "', 'm@b.example', 'viewer')");
    dbtest_exec(c, "INSERT INTO api_tokens (tenant_id, user_id, token_sha256, name) VALUES "
                   "('" TA "', '" UA "', sha256('token-a'), 'ta'), "
                   "('" TB "', '" UB "', sha256('token-b'), 'tb')");
    dbtest_exec(c, "INSERT INTO aws_accounts (tenant_id, account_id, name, role_arn, regions) "
                   "VALUES ('" TA "', '111111111111', 'a', "
                   "'arn:aws:iam::111111111111:role/EscherOperator', '{eu-west-1}'), "
                   "('" TB "', '222222222222', 'b', "
                   "'arn:aws:iam::222222222222:role/EscherOperator', '{}')");
}

static long count_as(PGconn *c, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return dbtest_long(c, sql);
}

static void test_rls(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = open_core(&t, "schema_rls");
    if (c == NULL)
        skip();
    seed(c);
    err e;
    assert_true(db_set_role(c, "escher_api", &e));

    /* No tenant setting: nothing visible, nothing updatable. */
    for (size_t i = 0; i < NTABLES; i++)
        assert_int_equal(count_as(c, tenant_tables[i]), 0);
    long n = -1;
    assert_true(db_exec(c, "UPDATE aws_accounts SET name = 'x'", 0, NULL, &n, &e));
    assert_int_equal(n, 0);

    /* Tenant A: only A's rows. */
    assert_true(db_begin(c, &e));
    assert_true(db_set_tenant(c, TA, &e));
    for (size_t i = 0; i < NTABLES; i++)
        assert_int_equal(count_as(c, tenant_tables[i]), 1);
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM users WHERE tenant_id = '" TA "'"), 1);
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM tenants WHERE id = '" TA "'"), 1);
    assert_true(db_exec(c, "UPDATE aws_accounts SET name = 'renamed'", 0, NULL, &n, &e));
    assert_int_equal(n, 1);
    assert_true(db_exec(c, "DELETE FROM users WHERE id = '" UB "'", 0, NULL, &n, &e));
    assert_int_equal(n, 0);
    assert_true(db_commit(c, &e));

    /* Inserting for tenant B while set to A fails, in every table. */
    static const char *const cross[] = {
        "INSERT INTO tenants (name, external_id) VALUES ('c', "
        "'extC-0123456789abcdefghijklmnopqrstuv')",
        "INSERT INTO users (tenant_id, email, role) VALUES ('" TB "', 'x@b.example', 'viewer')",
        "INSERT INTO api_tokens (tenant_id, user_id, token_sha256) VALUES ('" TB "', '" UB
        "', sha256('token-x'))",
        "INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TB
        "', '333333333333', 'arn:aws:iam::333333333333:role/R')",
        "UPDATE users SET tenant_id = '" TB "' WHERE id = '" UA "'",
    };
    for (size_t i = 0; i < sizeof cross / sizeof cross[0]; i++) {
        assert_true(db_begin(c, &e));
        assert_true(db_set_tenant(c, TA, &e));
        assert_false(db_exec(c, cross[i], 0, NULL, NULL, &e));
        if (strcmp(e.remote_code, "42501") != 0)
            fail_msg("%s: want 42501, got %s", cross[i], e.message);
        assert_true(db_rollback(c, &e));
    }
    /* ...while A's own insert works. */
    assert_true(db_begin(c, &e));
    assert_true(db_set_tenant(c, TA, &e));
    assert_true(db_exec(c,
                        "INSERT INTO users (tenant_id, email, role) VALUES ('" TA
                        "', 'e@a.example', 'executor')",
                        0, NULL, NULL, &e));
    assert_true(db_commit(c, &e));

    /* After that transaction the setting reads back as '' — still no rows, no error. */
    for (size_t i = 0; i < NTABLES; i++)
        assert_int_equal(count_as(c, tenant_tables[i]), 0);

    /* Token lookup before the tenant is known: only a live token, by hash. */
    PGresult *r =
        PQexec(c, "SELECT tenant_id, user_id, role FROM escher_auth_token(sha256('token-b'))");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), TB);
    assert_string_equal(PQgetvalue(r, 0, 2), "viewer");
    PQclear(r);
    assert_true(db_set_role(c, NULL, &e));
    dbtest_exec(c, "UPDATE api_tokens SET revoked_at = now() WHERE name = 'tb'");
    assert_true(db_set_role(c, "escher_api", &e));
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM escher_auth_token(sha256('token-b'))"),
                     0);
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM escher_auth_token(sha256('nope'))"), 0);

    /* The worker role sees every tenant. */
    assert_true(db_set_role(c, "escher_worker", &e));
    assert_int_equal(count_as(c, "tenants"), 2);
    assert_int_equal(count_as(c, "users"), 3);
    assert_int_equal(count_as(c, "aws_accounts"), 2);

    /* The API role cannot touch the migration bookkeeping. */
    assert_true(db_set_role(c, "escher_api", &e));
    char st[6];
    assert_string_equal(dbtest_state(c, "SELECT * FROM schema_migrations", st), "42501");
    assert_true(db_set_role(c, NULL, &e));
    dbtest_close(&t, c);
}

static void test_checks(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = open_core(&t, "schema_chk");
    if (c == NULL)
        skip();
    seed(c);
    char st[6];
    static const struct {
        const char *sql, *state;
    } cases[] = {
        /* ExternalId: 32..1224 characters of [A-Za-z0-9_+=,.@:/-]. */
        {"INSERT INTO tenants (name, external_id) VALUES ('t1', repeat('x', 31))", "23514"},
        {"INSERT INTO tenants (name, external_id) VALUES ('t2', repeat('x', 31) || ' ')", "23514"},
        {"INSERT INTO tenants (name, external_id) VALUES ('t3', repeat('x', 31) || '#')", "23514"},
        {"INSERT INTO tenants (name, external_id) VALUES ('t4', repeat('x', 31) || 'é')", "23514"},
        {"INSERT INTO tenants (name, external_id) VALUES ('t5', repeat('x', 1225))", "23514"},
        {"INSERT INTO tenants (name) VALUES ('t6')", "23502"},
        {"INSERT INTO tenants (name, external_id) VALUES ('t7', '" EXT_A "')", "23505"},
        {"INSERT INTO tenants (name, external_id) VALUES ('t8', 'Az09_+=,.@:/-' || repeat('k', "
         "19))",
         ""},
        {"INSERT INTO tenants (name, external_id) VALUES ('t9', repeat('y', 1224))", ""},
        /* account_id: 12 digits; role ARNs: an IAM role of that same account. */
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TA
         "', '12345678901', 'arn:aws:iam::12345678901:role/R')",
         "23514"},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TA
         "', '12345678901a', 'arn:aws:iam::12345678901a:role/R')",
         "23514"},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TA
         "', '123456789012', 'arn:aws:iam::123456789012:user/R')",
         "23514"},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TA
         "', '123456789012', 'arn:aws:iam::999999999999:role/R')",
         "23514"},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TA
         "', '123456789012', 'arn:aws:iam::123456789012:role/R'' OR 1=1')",
         "23514"},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TA
         "', '123456789012', 'arn:aws:iam::123456789012:role/' || repeat('r', 65))",
         "23514"},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TA
         "', '123456789012', 'arn:aws:s3:::bucket')",
         "23514"},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn, readonly_role_arn) VALUES "
         "('" TA "', '123456789012', 'arn:aws:iam::123456789012:role/R', 'not-an-arn')",
         "23514"},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn, status) VALUES ('" TA
         "', '123456789012', 'arn:aws:iam::123456789012:role/R', 'bogus')",
         "23514"},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn, readonly_role_arn, status) "
         "VALUES ('" TA "', '123456789012', 'arn:aws:iam::123456789012:role/team/ops/Escher-Op_1', "
         "'arn:aws-us-gov:iam::123456789012:role/ReadOnly', 'verified')",
         ""},
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TA
         "', '123456789012', 'arn:aws:iam::123456789012:role/Other')",
         "23505"},
        /* The same account in another tenant is fine. */
        {"INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('" TB
         "', '123456789012', 'arn:aws:iam::123456789012:role/R')",
         ""},
        /* users: role set, unique per tenant; tokens: 32-byte hash, same-tenant user. */
        {"INSERT INTO users (tenant_id, email, role) VALUES ('" TA "', 'z@a.example', 'admin')",
         "23514"},
        {"INSERT INTO users (tenant_id, email, role) VALUES ('" TA "', 'm@a.example', 'viewer')",
         "23505"},
        {"INSERT INTO users (tenant_id, email, role) VALUES ('" TB "', 'm@a.example', 'viewer')",
         ""},
        {"INSERT INTO users (tenant_id, email, role) VALUES ('" TA "', 'no-at-sign', 'viewer')",
         "23514"},
        {"INSERT INTO api_tokens (tenant_id, user_id, token_sha256) VALUES ('" TA "', '" UA
         "', '\\x0102')",
         "23514"},
        {"INSERT INTO api_tokens (tenant_id, user_id, token_sha256) VALUES ('" TA "', '" UB
         "', sha256('t'))",
         "23503"},
        {"INSERT INTO api_tokens (tenant_id, user_id, token_sha256) VALUES ('" TA "', '" UA
         "', sha256('token-a'))",
         "23505"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dbtest_state(c, cases[i].sql, st);
        if (strcmp(st, cases[i].state) != 0)
            fail_msg("case %zu: %s\n  want SQLSTATE '%s', got '%s'", i, cases[i].sql,
                     cases[i].state, st);
    }
    dbtest_close(&t, c);
}

/* docs/privacy.md says what the server stores, table by table. Every table the
 * migrations create must be named there (in backticks), so a table that would
 * hold something new (say, a client's chat history) cannot appear without the
 * privacy statement saying so. */
static void test_privacy_statement_names_every_table(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = dbtest_open(&t, "schema_privacy");
    if (c == NULL)
        skip();
    char *dir = dbtest_migrations_dir();
    err e;
    if (!migrate_apply(c, dir, NULL, &e))
        fail_msg("%s", e.message);
    free(dir);
    const char *src = getenv("ESCHER_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/privacy.md", src);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = '\0';
    fclose(f);
    PGresult *r = PQexec(c, "SELECT table_name FROM information_schema.tables"
                            " WHERE table_schema = 'public' ORDER BY 1");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_true(PQntuples(r) >= 7);
    for (int i = 0; i < PQntuples(r); i++) {
        char quoted[128];
        snprintf(quoted, sizeof quoted, "`%s`", PQgetvalue(r, i, 0));
        if (strstr(doc, quoted) == NULL)
            fail_msg("table %s is not in docs/privacy.md: say there what it stores", quoted);
    }
    PQclear(r);
    dbtest_close(&t, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_migrations_apply_once),
        cmocka_unit_test(test_rls),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_privacy_statement_names_every_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
