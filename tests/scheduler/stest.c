/* The escher-scheduler integration fixture. See stest.h. */
#include "stest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "support/tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ESCHER_SCHEDULER_BIN
#error "ESCHER_SCHEDULER_BIN must name the escher-scheduler binary"
#endif

extern char **environ;

stest S;

void st_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

uint64_t st_now_ms(void)
{
    return timeutil_mono_ms();
}

/* ---- SQL ---- */

void st_exec(const char *sql)
{
    PGresult *r = PQexec(S.conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(S.conn));
    PQclear(r);
}

PGresult *st_rows(const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(S.conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(S.conn));
    return r;
}

void st_query1(const char *sql, int nparams, const char *const *params, char *out, size_t n)
{
    PGresult *r = st_rows(sql, nparams, params);
    snprintf(out, n, "%s", PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

long st_long(const char *sql, const char *param)
{
    char buf[64];
    const char *p[1] = {param};
    st_query1(sql, param ? 1 : 0, p, buf, sizeof buf);
    return strtol(buf, NULL, 10);
}

long st_wait_count(const char *sql, const char *param, long want, int timeout_ms)
{
    uint64_t deadline = st_now_ms() + (uint64_t)timeout_ms;
    long n;
    while ((n = st_long(sql, param)) < want && st_now_ms() < deadline)
        st_sleep_ms(10);
    return n;
}

/* Kills the schedulers a failed test left running (a test that fails
 * returns before its st_stop), so none works on the next test's rows. */
static void kill_live(void)
{
    for (size_t i = 0; i < sizeof S.live / sizeof S.live[0]; i++) {
        if (S.live[i] > 0) {
            kill(S.live[i], SIGKILL);
            waitpid(S.live[i], NULL, 0);
            S.live[i] = 0;
        }
    }
}

static void track(pid_t pid, pid_t replace)
{
    for (size_t i = 0; i < sizeof S.live / sizeof S.live[0]; i++) {
        if (S.live[i] == replace) {
            S.live[i] = pid;
            return;
        }
    }
    if (pid > 0)
        fail_msg("more than %zu schedulers at once", sizeof S.live / sizeof S.live[0]);
}

/* ---- setup ---- */

static void make_tenant(const char *name, char id[40])
{
    char xid[64];
    snprintf(xid, sizeof xid, "scheduler-test-external-id-%s-0123456789", name);
    const char *p[2] = {name, xid};
    st_query1("INSERT INTO tenants (name, external_id) VALUES ($1, $2) RETURNING id", 2, p, id, 40);
}

int st_setup(void **state)
{
    (void)state;
    if (pgtest_create(&S.db, "sched") != 0) {
        print_message(
            "ESCHER_TEST_PG_URL is unset: every scheduler test skips (run tests/run.sh)\n");
        return 0;
    }
    tmpdir_make(S.tmpdir, sizeof S.tmpdir, "escher-stest");
    S.conn = pgtest_migrated(&S.db);
    /* A login role that is only a member of escher_worker, as in production:
     * the scheduler must SET ROLE itself to see every tenant's schedules. */
    pgtest_login_role(&S.db, S.conn, "escher_st", "escher_worker", S.url, sizeof S.url);
    make_tenant("sched-a", S.tenant_a);
    make_tenant("sched-b", S.tenant_b);
    S.ready = true;
    return 0;
}

int st_teardown(void **state)
{
    (void)state;
    kill_live();
    if (!S.ready)
        return 0;
    PQfinish(S.conn);
    pgtest_drop(&S.db);
    tmpdir_remove(S.tmpdir);
    return 0;
}

int st_each(void **state)
{
    (void)state;
    kill_live();
    if (S.ready)
        st_exec("DELETE FROM schedule_fires; DELETE FROM schedules; DELETE FROM jobs");
    return 0;
}

void st_need(void)
{
    if (!S.ready) {
        print_message("ESCHER_TEST_PG_URL is unset: skipping (run through tests/run.sh)\n");
        skip();
    }
}

/* ---- schedulers ---- */

static char *read_log(const char *path)
{
    strbuf sb = STRBUF_INIT;
    FILE *f = fopen(path, "r");
    if (f) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            strbuf_append(&sb, buf, n);
        fclose(f);
    }
    strbuf_puts(&sb, "");
    return strbuf_detach(&sb);
}

int st_log_count(const st_proc *p, const char *what)
{
    char *log = read_log(p->log);
    int n = 0;
    for (const char *s = log; (s = strstr(s, what)) != NULL; s += strlen(what))
        n++;
    free(log);
    return n;
}

void st_wait_log(const st_proc *p, const char *what, int n, int timeout_ms)
{
    uint64_t deadline = st_now_ms() + (uint64_t)timeout_ms;
    while (st_log_count(p, what) < n) {
        int status;
        if (p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == p->pid) {
            track(0, p->pid);
            char *log = read_log(p->log);
            fail_msg("escher-scheduler exited while waiting for %s: %s", what, log);
        }
        if (st_now_ms() > deadline) {
            char *log = read_log(p->log);
            fail_msg("'%s' not logged %d times in %d ms: %s", what, n, timeout_ms, log);
        }
        st_sleep_ms(10);
    }
}

void st_start(st_proc *p, const char *const *extra)
{
    snprintf(p->log, sizeof p->log, "%s/scheduler-%d.log", S.tmpdir, S.nlogs++);
    const char *argv[32] = {ESCHER_SCHEDULER_BIN, "--database-url", S.url, "--log-level", "debug"};
    size_t argc = 5;
    for (size_t i = 0; extra && extra[i] && argc < 30; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    /* The environment without the scheduler's own variables. */
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 1, sizeof *envp);
    assert_non_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "ESCHER_SCHEDULER_", 17) != 0)
            envp[k++] = environ[i];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    int rc = posix_spawn(&p->pid, ESCHER_SCHEDULER_BIN, &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    if (rc != 0)
        fail_msg("posix_spawn %s: %s", ESCHER_SCHEDULER_BIN, strerror(rc));
    track(p->pid, 0);
    st_wait_log(p, "\"scheduler started\"", 1, 20000);
}

void st_stop(st_proc *p)
{
    kill(p->pid, SIGTERM);
    int status = 0;
    pid_t got;
    uint64_t deadline = st_now_ms() + 10000;
    while ((got = waitpid(p->pid, &status, WNOHANG)) == 0 && st_now_ms() < deadline)
        st_sleep_ms(10);
    if (got == 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &status, 0);
        track(0, p->pid);
        fail_msg("escher-scheduler did not exit within 10 s of SIGTERM");
    }
    track(0, p->pid);
    p->pid = -1;
    char *log = read_log(p->log);
    static const char *const bad[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                      "runtime error:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(log, bad[i]))
            fail_msg("escher-scheduler's log has a sanitizer report: %s", log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("escher-scheduler ended with status %d on SIGTERM: %s", status, log);
    if (!strstr(log, "\"scheduler stopped\""))
        fail_msg("escher-scheduler did not log its stop: %s", log);
    free(log);
}
