/* The commands for schedules, runs (jobs) and the audit trail: each is one
 * or two requests to escher-api built from the flags the table
 * (client_cmd.c) parsed, the answers printed in the --output format. Also
 * the job follower that runs watch, runs start --wait, runs plan and
 * accounts discover --wait share. */
#include "client_cmd_internal.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- schedules ---------------------------------------------------------------- */

static const char *const schedule_cols[] = {"id",        "name",    "cron",         "time_zone",
                                            "operation", "enabled", "next_fire_at", NULL};

int cmd_schedules_list(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_OK;
    const char *enabled;
    if (!cmd_word_flag(c, "enabled", "true|false", &enabled, &rc))
        return rc;
    char *path = xstrdup("/v1/schedules");
    if (enabled)
        cmd_query_add(&path, "enabled", enabled);
    if (cmd_flag(c, "operation"))
        cmd_query_add(&path, "operation", cmd_flag(c, "operation"));
    rc = cmd_list(c, path, schedule_cols);
    free(path);
    return rc;
}

int cmd_schedules_show(cmd_ctx *c)
{
    return cmd_by_id(c, "GET", "schedules", "", NULL);
}

/* Prints a preview answer: json as it came, else its fires as rows. */
static void print_fires(const cmd_ctx *c, const json_t *j)
{
    if (c->out == CLIENT_OUT_JSON) {
        client_out_object(stdout, c->out, j);
        return;
    }
    static const char *const cols[] = {"local", "utc", NULL};
    /* Fires may be plain strings or objects; make rows of objects. */
    json_t *rows = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "fires"), i, v)
    {
        if (json_is_object(v))
            json_array_append(rows, v);
        else
            json_array_append_new(rows, json_pack("{s:O}", "utc", v));
    }
    client_out_items(stdout, c->out, rows, cols);
    json_decref(rows);
}

int cmd_schedules_preview(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_OK;
    long count = 0;
    if (!cmd_number_flag(c, "count", 1, 100, &count, &rc))
        return rc;
    if (!cmd_id_ok(c->pos[0]))
        return cmd_usage(c, "invalid schedule id '%s'", c->pos[0]);
    char *p = count ? xasprintf("/v1/schedules/%s/preview?count=%ld", c->pos[0], count)
                    : xasprintf("/v1/schedules/%s/preview", c->pos[0]);
    json_t *j = NULL;
    if (cmd_call(c, "GET", p, NULL, &j))
        print_fires(c, j);
    else
        rc = CLIENT_EXIT_FAILED;
    json_decref(j);
    free(p);
    return rc;
}

int cmd_schedules_try(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_OK;
    long count = 0;
    if (!cmd_flag(c, "cron"))
        return cmd_usage(c, "--cron C is required");
    if (!cmd_number_flag(c, "count", 1, 100, &count, &rc))
        return rc;
    json_t *body = json_pack("{s:s}", "cron", cmd_flag(c, "cron"));
    cmd_set_string(body, c, "zone", "time_zone");
    if (count)
        json_object_set_new(body, "count", json_integer(count));
    json_t *j = NULL;
    if (cmd_call(c, "POST", "/v1/schedules/preview", body, &j))
        print_fires(c, j);
    else
        rc = CLIENT_EXIT_FAILED;
    json_decref(j);
    json_decref(body);
    return rc;
}

