/* lib/ops target expansion against a migrated private database
 * (tests/support/pgtest.h; skips without tests/run.sh's PostgreSQL): OU
 * targets select the tenant's verified accounts whose recorded ou_path
 * holds the OU, nested OUs included, and nothing of another tenant; an OU
 * no account is in is an error naming it; the ou_path column refuses
 * malformed paths. */
#include "core/err.h"
#include "db/migrate.h"
#include "ops/target.h"
#include "support/pgtest.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static pgtest db;
static PGconn *conn;
static bool have_db;
static char tenant_a[37], tenant_b[37];

#define ROOT  "r-ab12"
#define PROD  "ou-ab12-prod0001"
#define WEB   "ou-ab12-web00001" /* nested in PROD */
#define DEV   "ou-ab12-dev00001"
#define EMPTY "ou-ab12-empty001"

static PGresult *sql(const char *q, int n, const char *const *p, ExecStatusType want)
{
    PGresult *r = PQexecParams(conn, q, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != want)
        fail_msg("%s: %s", q, PQerrorMessage(conn));
    return r;
}

static void tenant(const char *name, char out[37])
{
    char ext[64];
    snprintf(ext, sizeof ext, "target-db-test-external-id-%s-0123456789", name);
    const char *p[2] = {name, ext};
    PGresult *r = sql("INSERT INTO tenants (name, external_id) VALUES ($1, $2) RETURNING id", 2, p,
                      PGRES_TUPLES_OK);
    snprintf(out, 37, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

/* An account of tenant with status and OU path (a text[] literal or NULL). */
static void account(const char *tenant_id, const char *id, const char *status, const char *path)
{
    char arn[128];
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:role/EscherOperator", id);
    const char *p[5] = {tenant_id, id, arn, status, path};
    PQclear(sql("INSERT INTO aws_accounts (tenant_id, account_id, role_arn, regions, status,"
                " ou_path, ou_updated_at)"
                " VALUES ($1, $2, $3, '{us-east-1,eu-west-1}', $4, $5::text[], now())",
                5, p, PGRES_COMMAND_OK));
}

static int group_setup(void **state)
{
    (void)state;
    if (pgtest_create(&db, "target") != 0) {
        print_message("ESCHER_TEST_PG_URL is unset: the target expansion tests skip\n");
        return 0;
    }
    have_db = true;
    conn = pgtest_connect(&db);
    char dir[1024];
    const char *src = getenv("ESCHER_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/migrations", src ? src : ".");
    err e = {0};
    int n = 0;
    if (!migrate_apply(conn, dir, &n, &e))
        fail_msg("migrate_apply %s: %s", dir, e.message);
    tenant("a", tenant_a);
    tenant("b", tenant_b);
    account(tenant_a, "100000000001", "verified", "{" ROOT "}");
    account(tenant_a, "100000000002", "verified", "{" ROOT "," PROD "}");
    account(tenant_a, "100000000003", "verified", "{" ROOT "," PROD "," WEB "}");
    account(tenant_a, "100000000004", "disabled", "{" ROOT "," PROD "}");
    account(tenant_a, "100000000005", "verified", "{" ROOT "," DEV "}");
    account(tenant_a, "100000000006", "failed",
            "{" ROOT "," DEV ","
            "ou-ab12-devonly1"
            "}");
    account(tenant_a, "100000000007", "verified", NULL); /* registered by hand */
    /* Another tenant's account in the same OU ids: never selected for a. */
    account(tenant_b, "200000000001", "verified", "{" ROOT "," PROD "," WEB "}");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (have_db) {
        PQfinish(conn);
        pgtest_drop(&db);
    }
    return 0;
}

static void need_db(void)
{
    if (!have_db)
        skip();
}

/* Expands {"ou": ou} (regions as given) for tenant; the plan's accounts as
 * "id@region,..." and the problems as "id: reason;..." into got. */
static bool expand(const char *tenant_id, const char *ou, const char *regions, char *got, size_t n,
                   err *e)
{
    char text[256];
    snprintf(text, sizeof text,
             "{\"accounts\": {\"ou\": \"%s\"}, \"regions\": %s, \"selector\": {\"state\": "
             "\"running\"}}",
             ou, regions);
    json_t *j = json_loads(text, 0, NULL);
    target t;
    if (!target_parse(j, &t, e))
        fail_msg("%s refused: %s", text, e->message);
    json_decref(j);
    target_plan plan;
    bool ok = target_expand(conn, tenant_id, &t, &plan, e);
    target_clear(&t);
    got[0] = '\0';
    if (!ok)
        return false;
    size_t at = 0;
    for (size_t i = 0; i < plan.nitems && at < n; i++)
        at += (size_t)snprintf(got + at, n - at, "%s%s@%s", i ? "," : "", plan.items[i].account_id,
                               plan.items[i].region);
    for (size_t i = 0; i < plan.nproblems && at < n; i++)
        at += (size_t)snprintf(got + at, n - at, "%s%s: %s", at ? ";" : "",
                               plan.problems[i].account_id, plan.problems[i].reason);
    target_plan_clear(&plan);
    return true;
}

static void test_ou_selects_nested(void **state)
{
    (void)state;
    need_db();
    char got[1024];
    err e = {0};
    /* PROD holds 2 and 4 directly and 3 through WEB; 4 is disabled: left out. */
    assert_true(expand(tenant_a, PROD, "[\"us-east-1\"]", got, sizeof got, &e));
    assert_string_equal(got, "100000000002@us-east-1,100000000003@us-east-1");
    assert_true(expand(tenant_a, WEB, "\"all\"", got, sizeof got, &e));
    assert_string_equal(got, "100000000003@us-east-1,100000000003@eu-west-1");
    /* The root: every discovered verified account, not the hand-registered one. */
    assert_true(expand(tenant_a, ROOT, "[\"eu-west-1\"]", got, sizeof got, &e));
    assert_string_equal(got, "100000000001@eu-west-1,100000000002@eu-west-1,"
                             "100000000003@eu-west-1,100000000005@eu-west-1");
    /* Tenant b sees only its own. */
    assert_true(expand(tenant_b, PROD, "[\"us-east-1\"]", got, sizeof got, &e));
    assert_string_equal(got, "200000000001@us-east-1");
}

static void test_ou_without_verified_accounts(void **state)
{
    (void)state;
    need_db();
    char got[1024];
    err e = {0};
    /* Its only account failed verification: reported, no item. */
    assert_true(expand(tenant_a, "ou-ab12-devonly1", "[\"us-east-1\"]", got, sizeof got, &e));
    assert_string_equal(got, "100000000006: account status is failed, not verified");
    assert_false(expand(tenant_a, EMPTY, "[\"us-east-1\"]", got, sizeof got, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_string_equal(e.message,
                        "target.accounts.ou: no registered account is in OU " EMPTY
                        " (OU membership comes from organization discovery; run one if the OU "
                        "or its accounts are new)");
    /* Tenant b has no account in DEV, though tenant a has. */
    assert_false(expand(tenant_b, DEV, "[\"us-east-1\"]", got, sizeof got, &e));
    assert_non_null(strstr(e.message, "no registered account is in OU " DEV));
}

static void test_ou_path_column_checked(void **state)
{
    (void)state;
    need_db();
    static const char *const bad[] = {
        "{}",                          /* empty: NULL means unknown */
        "{" PROD "}",                  /* not from the root */
        "{" ROOT "," ROOT "}",         /* a root below the root */
        "{" ROOT ",ou-ab12-x}",        /* OU id too short */
        "{" ROOT "," PROD ",'; drop}", /* junk */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p[2] = {tenant_a, bad[i]};
        PGresult *r = PQexecParams(conn,
                                   "UPDATE aws_accounts SET ou_path = $2::text[]"
                                   " WHERE tenant_id = $1 AND account_id = '100000000001'",
                                   2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_FATAL_ERROR)
            fail_msg("ou_path %s accepted", bad[i]);
        PQclear(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ou_selects_nested),
        cmocka_unit_test(test_ou_without_verified_accounts),
        cmocka_unit_test(test_ou_path_column_checked),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
