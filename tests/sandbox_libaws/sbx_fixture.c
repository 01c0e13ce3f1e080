/* The escher-sandbox fixture: process, admin API, clients and calls. */
#include "sbx_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/awsjson.h"
#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "support/tmpdir.h"

#include <errno.h>
#include <event2/event.h>
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

#ifndef ESCHER_SANDBOX_BIN
#error "ESCHER_SANDBOX_BIN must name the escher-sandbox binary"
#endif

extern char **environ;

sbx *g_sbx;

static void drop_clients(sbx *s);

const char *sbx_mode_name(sbx_mode mode)
{
    return mode == SBX_BLOCKING ? "blocking" : "async";
}

/* ---- process ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

char *sbx_log(const sbx *s)
{
    return sbx_read_file(s->log_path);
}

char *sbx_read_file(const char *path)
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

/* The "listening" line's JSON object, or NULL while there is none. */
static json_t *listening_line(const sbx *s)
{
    char *log = sbx_log(s);
    json_t *found = NULL;
    for (char *line = log, *next; line && *line && !found; line = next) {
        next = strchr(line, '\n');
        if (next == NULL)
            break; /* a line still being written */
        *next++ = '\0';
        json_t *obj = json_loads(line, 0, NULL);
        const char *msg = obj ? json_string_value(json_object_get(obj, "msg")) : NULL;
        if (msg && strcmp(msg, "listening") == 0)
            found = json_incref(obj);
        json_decref(obj);
    }
    free(log);
    return found;
}

static bool fail_with_log(const sbx *s, err *e, const char *what)
{
    char *log = sbx_log(s);
    size_t len = strlen(log);
    const char *tail = len > 600 ? log + len - 600 : log;
    err_set(e, ERR_IO, "%s; log tail: %s", what, tail);
    free(log);
    return false;
}

static void fill_ids(sbx *s, json_t *state)
{
    snprintf(s->org_id, sizeof s->org_id, "%s",
             json_string_value(json_object_get(state, "org_id")));
    snprintf(s->root_id, sizeof s->root_id, "%s",
             json_string_value(json_object_get(state, "root_id")));
    snprintf(s->hub_id, sizeof s->hub_id, "%s",
             json_string_value(json_object_get(json_object_get(state, "hub"), "id")));
    json_t *accounts = json_object_get(state, "accounts");
    assert_int_equal(json_array_size(accounts), SBX_ACCOUNTS + 1);
    size_t m = 0;
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        json_t *a = json_array_get(accounts, i);
        const char *id = json_string_value(json_object_get(a, "id"));
        if (json_is_true(json_object_get(a, "is_management")))
            snprintf(s->mgmt_id, sizeof s->mgmt_id, "%s", id);
        else if (m < SBX_ACCOUNTS)
            snprintf(s->member_ids[m++], sizeof s->member_ids[0], "%s", id);
    }
    assert_int_equal(m, SBX_ACCOUNTS);
    assert_int_equal(strlen(s->mgmt_id), 12);
    assert_int_equal(strlen(s->hub_id), 12);
}

bool sbx_start(sbx *s, err *e)
{
    return sbx_start_with(s, NULL, e);
}

