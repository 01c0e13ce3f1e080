/* Job throughput of lib/queue: WORKERS processes, one connection each, each
 * enqueue their share of JOBS no-op jobs, then lease and complete until every
 * job has succeeded. MODE says how:
 *
 *   single  one job per call: queue_enqueue, queue_lease (batches of 32),
 *           queue_complete, as an API request and a worker finishing jobs one
 *           at a time do;
 *   batch   queue_enqueue_many and queue_complete_many in batches of 32
 *           around the same queue_lease: one commit per 32 jobs per step;
 *   select1 no jobs: JOBS bare "SELECT 1" round trips shared the same way,
 *           the bound a job's round trips are measured against.
 *
 * Prints "rate=<per second> jobs=<n> workers=<w> seconds=<s>", then the CPU
 * time the run took per job, in the worker processes and in their server
 * backends (read from /proc: the server runs on this machine), and the WAL
 * flushes per 1000 jobs (pg_stat_wal): what the rate is made of, steadier
 * than the rate on a machine shared with other work.
 *
 *   bench_queue URL MIGRATIONS_DIR JOBS WORKERS MODE
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
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCH 32

typedef enum { MODE_SINGLE, MODE_BATCH, MODE_SELECT1 } mode;

/* Memory shared by the parent and the workers: the jobs completed so far
 * (so an idle worker knows when the run is over without asking the
 * database), and the CPU seconds of each worker and of its backend. */
typedef struct cpu {
    double client, server;
} cpu;

typedef struct shared {
    long completed;
    cpu used[];
} shared;

