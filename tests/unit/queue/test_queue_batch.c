/* The queue's batch calls and the way it talks to the server, against a real
 * PostgreSQL (a private database per run, see tests/support/pgtest.h):
 * queue_enqueue_many (ids, idempotency within and across batches, one tenant,
 * all or nothing, text that needs quoting), queue_complete_many (lost jobs),
 * and that pipelining and prepared statements keep the old behaviour: inside
 * a caller's transaction, under the escher_api role, after PQreset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "db/db.h"
#include "db/migrate.h"
#include "queue/queue.h"
#include "support/pgtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pgtest db;
static bool have_db;
static PGconn *conn;
static char tenant[QUEUE_ID_LEN], other[QUEUE_ID_LEN];

static void exec_ok(const char *sql)
{
    err e;
    if (!db_exec(conn, sql, 0, NULL, NULL, &e))
        fail_msg("%s", e.message);
}

/* The first column of the first row of sql with up to one parameter ("" for
 * NULL or no row), in a buffer the next call reuses. */
static const char *value(const char *sql, const char *param)
{
    static char buf[512];
    const char *p[1] = {param};
    err e;
    PGresult *r = db_query(conn, sql, param ? 1 : 0, p, &e);
    if (r == NULL)
        fail_msg("%s", e.message);
    snprintf(buf, sizeof buf, "%s",
             PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return buf;
}

static long count(const char *sql, const char *param)
{
    return strtol(value(sql, param), NULL, 10);
}

static void new_tenant(char out[QUEUE_ID_LEN])
{
    snprintf(out, QUEUE_ID_LEN, "%s",
             value("INSERT INTO tenants (name, external_id) SELECT 'batch-' || gen_random_uuid(),"
                   " md5(random()::text) || md5(random()::text) RETURNING id",
                   NULL));
    assert_int_equal(strlen(out), 36);
}

static int group_setup(void **state)
{
    (void)state;
    if (pgtest_create(&db, "queue_batch") != 0) {
        print_message("ESCHER_TEST_PG_URL is unset: every test skips (run through tests/run.sh)\n");
        return 0;
    }
    have_db = true;
    conn = pgtest_connect(&db);
    char dir[1024];
    const char *src = getenv("ESCHER_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/migrations", src ? src : ".");
    err e;
    if (!migrate_apply(conn, dir, NULL, &e))
        fail_msg("migrate_apply %s: %s", dir, e.message);
    new_tenant(tenant);
    new_tenant(other);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (!have_db)
        return 0;
    PQfinish(conn);
    pgtest_drop(&db);
    return 0;
}

/* Called first by every test: skips, saying why, without a test database
 * (from the test body: cmocka counts a skip in a setup as an error), and
 * starts from an empty queue otherwise. */
static void fresh_queue(void)
{
    if (!have_db) {
        print_message("ESCHER_TEST_PG_URL is unset: skipping (run through tests/run.sh)\n");
        skip();
    }
    exec_ok("DELETE FROM job_steps");
    exec_ok("DELETE FROM jobs");
}

/* A batch gets one id per job in order, every field lands, and a payload,
 * key and creator that need quoting in an array literal arrive intact. */
static void test_enqueue_many_fields(void **state)
{
    (void)state;
    fresh_queue();
    const char *odd = "a \"quoted\", {braced} \\ back,slash NULL";
    const char *payload = "{\"s\": \"x\\\"y\", \"n\": [1, 2]}";
    queue_new_job j[3] = {
        {.tenant_id = tenant, .kind = "one", .priority = 7, .max_attempts = 3},
        {.tenant_id = tenant,
         .kind = "two",
         .payload_json = payload,
         .idempotency_key = odd,
         .created_by = odd},
        {.tenant_id = tenant, .kind = "three", .delay_ms = 3600000, .created_by = "NULL"},
    };
    char ids[3][QUEUE_ID_LEN];
    bool dup[3] = {true, true, true};
    err e;
    assert_true(queue_enqueue_many(conn, j, 3, ids, dup, &e));
    assert_false(dup[0] || dup[1] || dup[2]);
    assert_string_equal(
        value("SELECT kind || ' ' || priority || ' ' || max_attempts FROM jobs WHERE id = $1",
              ids[0]),
        "one 7 3");
    assert_string_equal(value("SELECT idempotency_key FROM jobs WHERE id = $1", ids[1]), odd);
    assert_string_equal(value("SELECT created_by FROM jobs WHERE id = $1", ids[1]), odd);
    assert_string_equal(value("SELECT payload->>'s' FROM jobs WHERE id = $1", ids[1]), "x\"y");
    assert_string_equal(value("SELECT max_attempts FROM jobs WHERE id = $1", ids[1]),
                        "5"); /* the default */
    /* The string "NULL" is text, not SQL NULL. */
    assert_string_equal(value("SELECT created_by FROM jobs WHERE id = $1", ids[2]), "NULL");
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE id = $1 AND run_at > now() + "
                           "interval '59 minutes'",
                           ids[2]),
                     1);
    /* Leased in priority order: the delayed one is not runnable. */
    queue_job out[3];
    size_t n;
    assert_true(queue_lease(conn, "w", NULL, 0, 3, 30000, out, &n, &e));
    assert_int_equal(n, 2);
    assert_string_equal(out[0].id, ids[0]);
    assert_string_equal(out[1].id, ids[1]);
    assert_string_equal(out[1].payload, "{\"n\": [1, 2], \"s\": \"x\\\"y\"}");
    queue_jobs_clear(out, n);
}

