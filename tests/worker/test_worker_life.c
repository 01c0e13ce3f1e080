/* escher-worker's life with jobs in flight: many at once on one loop, a
 * worker killed mid-job, SIGTERM inside and past the grace period, cancel. */
#include "wtest.h"
#include "wtests.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY 50

/* One account row of tenant A on a role every sandbox account has. */
static void readonly_account(const char *account_id, char id[QUEUE_ID_LEN])
{
    char *ro = wt_arn(account_id, "EscherReadOnly");
    wt_account(W.tenant_a, account_id, ro, NULL, NULL, id);
    free(ro);
}

static void verify_job(const char *account, const char *who, char job[QUEUE_ID_LEN])
{
    char payload[96];
    snprintf(payload, sizeof payload, "{\"account\": \"%s\"}", account);
    wt_enqueue(W.tenant_a, "account.verify", payload, who, account, job);
}

/* MANY verifications across the accounts, each by another user (so each
 * assumes its own session), with 300 ms of latency on every AWS call: one
 * worker process runs them together. */
void test_many_at_once(void **state)
{
    (void)state;
    wt_need();
    char accounts[SBX_ACCOUNTS + 1][QUEUE_ID_LEN];
    readonly_account(W.sb.mgmt_id, accounts[0]);
    for (int i = 0; i < SBX_ACCOUNTS; i++)
        readonly_account(W.sb.member_ids[i], accounts[i + 1]);
    char jobs[MANY][QUEUE_ID_LEN];
    for (int i = 0; i < MANY; i++) {
        char who[64];
        snprintf(who, sizeof who, "user%02d@example.com", i);
        verify_job(accounts[i % (SBX_ACCOUNTS + 1)], who, jobs[i]);
    }
    wt_faults("{\"latency\":{\"fixed_ms\":300,\"jitter_ms\":0}}");
    const char *args[] = {"--concurrency", "64", NULL};
    wt_worker w;
    uint64_t t0 = timeutil_mono_ms();
    wt_worker_start(&w, args);
    char st[32];
    for (int i = 0; i < MANY; i++) {
        wt_wait_state(jobs[i], "succeeded|failed|cancelled", 60000, st, sizeof st);
        assert_string_equal(st, "succeeded");
    }
    uint64_t ms = timeutil_mono_ms() - t0;
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 10000), 0);
    /* Overlap: the most verification steps running at one instant. */
    long overlap = wt_query_long("SELECT max(n) FROM (SELECT (SELECT count(*) FROM job_steps o"
                                 "  WHERE o.started_at <= s.started_at"
                                 "    AND o.finished_at > s.started_at) AS n"
                                 "  FROM job_steps s) x",
                                 NULL);
    print_message("%d verifications (2 calls of 300 ms each) in %llu ms; at most %ld at once\n",
                  MANY, (unsigned long long)ms, overlap);
    assert_true(overlap >= 10);
    /* One after the other they would take MANY x 600 ms = 30 s. */
    assert_true(ms < 15000);
}

/* Puts a delay of ms on every AssumeRole. */
static void slow_assume(int ms)
{
    char body[160];
    snprintf(body, sizeof body,
             "{\"rules\":[{\"service\":\"sts\",\"action\":\"AssumeRole\",\"latency_ms\":%d}]}", ms);
    wt_faults(body);
}

static void wait_leased_by(const char *job, char *leased_by, size_t n)
{
    char st[32];
    wt_wait_state(job, "leased", 10000, st, sizeof st);
    const char *p[1] = {job};
    wt_query1("SELECT leased_by FROM jobs WHERE id = $1", 1, p, leased_by, n);
}

/* A worker killed with SIGKILL mid-job: once its lease expires, a second
 * worker reaps the job and runs it to success. */