static double ticks_of(const char *stat_path)
{
    FILE *f = fopen(stat_path, "r");
    if (f == NULL)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields 14 and 15 (utime, stime) count after the ")" that ends the
     * command name, which may itself hold spaces. */
    const char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void measure_cpu(PGconn *c, cpu *out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", PQbackendPID(c));
    out->server = ticks_of(path);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->client = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long wal_syncs(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT wal_sync FROM pg_stat_wal");
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

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

static void die(const char *step, const err *e, int code)
{
    fprintf(stderr, "bench_queue: %s: %s\n", step, e->message);
    _exit(code);
}

static long count_succeeded(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT count(*) FROM jobs WHERE state = 'succeeded'");
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

static void select1(PGconn *c, long share)
{
    for (long i = 0; i < share; i++) {
        PGresult *r = PQexec(c, "SELECT 1");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "bench_queue: SELECT 1: %s", PQerrorMessage(c));
            _exit(2);
        }
        PQclear(r);
    }
}

static void enqueue(PGconn *c, const char *tenant, long share, mode m)
{
    err e;
    queue_new_job j[BATCH];
    for (int i = 0; i < BATCH; i++)
        j[i] = (queue_new_job){.tenant_id = tenant, .kind = "noop"};
    char ids[BATCH][QUEUE_ID_LEN];
    for (long i = 0; i < share;) {
        long n = m == MODE_BATCH && share - i >= BATCH ? BATCH : (m == MODE_BATCH ? share - i : 1);
        bool ok = m == MODE_BATCH ? queue_enqueue_many(c, j, (size_t)n, ids, NULL, &e)
                                  : queue_enqueue(c, j, ids[0], NULL, &e);
        if (!ok)
            die("enqueue", &e, 2);
        i += n;
    }
}

/* Leases and completes until the whole run's jobs have succeeded: a worker
 * that finds nothing to lease waits a little while others still hold some
 * (a real worker would wait on LISTEN; the bench's jobs are all queued). */
static void drain(PGconn *c, const char *name, long total, mode m, shared *sh)
{
    err e;
    queue_job out[BATCH];
    const char *ids[BATCH];
    for (;;) {
        size_t n;
        if (!queue_lease(c, name, NULL, 0, BATCH, 30000, out, &n, &e))
            die("lease", &e, 3);
        if (m == MODE_BATCH && n > 0) {
            for (size_t i = 0; i < n; i++)
                ids[i] = out[i].id;
            if (!queue_complete_many(c, ids, n, name, NULL, &e))
                die("complete", &e, 4);
        }
        for (size_t i = 0; m == MODE_SINGLE && i < n; i++)
            if (!queue_complete(c, out[i].id, name, &e))
                die("complete", &e, 4);
        queue_jobs_clear(out, n);
        long done = __atomic_add_fetch(&sh->completed, (long)n, __ATOMIC_SEQ_CST);
        if (n == 0 && done >= total)
            break;
        if (n == 0)
            usleep(2000);
    }
}

static void worker(const char *url, const char *tenant, long share, long total, int w, mode m,
                   shared *sh)
{
    PGconn *c = connect_or_die(url);
    char name[32];
    snprintf(name, sizeof name, "bench-%d", w);
    if (m == MODE_SELECT1) {
        select1(c, share);
    } else {
        enqueue(c, tenant, share, m);
        drain(c, name, total, m, sh);
    }
    measure_cpu(c, &sh->used[w]);
    PQfinish(c);
    _exit(0);
}

/* Applies the schema, empties the queue and makes a tenant (into tenant). */
static void prepare(PGconn *c, const char *migrations, char tenant[QUEUE_ID_LEN])
{
    err e;
    if (!migrate_apply(c, migrations, NULL, &e)) {
        fprintf(stderr, "bench_queue: migrations in %s: %s\n", migrations, e.message);
        exit(1);
    }
    PGresult *r = PQexec(c, "DELETE FROM job_steps; DELETE FROM jobs");
    PQclear(r);
    /* Without this the runs that follow one another would inherit the dead
     * rows of the last one, and each would measure a different table. */
    r = PQexec(c, "VACUUM ANALYZE jobs");
    PQclear(r);
    r = PQexec(c, "INSERT INTO tenants (name, external_id) SELECT 'bench-' || gen_random_uuid(),"
                  " md5(random()::text) || md5(random()::text) RETURNING id");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench_queue: creating a tenant: %s", PQerrorMessage(c));
        exit(1);
    }
    snprintf(tenant, QUEUE_ID_LEN, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr,
                "usage: bench_queue URL MIGRATIONS_DIR JOBS WORKERS single|batch|select1\n");
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
    mode m;
    if (strcmp(argv[5], "single") == 0)
        m = MODE_SINGLE;
    else if (strcmp(argv[5], "batch") == 0)
        m = MODE_BATCH;
    else if (strcmp(argv[5], "select1") == 0)
        m = MODE_SELECT1;
    else {
        fprintf(stderr, "bench_queue: MODE '%s' must be single, batch or select1\n", argv[5]);
        return 2;
    }
    PGconn *c = connect_or_die(url);
    char tenant[QUEUE_ID_LEN];
    prepare(c, argv[2], tenant);

    size_t shsize = sizeof(shared) + (size_t)workers * sizeof(cpu);
    shared *sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("bench_queue: mmap");
        return 1;
    }
    long syncs = wal_syncs(c);
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
            worker(url, tenant, share, jobs, w, m, sh);
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
    long done = m == MODE_SELECT1 ? jobs : count_succeeded(c);
    /* The statistics a backend sends at its exit may lag by a moment. */
    usleep(600 * 1000);
    syncs = syncs >= 0 ? wal_syncs(c) - syncs : -1;
    PQfinish(c);
    double client = 0, server = 0;
    for (int w = 0; w < workers; w++) {
        client += sh->used[w].client;
        server = server >= 0 && sh->used[w].server >= 0 ? server + sh->used[w].server : -1;
    }
    munmap(sh, shsize);
    if (failed || done != jobs) {
        fprintf(stderr, "bench_queue: %ld of %ld jobs succeeded%s\n", done, jobs,
                failed ? ", and a worker failed" : "");
        return 1;
    }
    printf("rate=%.0f jobs=%ld workers=%d seconds=%.3f", (double)jobs / secs, jobs, workers, secs);
    printf(" client_cpu_us_per_job=%.1f", client / (double)jobs * 1e6);
    if (server >= 0)
        printf(" server_cpu_us_per_job=%.1f", server / (double)jobs * 1e6);
    if (syncs >= 0)
        printf(" wal_flushes_per_1000_jobs=%.0f", (double)syncs * 1000 / (double)jobs);
    printf("\n");
    return 0;
}
