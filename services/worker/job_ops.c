/* Job kind ops.run. See job_ops.h. */
#include "job_ops.h"

#include "aws/paging.h"
#include "aws/query.h"
#include "aws/xml.h"
#include "core/xmalloc.h"
#include "db/db.h"
#include "job_account.h"
#include "job_notify.h"
#include "ops/ops_catalog.h"
#include "ops/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP_NAME_MAX 200 /* lib/queue's limit for a step name */

typedef struct ops_run ops_run;

/* One account x region. */
typedef struct ops_item {
    ops_run *run;
    const target_item *ti; /* in run->plan */
    waws_session *session;
    paginator *pager;
    ops_resource *res;
    size_t nres, cap;
    size_t next; /* the resource being taken */
    char step[STEP_NAME_MAX + 1];
    char before[32]; /* the state the re-check (or the listing, dry run) found */
} ops_item;

struct ops_run {
    wjob *j;
    const ops_op *op;
    json_t *params;
    bool dry_run;
    target t;
    target_plan plan;
    char *external_id;
    ops_item *items;
    size_t next_item, running, finished;
    bool launching;
    json_t *resources, *errors;
    size_t transient;
    char first_transient[ERR_MESSAGE_MAX];
};

void job_ops_free(void *state)
{
    ops_run *r = state;
    for (size_t i = 0; r->items && i < r->plan.nitems; i++) {
        ops_item *it = &r->items[i];
        waws_session_close(it->session);
        paginator_free(it->pager);
        for (size_t k = 0; k < it->nres; k++)
            ops_resource_clear(&it->res[k]);
        free(it->res);
    }
    free(r->items);
    json_decref(r->params);
    target_clear(&r->t);
    target_plan_clear(&r->plan);
    free(r->external_id);
    json_decref(r->resources);
    json_decref(r->errors);
    free(r);
}

/* ---- the end ---- */

static bool store_result(PGconn *db, void *arg, err *e)
{
    const json_t **a = arg;
    char *text = json_dumps(a[1], JSON_COMPACT);
    const char *p[2] = {json_string_value(a[0]), text};
    bool ok = db_exec(db, "UPDATE jobs SET result = $2::jsonb WHERE id = $1", 2, p, NULL, e);
    free(text);
    return ok;
}

/* The run's end, written with the job's: its result when it failed (a
 * completion stores it itself) and the notifications its channels want. */
typedef struct run_end {
    wjob *j;
    const char *state;
    const json_t *result;
} run_end;

static bool end_tx(PGconn *db, void *arg, err *e)
{
    run_end *x = arg;
    if (strcmp(x->state, "failed") == 0) {
        json_t *id = json_string(x->j->q.id);
        const json_t *args[2] = {id, x->result};
        bool ok = store_result(db, args, e);
        json_decref(id);
        if (!ok)
            return false;
    }
    return job_notify_enqueue(db, x->j->q.tenant_id, x->j->q.id, x->state, x->result, x->j->payload,
                              e);
}

static void count(json_t *counts, const char *key)
{
    json_object_set_new(counts, key,
                        json_integer(json_integer_value(json_object_get(counts, key)) + 1));
}