bool sbx_start_with(sbx *s, const sbx_config *c, err *e)
{
    const char *external_id = c && c->external_id ? c->external_id : SBX_EXTERNAL_ID;
    memset(s, 0, sizeof *s);
    s->pid = -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(s->tmpdir, sizeof s->tmpdir, "%s/escher-libaws-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(s->tmpdir) == NULL)
        return err_set(e, ERR_IO, "mkdtemp %s: %s", s->tmpdir, strerror(errno));
    char aws_dir[300];
    snprintf(aws_dir, sizeof aws_dir, "%s/aws", s->tmpdir);
    snprintf(s->config_file, sizeof s->config_file, "%s/config", aws_dir);
    snprintf(s->credentials_file, sizeof s->credentials_file, "%s/credentials", aws_dir);
    snprintf(s->log_path, sizeof s->log_path, "%s/sandbox.log", s->tmpdir);

    char delay[16];
    snprintf(delay, sizeof delay, "%ds", SBX_STATE_DELAY);
    char accounts[8];
    snprintf(accounts, sizeof accounts, "%d", SBX_ACCOUNTS);
    char *argv[] = {(char *)ESCHER_SANDBOX_BIN,
                    "--listen",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--admin-port",
                    "0",
                    "--no-throttle",
                    "--aws-config",
                    aws_dir,
                    "--accounts",
                    accounts,
                    "--regions",
                    SBX_REGION1 "," SBX_REGION2,
                    "--seed",
                    SBX_SEED,
                    "--external-id",
                    (char *)external_id,
                    "--state-delay",
                    delay,
                    "--log-level",
                    "info",
                    NULL,
                    NULL,
                    NULL};
    if (c && c->world_file) {
        size_t n = sizeof argv / sizeof argv[0] - 3;
        argv[n] = "--world";
        argv[n + 1] = (char *)c->world_file;
    }
    /* The environment minus the sandbox's own variables (they would override nothing
     * given on the command line, but a config file or faults could sneak in). */
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = xcalloc(nenv + 1, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "ESCHER_SANDBOX_", 15) != 0)
            envp[k++] = environ[i];

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    int rc = posix_spawn(&s->pid, ESCHER_SANDBOX_BIN, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    if (rc != 0) {
        s->pid = -1;
        return err_set(e, ERR_IO, "posix_spawn %s: %s", ESCHER_SANDBOX_BIN, strerror(rc));
    }

    json_t *line = NULL;
    uint64_t deadline = timeutil_mono_ms() + 30000;
    while ((line = listening_line(s)) == NULL) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = -1;
            return fail_with_log(s, e, "escher-sandbox exited before listening");
        }
        if (timeutil_mono_ms() > deadline)
            return fail_with_log(s, e, "escher-sandbox did not log \"listening\" in 30 s");
        sleep_ms(10);
    }
    s->port = (int)json_integer_value(json_object_get(line, "port"));
    s->admin_port = (int)json_integer_value(json_object_get(line, "admin_port"));
    const char *xid = json_string_value(json_object_get(line, "external_id"));
    bool xid_ok = xid && strcmp(xid, external_id) == 0;
    json_decref(line);
    if (s->port <= 0 || s->admin_port <= 0 || !xid_ok)
        return fail_with_log(s, e, "the listening line lacks port, admin_port or external_id");
    snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", s->port);

    s->admin = http_client_new(NULL);
    s->base = event_base_new();
    if (s->admin == NULL || s->base == NULL)
        return err_set(e, ERR_INTERNAL, "cannot make the admin client or the event base");
    json_t *state = sbx_state(s);
    fill_ids(s, state);
    json_decref(state);
    return true;
}

bool sbx_stop(sbx *s, err *e)
{
    bool ok = true;
    drop_clients(s);
    http_client_free(s->admin);
    s->admin = NULL;
    if (s->base)
        event_base_free(s->base);
    s->base = NULL;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int status = 0;
        uint64_t deadline = timeutil_mono_ms() + 30000;
        pid_t got;
        while ((got = waitpid(s->pid, &status, WNOHANG)) == 0 && timeutil_mono_ms() < deadline)
            sleep_ms(10);
        if (got == 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            ok = fail_with_log(s, e, "escher-sandbox did not stop within 30 s of SIGTERM");
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char what[96];
            snprintf(what, sizeof what, "escher-sandbox ended with %s %d",
                     WIFEXITED(status) ? "exit status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            ok = fail_with_log(s, e, what);
        } else {
            char *log = sbx_log(s);
            static const char *const bad[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                              "runtime error:"};
            for (size_t i = 0; ok && i < sizeof bad / sizeof bad[0]; i++)
                if (strstr(log, bad[i]))
                    ok = fail_with_log(s, e, bad[i]);
            free(log);
        }
        s->pid = -1;
    }
    if (s->tmpdir[0])
        tmpdir_remove(s->tmpdir);
    s->tmpdir[0] = '\0';
    return ok;
}

