/* lib/db/db.c: URL redaction, connection errors without the password, and
 * statements, transactions, tenant and role settings on a real server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dbtest.h"

#include "db/db.h"

#include <stdlib.h>
#include <string.h>

#define TENANT_A "0a0a0a0a-0000-4000-8000-00000000000a"

static void test_redact(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"postgresql://u:s3cr3t@db.example:5432/escher", "postgresql://u@db.example:5432/escher"},
        {"postgres://u:s3cr3t@h/db?sslmode=require", "postgres://u@h/db?sslmode=require"},
        {"postgresql://u@h/db?password=s3cr3t", "postgresql://u@h/db"},
        {"postgresql://h/db?sslmode=require&password=s3cr3t&application_name=x",
         "postgresql://h/db?sslmode=require&application_name=x"},
        {"postgresql://h/db?password=s3cr3t&sslmode=require", "postgresql://h/db?sslmode=require"},
        {"host=h password=s3cr3t dbname=escher", "host=h dbname=escher"},
        {"host=h password = 'a b\\' s3cr3t' dbname=escher", "host=h dbname=escher"},
        {"postgresql://u@h/db", "postgresql://u@h/db"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        db_redact_url(cases[i].in, out, sizeof out);
        assert_string_equal(out, cases[i].want);
        assert_null(strstr(out, "s3cr3t"));
    }
    char tiny[8];
    db_redact_url("postgresql://u:s3cr3t@h/db", tiny, sizeof tiny);
    assert_string_equal(tiny, "postgre");
}

static void test_connect_error_hides_password(void **state)
{
    (void)state;
    err e;
    /* Port 1 on loopback refuses at once; no server is needed. */
    assert_null(
        db_connect("postgresql://alice:Pa55w0rdXYZ@127.0.0.1:1/escher?connect_timeout=2", &e));
    assert_int_equal(e.code, ERR_IO);
    assert_non_null(
        strstr(e.message, "\"postgresql://alice@127.0.0.1:1/escher?connect_timeout=2\""));
    assert_null(strstr(e.message, "Pa55w0rdXYZ"));

    /* A malformed percent escape in the password: libpq quotes the token. */
    assert_null(db_connect("postgresql://alice:Pa55%zzw0rd@127.0.0.1:1/escher", &e));
    assert_null(strstr(e.message, "Pa55%zzw0rd"));
    assert_null(strstr(e.message, "Pa55"));

    assert_null(db_connect("host=127.0.0.1 port=1 password=Pa55w0rdXYZ connect_timeout=2", &e));
    assert_null(strstr(e.message, "Pa55w0rdXYZ"));
    assert_non_null(strstr(e.message, "host=127.0.0.1 port=1 connect_timeout=2"));

    assert_null(db_connect("", &e));
    assert_int_equal(e.code, ERR_CONFIG);
}

static void test_exec_and_errors(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = dbtest_open(&t, "dbclient");
    if (c == NULL)
        skip();
    err e;
    PGconn *own = db_connect(t.url, &e);
    assert_non_null(own);
    assert_true(db_exec(own, "CREATE TABLE t (id int PRIMARY KEY, v text)", 0, NULL, NULL, &e));
    const char *p[2] = {"1", "it's; DROP TABLE t"};
    long n = -1;
    assert_true(db_exec(own, "INSERT INTO t VALUES ($1, $2)", 2, p, &n, &e));
    assert_int_equal(n, 1);
    PGresult *r = db_query(own, "SELECT v FROM t WHERE id = $1", 1, p, &e);
    assert_non_null(r);
    assert_string_equal(PQgetvalue(r, 0, 0), "it's; DROP TABLE t");
    PQclear(r);

    /* Unique violation: SQLSTATE in remote_code and message, statement's first words quoted. */
    assert_false(db_exec(own, "INSERT INTO t VALUES ($1, $2)", 2, p, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_string_equal(e.remote_code, "23505");
    assert_non_null(strstr(e.message, "statement \"INSERT INTO t VALUES ($1, $2)\""));
    assert_non_null(strstr(e.message, "SQLSTATE 23505"));
    assert_null(strstr(e.message, "DROP TABLE")); /* parameters are not echoed */

    /* A long statement is cut at a word boundary, whitespace collapsed. */
    assert_false(db_exec(own,
                         "SELECT\n   id,   v\n FROM no_such_table_here WHERE id = 1 AND v = "
                         "'something long enough to be cut'",
                         0, NULL, NULL, &e));
    assert_string_equal(e.remote_code, "42P01");
    assert_non_null(
        strstr(e.message, "statement \"SELECT id, v FROM no_such_table_here WHERE id...\""));

    /* Transactions. */
    assert_true(db_begin(own, &e));
    assert_true(db_exec(own, "INSERT INTO t VALUES (2, 'x')", 0, NULL, NULL, &e));
    assert_true(db_rollback(own, &e));
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM t"), 1);
    assert_true(db_rollback(own, &e)); /* no transaction: harmless */
    assert_true(db_begin(own, &e));
    assert_true(db_exec(own, "INSERT INTO t VALUES (3, 'y')", 0, NULL, NULL, &e));
    assert_true(db_commit(own, &e));
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM t"), 2);
    /* COMMIT of a failed transaction is reported, not silently rolled back. */
    assert_true(db_begin(own, &e));
    assert_false(db_exec(own, "INSERT INTO t VALUES (3, 'dup')", 0, NULL, NULL, &e));
    assert_false(db_commit(own, &e));
    assert_non_null(strstr(e.message, "rolled back"));
    assert_int_equal(PQtransactionStatus(own), PQTRANS_IDLE);

    /* Tenant setting: per transaction, UUID only, transaction required. */
    assert_false(db_set_tenant(own, TENANT_A, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "no transaction"));
    assert_true(db_begin(own, &e));
    assert_false(db_set_tenant(own, "x' OR '1'='1", &e));
    assert_non_null(strstr(e.message, "\"x' OR '1'='1\" is not a UUID"));
    assert_true(db_set_tenant(own, TENANT_A, &e));
    r = db_query(own, "SELECT current_setting('escher.tenant_id', true)", 0, NULL, &e);
    assert_non_null(r);
    assert_string_equal(PQgetvalue(r, 0, 0), TENANT_A);
    PQclear(r);
    assert_true(db_commit(own, &e));
    r = db_query(own, "SELECT coalesce(current_setting('escher.tenant_id', true), '')", 0, NULL,
                 &e);
    assert_non_null(r);
    assert_string_equal(PQgetvalue(r, 0, 0), "");
    PQclear(r);

    /* Roles. */
    assert_true(db_exec(own,
                        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                        "'escher_dbclient_probe') THEN CREATE ROLE escher_dbclient_probe NOLOGIN; "
                        "END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; "
                        "END $$",
                        0, NULL, NULL, &e));
    assert_true(db_set_role(own, "escher_dbclient_probe", &e));
    r = db_query(own, "SELECT current_user", 0, NULL, &e);
    assert_string_equal(PQgetvalue(r, 0, 0), "escher_dbclient_probe");
    PQclear(r);
    assert_false(db_exec(own, "SELECT * FROM t", 0, NULL, NULL, &e));
    assert_int_equal(e.code, ERR_AUTH);
    assert_string_equal(e.remote_code, "42501");
    assert_true(db_set_role(own, NULL, &e));
    assert_false(db_set_role(own, "no_such_role\"; DROP TABLE t; --", &e));
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM t"), 2);

    PQfinish(own);
    dbtest_close(&t, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_connect_error_hides_password),
        cmocka_unit_test(test_exec_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
