/* Job throughput: WORKERS processes each enqueue their share of JOBS no-op
 * jobs (one transaction each), then lease in batches and complete until every
 * job has succeeded. Prints "rate=<jobs/s> jobs=<n> workers=<w> seconds=<s>".
 *
 *   bench_queue URL MIGRATIONS_DIR JOBS WORKERS
 *
 * URL names an empty database; the schema is applied first (not timed). */
#include "core/err.h"
#include "core/timeutil.h"
#include "db/db.h"
#include "db/migrate.h"
#include "queue/queue.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static PGconn *connect_or_die(const char *url)
{
    err e;
    PGconn *c = db_connect(url, &e);
    if (c == NULL) {
        fprintf(stderr, "bench_queue: %s\n", e.message);
        exit(1);
    }
    return c;
}

static long count_succeeded(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT count(*) FROM jobs WHERE state = 'succeeded'");
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

static void worker(const char *url, const char *tenant, long share, long total, int w)
{
    PGconn *c = connect_or_die(url);
    err e;
    char id[QUEUE_ID_LEN], name[32];
    snprintf(name, sizeof name, "bench-%d", w);
    queue_new_job j = {.tenant_id = tenant, .kind = "noop"};
    for (long i = 0; i < share; i++)
        if (!queue_enqueue(c, &j, id, NULL, &e)) {
            fprintf(stderr, "bench_queue: %s\n", e.message);
            _exit(2);
        }
    queue_job out[32];
    for (;;) {
        size_t n;
        if (!queue_lease(c, name, NULL, 0, 32, 30000, out, &n, &e)) {
            fprintf(stderr, "bench_queue: %s\n", e.message);
            _exit(3);
        }
        for (size_t i = 0; i < n; i++)
            if (!queue_complete(c, out[i].id, name, &e)) {
                fprintf(stderr, "bench_queue: %s\n", e.message);
                _exit(4);
            }
        queue_jobs_clear(out, n);
        if (n == 0 && count_succeeded(c) >= total)
            break;
    }
    PQfinish(c);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_queue URL MIGRATIONS_DIR JOBS WORKERS\n");
        return 2;
    }
    const char *url = argv[1];
    long jobs = atol(argv[3]);
    int workers = atoi(argv[4]);
    if (jobs <= 0 || workers <= 0) {
        fprintf(stderr, "bench_queue: JOBS '%s' and WORKERS '%s' must be positive\n", argv[3],
                argv[4]);
        return 2;
    }
    PGconn *c = connect_or_die(url);
    err e;
    if (!migrate_apply(c, argv[2], NULL, &e)) {
        fprintf(stderr, "bench_queue: migrations in %s: %s\n", argv[2], e.message);
        return 1;
    }
    PGresult *r = PQexec(c, "DELETE FROM job_steps; DELETE FROM jobs");
    PQclear(r);
    r = PQexec(c, "INSERT INTO tenants (name, external_id) SELECT 'bench-' || gen_random_uuid(),"
                  " md5(random()::text) || md5(random()::text) RETURNING id");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench_queue: creating a tenant: %s", PQerrorMessage(c));
        return 1;
    }
    char tenant[QUEUE_ID_LEN];
    snprintf(tenant, sizeof tenant, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);

    uint64_t start = timeutil_mono_ns();
    pid_t *pids = calloc((size_t)workers, sizeof *pids);
    for (int w = 0; w < workers; w++) {
        long share = jobs / workers + (w < jobs % workers ? 1 : 0);
        fflush(stdout);
        pids[w] = fork();
        if (pids[w] < 0) {
            perror("bench_queue: fork");
            return 1;
        }
        if (pids[w] == 0)
            worker(url, tenant, share, jobs, w);
    }
    int failed = 0;
    for (int w = 0; w < workers; w++) {
        int status;
        if (waitpid(pids[w], &status, 0) != pids[w] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed = 1;
    }
    double secs = (double)(timeutil_mono_ns() - start) / 1e9;
    free(pids);
    long done = count_succeeded(c);
    PQfinish(c);
    if (failed || done != jobs) {
        fprintf(stderr, "bench_queue: %ld of %ld jobs succeeded%s\n", done, jobs,
                failed ? ", and a worker failed" : "");
        return 1;
    }
    printf("rate=%.0f jobs=%ld workers=%d seconds=%.3f\n", (double)jobs / secs, jobs, workers,
           secs);
    return 0;
}