/* ---- admin API ---- */

json_t *sbx_admin(sbx *s, const char *method, const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->admin_port, path);
    http_headers h = HTTP_HEADERS_INIT;
    if (body)
        http_headers_add(&h, "Content-Type", "application/json");
    http_request req = {method, url, &h, body, body ? strlen(body) : 0, NULL};
    http_response resp = HTTP_RESPONSE_INIT;
    err e = {0};
    bool ok = http_client_do(s->admin, &req, &resp, &e);
    http_headers_free(&h);
    if (!ok)
        fail_msg("admin %s %s: %s", method, path, e.message);
    if (resp.status != 200)
        fail_msg("admin %s %s answered %ld: %s", method, path, resp.status,
                 resp.body.buf ? resp.body.buf : "");
    json_error_t je;
    json_t *out = json_loadb(resp.body.buf ? resp.body.buf : "", resp.body.len, 0, &je);
    http_response_free(&resp);
    if (out == NULL)
        fail_msg("admin %s %s: bad JSON: %s", method, path, je.text);
    return out;
}

void sbx_advance(sbx *s, int seconds)
{
    char body[64];
    snprintf(body, sizeof body, "{\"seconds\":%d}", seconds);
    json_t *out = sbx_admin(s, "POST", "/clock/advance", body);
    json_decref(out);
}

time_t sbx_now(sbx *s)
{
    json_t *c = sbx_admin(s, "GET", "/clock", NULL);
    time_t t = (time_t)json_integer_value(json_object_get(c, "epoch"));
    json_decref(c);
    assert_true(t > 1600000000);
    return t;
}

json_t *sbx_state(sbx *s)
{
    return sbx_admin(s, "GET", "/state", NULL);
}

json_t *sbx_call_log_entry(sbx *s, const char *request_id)
{
    json_t *log = sbx_admin(s, "GET", "/calls?since=0", NULL);
    json_t *calls = json_object_get(log, "calls");
    json_t *found = NULL;
    for (size_t i = json_array_size(calls); i-- > 0 && !found;) {
        json_t *c = json_array_get(calls, i);
        const char *id = json_string_value(json_object_get(c, "request_id"));
        if (id && strcmp(id, request_id) == 0)
            found = json_incref(c);
    }
    json_decref(log);
    return found;
}

json_t *sbx_world_account(json_t *state, const char *id)
{
    json_t *accounts = json_object_get(state, "accounts");
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        json_t *a = json_array_get(accounts, i);
        if (strcmp(json_string_value(json_object_get(a, "id")), id) == 0)
            return a;
    }
    json_t *hub = json_object_get(state, "hub");
    if (strcmp(json_string_value(json_object_get(hub, "id")), id) == 0)
        return hub;
    fail_msg("account %s is not in the world", id);
    return NULL;
}

json_t *sbx_world_region(json_t *account, const char *region)
{
    json_t *regions = json_object_get(account, "regions");
    for (size_t i = 0; i < json_array_size(regions); i++) {
        json_t *r = json_array_get(regions, i);
        if (strcmp(json_string_value(json_object_get(r, "name")), region) == 0)
            return r;
    }
    fail_msg("region %s is not in the account", region);
    return NULL;
}

const char *sbx_profile_of(const sbx *s, const char *account_id, char *buf, size_t n)
{
    if (strcmp(account_id, s->mgmt_id) == 0)
        snprintf(buf, n, "mgmt");
    else if (strcmp(account_id, s->hub_id) == 0)
        snprintf(buf, n, "hub");
    else
        snprintf(buf, n, "acct-%s", account_id);
    return buf;
}

/* ---- clients ---- */