static void finish_run(ops_run *r)
{
    wjob *j = r->j;
    if (r->transient > 0 && !wjob_last_attempt(j)) {
        char msg[ERR_MESSAGE_MAX + 96];
        snprintf(msg, sizeof msg,
                 "%zu transient failure(s), retrying what did not finish; first: %s", r->transient,
                 r->first_transient);
        wjob_fail(j, msg, true, NULL, NULL);
        return;
    }
    json_t *counts = json_pack("{s:I, s:I}", "resources", (json_int_t)json_array_size(r->resources),
                               "work_items", (json_int_t)r->plan.nitems);
    size_t good = 0, bad = json_array_size(r->errors);
    for (size_t i = 0; i < json_array_size(r->resources); i++) {
        const char *o =
            json_string_value(json_object_get(json_array_get(r->resources, i), "outcome"));
        count(counts, o ? o : "?");
        if (o && (strcmp(o, "failed") == 0 || strcmp(o, "would fail") == 0))
            bad++;
        else
            good++;
    }
    json_object_set_new(counts, "errors", json_integer((json_int_t)json_array_size(r->errors)));
    const char *state = bad == 0 ? "succeeded" : good > 0 ? "partial" : "failed";
    json_t *result =
        json_pack("{s:s, s:b, s:s, s:O, s:O, s:o}", "operation", r->op->name, "dry_run", r->dry_run,
                  "state", state, "resources", r->resources, "errors", r->errors, "counts", counts);
    log_info(j->log, "operation run ended", LOG_STR("operation", r->op->name),
             LOG_STR("state", state), LOG_INT("resources", json_array_size(r->resources)),
             LOG_INT("failures", bad), LOG_BOOL("dry_run", r->dry_run));
    if (strcmp(state, "failed") == 0) {
        char msg[ERR_MESSAGE_MAX];
        const json_t *first = json_array_size(r->errors) ? json_array_get(r->errors, 0) : NULL;
        for (size_t i = 0; first == NULL && i < json_array_size(r->resources); i++)
            first = json_array_get(r->resources, i);
        snprintf(msg, sizeof msg, "%s failed on every target; first: %s %s: %.800s", r->op->name,
                 json_string_value(json_object_get(first, "account")),
                 json_string_value(json_object_get(first, "id"))
                     ? json_string_value(json_object_get(first, "id"))
                 : json_string_value(json_object_get(first, "region"))
                     ? json_string_value(json_object_get(first, "region"))
                     : "",
                 json_string_value(json_object_get(first, "error"))
                     ? json_string_value(json_object_get(first, "error"))
                     : "?");
        run_end x = {j, state, result};
        wjob_fail(j, msg, false, end_tx, &x);
    } else {
        run_end x = {j, state, result};
        wjob_complete(j, result, end_tx, &x);
    }
    json_decref(result);
}

/* ---- work items ---- */

static void launch(ops_run *r);
static void next_resource(ops_item *it);

static void item_done(ops_item *it)
{
    ops_run *r = it->run;
    waws_session_close(it->session);
    it->session = NULL;
    r->running--;
    r->finished++;
    launch(r);
}

static void note_transient(ops_run *r, const char *where, const char *text)
{
    if (r->transient++ == 0)
        snprintf(r->first_transient, sizeof r->first_transient, "%s: %.900s", where, text);
}

/* "<Code>: <message>" of e into text; true when it is transient. */
static bool error_text(const err *e, char *text, size_t n)
{
    char code[ERR_FIELD_MAX], message[ERR_MESSAGE_MAX];
    waws_error_parts(e, code, sizeof code, message, sizeof message);
    snprintf(text, n, "%s: %s", code, message);
    return waws_classify(e) == WAWS_TRANSIENT;
}

/* The work item could not run at all (role, listing). */
static void item_failed(ops_item *it, const err *e)
{
    char text[ERR_MESSAGE_MAX + ERR_FIELD_MAX + 4];
    bool transient = error_text(e, text, sizeof text);
    if (transient) {
        char where[64];
        snprintf(where, sizeof where, "%s %s", it->ti->account_id, it->ti->region);
        note_transient(it->run, where, text);
    }
    log_warn(it->run->j->log, "work item failed", LOG_STR("account_id", it->ti->account_id),
             LOG_STR("region", it->ti->region), LOG_STR("error", text),
             LOG_BOOL("transient", transient));
    json_array_append_new(it->run->errors,
                          json_pack("{s:s, s:s, s:s, s:b}", "account", it->ti->account_id, "region",
                                    it->ti->region, "error", text, "transient", transient));
    item_done(it);
}

/* The resource's entry in the result (and its step's detail). */
static json_t *entry(ops_item *it, const ops_resource *res, const char *action, const char *outcome)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n}", "account",
                     it->ti->account_id, "region", it->ti->region, "id", res->id, "name",
                     res->name ? res->name : "", "before", it->before, "action", action, "outcome",
                     outcome, "request_id", "error", "reason");
}

/* Records the resource's outcome and goes on with the next one. */
static void resource_done(ops_item *it, json_t *detail, bool ok)
{
    ops_run *r = it->run;
    json_array_append(r->resources, detail);
    if (!r->dry_run && !wjob_step_finish(r->j, it->step, ok, detail, NULL, NULL)) {
        json_decref(detail);
        return; /* the job has ended */
    }
    json_decref(detail);
    it->next++;
    next_resource(it);
}

