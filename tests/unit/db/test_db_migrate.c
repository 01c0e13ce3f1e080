/* lib/db/migrate.c on temporary migration directories: order, once only,
 * concurrent runners, edited and badly named files, failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dbtest.h"

#include "db/db.h"
#include "db/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* 0002 needs 0001's table, and 0009 must run before 0010: the files are
 * written out of order, so only numeric ordering yields "2,9,10". */
static void write_basic(const char *dir)
{
    dbtest_write(dir, "0001_first.sql",
                 "CREATE TABLE log (n int, at timestamptz DEFAULT now());\n");
    dbtest_write(dir, "0002_second.sql", "INSERT INTO log (n) VALUES (2);\n");
    dbtest_write(dir, "0010_tenth.sql", "INSERT INTO log (n) VALUES (10);\n");
    dbtest_write(dir, "0009_ninth.sql", "INSERT INTO log (n) VALUES (9);\n");
}

static void test_apply_once_in_order(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = dbtest_open(&t, "mig_once");
    if (c == NULL)
        skip();
    char *dir = dbtest_mkdir();
    write_basic(dir);
    err e;
    int n = -1;
    assert_true(migrate_apply(c, dir, &n, &e));
    assert_int_equal(n, 4);
    PGresult *r = PQexec(c, "SELECT string_agg(n::text, ',' ORDER BY at, ctid) FROM log");
    assert_string_equal(PQgetvalue(r, 0, 0), "2,9,10");
    PQclear(r);
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM schema_migrations"), 4);
    r = PQexec(c, "SELECT name, checksum FROM schema_migrations WHERE version = 2");
    assert_string_equal(PQgetvalue(r, 0, 0), "0002_second.sql");
    assert_int_equal(strlen(PQgetvalue(r, 0, 1)), 64);
    PQclear(r);

    n = -1;
    assert_true(migrate_apply(c, dir, &n, &e));
    assert_int_equal(n, 0);
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM log"), 3);

    /* A new file is picked up; status reports it pending first. */
    dbtest_write(dir, "0011_eleventh.sql", "INSERT INTO log (n) VALUES (11);\n");
    migrate_entry *ents = NULL;
    size_t cnt = 0;
    assert_true(migrate_status(c, dir, &ents, &cnt, &e));
    assert_int_equal(cnt, 5);
    assert_int_equal(ents[0].version, 1);
    assert_int_equal(ents[0].state, MIGRATE_APPLIED);
    assert_true(ents[0].applied_at[0] != '\0');
    assert_int_equal(ents[3].version, 10);
    assert_int_equal(ents[4].version, 11);
    assert_int_equal(ents[4].state, MIGRATE_PENDING);
    assert_string_equal(migrate_state_name(ents[4].state), "pending");
    migrate_entries_free(ents, cnt);
    assert_true(migrate_apply(c, dir, &n, &e));
    assert_int_equal(n, 1);

    dbtest_rmdir(dir);
    free(dir);
    dbtest_close(&t, c);
}

static void test_status_before_any(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = dbtest_open(&t, "mig_status");
    if (c == NULL)
        skip();
    char *dir = dbtest_mkdir();
    write_basic(dir);
    err e;
    migrate_entry *ents = NULL;
    size_t cnt = 0;
    assert_true(migrate_status(c, dir, &ents, &cnt, &e));
    assert_int_equal(cnt, 4);
    for (size_t i = 0; i < cnt; i++)
        assert_int_equal(ents[i].state, MIGRATE_PENDING);
    migrate_entries_free(ents, cnt);
    /* status changed nothing */
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM pg_tables WHERE tablename IN "
                                    "('schema_migrations', 'log')"),
                     0);
    dbtest_rmdir(dir);
    free(dir);
    dbtest_close(&t, c);
}

/* Several processes start at once; every file must run exactly once. 0001
 * sleeps so the runners overlap; without the lock two would create the table
 * or insert twice. */