const char *sbx_getenv(const char *name, void *arg)
{
    const sbx *s = arg;
    if (strcmp(name, "AWS_CONFIG_FILE") == 0)
        return s->config_file;
    if (strcmp(name, "AWS_SHARED_CREDENTIALS_FILE") == 0)
        return s->credentials_file;
    return NULL;
}

static sbx_client *client_new(sbx *s, const char *name, credprov *creds)
{
    aws_client_options o = {0};
    o.region = SBX_REGION1;
    o.endpoint_url = s->endpoint;
    o.max_attempts = 1; /* errors reach the test as answered */
    o.timeout_ms = 20000;
    err e = {0};
    aws_client *c = aws_client_new(&o, creds, s->base, &e);
    if (c == NULL)
        fail_msg("aws_client_new(%s): %s", name, e.message);
    sbx_client *cl = xcalloc(1, sizeof *cl);
    cl->name = xstrdup(name);
    cl->creds = creds;
    cl->aws = c;
    return cl;
}

sbx_client *sbx_client_profile(sbx *s, const char *profile)
{
    for (size_t i = 0; i < s->nclients; i++)
        if (strcmp(s->clients[i]->name, profile) == 0)
            return s->clients[i];
    assert_true(s->nclients < SBX_MAX_CLIENTS);
    credprov_options po = {0};
    po.profile = profile;
    po.getenv = sbx_getenv;
    po.getenv_arg = s;
    po.endpoint_url = s->endpoint;
    err e = {0};
    credprov *cp = credprov_default_chain(&po, &e);
    if (cp == NULL)
        fail_msg("credprov_default_chain(%s): %s", profile, e.message);
    sbx_client *cl = client_new(s, profile, cp);
    s->clients[s->nclients++] = cl;
    return cl;
}

sbx_client *sbx_client_with(sbx *s, const char *label, credprov *creds)
{
    assert_true(s->nclients < SBX_MAX_CLIENTS);
    sbx_client *cl = client_new(s, label, creds);
    s->clients[s->nclients++] = cl;
    return cl;
}

sbx_client *sbx_client_static(sbx *s, const char *label, const aws_creds *creds)
{
    return sbx_client_with(s, label, credprov_static(creds));
}

/* Frees every client: calls in flight are cancelled, their callbacks run
 * now (while the pending records they write to still exist). */
static void drop_clients(sbx *s)
{
    for (size_t i = 0; i < s->nclients; i++)
        sbx_client_free(s->clients[i]);
    s->nclients = 0;
}

void sbx_client_free(sbx_client *c)
{
    if (c == NULL)
        return;
    aws_client_free(c->aws);
    credprov_free(c->creds);
    free(c->name);
    free(c);
}

/* ---- calls ---- */

static void on_done(const http_response *resp, const err *e, void *arg)
{
    sbx_pending *p = arg;
    p->done = true;
    if (resp) {
        p->ok = true;
        p->resp.status = resp->status;
        http_headers_copy(&p->resp.headers, &resp->headers);
        strbuf_append(&p->resp.body, resp->body.buf ? resp->body.buf : "", resp->body.len);
    } else {
        p->ok = false;
        p->e = e ? *e : (err){.code = ERR_INTERNAL};
    }
}

void sbx_fire(sbx_client *c, const aws_request *req, sbx_pending *p)
{
    memset(p, 0, sizeof *p);
    err e = {0};
    if (!aws_client_call_async(c->aws, req, on_done, p, &e))
        fail_msg("aws_client_call_async(%s %s): %s", req->service, req->operation, e.message);
    assert_false(p->done); /* done runs on the loop, never inside the call */
}