static void on_action(const http_response *resp, const err *e, void *arg)
{
    ops_item *it = arg;
    ops_run *r = it->run;
    if (!wjob_resume(r->j))
        return;
    ops_resource *res = &it->res[it->next];
    const char *verb = r->op->executor->verb;
    char would[64];
    snprintf(would, sizeof would, "would %s", verb);
    if (resp == NULL) {
        char text[ERR_MESSAGE_MAX + ERR_FIELD_MAX + 4];
        bool transient = error_text(e, text, sizeof text);
        json_t *d;
        if (r->dry_run && strcmp(e->remote_code, "DryRunOperation") == 0) {
            d = entry(it, res, would, "planned");
        } else {
            d = entry(it, res, r->dry_run ? would : verb, r->dry_run ? "would fail" : "failed");
            json_object_set_new(d, "error", json_string(text));
            if (transient && !r->dry_run) {
                char where[STEP_NAME_MAX + 1];
                snprintf(where, sizeof where, "%s", it->step);
                note_transient(r, where, text);
            }
        }
        if (e->request_id[0])
            json_object_set_new(d, "request_id", json_string(e->request_id));
        log_info(r->j->log, "resource answered", LOG_STR("id", res->id),
                 LOG_STR("outcome", json_string_value(json_object_get(d, "outcome"))),
                 LOG_STR("error", text));
        resource_done(it, d, r->dry_run);
        return;
    }
    json_t *d = entry(it, res, verb, "done");
    xml_doc *doc = NULL;
    const xml_node *root = NULL;
    err pe = {0};
    if (query_parse_result(resp->body.buf ? resp->body.buf : "", resp->body.len, NULL, &doc, &root,
                           &pe)) {
        const char *rid = xml_find_text(root, "requestId");
        const char *after = xml_find_text(root, "instancesSet/item/currentState/name");
        if (rid)
            json_object_set_new(d, "request_id", json_string(rid));
        if (after)
            json_object_set_new(d, "after", json_string(after));
        xml_free(doc);
    }
    log_info(r->j->log, "resource done", LOG_STR("id", res->id), LOG_STR("action", verb));
    resource_done(it, d, true);
}

/* Sends the action for the current resource (DryRun on a dry run). */
static void act(ops_item *it)
{
    ops_run *r = it->run;
    aws_request req;
    r->op->executor->action_request(&it->res[it->next], r->params, r->dry_run, it->ti->region,
                                    &req);
    wjob_hold(r->j);
    waws_call(it->session, RATELIMIT_MUTATE, &req, on_action, it);
    aws_request_free(&req);
}

/* Decides on the current resource as its state (it->before) stands. */
static void decide(ops_item *it)
{
    ops_run *r = it->run;
    ops_resource *res = &it->res[it->next];
    const char *why = "";
    ops_decision d = r->op->executor->decide(res, r->params, &why);
    if (d == OPS_ACT) {
        if (r->dry_run && !r->op->executor->dry_run_native) {
            char would[64];
            snprintf(would, sizeof would, "would %s", r->op->executor->verb);
            resource_done(it, entry(it, res, would, "planned"), true);
            return;
        }
        act(it);
        return;
    }
    json_t *e = entry(it, res, "none", d == OPS_NOTHING ? "nothing to do" : "failed");
    json_object_set_new(e, d == OPS_NOTHING ? "reason" : "error", json_string(why));
    resource_done(it, e, d == OPS_NOTHING);
}