/* The fields schedules create and update share. */
static bool schedule_fields(const cmd_ctx *c, json_t *body, int *rc)
{
    const char *policy;
    long window = -1;
    if (!cmd_exclusive(c, "cron", "run-at", rc) || !cmd_exclusive(c, "dry-run", "no-dry-run", rc) ||
        !cmd_word_flag(c, "missed-fire-policy", "skip|run_once|run_each", &policy, rc) ||
        !cmd_number_flag(c, "missed-fire-window", 0, 604800, &window, rc))
        return false;
    cmd_set_string(body, c, "name", "name");
    cmd_set_string(body, c, "cron", "cron");
    cmd_set_string(body, c, "run-at", "run_at");
    cmd_set_string(body, c, "zone", "time_zone");
    cmd_set_string(body, c, "operation", "operation");
    static const char *const json_flags[] = {"target", "params", NULL};
    for (size_t i = 0; json_flags[i]; i++) {
        if (!cmd_flag(c, json_flags[i]))
            continue;
        json_t *v = cmd_json_flag(c, json_flags[i], rc);
        if (!v)
            return false;
        json_object_set_new(body, json_flags[i], v);
    }
    if (cmd_flag(c, "dry-run"))
        json_object_set_new(body, "dry_run", json_true());
    if (cmd_flag(c, "no-dry-run"))
        json_object_set_new(body, "dry_run", json_false());
    if (policy)
        json_object_set_new(body, "missed_fire_policy", json_string(policy));
    if (window >= 0)
        json_object_set_new(body, "missed_fire_window_seconds", json_integer(window));
    return true;
}

int cmd_schedules_create(cmd_ctx *c)
{
    const char *need[] = {"name", "cron", "operation", "target"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!cmd_flag(c, need[i]) && !(i == 1 && cmd_flag(c, "run-at")))
            return cmd_usage(c, "--%s is required", i == 1 ? "cron C or --run-at TIME" : need[i]);
    int rc = CLIENT_EXIT_USAGE;
    json_t *body = json_object();
    if (schedule_fields(c, body, &rc)) {
        if (!cmd_flag(c, "zone"))
            json_object_set_new(body, "time_zone", json_string("UTC"));
        if (cmd_flag(c, "disabled"))
            json_object_set_new(body, "enabled", json_false());
        rc = cmd_call_print(c, "POST", "/v1/schedules", body);
    }
    json_decref(body);
    return rc;
}

int cmd_schedules_update(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_USAGE;
    json_t *body = json_object();
    if (schedule_fields(c, body, &rc)) {
        if (json_object_size(body) == 0)
            rc = cmd_usage(c, "nothing to change: give --name, --cron, --run-at, --zone, "
                              "--operation, --target, --params, --dry-run, --no-dry-run, "
                              "--missed-fire-policy or --missed-fire-window");
        else
            rc = cmd_by_id(c, "PATCH", "schedules", "", body);
    }
    json_decref(body);
    return rc;
}

static int set_enabled(cmd_ctx *c, bool on)
{
    json_t *body = json_pack("{s:b}", "enabled", on);
    int rc = cmd_by_id(c, "PATCH", "schedules", "", body);
    json_decref(body);
    return rc;
}

int cmd_schedules_enable(cmd_ctx *c)
{
    return set_enabled(c, true);
}

int cmd_schedules_disable(cmd_ctx *c)
{
    return set_enabled(c, false);
}

int cmd_schedules_delete(cmd_ctx *c)
{
    return cmd_delete(c, "schedules", "Deleted schedule", "");
}

int cmd_schedules_run(cmd_ctx *c)
{
    json_t *body = cmd_flag(c, "dry-run") ? json_pack("{s:b}", "dry_run", 1) : json_object();
    int rc = cmd_by_id(c, "POST", "schedules", "/run", body);
    json_decref(body);
    return rc;
}

/* ---- runs (jobs) -------------------------------------------------------------- */

int cmd_job_status(const json_t *job)
{
    const char *state = json_string_value(json_object_get(job, "state"));
    const char *rstate =
        json_string_value(json_object_get(json_object_get(job, "result"), "state"));
    if (rstate && strcmp(rstate, "partial") == 0)
        return CLIENT_EXIT_PARTIAL;
    return state && strcmp(state, "succeeded") == 0 ? CLIENT_EXIT_OK : CLIENT_EXIT_FAILED;
}

