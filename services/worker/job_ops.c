/* Job kind ops.run. See job_ops.h. */
#include "job_ops.h"

#include "aws/paging.h"
#include "aws/query.h"
#include "aws/xml.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "db/db.h"
#include "job_account.h"
#include "job_notify.h"
#include "ops/ops_catalog.h"
#include "ops/target.h"

#include <event2/event.h>
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
    size_t next;    /* the resource being taken */
    unsigned phase; /* its mutating call being made (ops_executor.nphases) */
    json_t *acc;    /* its result entry so far (the phases before) */
    char step[STEP_NAME_MAX + 1];
    char before[64];     /* the state the re-check (or the listing, dry run) found */
    struct event *timer; /* OPS_WAIT's next look; made on first use */
    uint64_t wait_since; /* monotonic ms of the phase's first OPS_WAIT; 0: none */
} ops_item;

struct ops_run {
    wjob *j;
    const ops_op *op;
    json_t *params;
    bool dry_run;
    target t;
    target_plan plan;
    char *external_id;
    char stamp[32]; /* the job's creation time, ops_call.stamp */
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
        json_decref(it->acc);
        if (it->timer)
            event_free(it->timer); /* a pending look is dropped with the job */
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
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n}", "account",
                          it->ti->account_id, "region", it->ti->region, "id", res->id, "name",
                          res->name ? res->name : "", "before", it->before, "action", action,
                          "outcome", outcome, "request_id", "error", "reason");
    if (res->parent && *res->parent)
        json_object_set_new(d, "parent", json_string(res->parent));
    return d;
}

/* How much an outcome weighs when phases are merged: a failure says more
 * than a success, which says more than nothing to do. */
static int weight(const char *outcome)
{
    if (outcome == NULL || strcmp(outcome, "nothing to do") == 0)
        return 0;
    if (strcmp(outcome, "failed") == 0 || strcmp(outcome, "would fail") == 0)
        return 2;
    return 1;
}

/* Adds phase detail d (taken) to the resource's entry: a single-phase
 * resource's entry is d itself; with more, the entry keeps the first
 * phase's "before", joins the actions ("snapshot, delete"), takes the
 * weightiest outcome and the latest request id, and lists every phase's
 * detail under "phases". */
static void merge_phase(ops_item *it, json_t *d)
{
    if (it->acc == NULL) {
        it->acc = d;
        return;
    }
    json_t *acc = it->acc;
    json_t *phases = json_object_get(acc, "phases");
    if (phases == NULL) {
        phases = json_array();
        json_array_append_new(phases, json_deep_copy(acc));
        json_object_set_new(acc, "phases", phases);
    }
    json_t *copy = json_deep_copy(d);
    json_object_del(copy, "phases");
    json_array_append_new(phases, copy);
    const char *a = json_string_value(json_object_get(acc, "action"));
    const char *b = json_string_value(json_object_get(d, "action"));
    if (b && strcmp(b, "none") != 0) {
        char *joined = a && strcmp(a, "none") != 0 ? xasprintf("%s, %s", a, b) : xstrdup(b);
        json_object_set_new(acc, "action", json_string(joined));
        free(joined);
    }
    const char *oa = json_string_value(json_object_get(acc, "outcome"));
    const char *ob = json_string_value(json_object_get(d, "outcome"));
    if (weight(ob) >= weight(oa) && ob) {
        json_object_set_new(acc, "outcome", json_string(ob));
        json_object_set(acc, "error", json_object_get(d, "error"));
        json_object_set(acc, "reason", json_object_get(d, "reason"));
    }
    static const char *const latest[] = {"request_id", "after", "created", "earlier_attempt"};
    for (size_t i = 0; i < sizeof latest / sizeof latest[0]; i++) {
        json_t *v = json_object_get(d, latest[i]);
        if (v && !json_is_null(v))
            json_object_set(acc, latest[i], v);
    }
    json_decref(d);
}

static void run_phase(ops_item *it);

/* Sets the state the resource was in before the job (phase 0's), for the
 * result and for the executor's later phases (ops_resource.before). */
static void set_before(ops_item *it, const char *state)
{
    ops_resource *res = &it->res[it->next];
    snprintf(it->before, sizeof it->before, "%s", state ? state : "");
    free(res->before);
    res->before = xstrdup(it->before);
}

/* The words of the current phase's action: the executor's phase_text, else
 * its verb; "would ..." in a dry run. */
static void phase_words(ops_item *it, char *buf, size_t n)
{
    const ops_executor *x = it->run->op->executor;
    if (x->phase_text) {
        ops_call c = {.params = it->run->params,
                      .region = it->ti->region,
                      .phase = it->phase,
                      .dry_run = it->run->dry_run};
        x->phase_text(&it->res[it->next], &c, buf, n);
        return;
    }
    snprintf(buf, n, "%s%s", it->run->dry_run ? "would " : "", ops_phase_verb(x, it->phase));
}