void sbx_wait(sbx *s, sbx_pending *p, size_t n)
{
    uint64_t deadline = timeutil_mono_ms() + 30000;
    for (;;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += !p[i].done;
        if (left == 0)
            return;
        const char *why = NULL;
        if (timeutil_mono_ms() > deadline)
            why = "still pending after 30 s";
        int rc = why ? 0 : event_base_loop(s->base, EVLOOP_ONCE);
        if (rc < 0)
            why = "pending but event_base_loop failed";
        else if (rc == 1)
            why = "pending but the loop has no events";
        if (why) {
            drop_clients(s);
            fail_msg("%zu of %zu asynchronous calls %s", left, n, why);
        }
    }
}

void sbx_pending_free(sbx_pending *p)
{
    http_response_free(&p->resp);
}

bool sbx_call(sbx_client *c, sbx_mode mode, const aws_request *req, http_response *resp, err *e)
{
    if (mode == SBX_BLOCKING)
        return aws_client_call(c->aws, req, resp, e);
    sbx_pending p;
    sbx_fire(c, req, &p);
    sbx_wait(g_sbx, &p, 1);
    if (!p.ok) {
        *e = p.e;
        sbx_pending_free(&p);
        return false;
    }
    *resp = p.resp; /* moves the answer */
    return true;
}

void sbx_assert_aws_error(sbx *s, bool ok, const err *e, int status, const char *code)
{
    if (ok)
        fail_msg("expected %s (HTTP %d) but the call succeeded", code, status);
    if (e->code != ERR_AWS || strcmp(e->remote_code, code) != 0 || e->http_status != status)
        fail_msg("expected ERR_AWS %s (HTTP %d), got [%s] remote_code '%s' HTTP %d: %s", code,
                 status, err_code_name(e->code), e->remote_code, e->http_status, e->message);
    if (e->request_id[0] == '\0')
        fail_msg("%s arrived without a request id: %s", code, e->message);
    assert_non_null(strstr(e->message, code));
    /* The sandbox logged that very request with that error. */
    json_t *entry = sbx_call_log_entry(s, e->request_id);
    if (entry == NULL)
        fail_msg("request id %s of %s is not in the sandbox's call log", e->request_id, code);
    assert_string_equal(json_string_value(json_object_get(entry, "error_code")), code);
    assert_int_equal(json_integer_value(json_object_get(entry, "status")), status);
    json_decref(entry);
}

/* ---- protocol helpers ---- */

void sbx_query_request(query_params *q, const char *service, const char *operation,
                       aws_protocol proto, const char *region, aws_request *req)
{
    query_to_request(q, service, operation, proto, req);
    query_free(q);
    req->region = region;
}

xml_doc *sbx_xml(const http_response *resp, const char *result, const xml_node **out)
{
    xml_doc *doc = NULL;
    err e = {0};
    assert_int_equal(resp->status, 200);
    if (!query_parse_result(resp->body.buf ? resp->body.buf : "", resp->body.len, result, &doc, out,
                            &e))
        fail_msg("parsing %s: %s: %.300s", result ? result : "answer", e.message,
                 resp->body.buf ? resp->body.buf : "");
    return doc;
}

json_t *sbx_json(const http_response *resp)
{
    json_t *out = NULL;
    err e = {0};
    assert_int_equal(resp->status, 200);
    if (!awsjson_parse(resp->body.buf ? resp->body.buf : "", resp->body.len, &out, &e))
        fail_msg("parsing JSON: %s", e.message);
    return out;
}

const char *sbx_text(const xml_node *n, const char *path)
{
    const char *t = xml_find_text(n, path);
    if (t == NULL)
        fail_msg("<%s> has no %s", n ? n->name : "(null)", path);
    return t;
}