static void test_concurrent_runners(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = dbtest_open(&t, "mig_conc");
    if (c == NULL)
        skip();
    char *dir = dbtest_mkdir();
    dbtest_write(dir, "0001_slow.sql",
                 "SELECT pg_sleep(0.5);\nCREATE TABLE hits (file int NOT NULL);\n");
    dbtest_write(dir, "0002_a.sql", "INSERT INTO hits VALUES (2);\n");
    dbtest_write(dir, "0003_b.sql", "SELECT pg_sleep(0.2);\nINSERT INTO hits VALUES (3);\n");
    enum { RUNNERS = 4 };
    pid_t pids[RUNNERS];
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < RUNNERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            err e;
            PGconn *own = db_connect(t.url, &e);
            int n = 0;
            if (own == NULL || !migrate_apply(own, dir, &n, &e)) {
                fprintf(stderr, "runner %d: %s\n", i, e.message);
                _exit(100);
            }
            PQfinish(own);
            _exit(n);
        }
    }
    int total = 0;
    for (int i = 0; i < RUNNERS; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_true(WEXITSTATUS(status) <= 3);
        total += WEXITSTATUS(status);
    }
    assert_int_equal(total, 3);
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM hits"), 2);
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM schema_migrations"), 3);
    /* The lock was released by everyone. */
    assert_int_equal(
        dbtest_long(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                       "(SELECT oid FROM pg_database WHERE datname = current_database())"),
        0);
    dbtest_rmdir(dir);
    free(dir);
    dbtest_close(&t, c);
}

static void test_edited_file_refused(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = dbtest_open(&t, "mig_edit");
    if (c == NULL)
        skip();
    char *dir = dbtest_mkdir();
    write_basic(dir);
    err e;
    int n;
    assert_true(migrate_apply(c, dir, &n, &e));
    PGresult *r = PQexec(c, "SELECT checksum FROM schema_migrations WHERE version = 9");
    char old_sum[65];
    snprintf(old_sum, sizeof old_sum, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);

    dbtest_write(dir, "0009_ninth.sql", "INSERT INTO log (n) VALUES (99);\n");
    dbtest_write(dir, "0012_new.sql", "INSERT INTO log (n) VALUES (12);\n");
    n = -1;
    assert_false(migrate_apply(c, dir, &n, &e));
    assert_int_equal(n, 0);
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "0009_ninth.sql"));
    assert_non_null(strstr(e.message, "edited"));
    assert_non_null(strstr(e.message, old_sum));
    /* the file's new checksum, as status computes it */
    migrate_entry *ents = NULL;
    size_t cnt = 0;
    assert_true(migrate_status(c, dir, &ents, &cnt, &e));
    const migrate_entry *nine = NULL;
    for (size_t i = 0; i < cnt; i++)
        if (ents[i].version == 9)
            nine = &ents[i];
    assert_non_null(nine);
    assert_int_equal(nine->state, MIGRATE_EDITED);
    assert_string_not_equal(nine->checksum, old_sum);
    char new_sum[65];
    memcpy(new_sum, nine->checksum, sizeof new_sum);
    migrate_entries_free(ents, cnt);
    assert_false(migrate_apply(c, dir, &n, &e));
    assert_non_null(strstr(e.message, new_sum));
    /* Refused before anything: the new 0012 was not applied. */
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM log WHERE n IN (12, 99)"), 0);

    /* An applied file that disappeared is refused too. */
    dbtest_write(dir, "0009_ninth.sql", "INSERT INTO log (n) VALUES (9);\n");
    char path[512];
    snprintf(path, sizeof path, "%s/0002_second.sql", dir);
    assert_int_equal(unlink(path), 0);
    assert_false(migrate_apply(c, dir, &n, &e));
    assert_non_null(strstr(e.message, "0002_second.sql"));
    assert_non_null(strstr(e.message, "no file"));
    assert_true(migrate_status(c, dir, &ents, &cnt, &e));
    assert_int_equal(ents[1].version, 2);
    assert_int_equal(ents[1].state, MIGRATE_MISSING_FILE);
    migrate_entries_free(ents, cnt);
    dbtest_rmdir(dir);
    free(dir);
    dbtest_close(&t, c);
}