/* The resource is finished: its entry goes to the result, then the next. */
static void resource_end(ops_item *it)
{
    ops_run *r = it->run;
    if (it->acc)
        json_array_append_new(r->resources, it->acc);
    it->acc = NULL;
    it->next++;
    next_resource(it);
}

/* Records the current phase's outcome (its step, outside a dry run) and goes
 * on: to the next phase when it went well (ok) and was not "nothing to do"
 * at the first phase, else to the next resource. */
static void phase_done(ops_item *it, json_t *detail, bool ok, bool nothing)
{
    ops_run *r = it->run;
    if (!r->dry_run && !wjob_step_finish(r->j, it->step, ok, detail, NULL, NULL)) {
        json_decref(detail);
        return; /* the job has ended */
    }
    merge_phase(it, detail);
    if (!ok || (nothing && it->phase == 0)) {
        resource_end(it);
        return;
    }
    it->phase++;
    it->wait_since = 0;
    run_phase(it);
}

static void on_action(const http_response *resp, const err *e, void *arg)
{
    ops_item *it = arg;
    ops_run *r = it->run;
    if (!wjob_resume(r->j))
        return;
    ops_resource *res = &it->res[it->next];
    const ops_executor *x = r->op->executor;
    char words[160];
    phase_words(it, words, sizeof words);
    const char *verb = words, *would = words;
    if (resp == NULL) {
        char text[ERR_MESSAGE_MAX + ERR_FIELD_MAX + 4];
        bool transient = error_text(e, text, sizeof text);
        json_t *d;
        bool ok = r->dry_run;
        if (r->dry_run && strcmp(e->remote_code, "DryRunOperation") == 0) {
            d = entry(it, res, would, "planned");
        } else if (!r->dry_run && x->already_code && strcmp(e->remote_code, x->already_code) == 0) {
            /* The job's own deterministic name exists: an earlier attempt's
             * call went through before the attempt ended. */
            d = entry(it, res, verb, "done");
            json_object_set_new(d, "reason", json_string(text));
            json_object_set_new(d, "earlier_attempt", json_true());
            ok = true;
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
        phase_done(it, d, ok, false);
        return;
    }
    json_t *d = entry(it, res, verb, "done");
    ops_action_answer(x, resp->body.buf, resp->body.len, d);
    log_info(r->j->log, "resource done", LOG_STR("id", res->id), LOG_STR("action", verb));
    phase_done(it, d, true, false);
}

static ops_call call_of(ops_item *it)
{
    ops_run *r = it->run;
    return (ops_call){.params = r->params,
                      .region = it->ti->region,
                      .job_id = r->j->q.id,
                      .stamp = r->stamp,
                      .phase = it->phase,
                      .dry_run = r->dry_run};
}

/* Sends the current phase's call for the current resource (DryRun on a dry
 * run). */
static void act(ops_item *it)
{
    ops_run *r = it->run;
    aws_request req;
    ops_call c = call_of(it);
    r->op->executor->action_request(&it->res[it->next], &c, &req);
    wjob_hold(r->j);
    waws_call(it->session, RATELIMIT_MUTATE, &req, on_action, it);
    aws_request_free(&req);
}

static void recheck(ops_item *it);

static void on_wait(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ops_item *it = arg;
    /* The timer holds no reference: job_ops_free deletes it, so the job is
     * still here, but it may have ended (cancel, lost lease). */
    wjob *j = it->run->j;
    if (j->ended)
        return;
    if (j->cancel_requested) {
        /* A wait can last minutes: a cancel is heard here too, not only at
         * the next step's beginning. */
        wjob_fail(j, "cancelled by request", false, NULL, NULL);
        return;
    }
    recheck(it);
}

/* OPS_WAIT in a real run: the resource is read again after the executor's
 * wait_ms on the loop's timer (nothing blocks), until wait_max_ms has gone
 * by since the phase's first wait; then the phase fails as transient, so
 * the attempt is retried and waits again from there. */
static void wait_and_recheck(ops_item *it, const char *why)
{
    ops_run *r = it->run;
    const ops_executor *x = r->op->executor;
    uint64_t now = timeutil_mono_ms();
    unsigned every = x->wait_ms ? x->wait_ms : 2000;
    unsigned most = x->wait_max_ms ? x->wait_max_ms : 10 * 60 * 1000;
    if (it->wait_since == 0)
        it->wait_since = now;
    ops_resource *res = &it->res[it->next];
    if (now - it->wait_since >= most) {
        char text[200];
        snprintf(text, sizeof text, "%s after %u s of waiting (state %s)", why, most / 1000,
                 res->state);
        note_transient(r, it->step, text);
        json_t *d = entry(it, res, ops_phase_verb(x, it->phase), "failed");
        json_object_set_new(d, "error", json_string(text));
        json_object_set_new(d, "transient", json_true());
        phase_done(it, d, false, false);
        return;
    }
    if (it->timer == NULL)
        it->timer = evtimer_new(r->j->env->base, on_wait, it);
    struct timeval tv = {(time_t)(every / 1000), (suseconds_t)(every % 1000) * 1000};
    if (it->timer == NULL || evtimer_add(it->timer, &tv) != 0) {
        json_t *d = entry(it, res, ops_phase_verb(x, it->phase), "failed");
        json_object_set_new(d, "error", json_string("cannot arm a timer on the worker's loop"));
        phase_done(it, d, false, false);
        return;
    }
    log_debug(r->j->log, "waiting on the resource's state", LOG_STR("id", res->id),
              LOG_STR("step", it->step), LOG_STR("state", res->state), LOG_STR("why", why));
}

/* Decides on the current resource and phase as its state (it->before)
 * stands. */
static void decide(ops_item *it)
{
    ops_run *r = it->run;
    ops_resource *res = &it->res[it->next];
    const ops_executor *x = r->op->executor;
    const char *why = "";
    bool calls = ops_phase_calls(x, it->phase);
    ops_decision d = x->decide(res, r->params, it->phase, &why);
    if (d == OPS_WAIT && r->dry_run)
        d = OPS_ACT; /* a dry run changes no state to wait for: plan the call */
    if (d == OPS_WAIT) {
        wait_and_recheck(it, why);
        return;
    }
    if (d == OPS_ACT && !calls) {
        if (r->dry_run) {
            /* A plan has nothing to wait for or record here. */
            it->phase++;
            run_phase(it);
            return;
        }
        json_t *e = entry(it, res, ops_phase_verb(x, it->phase), "done");
        json_object_set_new(e, "after", json_string(res->state));
        if (res->type)
            json_object_set_new(e, "type", json_string(res->type));
        phase_done(it, e, true, false);
        return;
    }
    if (d == OPS_ACT) {
        if (r->dry_run && !x->dry_run_native) {
            char would[160];
            phase_words(it, would, sizeof would);
            phase_done(it, entry(it, res, would, "planned"), true, false);
            return;
        }
        act(it);
        return;
    }
    bool fine = d == OPS_NOTHING || d == OPS_PASS;
    json_t *e = entry(it, res, "none", fine ? "nothing to do" : "failed");
    json_object_set_new(e, fine ? "reason" : "error", json_string(why));
    if (res->type && it->phase == 0)
        json_object_set_new(e, "type", json_string(res->type));
    phase_done(it, e, fine, d == OPS_NOTHING);
}

static void on_recheck(const http_response *resp, const err *e, void *arg)
{
    ops_item *it = arg;
    ops_run *r = it->run;
    if (!wjob_resume(r->j))
        return;
    ops_resource *res = &it->res[it->next];
    const ops_executor *x = r->op->executor;
    if (resp == NULL) {
        char text[ERR_MESSAGE_MAX + ERR_FIELD_MAX + 4];
        if (error_text(e, text, sizeof text))
            note_transient(r, it->step, text);
        json_t *d = entry(it, res, "none", "failed");
        json_object_set_new(d, "error", json_string(text));
        phase_done(it, d, false, false);
        return;
    }
    xml_doc *doc = NULL;
    const xml_node *root = NULL;
    ops_resource *fresh = NULL;
    size_t n = 0, cap = 0;
    err pe = {0};
    bool ok = query_parse_result(resp->body.buf ? resp->body.buf : "", resp->body.len, NULL, &doc,
                                 &root, &pe) &&
              (x->get_parse ? x->get_parse(root, &fresh, &n, &cap, &pe)
                            : x->list_parse(root, NULL, &fresh, &n, &cap, &pe));
    xml_free(doc);
    if (ok && n == 1)
        ops_resource_refresh(res, &fresh[0]);
    for (size_t i = 0; i < n; i++)
        ops_resource_clear(&fresh[i]);
    free(fresh);
    if (!ok || n != 1) {
        json_t *d = entry(it, res, "none", ok ? "nothing to do" : "failed");
        json_object_set_new(d, ok ? "reason" : "error",
                            json_string(ok ? "no longer exists" : pe.message));
        phase_done(it, d, ok, ok);
        return;
    }
    /* Phase 0's first look only: a wait there re-reads, and the state it
     * started from is the one that counts. */
    if (it->phase == 0 && it->wait_since == 0)
        set_before(it, res->state);
    decide(it);
}

/* Reads the current resource again; on_recheck decides. */
static void recheck(ops_item *it)
{
    ops_run *r = it->run;
    aws_request req;
    r->op->executor->get_request(it->ti->region, &it->res[it->next], &req);
    wjob_hold(r->j);
    waws_call(it->session, RATELIMIT_DESCRIBE, &req, on_recheck, it);
    aws_request_free(&req);
}

/* True when the current phase has a call to make with the parameters. */
static bool phase_has_call(ops_item *it)
{
    if (!ops_phase_calls(it->run->op->executor, it->phase))
        return true; /* its re-check and decision are the phase */
    aws_request req;
    ops_call c = call_of(it);
    bool has = it->run->op->executor->action_request(&it->res[it->next], &c, &req);
    if (has)
        aws_request_free(&req);
    return has;
}

/* Runs the current resource from it->phase on: phases with nothing to send
 * are passed over, a phase an earlier attempt finished is skipped (its
 * recorded outcome reused), the next is re-checked then acted on; the
 * resource ends after its last phase. */
static void run_phase(ops_item *it)
{
    ops_run *r = it->run;
    const ops_executor *x = r->op->executor;
    unsigned nphases = x->nphases ? x->nphases : 1;
    for (; it->phase < nphases; it->phase++) {
        ops_resource *res = &it->res[it->next];
        if (!phase_has_call(it))
            continue;
        if (r->dry_run) {
            if (it->phase > 0 && !ops_phase_calls(x, it->phase))
                continue; /* a wait: nothing moves in a dry run */
            if (it->phase == 0 || it->before[0] == '\0')
                set_before(it, res->state);
            decide(it);
            return;
        }
        int len = snprintf(it->step, sizeof it->step, "%s:%s:%s:%.128s", r->op->name,
                           it->ti->account_id, it->ti->region, res->id);
        if (it->phase > 0)
            snprintf(it->step + len, sizeof it->step - (size_t)len, ":%s",
                     ops_phase_verb(x, it->phase));
        bool skip;
        json_t *prior = NULL;
        if (!wjob_step_begin(r->j, it->step, &skip, &prior))
            return; /* the job has ended */
        if (skip) {
            if (prior == NULL)
                prior = json_pack("{s:s, s:s, s:s, s:s}", "account", it->ti->account_id, "region",
                                  it->ti->region, "id", res->id, "outcome", "done");
            json_object_set_new(prior, "earlier_attempt", json_true());
            /* The state before the job, as the first attempt saw it: later
             * phases may depend on it (ec2.resize restarts only what ran). */
            const char *was = json_string_value(json_object_get(prior, "before"));
            if (it->before[0] == '\0' && was && *was)
                set_before(it, was);
            const char *o = json_string_value(json_object_get(prior, "outcome"));
            bool stop = o && (strcmp(o, "failed") == 0 ||
                              (it->phase == 0 && strcmp(o, "nothing to do") == 0));
            merge_phase(it, prior);
            if (stop)
                break;
            continue;
        }
        it->wait_since = 0;
        recheck(it);
        return;
    }
    if (it->acc == NULL) {
        /* Every phase had nothing to send with these parameters. */
        json_t *d = entry(it, &it->res[it->next], "none", "nothing to do");
        json_object_set_new(d, "reason", json_string("nothing to send with these parameters"));
        it->acc = d;
    }
    resource_end(it);
}

/* Takes the resources from it->next on; the item ends after the last. */
static void next_resource(ops_item *it)
{
    if (it->next >= it->nres) {
        item_done(it);
        return;
    }
    it->phase = 0;
    it->before[0] = '\0';
    json_decref(it->acc);
    it->acc = NULL;
    run_phase(it);
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
    err pe = {0};
    bool ok = paginator_feed_copy(it->pager, resp, &pe) &&
              it->run->op->executor->list_parse(paginator_xml(it->pager), &it->run->t.selector,
                                                &it->res, &it->nres, &it->cap, &pe);
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

/* The job's creation time as "20261124-045455" UTC (ops_call.stamp). */
static bool job_stamp(wjob *j, char *out, size_t n, err *e)
{
    const char *p[1] = {j->q.id};
    PGresult *res = PQexecParams(j->env->db,
                                 "SELECT to_char(created_at AT TIME ZONE 'UTC', "
                                 "'YYYYMMDD-HH24MISS') FROM jobs WHERE id = $1",
                                 1, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (ok)
        snprintf(out, n, "%s", PQgetvalue(res, 0, 0));
    else
        db_error(e, j->env->db, res, "reading the job's creation time");
    PQclear(res);
    return ok;
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
    if (!job_stamp(j, r->stamp, sizeof r->stamp, &e)) {
        wjob_fail(j, e.message, true, NULL, NULL);
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
