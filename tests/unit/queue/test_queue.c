/* The job queue against a real PostgreSQL (a private database per run, see
 * tests/support/pgtest.h): enqueue/lease/complete, idempotency, ordering,
 * concurrent leasing by several processes, retry backoff, cancellation, a
 * worker killed with SIGKILL mid-job, LISTEN/NOTIFY wake-up, step skipping
 * on retry, and row-level security under the escher_api role. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "db/migrate.h"
#include "queue/queue.h"
#include "support/pgtest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pgtest db;
static bool have_db;
static PGconn *conn;
static char tenant_a[QUEUE_ID_LEN], tenant_b[QUEUE_ID_LEN];

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The first column of the first row of sql with one parameter, as a string
 * ("" for NULL or no row) in out. */
static void query1(const char *sql, const char *param, char *out, size_t n)
{
    const char *p[1] = {param};
    PGresult *r = PQexecParams(conn, sql, param ? 1 : 0, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    snprintf(out, n, "%s", PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

static long query_long(const char *sql, const char *param)
{
    char buf[64];
    query1(sql, param, buf, sizeof buf);
    return strtol(buf, NULL, 10);
}

static const char *migrations_dir(void)
{
    static char dir[1024];
    const char *src = getenv("ESCHER_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/migrations", src ? src : ".");
    return dir;
}

/* Applies every migration with the real runner (0001 gives tenants and the
 * roles that 0002 grants to). */
static void apply_schema(void)
{
    err e;
    int n = 0;
    if (!migrate_apply(conn, migrations_dir(), &n, &e))
        fail_msg("migrate_apply %s: %s", migrations_dir(), e.message);
}

/* Inserts a tenant whatever columns 0001 gives tenants: every NOT NULL
 * column without a default gets a random value of its type. */
static void make_tenant(char out[QUEUE_ID_LEN])
{
    PGresult *r = PQexec(conn, "SELECT column_name, data_type FROM information_schema.columns"
                               " WHERE table_name = 'tenants' AND is_nullable = 'NO'"
                               "   AND column_default IS NULL AND column_name <> 'id'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    strbuf cols, vals;
    strbuf_init(&cols);
    strbuf_init(&vals);
    strbuf_puts(&cols, "id");
    strbuf_puts(&vals, "gen_random_uuid()");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *type = PQgetvalue(r, i, 1);
        strbuf_printf(&cols, ", \"%s\"", PQgetvalue(r, i, 0));
        if (strcmp(type, "uuid") == 0)
            strbuf_puts(&vals, ", gen_random_uuid()");
        else if (strstr(type, "int") || strcmp(type, "numeric") == 0)
            strbuf_puts(&vals, ", 1");
        else if (strcmp(type, "boolean") == 0)
            strbuf_puts(&vals, ", false");
        else if (strstr(type, "timestamp"))
            strbuf_puts(&vals, ", now()");
        else
            strbuf_puts(&vals, ", 'T' || md5(random()::text) || md5(random()::text)");
    }
    PQclear(r);
    strbuf sql;
    strbuf_init(&sql);
    strbuf_printf(&sql, "INSERT INTO tenants (%s) VALUES (%s) RETURNING id", strbuf_str(&cols),
                  strbuf_str(&vals));
    query1(strbuf_str(&sql), NULL, out, QUEUE_ID_LEN);
    assert_int_equal(strlen(out), 36);
    strbuf_free(&sql);
    strbuf_free(&cols);
    strbuf_free(&vals);
}

static int group_setup(void **state)
{
    (void)state;
    if (pgtest_create(&db, "queue") != 0) {
        print_message(
            "ESCHER_TEST_PG_URL is unset: every queue test skips (run through tests/run.sh)\n");
        return 0;
    }
    have_db = true;
    conn = pgtest_connect(&db);
    apply_schema();
    make_tenant(tenant_a);
    make_tenant(tenant_b);
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

/* Each test starts from an empty queue. */
static int setup(void **state)
{
    (void)state;
    if (have_db)
        exec_ok(conn, "DELETE FROM job_steps; DELETE FROM jobs");
    return 0;
}

/* Skips (from the test body: cmocka counts a skip in setup as an error)
 * saying why when there is no test database. */
static void need_db(void)
{
    if (!have_db) {
        print_message("ESCHER_TEST_PG_URL is unset: skipping (run through tests/run.sh)\n");
        skip();
    }
}

static void enqueue(const char *tenant, const char *kind, int priority, int64_t delay_ms,
                    int max_attempts, char id[QUEUE_ID_LEN])
{
    queue_new_job j = {.tenant_id = tenant,
                       .kind = kind,
                       .priority = priority,
                       .delay_ms = delay_ms,
                       .max_attempts = max_attempts};
    err e;
    if (!queue_enqueue(conn, &j, id, NULL, &e))
        fail_msg("enqueue: %s", e.message);
}

static void job_state(const char *id, char *out, size_t n)
{
    query1("SELECT state FROM jobs WHERE id = $1", id, out, n);
}

/* Makes a job that waits for its backoff runnable now. */
static void make_due(const char *id)
{
    const char *p[1] = {id};
    PGresult *r = PQexecParams(conn, "UPDATE jobs SET run_at = now() WHERE id = $1", 1, NULL, p,
                               NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

static void test_enqueue_lease_complete(void **state)
{
    (void)state;
    need_db();
    queue_new_job j = {.tenant_id = tenant_a,
                       .kind = "account.verify",
                       .payload_json = "{\"account\": \"123456789012\"}",
                       .created_by = "alice"};
    char id[QUEUE_ID_LEN];
    bool dup = true;
    err e;
    assert_true(queue_enqueue(conn, &j, id, &dup, &e));
    assert_false(dup);
    char st[32];
    job_state(id, st, sizeof st);
    assert_string_equal(st, "queued");

    queue_job out[4];
    size_t n = 0;
    const char *kinds[] = {"account.verify"};
    assert_true(queue_lease(conn, "w1", kinds, 1, 4, 30000, out, &n, &e));
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, id);
    assert_string_equal(out[0].tenant_id, tenant_a);
    assert_string_equal(out[0].kind, "account.verify");
    assert_non_null(strstr(out[0].payload, "123456789012"));
    assert_string_equal(out[0].created_by, "alice");
    assert_int_equal(out[0].attempts, 1);
    assert_int_equal(out[0].max_attempts, 5);
    queue_jobs_clear(out, n);
    job_state(id, st, sizeof st);
    assert_string_equal(st, "leased");

    /* Nothing else to lease, and another kind finds nothing either. */
    assert_true(queue_lease(conn, "w2", NULL, 0, 4, 30000, out, &n, &e));
    assert_int_equal(n, 0);

    bool cancel = true;
    assert_true(queue_heartbeat(conn, id, "w1", 60000, &cancel, &e));
    assert_false(cancel);
    assert_false(queue_heartbeat(conn, id, "w2", 60000, &cancel, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, id));

    assert_true(queue_complete(conn, id, "w1", &e));
    job_state(id, st, sizeof st);
    assert_string_equal(st, "succeeded");
    assert_int_equal(
        query_long("SELECT count(*) FROM jobs WHERE id = $1 AND finished_at IS NOT NULL"
                   " AND leased_by IS NULL",
                   id),
        1);
    /* A second completion is refused and names the job. */
    assert_false(queue_complete(conn, id, "w1", &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, id));

    /* Bad input is refused before the database, quoting the value. */
    queue_new_job bad = {.tenant_id = tenant_a, .kind = "Bad Kind!"};
    assert_false(queue_enqueue(conn, &bad, id, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "Bad Kind!"));
    assert_false(queue_complete(conn, "not-a-uuid", "w1", &e));
    assert_non_null(strstr(e.message, "not-a-uuid"));
    queue_new_job badjson = {.tenant_id = tenant_a, .kind = "k", .payload_json = "{oops"};
    assert_false(queue_enqueue(conn, &badjson, id, NULL, &e));
    assert_string_equal(e.remote_code, "22P02");
    assert_int_equal(PQtransactionStatus(conn), PQTRANS_IDLE);
}

static void test_idempotency(void **state)
{
    (void)state;
    need_db();
    queue_new_job j = {.tenant_id = tenant_a, .kind = "org.discover", .idempotency_key = "req-42"};
    char id1[QUEUE_ID_LEN], id2[QUEUE_ID_LEN], id3[QUEUE_ID_LEN];
    bool dup = true;
    err e;
    assert_true(queue_enqueue(conn, &j, id1, &dup, &e));
    assert_false(dup);
    assert_true(queue_enqueue(conn, &j, id2, &dup, &e));
    assert_true(dup);
    assert_string_equal(id1, id2);
    assert_int_equal(query_long("SELECT count(*) FROM jobs WHERE idempotency_key = $1", "req-42"),
                     1);
    /* The key is per tenant: tenant B's same key is a different job. */
    j.tenant_id = tenant_b;
    assert_true(queue_enqueue(conn, &j, id3, &dup, &e));
    assert_false(dup);
    assert_string_not_equal(id1, id3);
    assert_int_equal(query_long("SELECT count(*) FROM jobs WHERE idempotency_key = $1", "req-42"),
                     2);
    /* The duplicate still answers once the first job has finished. */
    queue_job out[2];
    size_t n;
    assert_true(queue_lease(conn, "w", NULL, 0, 2, 30000, out, &n, &e));
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_true(queue_complete(conn, out[i].id, "w", &e));
    queue_jobs_clear(out, n);
    j.tenant_id = tenant_a;
    assert_true(queue_enqueue(conn, &j, id2, &dup, &e));
    assert_true(dup);
    assert_string_equal(id1, id2);
}

static void test_priority_and_run_at(void **state)
{
    (void)state;
    need_db();
    char low[QUEUE_ID_LEN], high[QUEUE_ID_LEN], later[QUEUE_ID_LEN], mid1[QUEUE_ID_LEN],
        mid2[QUEUE_ID_LEN];
    enqueue(tenant_a, "k", 0, 0, 0, low);
    enqueue(tenant_a, "k", 5, 0, 0, mid1);
    enqueue(tenant_a, "k", 10, 0, 0, high);
    enqueue(tenant_a, "k", 100, 60000, 0, later); /* highest, but not due for a minute */
    sleep_ms(5);
    enqueue(tenant_a, "k", 5, 0, 0, mid2);
    queue_job out[10];
    size_t n;
    err e;
    /* A batch of 2 takes the two best... */
    assert_true(queue_lease(conn, "w", NULL, 0, 2, 30000, out, &n, &e));
    assert_int_equal(n, 2);
    assert_string_equal(out[0].id, high);
    assert_string_equal(out[1].id, mid1); /* same priority: the older run_at first */
    queue_jobs_clear(out, n);
    /* ...the next batch the rest that is due, still in order. */
    assert_true(queue_lease(conn, "w", NULL, 0, 10, 30000, out, &n, &e));
    assert_int_equal(n, 2);
    assert_string_equal(out[0].id, mid2);
    assert_string_equal(out[1].id, low);
    queue_jobs_clear(out, n);
    char st[32];
    job_state(later, st, sizeof st);
    assert_string_equal(st, "queued");
    /* Once due, it is leased. */
    make_due(later);
    assert_true(queue_lease(conn, "w", NULL, 0, 10, 30000, out, &n, &e));
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, later);
    queue_jobs_clear(out, n);

    /* Kind filter. */
    char a[QUEUE_ID_LEN], b[QUEUE_ID_LEN];
    enqueue(tenant_a, "kind.a", 0, 0, 0, a);
    enqueue(tenant_a, "kind.b", 9, 0, 0, b);
    const char *kinds[] = {"kind.a", "kind.c"};
    assert_true(queue_lease(conn, "w", kinds, 2, 10, 30000, out, &n, &e));
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, a);
    queue_jobs_clear(out, n);
}

/* A child process: leases in batches until the queue is empty, completes
 * each job and writes its id, one a line, to fd. */
static void lease_worker(int fd, int w)
{
    PGconn *c = pgtest_connect(&db);
    char worker[32];
    snprintf(worker, sizeof worker, "worker-%d", w);
    queue_job out[7];
    int empty = 0;
    while (empty < 3) {
        size_t n;
        err e;
        if (!queue_lease(c, worker, NULL, 0, 7, 30000, out, &n, &e)) {
            fprintf(stderr, "%s: %s\n", worker, e.message);
            _exit(2);
        }
        empty = n == 0 ? empty + 1 : 0;
        for (size_t i = 0; i < n; i++) {
            if (!queue_complete(c, out[i].id, worker, &e)) {
                fprintf(stderr, "%s: %s\n", worker, e.message);
                _exit(3);
            }
            char line[64];
            int len = snprintf(line, sizeof line, "%s\n", out[i].id);
            if (write(fd, line, (size_t)len) != len)
                _exit(4);
        }
        queue_jobs_clear(out, n);
    }
    PQfinish(c);
    _exit(0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_concurrent_lease_skip_locked(void **state)
{
    (void)state;
    need_db();
    enum { JOBS = 600, WORKERS = 4 };
    exec_ok(conn, "BEGIN");
    char id[QUEUE_ID_LEN];
    for (int i = 0; i < JOBS; i++)
        enqueue(i % 2 ? tenant_a : tenant_b, "noop", i % 3, 0, 0, id);
    exec_ok(conn, "COMMIT");

    char path[WORKERS][64];
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        snprintf(path[w], sizeof path[w], "/tmp/escher-queue-test-%d-%d", (int)getpid(), w);
        FILE *f = fopen(path[w], "w");
        assert_non_null(f);
        fflush(stdout);
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0)
            lease_worker(fileno(f), w);
        fclose(f);
    }
    int per_worker[WORKERS] = {0};
    for (int w = 0; w < WORKERS; w++) {
        int status;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    char **ids = calloc(JOBS * 2, sizeof *ids);
    size_t total = 0;
    for (int w = 0; w < WORKERS; w++) {
        FILE *f = fopen(path[w], "r");
        assert_non_null(f);
        char line[64];
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            assert_true(total < JOBS * 2);
            ids[total++] = strdup(line);
            per_worker[w]++;
        }
        fclose(f);
        unlink(path[w]);
    }
    /* Every job exactly once: no job went to two workers. */
    assert_int_equal(total, JOBS);
    qsort(ids, total, sizeof *ids, cmp_str);
    for (size_t i = 1; i < total; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("job %s was leased twice", ids[i]);
    for (size_t i = 0; i < total; i++)
        free(ids[i]);
    free(ids);
    print_message("jobs per worker: %d %d %d %d\n", per_worker[0], per_worker[1], per_worker[2],
                  per_worker[3]);
    assert_int_equal(query_long("SELECT count(*) FROM jobs WHERE state = 'succeeded'"
                                " AND attempts = 1",
                                NULL),
                     JOBS);
}

/* Seconds from now until the job's run_at. */
static double run_at_in(const char *id)
{
    char buf[64];
    query1("SELECT extract(epoch FROM run_at - now()) FROM jobs WHERE id = $1", id, buf,
           sizeof buf);
    return strtod(buf, NULL);
}

static void lease_one(const char *worker, const char *want_id, int want_attempts)
{
    queue_job out[1];
    size_t n;
    err e;
    if (!queue_lease(conn, worker, NULL, 0, 1, 30000, out, &n, &e))
        fail_msg("lease: %s", e.message);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, want_id);
    assert_int_equal(out[0].attempts, want_attempts);
    queue_jobs_clear(out, n);
}

static void test_retry_backoff(void **state)
{
    (void)state;
    need_db();
    char id[QUEUE_ID_LEN];
    enqueue(tenant_a, "flaky", 0, 0, 3, id);
    queue_backoff bo = {.base_ms = 2000, .cap_ms = 3000};
    bool requeued = false;
    err e;
    char st[32], last[128];

    lease_one("w", id, 1);
    assert_true(queue_fail(conn, id, "w", "throttled (1)", true, &bo, &requeued, &e));
    assert_true(requeued);
    job_state(id, st, sizeof st);
    assert_string_equal(st, "queued");
    double d1 = run_at_in(id); /* base 2 s, less up to half: 1..2 s */
    assert_true(d1 > 0.9 && d1 <= 2.05);
    query1("SELECT last_error FROM jobs WHERE id = $1", id, last, sizeof last);
    assert_string_equal(last, "throttled (1)");
    /* Not due yet: nothing to lease. */
    queue_job out[1];
    size_t n;
    assert_true(queue_lease(conn, "w", NULL, 0, 1, 30000, out, &n, &e));
    assert_int_equal(n, 0);

    make_due(id);
    lease_one("w", id, 2);
    assert_true(queue_fail(conn, id, "w", "throttled (2)", true, &bo, &requeued, &e));
    assert_true(requeued);
    double d2 = run_at_in(id); /* 4 s capped at 3 s, less up to half: 1.5..3 s */
    assert_true(d2 > 1.4 && d2 <= 3.05);

    make_due(id);
    lease_one("w", id, 3);
    assert_true(queue_fail(conn, id, "w", "throttled (3)", true, &bo, &requeued, &e));
    assert_false(requeued); /* attempts exhausted */
    job_state(id, st, sizeof st);
    assert_string_equal(st, "failed");
    query1("SELECT last_error FROM jobs WHERE id = $1", id, last, sizeof last);
    assert_string_equal(last, "throttled (3)");
    assert_int_equal(query_long("SELECT attempts FROM jobs WHERE id = $1", id), 3);
    assert_int_equal(
        query_long("SELECT count(*) FROM jobs WHERE id = $1 AND finished_at IS NOT NULL", id), 1);

    /* A permanent error fails at once, attempts left or not. */
    char id2[QUEUE_ID_LEN];
    enqueue(tenant_a, "flaky", 0, 0, 5, id2);
    lease_one("w", id2, 1);
    assert_true(queue_fail(conn, id2, "w", "AccessDenied", false, NULL, &requeued, &e));
    assert_false(requeued);
    job_state(id2, st, sizeof st);
    assert_string_equal(st, "failed");
    /* A failure from a worker that no longer holds the lease is refused. */
    assert_false(queue_fail(conn, id2, "w", "late", true, NULL, &requeued, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, id2));
}

static void test_cancel(void **state)
{
    (void)state;
    need_db();
    char queued[QUEUE_ID_LEN], leased[QUEUE_ID_LEN];
    enqueue(tenant_a, "slow", 0, 0, 0, leased);
    lease_one("w", leased, 1);
    enqueue(tenant_a, "slow", 0, 0, 0, queued);
    queue_cancel_result res;
    err e;
    char st[32];

    assert_true(queue_cancel(conn, tenant_a, queued, &res, &e));
    assert_int_equal(res, QUEUE_CANCELLED);
    job_state(queued, st, sizeof st);
    assert_string_equal(st, "cancelled");
    queue_job out[1];
    size_t n;
    assert_true(queue_lease(conn, "w", NULL, 0, 1, 30000, out, &n, &e));
    assert_int_equal(n, 0); /* a cancelled job never runs */
    assert_true(queue_cancel(conn, NULL, queued, &res, &e));
    assert_int_equal(res, QUEUE_CANCEL_TOO_LATE);

    /* A leased job: the request reaches the worker's heartbeat, and its
     * failure report then cancels the job instead of retrying it. */
    assert_true(queue_cancel(conn, NULL, leased, &res, &e));
    assert_int_equal(res, QUEUE_CANCEL_REQUESTED);
    bool cancel = false;
    assert_true(queue_heartbeat(conn, leased, "w", 30000, &cancel, &e));
    assert_true(cancel);
    bool requeued = true;
    assert_true(queue_fail(conn, leased, "w", "cancelled by request", true, NULL, &requeued, &e));
    assert_false(requeued);
    job_state(leased, st, sizeof st);
    assert_string_equal(st, "cancelled");

    /* Unknown job: not found, quoting the id. */
    const char *ghost = "00000000-0000-4000-8000-000000000000";
    assert_false(queue_cancel(conn, NULL, ghost, &res, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, ghost));
}

/* Row-level security: under escher_api, tenant B cannot see or cancel
 * tenant A's job, and a query without the tenant setting sees nothing. */
static void test_rls_under_api_role(void **state)
{
    (void)state;
    need_db();
    char id[QUEUE_ID_LEN], idb[QUEUE_ID_LEN];
    enqueue(tenant_a, "k", 0, 0, 0, id);
    exec_ok(conn, "SET ROLE escher_api");
    assert_int_equal(query_long("SELECT count(*) FROM jobs", NULL), 0);
    queue_cancel_result res;
    err e;
    assert_false(queue_cancel(conn, tenant_b, id, &res, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    /* Enqueue under the API role works: queue_enqueue sets the tenant. */
    queue_new_job j = {.tenant_id = tenant_b, .kind = "k"};
    assert_true(queue_enqueue(conn, &j, idb, NULL, &e));
    /* Tenant A's own cancel works. */
    assert_true(queue_cancel(conn, tenant_a, id, &res, &e));
    assert_int_equal(res, QUEUE_CANCELLED);
    assert_int_equal(query_long("SELECT count(*) FROM jobs", NULL), 0);
    exec_ok(conn, "RESET ROLE");
    assert_int_equal(query_long("SELECT count(*) FROM jobs WHERE tenant_id = $1", tenant_b), 1);
}

static void test_sigkill_worker_reaped(void **state)
{
    (void)state;
    need_db();
    char id[QUEUE_ID_LEN];
    enqueue(tenant_a, "long", 0, 0, 0, id);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        PGconn *c = pgtest_connect(&db);
        queue_job out[1];
        size_t n;
        err e;
        if (!queue_lease(c, "doomed", NULL, 0, 1, 1000, out, &n, &e) || n != 1)
            _exit(2);
        if (write(pfd[1], out[0].id, 36) != 36)
            _exit(3);
        for (;;)
            pause(); /* "mid-job" until SIGKILL */
    }
    close(pfd[1]);
    char got[QUEUE_ID_LEN] = {0};
    assert_int_equal(read(pfd[0], got, 36), 36);
    close(pfd[0]);
    assert_string_equal(got, id);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    /* Before expiry the job stays the dead worker's: nobody else gets it. */
    err e;
    size_t reaped = 99;
    queue_job out[1];
    size_t n;
    assert_true(queue_reap(conn, &reaped, &e));
    assert_int_equal(reaped, 0);
    assert_true(queue_lease(conn, "rescuer", NULL, 0, 1, 30000, out, &n, &e));
    assert_int_equal(n, 0);

    uint64_t start = timeutil_mono_ms();
    while (reaped == 0 && timeutil_mono_ms() - start < 10000) {
        sleep_ms(100);
        assert_true(queue_reap(conn, &reaped, &e));
    }
    assert_int_equal(reaped, 1);
    char st[32], last[128];
    job_state(id, st, sizeof st);
    assert_string_equal(st, "queued");
    query1("SELECT last_error FROM jobs WHERE id = $1", id, last, sizeof last);
    assert_non_null(strstr(last, "lease expired"));
    assert_non_null(strstr(last, "doomed"));

    lease_one("rescuer", id, 2); /* the attempt of the dead worker counted */
    assert_true(queue_complete(conn, id, "rescuer", &e));
    /* The dead worker's lease is gone for good. */
    assert_false(queue_heartbeat(conn, id, "doomed", 1000, NULL, &e));

    /* A job reaped with no attempts left fails, keeping why. */
    char id2[QUEUE_ID_LEN];
    enqueue(tenant_a, "long", 0, 0, 1, id2);
    lease_one("doomed2", id2, 1);
    exec_ok(conn, "UPDATE jobs SET lease_expires_at = now() - interval '1 second'"
                  " WHERE state = 'leased'");
    assert_true(queue_reap(conn, &reaped, &e));
    assert_int_equal(reaped, 1);
    job_state(id2, st, sizeof st);
    assert_string_equal(st, "failed");
}

static void test_listen_notify_wakes(void **state)
{
    (void)state;
    need_db();
    PGconn *l = pgtest_connect(&db);
    err e;
    assert_true(queue_listen(l, &e));
    assert_true(queue_socket(l) >= 0);
    bool woken = true;
    assert_true(queue_wait(l, 100, &woken, &e));
    assert_false(woken); /* nothing happened: the wait times out */

    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sleep_ms(300);
        PGconn *c = pgtest_connect(&db);
        queue_new_job j = {.tenant_id = tenant_a, .kind = "wake.me"};
        char id[QUEUE_ID_LEN];
        _exit(queue_enqueue(c, &j, id, NULL, &e) ? 0 : 1);
    }
    uint64_t start = timeutil_mono_ms();
    assert_true(queue_wait(l, 10000, &woken, &e));
    uint64_t took = timeutil_mono_ms() - start;
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(woken);
    print_message("woken %llu ms after the wait began (the enqueue came at ~300 ms)\n",
                  (unsigned long long)took);
    assert_true(took < 2000);

    /* A delayed job does not wake anyone; the slow poll finds it. */
    char id[QUEUE_ID_LEN];
    enqueue(tenant_a, "later", 0, 60000, 0, id);
    assert_true(queue_wait(l, 300, &woken, &e));
    assert_false(woken);
    /* A job back in the queue at once (reaped) wakes the listeners too. */
    enqueue(tenant_a, "k", 0, 0, 0, id);
    assert_true(queue_wait(l, 2000, &woken, &e));
    assert_true(woken);
    const char *kinds[] = {"k"};
    queue_job out[1];
    size_t n;
    assert_true(queue_lease(conn, "w", kinds, 1, 1, 30000, out, &n, &e));
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, id);
    queue_jobs_clear(out, n);
    exec_ok(conn, "UPDATE jobs SET lease_expires_at = now() - interval '1 second'"
                  " WHERE state = 'leased'");
    size_t reaped;
    assert_true(queue_reap(conn, &reaped, &e));
    assert_int_equal(reaped, 1);
    assert_true(queue_wait(l, 2000, &woken, &e));
    assert_true(woken);
    PQfinish(l);
}

static void test_steps_skip_on_retry(void **state)
{
    (void)state;
    need_db();
    char id[QUEUE_ID_LEN];
    enqueue(tenant_a, "multi", 0, 0, 3, id);
    lease_one("w", id, 1);
    queue_step_result res;
    err e;
    assert_true(queue_step_begin(conn, id, "w", "assume-role", &res, &e));
    assert_int_equal(res, QUEUE_STEP_RUN);
    assert_true(queue_step_finish(conn, id, "w", "assume-role", true, "{\"ok\": true}", &e));
    assert_true(queue_step_begin(conn, id, "w", "tag-resources", &res, &e));
    assert_int_equal(res, QUEUE_STEP_RUN);
    assert_true(queue_step_finish(conn, id, "w", "tag-resources", false, NULL, &e));
    bool requeued;
    assert_true(queue_fail(conn, id, "w", "tagging throttled", true, NULL, &requeued, &e));
    assert_true(requeued);

    /* Steps of a job we do not hold are refused. */
    assert_false(queue_step_begin(conn, id, "w", "assume-role", &res, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, id));

    make_due(id);
    lease_one("w2", id, 2);
    assert_true(queue_step_begin(conn, id, "w2", "assume-role", &res, &e));
    assert_int_equal(res, QUEUE_STEP_SKIP); /* done by attempt 1 */
    assert_true(queue_step_begin(conn, id, "w2", "tag-resources", &res, &e));
    assert_int_equal(res, QUEUE_STEP_RUN); /* failed in attempt 1: run again */
    assert_true(queue_step_finish(conn, id, "w2", "tag-resources", true, NULL, &e));
    /* Finishing a step twice is refused. */
    assert_false(queue_step_finish(conn, id, "w2", "tag-resources", true, NULL, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_true(queue_complete(conn, id, "w2", &e));
    assert_int_equal(
        query_long("SELECT count(*) FROM job_steps WHERE job_id = $1 AND state = 'done'", id), 2);
    assert_int_equal(query_long("SELECT max(seq) FROM job_steps WHERE job_id = $1", id), 2);
}

/* queue_release (a worker shutting down hands a job back): the attempt is
 * not counted, the job is runnable again at once, a pending cancel request
 * cancels it instead, and only the lease holder may release. */
static void test_release(void **state)
{
    (void)state;
    need_db();
    char id[QUEUE_ID_LEN], cancelled[QUEUE_ID_LEN];
    enqueue(tenant_a, "k", 0, 0, 0, id);
    lease_one("w1", id, 1);
    err e;
    /* Not our lease: refused, naming the job, and nothing changes. */
    assert_false(queue_release(conn, id, "w2", &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, id));
    char st[32];
    job_state(id, st, sizeof st);
    assert_string_equal(st, "leased");

    assert_true(queue_release(conn, id, "w1", &e));
    job_state(id, st, sizeof st);
    assert_string_equal(st, "queued");
    assert_int_equal(query_long("SELECT attempts FROM jobs WHERE id = $1", id), 0);
    assert_int_equal(
        query_long("SELECT count(*) FROM jobs WHERE id = $1 AND leased_by IS NULL"
                   " AND lease_expires_at IS NULL AND run_at <= now() AND finished_at IS NULL",
                   id),
        1);
    /* Runnable again at once, by anyone, and this lease is attempt 1 again. */
    lease_one("w2", id, 1);
    /* Released twice in a row: the second is no longer ours to release. */
    assert_true(queue_release(conn, id, "w2", &e));
    assert_false(queue_release(conn, id, "w2", &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);

    /* A cancel requested while leased: release cancels instead of requeueing. */
    setup(NULL);
    enqueue(tenant_a, "k", 0, 0, 0, cancelled);
    lease_one("w1", cancelled, 1);
    queue_cancel_result res;
    assert_true(queue_cancel(conn, NULL, cancelled, &res, &e));
    assert_int_equal(res, QUEUE_CANCEL_REQUESTED);
    assert_true(queue_release(conn, cancelled, "w1", &e));
    job_state(cancelled, st, sizeof st);
    assert_string_equal(st, "cancelled");
    assert_int_equal(
        query_long("SELECT count(*) FROM jobs WHERE id = $1 AND finished_at IS NOT NULL",
                   cancelled),
        1);
    queue_job out[1];
    size_t n;
    assert_true(queue_lease(conn, "w1", NULL, 0, 1, 30000, out, &n, &e));
    assert_int_equal(n, 0);
}

/* Inside a caller's transaction the queue joins it: a rollback undoes the
 * enqueue. */
static void test_joins_caller_transaction(void **state)
{
    (void)state;
    need_db();
    char id[QUEUE_ID_LEN];
    exec_ok(conn, "BEGIN");
    enqueue(tenant_a, "k", 0, 0, 0, id);
    assert_int_equal(PQtransactionStatus(conn), PQTRANS_INTRANS);
    exec_ok(conn, "ROLLBACK");
    assert_int_equal(query_long("SELECT count(*) FROM jobs WHERE id = $1", id), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_enqueue_lease_complete, setup),
        cmocka_unit_test_setup(test_idempotency, setup),
        cmocka_unit_test_setup(test_priority_and_run_at, setup),
        cmocka_unit_test_setup(test_concurrent_lease_skip_locked, setup),
        cmocka_unit_test_setup(test_retry_backoff, setup),
        cmocka_unit_test_setup(test_cancel, setup),
        cmocka_unit_test_setup(test_rls_under_api_role, setup),
        cmocka_unit_test_setup(test_sigkill_worker_reaped, setup),
        cmocka_unit_test_setup(test_listen_notify_wakes, setup),
        cmocka_unit_test_setup(test_steps_skip_on_retry, setup),
        cmocka_unit_test_setup(test_joins_caller_transaction, setup),
        cmocka_unit_test_setup(test_release, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