/* An idempotency key already used, or used twice in one batch, gives the
 * existing job's id and marks the duplicate; single enqueue agrees. */
static void test_enqueue_many_idempotency(void **state)
{
    (void)state;
    fresh_queue();
    err e;
    char first[QUEUE_ID_LEN];
    queue_new_job one = {.tenant_id = tenant, .kind = "k", .idempotency_key = "key-1"};
    assert_true(queue_enqueue(conn, &one, first, NULL, &e));
    queue_new_job j[4] = {
        {.tenant_id = tenant, .kind = "k", .idempotency_key = "key-1"},
        {.tenant_id = tenant, .kind = "k", .idempotency_key = "key-2"},
        {.tenant_id = tenant, .kind = "k", .idempotency_key = "key-2"},
        {.tenant_id = tenant, .kind = "k"},
    };
    char ids[4][QUEUE_ID_LEN];
    bool dup[4];
    assert_true(queue_enqueue_many(conn, j, 4, ids, dup, &e));
    assert_true(dup[0]);
    assert_string_equal(ids[0], first);
    assert_false(dup[1]);
    assert_true(dup[2]);
    assert_string_equal(ids[2], ids[1]);
    assert_false(dup[3]);
    assert_int_equal(count("SELECT count(*) FROM jobs", NULL), 3);
    /* A single enqueue of a key a batch used finds the batch's job. */
    char again[QUEUE_ID_LEN];
    bool d = false;
    queue_new_job two = {.tenant_id = tenant, .kind = "k", .idempotency_key = "key-2"};
    assert_true(queue_enqueue(conn, &two, again, &d, &e));
    assert_true(d);
    assert_string_equal(again, ids[1]);
}

/* Bad input names the job at fault; a batch is one tenant's; a database
 * refusal (bad JSON in job 2) enqueues none of the batch. */