static void test_bad_names_refused(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = dbtest_open(&t, "mig_names");
    if (c == NULL)
        skip();
    static const char *bad[] = {"001_short.sql", "0003-dash.sql", "0003_Upper.sql", "0003_x.SQL",
                                "0003_.sql",     "0000_zero.sql", "notes.txt",      "0003_x.sql~"};
    err e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *dir = dbtest_mkdir();
        write_basic(dir);
        dbtest_write(dir, bad[i], "SELECT 1;\n");
        dbtest_write(dir, ".hidden.swp", "ignored");
        int n = -1;
        assert_false(migrate_apply(c, dir, &n, &e));
        assert_int_equal(n, 0);
        assert_int_equal(e.code, ERR_INVALID);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\"", bad[i]);
        assert_non_null(strstr(e.message, quoted));
        assert_non_null(strstr(e.message, "badly named"));
        migrate_entry *ents = NULL;
        size_t cnt = 0;
        assert_false(migrate_status(c, dir, &ents, &cnt, &e));
        dbtest_rmdir(dir);
        free(dir);
    }
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'log'"), 0);

    /* Two files with one number. */
    char *dir = dbtest_mkdir();
    write_basic(dir);
    dbtest_write(dir, "0002_other.sql", "SELECT 1;\n");
    assert_false(migrate_apply(c, dir, NULL, &e));
    assert_non_null(strstr(e.message, "\"0002_other.sql\""));
    assert_non_null(strstr(e.message, "\"0002_second.sql\""));
    assert_non_null(strstr(e.message, "same number"));
    dbtest_rmdir(dir);
    free(dir);

    /* A directory that does not exist. */
    assert_false(migrate_apply(c, "/nonexistent/escher-migrations", NULL, &e));
    assert_int_equal(e.code, ERR_IO);
    assert_non_null(strstr(e.message, "\"/nonexistent/escher-migrations\""));
    dbtest_close(&t, c);
}

/* A failing file is rolled back whole and not recorded; earlier ones stay. */
static void test_failure_rolls_back(void **state)
{
    (void)state;
    pgtest t;
    PGconn *c = dbtest_open(&t, "mig_fail");
    if (c == NULL)
        skip();
    char *dir = dbtest_mkdir();
    dbtest_write(dir, "0001_ok.sql", "CREATE TABLE a (n int);\n");
    dbtest_write(dir, "0002_bad.sql",
                 "CREATE TABLE b (n int);\n-- a comment\nINSERT INTO nope VALUES (1);\n");
    dbtest_write(dir, "0003_after.sql", "CREATE TABLE c (n int);\n");
    err e;
    int n = -1;
    assert_false(migrate_apply(c, dir, &n, &e));
    assert_int_equal(n, 1);
    assert_non_null(strstr(e.message, "0002_bad.sql"));
    assert_non_null(strstr(e.message, "near line 3"));
    assert_string_equal(e.remote_code, "42P01");
    assert_non_null(strstr(e.message, "SQLSTATE 42P01"));
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM pg_tables WHERE tablename IN ('b', 'c')"),
                     0);
    assert_int_equal(dbtest_long(c, "SELECT count(*) FROM schema_migrations"), 1);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    assert_int_equal(
        dbtest_long(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                       "(SELECT oid FROM pg_database WHERE datname = current_database())"),
        0);

    /* Fixed, it applies; a file that commits on its own is refused. */
    dbtest_write(dir, "0002_bad.sql", "CREATE TABLE b (n int);\n");
    dbtest_write(dir, "0004_commit.sql", "CREATE TABLE d (n int);\nCOMMIT;\n");
    assert_false(migrate_apply(c, dir, &n, &e));
    assert_int_equal(n, 2);
    assert_non_null(strstr(e.message, "0004_commit.sql"));
    assert_non_null(strstr(e.message, "COMMIT"));

    /* A runner inside a transaction is refused before touching anything. */
    dbtest_exec(c, "BEGIN");
    assert_false(migrate_apply(c, dir, &n, &e));
    assert_non_null(strstr(e.message, "inside a transaction"));
    dbtest_exec(c, "ROLLBACK");
    dbtest_rmdir(dir);
    free(dir);
    dbtest_close(&t, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_once_in_order), cmocka_unit_test(test_status_before_any),
        cmocka_unit_test(test_concurrent_runners),  cmocka_unit_test(test_edited_file_refused),
        cmocka_unit_test(test_bad_names_refused),   cmocka_unit_test(test_failure_rolls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
