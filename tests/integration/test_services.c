/* Proves the test command's servers are the private ones it started and that
 * the C client libraries the services use can talk to them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *require_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        print_message("%s is not set: run through tests/run.sh\n", name);
        skip();
    }
    return v;
}

/* The port after the last ':' of a URL like postgresql://u@127.0.0.1:5433/db. */
static int url_port(const char *url)
{
    const char *host = strstr(url, "127.0.0.1:");
    assert_non_null(host);
    return atoi(host + strlen("127.0.0.1:"));
}

static void test_postgresql(void **state)
{
    (void)state;
    const char *url = require_env("ESCHER_TEST_PG_URL");
    PGconn *conn = PQconnectdb(url);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    PGresult *res =
        PQexec(conn, "SELECT current_setting('port'), current_setting('listen_addresses'),"
                     " current_database()");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(atoi(PQgetvalue(res, 0, 0)), url_port(url));
    assert_string_equal(PQgetvalue(res, 0, 1), "127.0.0.1");
    assert_string_equal(PQgetvalue(res, 0, 2), "escher");
    PQclear(res);
    res = PQexec(conn, "CREATE TEMP TABLE t(x int); INSERT INTO t VALUES (41); "
                       "SELECT x + 1 FROM t");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "42");
    PQclear(res);
    PQfinish(conn);
}

static void test_redis(void **state)
{
    (void)state;
    const char *url = require_env("ESCHER_TEST_REDIS_URL");
    redisContext *rc = redisConnect("127.0.0.1", url_port(url));
    assert_non_null(rc);
    assert_int_equal(rc->err, 0);
    redisReply *r = redisCommand(rc, "CONFIG GET port");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(atoi(r->element[1]->str), url_port(url));
    freeReplyObject(r);
    r = redisCommand(rc, "SET escher:test %s", "ok");
    freeReplyObject(r);
    r = redisCommand(rc, "GET escher:test");
    assert_string_equal(r->str, "ok");
    freeReplyObject(r);
    redisFree(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgresql),
        cmocka_unit_test(test_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