bool cmd_wait_job(cmd_ctx *c, client_api *a, const char *id, bool steps, json_t **job)
{
    *job = NULL;
    if (!cmd_id_ok(id)) {
        cmd_usage(c, "invalid job id '%s'", id);
        return false;
    }
    err e;
    err_clear(&e);
    char *p = xasprintf("/v1/jobs/%s", id);
    strbuf seen = STRBUF_INIT; /* "seq:state;" of each step line printed */
    bool ok = false, told = false;
    for (;;) {
        json_t *j = NULL;
        if (!client_api_call(a, "GET", p, NULL, &j, &e)) {
            cmd_failed(&e);
            break;
        }
        size_t i;
        json_t *s;
        json_array_foreach(steps ? json_object_get(j, "steps") : NULL, i, s)
        {
            char key[128];
            snprintf(key, sizeof key, "%lld:%s;",
                     (long long)json_integer_value(json_object_get(s, "seq")),
                     json_string_value(json_object_get(s, "state")));
            if (strstr(strbuf_str(&seen), key))
                continue;
            strbuf_puts(&seen, key);
            printf("step %lld %s: %s\n", (long long)json_integer_value(json_object_get(s, "seq")),
                   json_string_value(json_object_get(s, "name")),
                   json_string_value(json_object_get(s, "state")));
        }
        if (json_is_string(json_object_get(j, "finished_at"))) {
            *job = j;
            ok = true;
            break;
        }
        json_decref(j);
        if (!steps && !told) {
            fprintf(stderr,
                    "escher: waiting for job %s (Ctrl-C stops waiting; the job goes on: "
                    "'escher runs watch %s')\n",
                    id, id);
            told = true;
        }
        fflush(stdout);
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    strbuf_free(&seen);
    free(p);
    return ok;
}

/* What a job is about, from its kind and payload, for listings. */
static char *job_what(const json_t *job)
{
    const char *kind = json_string_value(json_object_get(job, "kind"));
    const json_t *pl = json_object_get(job, "payload");
#define PS(k) json_string_value(json_object_get(pl, k))
    if (!kind)
        return xstrdup("");
    if (strcmp(kind, "ops.run") == 0)
        return xasprintf("%s%s%s", PS("operation") ? PS("operation") : "?",
                         json_is_true(json_object_get(pl, "dry_run")) ? " (dry run)" : "",
                         PS("schedule") ? " by schedule" : "");
    if (strcmp(kind, "account.verify") == 0)
        return xasprintf("account %s", PS("account") ? PS("account") : "?");
    if (strcmp(kind, "org.discover") == 0)
        return xasprintf("organization of %s",
                         PS("management_role_arn") ? PS("management_role_arn") : "?");
    if (strcmp(kind, "notify.deliver") == 0)
        return xasprintf("%s to channel %s", PS("event") ? PS("event") : "?",
                         PS("channel") ? PS("channel") : "?");
#undef PS
    /* A kind this client does not know yet: its payload, short. */
    char *text = json_dumps(pl, JSON_COMPACT);
    char *r = xasprintf("%.80s", text ? text : "");
    free(text);
    return r;
}

static const char *const run_cols[] = {
    "id", "kind", "state", "what", "created_by", "created_at", "finished_at", "last_error", NULL};

int cmd_runs_list(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_OK;
    const char *state;
    if (!cmd_word_flag(c, "state", "queued|leased|succeeded|failed|cancelled", &state, &rc))
        return rc;
    const char *account = cmd_flag(c, "account");
    if (account && !cmd_id_ok(account))
        return cmd_usage(c,
                         "--account wants an account's uuid (its 'id' in 'escher accounts "
                         "list'), not '%s'",
                         account);
    char *path = xstrdup("/v1/jobs");
    if (cmd_flag(c, "kind"))
        cmd_query_add(&path, "kind", cmd_flag(c, "kind"));
    if (state)
        cmd_query_add(&path, "state", state);
    if (account)
        cmd_query_add(&path, "account", account);
    err e;
    err_clear(&e);
    client_api *a = cmd_connect(c, &e);
    json_t *items = NULL;
    if (!a) {
        rc = cmd_failed(&e);
    } else if (!cmd_fetch_all(c, a, path, &items)) {
        rc = CLIENT_EXIT_FAILED;
    } else {
        /* json keeps the API's items as they are; tables get "what". */
        size_t i;
        json_t *j;
        if (c->out != CLIENT_OUT_JSON)
            json_array_foreach(items, i, j)
            {
                char *what = job_what(j);
                json_object_set_new(j, "what", json_string(what));
                free(what);
            }
        client_out_items(stdout, c->out, items, run_cols);
    }
    json_decref(items);
    client_api_free(a);
    free(path);
    return rc;
}

int cmd_runs_show(cmd_ctx *c)
{
    return cmd_by_id(c, "GET", "jobs", "", NULL);
}

/* Follows the job, prints its end, and returns its exit status. */
static int watch(cmd_ctx *c, client_api *a, const char *id)
{
    json_t *job = NULL;
    if (!cmd_wait_job(c, a, id, true, &job))
        return CLIENT_EXIT_FAILED;
    const char *state = json_string_value(json_object_get(job, "state"));
    const char *rstate =
        json_string_value(json_object_get(json_object_get(job, "result"), "state"));
    const char *why = json_string_value(json_object_get(job, "last_error"));
    printf("job %s %s%s%s\n", id, state ? state : "?", rstate ? ": run " : "",
           rstate ? rstate : "");
    int rc = cmd_job_status(job);
    if (rc == CLIENT_EXIT_FAILED && why)
        fprintf(stderr, "escher: job %s %s: %s\n", id, state ? state : "?", why);
    json_decref(job);
    return rc;
}

int cmd_runs_watch(cmd_ctx *c)
{
    if (!cmd_id_ok(c->pos[0]))
        return cmd_usage(c, "invalid job id '%s'", c->pos[0]);
    err e;
    err_clear(&e);
    client_api *a = cmd_connect(c, &e);
    if (!a)
        return cmd_failed(&e);
    int rc = watch(c, a, c->pos[0]);
    client_api_free(a);
    return rc;
}

int cmd_runs_cancel(cmd_ctx *c)
{
    if (!cmd_id_ok(c->pos[0]))
        return cmd_usage(c, "invalid job id '%s'", c->pos[0]);
    char *p = xasprintf("/v1/jobs/%s/cancel", c->pos[0]);
    json_t *j = NULL;
    int rc = CLIENT_EXIT_FAILED;
    if (cmd_call(c, "POST", p, NULL, &j)) {
        rc = CLIENT_EXIT_OK;
        const char *how = json_string_value(json_object_get(j, "cancel"));
        if (c->out != CLIENT_OUT_TABLE)
            client_out_object(stdout, c->out, j);
        else if (how && strcmp(how, "requested") == 0)
            printf("Asked job %s to stop: its worker cancels it at its next heartbeat.\n",
                   c->pos[0]);
        else
            printf("Cancelled job %s.\n", c->pos[0]);
    }
    json_decref(j);
    free(p);
    return rc;
}

/* The body of POST /v1/runs from --operation, --target, --params. */
static json_t *run_body(const cmd_ctx *c, bool dry_run, int *rc)
{
    if (!cmd_flag(c, "operation") || !cmd_flag(c, "target")) {
        *rc = cmd_usage(c, "--%s is required", cmd_flag(c, "operation") ? "target" : "operation");
        return NULL;
    }
    json_t *body = json_pack("{s:s}", "operation", cmd_flag(c, "operation"));
    static const char *const json_flags[] = {"target", "params", NULL};
    for (size_t i = 0; json_flags[i]; i++) {
        if (!cmd_flag(c, json_flags[i]))
            continue;
        json_t *v = cmd_json_flag(c, json_flags[i], rc);
        if (!v) {
            json_decref(body);
            return NULL;
        }
        json_object_set_new(body, json_flags[i], v);
    }
    if (dry_run)
        json_object_set_new(body, "dry_run", json_true());
    return body;
}

int cmd_runs_start(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_USAGE;
    json_t *body = run_body(c, cmd_flag(c, "dry-run") != NULL, &rc);
    if (!body)
        return rc;
    if (!cmd_flag(c, "wait")) {
        rc = cmd_call_print(c, "POST", "/v1/runs", body);
        json_decref(body);
        return rc;
    }
    err e;
    err_clear(&e);
    client_api *a = cmd_connect(c, &e);
    json_t *ref = NULL;
    if (!a || !client_api_call(a, "POST", "/v1/runs", body, &ref, &e)) {
        rc = cmd_failed(&e);
    } else {
        const char *id = json_string_value(json_object_get(ref, "job"));
        printf("job %s queued\n", id ? id : "?");
        rc = id ? watch(c, a, id) : CLIENT_EXIT_FAILED;
    }
    json_decref(ref);
    json_decref(body);
    client_api_free(a);
    return rc;
}

/* A dry run, waited for: what the run would do to each resource. */
int cmd_runs_plan(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_USAGE;
    json_t *body = run_body(c, true, &rc);
    if (!body)
        return rc;
    err e;
    err_clear(&e);
    client_api *a = cmd_connect(c, &e);
    json_t *ref = NULL, *job = NULL;
    if (!a || !client_api_call(a, "POST", "/v1/runs", body, &ref, &e)) {
        rc = cmd_failed(&e);
    } else {
        const char *id = json_string_value(json_object_get(ref, "job"));
        if (!id || !cmd_wait_job(c, a, id, false, &job)) {
            rc = CLIENT_EXIT_FAILED;
        } else {
            json_t *result = json_object_get(job, "result");
            rc = cmd_job_status(job);
            if (c->out == CLIENT_OUT_JSON) {
                client_out_object(stdout, c->out, json_is_object(result) ? result : job);
            } else if (json_is_object(result)) {
                static const char *const cols[] = {"account", "region",  "id",    "name", "before",
                                                   "action",  "outcome", "error", NULL};
                client_out_items(stdout, c->out, json_object_get(result, "resources"), cols);
            }
            size_t i;
            json_t *w;
            json_array_foreach(json_object_get(result, "errors"), i, w) fprintf(
                stderr, "escher: %s %s: %s\n", json_string_value(json_object_get(w, "account")),
                json_string_value(json_object_get(w, "region")),
                json_string_value(json_object_get(w, "error")));
            const char *why = json_string_value(json_object_get(job, "last_error"));
            if (rc == CLIENT_EXIT_FAILED && why)
                fprintf(stderr, "escher: dry run job %s: %s\n", id, why);
            if (c->out == CLIENT_OUT_TABLE) {
                char *counts = json_dumps(json_object_get(result, "counts"), JSON_COMPACT);
                printf("dry run of %s (job %s): %s; nothing was changed\n",
                       cmd_flag(c, "operation"), id, counts ? counts : "no result");
                free(counts);
            }
        }
    }
    json_decref(job);
    json_decref(ref);
    json_decref(body);
    client_api_free(a);
    return rc;
}

/* ---- audit -------------------------------------------------------------------- */

static const char *const audit_cols[] = {"seq", "at", "actor", "action", "target", NULL};

int cmd_audit_list(cmd_ctx *c)
{
    char *path = xstrdup("/v1/audit");
    if (cmd_flag(c, "action"))
        cmd_query_add(&path, "action", cmd_flag(c, "action"));
    int rc = cmd_list(c, path, audit_cols);
    free(path);
    return rc;
}

int cmd_audit_verify(cmd_ctx *c)
{
    json_t *j = NULL;
    if (!cmd_call(c, "GET", "/v1/audit/verify", NULL, &j))
        return CLIENT_EXIT_FAILED;
    client_out_object(stdout, c->out, j);
    int rc = json_is_true(json_object_get(j, "intact")) ? CLIENT_EXIT_OK : CLIENT_EXIT_FAILED;
    json_decref(j);
    return rc;
}