void test_sigkill_mid_job(void **state)
{
    (void)state;
    wt_need();
    char account[QUEUE_ID_LEN], job[QUEUE_ID_LEN], first[128], second[128];
    readonly_account(W.sb.member_ids[0], account);
    slow_assume(5000);
    verify_job(account, "killed@example.com", job);
    const char *args[] = {"--lease", "2s", NULL};
    wt_worker a, b;
    wt_worker_start(&a, args);
    wait_leased_by(job, first, sizeof first);
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL); /* the AssumeRole is in flight */
    wt_worker_kill(&a);
    wt_faults("{\"rules\":[]}");
    wt_worker_start(&b, args);
    char st[32];
    wt_wait_state(job, "succeeded|failed|cancelled", 20000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&b, SIGTERM, 10000), 0);
    assert_string_equal(st, "succeeded");
    const char *p[1] = {job};
    /* The second worker finished it, on a later attempt. */
    char *log = wt_read_file(b.log);
    assert_non_null(strstr(log, "expired leases returned to the queue"));
    assert_non_null(strstr(log, job));
    free(log);
    assert_true(wt_query_long("SELECT attempts FROM jobs WHERE id = $1", job) >= 2);
    wt_query1("SELECT status FROM aws_accounts a JOIN jobs j ON j.account_id = a.id"
              " WHERE j.id = $1",
              1, p, second, sizeof second);
    assert_string_equal(second, "verified");
    assert_true(strlen(first) > 0);
}

/* A verification whose AssumeRole takes assume_ms, leased by a worker
 * started with grace period `grace`; returns once the job is leased. */
static void slow_leased_job(int assume_ms, const char *grace, wt_worker *w, char job[QUEUE_ID_LEN])
{
    char account[QUEUE_ID_LEN], by[128];
    readonly_account(W.sb.member_ids[0], account);
    slow_assume(assume_ms);
    char who[64];
    snprintf(who, sizeof who, "grace-%s@example.com", grace);
    verify_job(account, who, job);
    const char *args[] = {"--grace-period", grace, NULL};
    wt_worker_start(w, args);
    wait_leased_by(job, by, sizeof by);
}

/* SIGTERM with a job stuck past the grace period: handed back, attempt not
 * counted, exit 0, and the log says which job. */
void test_sigterm_hands_back(void **state)
{
    (void)state;
    wt_need();
    char job[QUEUE_ID_LEN];
    wt_worker w;
    slow_leased_job(20000, "500ms", &w, job);
    assert_int_equal(wt_query_long("SELECT attempts FROM jobs WHERE id = $1", job), 1);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 10000), 0);
    char st[32];
    wt_wait_state(job, "queued", 1, st, sizeof st);
    assert_int_equal(wt_query_long("SELECT attempts FROM jobs WHERE id = $1", job), 0);
    assert_int_equal(
        wt_query_long("SELECT count(*) FROM jobs WHERE id = $1 AND leased_by IS NULL", job), 1);
    char *log = wt_read_file(w.log);
    char *line = strstr(log, "job handed back to the queue");
    assert_non_null(line);
    assert_non_null(strstr(line, job));
    free(log);
}

/* SIGTERM while a job is in flight but quick enough: it finishes within the
 * grace period, then the worker exits 0. */
void test_sigterm_finishes_in_grace(void **state)
{
    (void)state;
    wt_need();
    char job[QUEUE_ID_LEN];
    wt_worker w;
    slow_leased_job(1500, "20s", &w, job);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 15000), 0);
    char st[32];
    wt_wait_state(job, "succeeded", 1, st, sizeof st);
    char *log = wt_read_file(w.log);
    assert_null(strstr(log, "handed back"));
    free(log);
}

/* A cancel of a running job reaches the worker on its heartbeat; the job
 * stops at its next step and ends cancelled. */
void test_cancel_running(void **state)
{
    (void)state;
    wt_need();
    char *op = wt_arn(W.sb.member_ids[0], "EscherOperator");
    char *ro = wt_arn(W.sb.member_ids[0], "EscherReadOnly");
    char account[QUEUE_ID_LEN], job[QUEUE_ID_LEN], by[128];
    wt_account(W.tenant_a, W.sb.member_ids[0], op, ro, NULL, account);
    free(op);
    free(ro);
    slow_assume(2500);
    verify_job(account, "cancel@example.com", job);
    const char *args[] = {"--lease", "1500ms", NULL};
    wt_worker w;
    wt_worker_start(&w, args);
    wait_leased_by(job, by, sizeof by);
    queue_cancel_result res;
    err e;
    assert_true(queue_cancel(W.conn, NULL, job, &res, &e));
    assert_int_equal(res, QUEUE_CANCEL_REQUESTED);
    char st[32];
    wt_wait_state(job, "succeeded|failed|cancelled", 15000, st, sizeof st);
    assert_int_equal(wt_worker_stop(&w, SIGTERM, 10000), 0);
    assert_string_equal(st, "cancelled");
    /* The first role's step ran; the second never began. */
    assert_int_equal(wt_query_long("SELECT count(*) FROM job_steps WHERE job_id = $1", job), 1);
}