int sbx_page_all(sbx *s, sbx_client *c, sbx_mode mode, const paging_spec *spec,
                 paging_build_fn build, void *build_arg, sbx_page_fn on_page, void *ctx)
{
    paginator *p = paginator_new(spec);
    err e = {0};
    for (;;) {
        if (mode == SBX_BLOCKING) {
            bool got = false;
            bool ok = paginator_fetch(p, c->aws, build, build_arg, &got, &e);
            SBX_ASSERT_OK(ok, e);
            if (!got)
                break;
        } else {
            if (paginator_done(p))
                break;
            aws_request req;
            bool ok = build(build_arg, paginator_token(p), &req, &e);
            SBX_ASSERT_OK(ok, e);
            sbx_pending pend;
            sbx_fire(c, &req, &pend);
            aws_request_free(&req);
            sbx_wait(s, &pend, 1);
            SBX_ASSERT_OK(pend.ok, pend.e);
            ok = paginator_feed(p, &pend.resp, &e);
            sbx_pending_free(&pend);
            SBX_ASSERT_OK(ok, e);
        }
        on_page(p, ctx);
    }
    assert_false(paginator_truncated(p));
    int pages = paginator_pages(p);
    paginator_free(p);
    return pages;
}

static const aws_request *job_req(const sbx_job *j)
{
    return j->rx ? &j->rx->req : &j->req;
}

static void job_free_req(sbx_job *j)
{
    if (j->rx) {
        restxml_request_free(j->rx);
        free(j->rx);
        j->rx = NULL;
    } else {
        aws_request_free(&j->req);
    }
}

void sbx_run_jobs(sbx *s, sbx_mode mode, sbx_job *jobs, size_t n)
{
    if (mode == SBX_BLOCKING) {
        for (size_t i = 0; i < n; i++) {
            jobs[i].resp = (http_response)HTTP_RESPONSE_INIT;
            jobs[i].ok =
                aws_client_call(jobs[i].client->aws, job_req(&jobs[i]), &jobs[i].resp, &jobs[i].e);
            job_free_req(&jobs[i]);
        }
        return;
    }
    sbx_pending *p = xcalloc(n, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        sbx_fire(jobs[i].client, job_req(&jobs[i]), &p[i]);
        job_free_req(&jobs[i]);
    }
    sbx_wait(s, p, n);
    for (size_t i = 0; i < n; i++) {
        jobs[i].ok = p[i].ok;
        jobs[i].resp = p[i].resp;
        jobs[i].e = p[i].e;
    }
    free(p);
}

void sbx_jobs_free(sbx_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        http_response_free(&jobs[i].resp);
}

/* ---- string lists ---- */

void sbx_strs_add(sbx_strs *l, const char *s)
{
    l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
    l->v[l->n++] = xstrdup(s ? s : "(null)");
}

void sbx_strs_from_json(sbx_strs *l, const json_t *array, const char *key)
{
    for (size_t i = 0; i < json_array_size(array); i++) {
        json_t *v = json_array_get(array, i);
        sbx_strs_add(l, json_string_value(key ? json_object_get(v, key) : v));
    }
}

void sbx_strs_from_xml(sbx_strs *l, const xml_node *first, const char *path)
{
    for (const xml_node *n = first; n; n = xml_next(n))
        sbx_strs_add(l, path ? xml_find_text(n, path) : n->text);
}

bool sbx_strs_has(const sbx_strs *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const sbx_strs *l)
{
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "[");
    for (size_t i = 0; i < l->n; i++)
        strbuf_printf(&sb, "%s%s", i ? " " : "", l->v[i]);
    strbuf_puts(&sb, "]");
    return strbuf_detach(&sb);
}

void sbx_assert_strs(const sbx_strs *got, const sbx_strs *want, bool ordered, const char *what)
{
    bool same = got->n == want->n;
    if (same && !ordered) {
        qsort(got->v, got->n, sizeof *got->v, cmp_str);
        qsort(want->v, want->n, sizeof *want->v, cmp_str);
    }
    for (size_t i = 0; same && i < got->n; i++)
        same = strcmp(got->v[i], want->v[i]) == 0;
    if (!same) {
        char *g = join(got), *w = join(want);
        print_error("%s: got %zu %s\n  want %zu %s\n", what, got->n, g, want->n, w);
        free(g);
        free(w);
        fail_msg("%s differ", what);
    }
}

void sbx_strs_free(sbx_strs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