static void test_enqueue_many_refusals(void **state)
{
    (void)state;
    fresh_queue();
    err e;
    char ids[2][QUEUE_ID_LEN];
    queue_new_job bad_kind[2] = {{.tenant_id = tenant, .kind = "ok"},
                                 {.tenant_id = tenant, .kind = "Not Ok"}};
    assert_false(queue_enqueue_many(conn, bad_kind, 2, ids, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "job 2 of 2"));
    assert_non_null(strstr(e.message, "Not Ok"));
    queue_new_job two_tenants[2] = {{.tenant_id = tenant, .kind = "k"},
                                    {.tenant_id = other, .kind = "k"}};
    assert_false(queue_enqueue_many(conn, two_tenants, 2, ids, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, other));
    assert_false(queue_enqueue_many(conn, two_tenants, 0, ids, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    queue_new_job bad_json[2] = {{.tenant_id = tenant, .kind = "k"},
                                 {.tenant_id = tenant, .kind = "k", .payload_json = "{nope"}};
    assert_false(queue_enqueue_many(conn, bad_json, 2, ids, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID); /* lib/db's class for SQLSTATE 22xxx */
    assert_string_equal(e.remote_code, "22P02");
    assert_int_equal(PQtransactionStatus(conn), PQTRANS_IDLE);
    assert_int_equal(count("SELECT count(*) FROM jobs", NULL), 0);
    /* The connection is fine afterwards. */
    assert_true(queue_enqueue_many(conn, bad_json, 1, ids, NULL, &e));
}

/* complete_many succeeds the jobs still ours, says which are not, and
 * leaves those alone. */
static void test_complete_many(void **state)
{
    (void)state;
    fresh_queue();
    err e;
    queue_new_job j[3] = {{.tenant_id = tenant, .kind = "k"},
                          {.tenant_id = tenant, .kind = "k"},
                          {.tenant_id = tenant, .kind = "k"}};
    char ids[3][QUEUE_ID_LEN];
    assert_true(queue_enqueue_many(conn, j, 3, ids, NULL, &e));
    queue_job out[3];
    size_t n;
    assert_true(queue_lease(conn, "w", NULL, 0, 3, 30000, out, &n, &e));
    assert_int_equal(n, 3);
    /* Job 2 is reaped away from us meanwhile. */
    exec_ok("UPDATE jobs SET lease_expires_at = now() - interval '1 second'"
            " WHERE id = (SELECT id FROM jobs ORDER BY id LIMIT 1 OFFSET 0)");
    char reaped[QUEUE_ID_LEN];
    snprintf(reaped, sizeof reaped, "%s",
             value("SELECT id FROM jobs WHERE lease_expires_at < now()", NULL));
    size_t nr;
    assert_true(queue_reap(conn, &nr, &e));
    assert_int_equal(nr, 1);
    /* Upper case ids are the same jobs. */
    char upper[3][QUEUE_ID_LEN];
    const char *list[3];
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < QUEUE_ID_LEN; k++)
            upper[i][k] = (char)(out[i].id[k] >= 'a' && out[i].id[k] <= 'f' ? out[i].id[k] - 32
                                                                            : out[i].id[k]);
        list[i] = upper[i];
    }
    bool lost[3] = {true, true, true};
    assert_false(queue_complete_many(conn, list, 3, "w", lost, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, "1 of 3"));
    for (int i = 0; i < 3; i++)
        assert_int_equal(lost[i], strcmp(out[i].id, reaped) == 0);
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE state = 'succeeded'", NULL), 2);
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE state = 'queued' AND id = $1", reaped),
                     1);
    /* Another worker's name completes nothing. */
    assert_false(queue_complete_many(conn, list, 1, "someone-else", NULL, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    const char *junk[1] = {"not-a-uuid"};
    assert_false(queue_complete_many(conn, junk, 1, "w", NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    queue_jobs_clear(out, n);
}

/* Inside a caller's transaction, the batch joins it (the pipeline sends no
 * BEGIN/COMMIT of its own): a rollback undoes it. */
static void test_batch_joins_caller_transaction(void **state)
{
    (void)state;
    fresh_queue();
    err e;
    queue_new_job j[2] = {{.tenant_id = tenant, .kind = "k"}, {.tenant_id = tenant, .kind = "k"}};
    char ids[2][QUEUE_ID_LEN];
    exec_ok("BEGIN");
    assert_true(queue_enqueue_many(conn, j, 2, ids, NULL, &e));
    assert_int_equal(PQtransactionStatus(conn), PQTRANS_INTRANS);
    assert_int_equal(count("SELECT count(*) FROM jobs", NULL), 2);
    exec_ok("ROLLBACK");
    assert_int_equal(count("SELECT count(*) FROM jobs", NULL), 0);
}

/* Prepared statements follow the role (row-level security under escher_api
 * is planned per role) and survive a reset of the connection, which drops
 * them on the server. */
static void test_prepared_across_roles_and_reset(void **state)
{
    (void)state;
    fresh_queue();
    err e;
    char id[QUEUE_ID_LEN], ids[2][QUEUE_ID_LEN];
    queue_new_job j = {.tenant_id = tenant, .kind = "k"};
    assert_true(queue_enqueue(conn, &j, id, NULL, &e)); /* prepared as the owner */
    exec_ok("SET ROLE escher_api");
    queue_new_job b[2] = {{.tenant_id = other, .kind = "k"}, {.tenant_id = other, .kind = "k"}};
    assert_true(queue_enqueue(conn, &b[0], id, NULL, &e));
    assert_true(queue_enqueue_many(conn, b, 2, ids, NULL, &e));
    /* The cancel statement, prepared by now, still sees only tenant B's rows. */
    queue_cancel_result res;
    assert_false(queue_cancel(conn, tenant, id, &res, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    exec_ok("RESET ROLE");
    assert_int_equal(count("SELECT count(*) FROM jobs WHERE tenant_id = $1", other), 3);
    PQreset(conn);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    assert_true(queue_enqueue(conn, &j, id, NULL, &e));
    assert_true(queue_enqueue_many(conn, b, 2, ids, NULL, &e));
    assert_int_equal(count("SELECT count(*) FROM jobs", NULL), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enqueue_many_fields),
        cmocka_unit_test(test_enqueue_many_idempotency),
        cmocka_unit_test(test_enqueue_many_refusals),
        cmocka_unit_test(test_complete_many),
        cmocka_unit_test(test_batch_joins_caller_transaction),
        cmocka_unit_test(test_prepared_across_roles_and_reset),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