static void on_recheck(const http_response *resp, const err *e, void *arg)
{
    ops_item *it = arg;
    ops_run *r = it->run;
    if (!wjob_resume(r->j))
        return;
    ops_resource *res = &it->res[it->next];
    if (resp == NULL) {
        char text[ERR_MESSAGE_MAX + ERR_FIELD_MAX + 4];
        if (error_text(e, text, sizeof text))
            note_transient(r, it->step, text);
        json_t *d = entry(it, res, "none", "failed");
        json_object_set_new(d, "error", json_string(text));
        resource_done(it, d, false);
        return;
    }
    xml_doc *doc = NULL;
    const xml_node *root = NULL;
    ops_resource *fresh = NULL;
    size_t n = 0, cap = 0;
    err pe = {0};
    bool ok = query_parse_result(resp->body.buf ? resp->body.buf : "", resp->body.len, NULL, &doc,
                                 &root, &pe) &&
              r->op->executor->list_parse(root, &fresh, &n, &cap, &pe);
    xml_free(doc);
    if (ok && n == 1) {
        free(res->state);
        res->state = xstrdup(fresh[0].state);
    }
    for (size_t i = 0; i < n; i++)
        ops_resource_clear(&fresh[i]);
    free(fresh);
    if (!ok || n != 1) {
        json_t *d = entry(it, res, "none", ok ? "nothing to do" : "failed");
        json_object_set_new(d, ok ? "reason" : "error",
                            json_string(ok ? "no longer exists" : pe.message));
        resource_done(it, d, ok);
        return;
    }
    snprintf(it->before, sizeof it->before, "%s", res->state);
    decide(it);
}

/* Takes the resources from it->next on: skips those an earlier attempt
 * finished, re-reads the next one; the item ends after the last. */
static void next_resource(ops_item *it)
{
    ops_run *r = it->run;
    for (; it->next < it->nres; it->next++) {
        ops_resource *res = &it->res[it->next];
        if (r->dry_run) {
            snprintf(it->before, sizeof it->before, "%s", res->state);
            decide(it);
            return;
        }
        snprintf(it->step, sizeof it->step, "%s:%s:%s:%.128s", r->op->name, it->ti->account_id,
                 it->ti->region, res->id);
        bool skip;
        json_t *prior = NULL;
        if (!wjob_step_begin(r->j, it->step, &skip, &prior))
            return; /* the job has ended */
        if (skip) {
            if (prior == NULL)
                prior = json_pack("{s:s, s:s, s:s, s:s}", "account", it->ti->account_id, "region",
                                  it->ti->region, "id", res->id, "outcome", "done");
            json_object_set_new(prior, "earlier_attempt", json_true());
            json_array_append_new(r->resources, prior);
            continue;
        }
        aws_request req;
        r->op->executor->get_request(it->ti->region, res->id, &req);
        wjob_hold(r->j);
        waws_call(it->session, RATELIMIT_DESCRIBE, &req, on_recheck, it);
        aws_request_free(&req);
        return;
    }
    item_done(it);
}

static void list_page(ops_item *it);

static void on_page(const http_response *resp, const err *e, void *arg)
{
    ops_item *it = arg;
    if (!wjob_resume(it->run->j))
        return;
    if (resp == NULL) {
        item_failed(it, e);
        return;
    }
    http_response copy = HTTP_RESPONSE_INIT;
    copy.status = resp->status;
    strbuf_append(&copy.body, resp->body.buf ? resp->body.buf : "", resp->body.len);
    err pe = {0};
    bool ok = paginator_feed(it->pager, &copy, &pe) &&
              it->run->op->executor->list_parse(paginator_xml(it->pager), &it->res, &it->nres,
                                                &it->cap, &pe);
    http_response_free(&copy);
    if (!ok) {
        item_failed(it, &pe);
        return;
    }
    if (!paginator_done(it->pager)) {
        list_page(it);
        return;
    }
    log_info(it->run->j->log, "resources selected", LOG_STR("account_id", it->ti->account_id),
             LOG_STR("region", it->ti->region), LOG_INT("resources", it->nres),
             LOG_BOOL("truncated", paginator_truncated(it->pager)));
    next_resource(it);
}

static void list_page(ops_item *it)
{
    aws_request req;
    it->run->op->executor->list_request(&it->run->t.selector, it->ti->region,
                                        paginator_token(it->pager), &req);
    wjob_hold(it->run->j);
    waws_call(it->session, RATELIMIT_DESCRIBE, &req, on_page, it);
    aws_request_free(&req);
}

static void on_creds(aws_creds *creds, const err *e, void *arg)
{
    ops_item *it = arg;
    if (!wjob_resume(it->run->j)) {
        creds_free(creds);
        return;
    }
    if (creds == NULL) {
        item_failed(it, e);
        return;
    }
    err se = {0};
    it->session = waws_session_new(it->run->j->env->aws, creds, it->ti->account_id, &se);
    creds_free(creds);
    if (it->session == NULL) {
        item_failed(it, &se);
        return;
    }
    it->pager = paginator_new(it->run->op->executor->paging);
    list_page(it);
}

