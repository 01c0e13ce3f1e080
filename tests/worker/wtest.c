/* The escher-worker integration fixture. See wtest.h. */
#include "wtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
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

#ifndef ESCHER_WORKER_BIN
#error "ESCHER_WORKER_BIN must name the escher-worker binary"
#endif

extern char **environ;

wtest W;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

char *wt_read_file(const char *path)
{
    return sbx_read_file(path);
}

/* ---- SQL ---- */

void wt_exec(const char *sql)
{
    PGresult *r = PQexec(W.conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(W.conn));
    PQclear(r);
}

void wt_query1(const char *sql, int nparams, const char *const *params, char *out, size_t n)
{
    PGresult *r = PQexecParams(W.conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(W.conn));
    snprintf(out, n, "%s", PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

long wt_query_long(const char *sql, const char *param)
{
    char buf[64];
    const char *p[1] = {param};
    wt_query1(sql, param ? 1 : 0, p, buf, sizeof buf);
    return strtol(buf, NULL, 10);
}

char *wt_arn(const char *account, const char *name)
{
    return xasprintf("arn:aws:iam::%s:role/%s", account, name);
}

void wt_account(const char *tenant, const char *account_id, const char *role, const char *ro,
                const char *name, char id[QUEUE_ID_LEN])
{
    const char *p[5] = {tenant, account_id, role, ro, name ? name : ""};
    wt_query1("INSERT INTO aws_accounts (tenant_id, account_id, role_arn, readonly_role_arn, name)"
              " VALUES ($1, $2, $3, $4, $5) RETURNING id",
              5, p, id, QUEUE_ID_LEN);
    assert_int_equal(strlen(id), 36);
}

void wt_enqueue(const char *tenant, const char *kind, const char *payload, const char *created_by,
                const char *account, char id[QUEUE_ID_LEN])
{
    queue_new_job j = {.tenant_id = tenant,
                       .kind = kind,
                       .payload_json = payload,
                       .created_by = created_by,
                       .account_id = account,
                       .max_attempts = 3};
    err e;
    if (!queue_enqueue(W.conn, &j, id, NULL, &e))
        fail_msg("enqueue %s: %s", kind, e.message);
    json_array_append_new(W.jobs, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "kind", kind,
                                            "tenant", tenant, "created_by", created_by, "payload",
                                            payload ? payload : "{}"));
}

void wt_wait_state(const char *job, const char *states, int timeout_ms, char *out, size_t n)
{
    uint64_t deadline = timeutil_mono_ms() + (uint64_t)timeout_ms;
    const char *p[2] = {job, states};
    for (;;) {
        wt_query1("SELECT state FROM jobs WHERE id = $1"
                  " AND state = ANY (string_to_array($2, '|'))",
                  2, p, out, n);
        if (*out)
            return;
        if (timeutil_mono_ms() > deadline) {
            char now[32];
            wt_query1("SELECT state FROM jobs WHERE id = $1", 1, p, now, sizeof now);
            fail_msg("job %s still '%s' after %d ms (want %s)", job, now, timeout_ms, states);
        }
        sleep_ms(20);
    }
}

/* ---- sandbox ---- */

void wt_faults(const char *body)
{
    json_decref(sbx_admin(&W.sb, "PUT", "/faults", body));
}

/* The world of a first sandbox, edited (see wtest.h) and saved for the one
 * the tests use. */
static void edit_world(const char *path)
{
    json_t *state = sbx_state(&W.sb);
    if (W.edit_world) {
        W.edit_world(state);
        assert_int_equal(json_dump_file(state, path, JSON_COMPACT), 0);
        json_decref(state);
        return;
    }
    json_t *gone = sbx_world_account(state, W.sb.member_ids[2]);
    json_t *roles = json_object_get(gone, "roles");
    for (size_t i = json_array_size(roles); i-- > 0;)
        if (strcmp(json_string_value(json_object_get(json_array_get(roles, i), "name")),
                   "EscherOperator") == 0)
            json_array_remove(roles, i);
    json_object_set_new(sbx_world_account(state, W.sb.member_ids[1]), "status",
                        json_string("SUSPENDED"));
    assert_int_equal(json_dump_file(state, path, JSON_COMPACT), 0);
    json_decref(state);
}

static void start_sandbox(void)
{
    char world[300];
    snprintf(world, sizeof world, "%s/world.json", W.tmpdir);
    sbx_config c = {.external_id = WT_EXTERNAL_ID};
    err e = {0};
    if (!sbx_start_with(&W.sb, &c, &e))
        fail_msg("sandbox: %s", e.message);
    edit_world(world);
    if (!sbx_stop(&W.sb, &e))
        fail_msg("sandbox stop: %s", e.message);
    c.world_file = world;
    if (!sbx_start_with(&W.sb, &c, &e))
        fail_msg("sandbox with the edited world: %s", e.message);
    g_sbx = &W.sb;
    W.no_operator = W.sb.member_ids[2];
    W.suspended = W.sb.member_ids[1];
}

/* ---- database ---- */

static void make_tenant(const char *name, const char *xid, char id[QUEUE_ID_LEN])
{
    const char *p[2] = {name, xid};
    wt_query1("INSERT INTO tenants (name, external_id) VALUES ($1, $2) RETURNING id", 2, p, id,
              QUEUE_ID_LEN);
}

static void setup_db(void)
{
    W.conn = pgtest_migrated(&W.db);
    /* A login role that is only a member of escher_worker, as in production:
     * the worker must SET ROLE escher_worker itself to see every tenant. */
    pgtest_login_role(&W.db, W.conn, "escher_wt", "escher_worker", W.worker_url,
                      sizeof W.worker_url);
    make_tenant("tenant-a", WT_EXTERNAL_ID, W.tenant_a);
    make_tenant("tenant-b", WT_WRONG_ID, W.tenant_b);
}

int wt_setup(void **state)
{
    (void)state;
    if (pgtest_create(&W.db, "worker") != 0) {
        print_message("ESCHER_TEST_PG_URL is unset: every worker test skips (run tests/run.sh)\n");
        return 0;
    }
    tmpdir_make(W.tmpdir, sizeof W.tmpdir, "escher-wtest");
    W.jobs = json_array();
    setup_db();
    start_sandbox();
    W.ready = true;
    return 0;
}

int wt_teardown(void **state)
{
    (void)state;
    if (!W.ready)
        return 0;
    err e = {0};
    bool ok = sbx_stop(&W.sb, &e);
    PQfinish(W.conn);
    pgtest_drop(&W.db);
    for (size_t i = 0; i < W.nlogs; i++)
        free(W.logs[i]);
    json_decref(W.jobs);
    tmpdir_remove(W.tmpdir);
    if (!ok)
        fprintf(stderr, "sandbox stop: %s\n", e.message);
    return ok ? 0 : -1;
}

int wt_each(void **state)
{
    (void)state;
    if (!W.ready)
        return 0;
    wt_exec("DELETE FROM job_steps; DELETE FROM jobs; DELETE FROM aws_accounts");
    wt_faults("{\"latency\":{\"fixed_ms\":0,\"jitter_ms\":0},\"error_rate\":0,\"rules\":[]}");
    return 0;
}

void wt_need(void)
{
    if (!W.ready) {
        print_message("ESCHER_TEST_PG_URL is unset: skipping (run through tests/run.sh)\n");
        skip();
    }
}

/* ---- workers ---- */

static bool log_has(const char *path, const char *what)
{
    char *log = wt_read_file(path);
    bool found = strstr(log, what) != NULL;
    free(log);
    return found;
}

void wt_worker_start(wt_worker *w, const char *const *extra)
{
    assert_true(W.nlogs < WT_MAX_WORKERS);
    snprintf(w->log, sizeof w->log, "%s/worker-%zu.log", W.tmpdir, W.nlogs);
    W.logs[W.nlogs++] = xstrdup(w->log);
    const char *redis = getenv("ESCHER_TEST_REDIS_URL");
    const char *argv[64] = {ESCHER_WORKER_BIN,
                            "--database-url",
                            W.worker_url,
                            "--redis-url",
                            redis && *redis ? redis : "redis://127.0.0.1:1",
                            "--endpoint-url",
                            W.sb.endpoint,
                            "--poll-interval",
                            "500ms",
                            "--log-level",
                            "debug"};
    size_t argc = 11;
    for (size_t i = 0; extra && extra[i] && argc < 62; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    /* The environment without anything that could pick another identity or
     * configuration, plus the sandbox's profiles. */
    strbuf env[4];
    const char *names[4] = {"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE",
                            "AWS_EC2_METADATA_DISABLED"};
    const char *values[4] = {W.sb.config_file, W.sb.credentials_file, "hub", "true"};
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = xcalloc(nenv + 5, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "AWS_", 4) != 0 && strncmp(environ[i], "ESCHER_WORKER_", 14) != 0)
            envp[k++] = environ[i];
    for (size_t i = 0; i < 4; i++) {
        strbuf_init(&env[i]);
        strbuf_printf(&env[i], "%s=%s", names[i], values[i]);
        envp[k++] = (char *)strbuf_str(&env[i]);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, w->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    int rc = posix_spawn(&w->pid, ESCHER_WORKER_BIN, &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    for (size_t i = 0; i < 4; i++)
        strbuf_free(&env[i]);
    if (rc != 0)
        fail_msg("posix_spawn %s: %s", ESCHER_WORKER_BIN, strerror(rc));
    uint64_t deadline = timeutil_mono_ms() + 20000;
    while (!log_has(w->log, "\"worker started\"")) {
        int status;
        if (waitpid(w->pid, &status, WNOHANG) == w->pid) {
            char *log = wt_read_file(w->log);
            fail_msg("escher-worker exited before starting: %s", log);
        }
        if (timeutil_mono_ms() > deadline)
            fail_msg("escher-worker did not start in 20 s");
        sleep_ms(10);
    }
}

int wt_worker_stop(wt_worker *w, int sig, int timeout_ms)
{
    kill(w->pid, sig);
    int status = 0;
    pid_t got;
    uint64_t deadline = timeutil_mono_ms() + (uint64_t)timeout_ms;
    while ((got = waitpid(w->pid, &status, WNOHANG)) == 0 && timeutil_mono_ms() < deadline)
        sleep_ms(10);
    if (got == 0) {
        kill(w->pid, SIGKILL);
        waitpid(w->pid, &status, 0);
        fail_msg("escher-worker did not exit within %d ms of signal %d", timeout_ms, sig);
    }
    w->pid = -1;
    char *log = wt_read_file(w->log);
    static const char *const bad[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                      "runtime error:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(log, bad[i]))
            fail_msg("escher-worker's log has a sanitizer report: %s", log);
    free(log);
    if (!WIFEXITED(status))
        fail_msg("escher-worker died of signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

void wt_worker_kill(wt_worker *w)
{
    kill(w->pid, SIGKILL);
    waitpid(w->pid, NULL, 0);
    w->pid = -1;
}

bool wt_is_member(const char *account)
{
    for (int i = 0; i < SBX_ACCOUNTS; i++)
        if (strcmp(W.sb.member_ids[i], account) == 0)
            return true;
    return false;
}

void wt_register_members(void)
{
    for (int i = 0; i < SBX_ACCOUNTS; i++) {
        char *role = wt_arn(W.sb.member_ids[i], "EscherOperator");
        char *ro = wt_arn(W.sb.member_ids[i], "EscherReadOnly");
        char id[QUEUE_ID_LEN];
        wt_account(W.tenant_a, W.sb.member_ids[i], role, ro, NULL, id);
        const char *p[1] = {id};
        char out[8];
        wt_query1("UPDATE aws_accounts SET status = 'verified', verified_at = now(),"
                  " regions = '{" SBX_REGION1 "," SBX_REGION2 "}' WHERE id = $1 RETURNING 'x'",
                  1, p, out, sizeof out);
        free(role);
        free(ro);
    }
}

json_t *wt_job_result(const char *job)
{
    static char text[1 << 20];
    const char *p[1] = {job};
    wt_query1("SELECT result::text FROM jobs WHERE id = $1", 1, p, text, sizeof text);
    json_t *r = json_loads(text, 0, NULL);
    if (r == NULL)
        fail_msg("job %s has no result", job);
    return r;
}

void wt_set_tag(json_t *obj, const char *key, const char *value)
{
    json_t *tags = json_object_get(obj, "tags");
    if (!json_is_array(tags)) {
        tags = json_array();
        json_object_set_new(obj, "tags", tags);
    }
    for (size_t t = 0; t < json_array_size(tags); t++) {
        json_t *tag = json_array_get(tags, t);
        if (strcmp(json_string_value(json_object_get(tag, "Key")), key) == 0) {
            json_object_set_new(tag, "Value", json_string(value));
            return;
        }
    }
    json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", key, "Value", value));
}

const char *wt_tag_of(const json_t *x, const char *key)
{
    json_t *tags = json_object_get(x, "tags");
    for (size_t t = 0; t < json_array_size(tags); t++) {
        json_t *tag = json_array_get(tags, t);
        if (strcmp(json_string_value(json_object_get(tag, "Key")), key) == 0)
            return json_string_value(json_object_get(tag, "Value"));
    }
    return NULL;
}