static void start_item(ops_item *it)
{
    ops_run *r = it->run;
    broker_request b = {
        .role_arn = it->ti->role_arn,
        .external_id = r->external_id,
        .job_id = r->j->q.id,
        .source_identity = r->j->q.created_by,
        .actions = r->op->actions,
        .nactions = r->op->nactions,
        .duration_seconds = r->j->env->session_duration,
    };
    wjob_hold(r->j);
    waws_assume(r->j->env->aws, &b, on_creds, it);
}

/* Starts items up to JOB_OPS_PARALLEL; ends the run after the last. An item
 * that ends at once (every step done earlier) calls back into here: the outer
 * call carries on. */
static void launch(ops_run *r)
{
    if (r->launching)
        return;
    r->launching = true;
    while (!r->j->ended && r->running < JOB_OPS_PARALLEL && r->next_item < r->plan.nitems) {
        ops_item *it = &r->items[r->next_item++];
        r->running++;
        start_item(it);
    }
    r->launching = false;
    if (!r->j->ended && r->finished == r->plan.nitems)
        finish_run(r);
}

/* ---- payload ---- */

static bool parse_payload(ops_run *r, const json_t *p, err *e)
{
    static const char *const known[] = {"operation", "params",   "target",
                                        "dry_run",   "schedule", "fire_at"};
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)p, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0] && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok)
            return err_set(e, ERR_INVALID,
                           "unknown field '%.64s' (known: operation, params, target, dry_run, "
                           "schedule, fire_at)",
                           key);
    }
    r->op = ops_lookup(json_string_value(json_object_get(p, "operation")), e);
    if (r->op == NULL)
        return false;
    const json_t *params = json_object_get(p, "params");
    if (!ops_validate_params(r->op, params, e))
        return false;
    r->params = json_is_object(params) ? json_incref((json_t *)params) : json_object();
    const json_t *dry = json_object_get(p, "dry_run");
    if (dry && !json_is_boolean(dry))
        return err_set(e, ERR_INVALID, "dry_run must be true or false");
    r->dry_run = json_is_true(dry);
    if (!target_parse(json_object_get(p, "target"), &r->t, e) || !ops_check_target(r->op, &r->t, e))
        return false;
    if (r->op->executor == NULL)
        return err_set(e, ERR_INVALID,
                       "operation %s is in the catalog but not executable yet (no executor "
                       "built)",
                       r->op->name);
    return true;
}

void job_ops_start(wjob *j)
{
    ops_run *r = xcalloc(1, sizeof *r);
    j->state = r;
    r->j = j;
    r->resources = json_array();
    r->errors = json_array();
    err e = {0};
    if (!parse_payload(r, j->payload, &e)) {
        char msg[ERR_MESSAGE_MAX + 32];
        snprintf(msg, sizeof msg, "invalid payload: %s", e.message);
        wjob_fail(j, msg, false, NULL, NULL);
        return;
    }
    r->external_id = job_account_external_id(j->env->db, j->q.tenant_id, &e);
    if (r->external_id == NULL) {
        wjob_fail(j, e.message, e.code != ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    if (!target_expand(j->env->db, j->q.tenant_id, &r->t, &r->plan, &e)) {
        wjob_fail(j, e.message, e.code != ERR_INVALID, NULL, NULL);
        return;
    }
    for (size_t i = 0; i < r->plan.nproblems; i++)
        json_array_append_new(r->errors,
                              json_pack("{s:s, s:s}", "account", r->plan.problems[i].account_id,
                                        "error", r->plan.problems[i].reason));
    r->items = xcalloc(r->plan.nitems ? r->plan.nitems : 1, sizeof *r->items);
    for (size_t i = 0; i < r->plan.nitems; i++) {
        r->items[i].run = r;
        r->items[i].ti = &r->plan.items[i];
    }
    log_info(j->log, "operation run starting", LOG_STR("operation", r->op->name),
             LOG_BOOL("dry_run", r->dry_run), LOG_INT("work_items", r->plan.nitems),
             LOG_INT("accounts_skipped", r->plan.nproblems));
    launch(r);
}
