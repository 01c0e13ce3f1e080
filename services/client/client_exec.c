/* Local execution. See client_exec.h. */
#include "client_exec.h"

#include "aws/query.h"
#include "aws/xml.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Ctrl-C during a run: the resource in hand is finished (a half-done
 * resize is worse than either end), the rest are not started. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* What the run is called in what it creates (escher:job tags, RDS snapshot
 * names): the client, this process and the minute it started. */
typedef struct exec_run {
    aws_client *aws;
    client_plan *p;
    char job_id[64];
    char stamp[32];
} exec_run;

/* Reads r again; false with e set when the call fails or it is gone. */
static bool recheck(exec_run *x, const char *region, ops_resource *r, bool *gone, err *e)
{
    const ops_executor *ex = x->p->op->executor;
    aws_request req;
    ex->get_request(region, r, &req);
    http_response resp = {0};
    bool ok = aws_client_call(x->aws, &req, &resp, e);
    aws_request_free(&req);
    xml_doc *doc = NULL;
    const xml_node *root = NULL;
    ops_resource *fresh = NULL;
    size_t n = 0, cap = 0;
    ok = ok &&
         query_parse_result(resp.body.buf ? resp.body.buf : "", resp.body.len, NULL, &doc, &root,
                            e) &&
         (ex->get_parse ? ex->get_parse(root, &fresh, &n, &cap, e)
                        : ex->list_parse(root, NULL, &fresh, &n, &cap, e));
    xml_free(doc);
    http_response_free(&resp);
    *gone = ok && n != 1;
    if (ok && n == 1)
        ops_resource_refresh(r, &fresh[0]);
    for (size_t i = 0; i < n; i++)
        ops_resource_clear(&fresh[i]);
    free(fresh);
    return ok;
}

/* Sends phase c's call for r; fills after and request_id in d. */
static bool act(exec_run *x, const ops_resource *r, const ops_call *c, json_t *d, err *e)
{
    const ops_executor *ex = x->p->op->executor;
    aws_request req;
    ex->action_request(r, c, &req);
    http_response resp = {0};
    bool ok = aws_client_call(x->aws, &req, &resp, e);
    aws_request_free(&req);
    if (!ok) {
        http_response_free(&resp);
        /* An earlier attempt's deterministic name: it is done already. */
        return ex->already_code && strcmp(e->remote_code, ex->already_code) == 0;
    }
    ops_action_answer(ex, resp.body.buf, resp.body.len, d);
    http_response_free(&resp);
    return true;
}

/* Runs every phase of row; returns its result. */
static json_t *run_row(exec_run *x, client_plan_row *row)
{
    const ops_executor *ex = x->p->op->executor;
    ops_resource *r = &row->res;
    unsigned nphases = ex->nphases ? ex->nphases : 1;
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "account", x->p->account, "region",
                          row->region, "id", r->id, "name", r->name ? r->name : "", "before",
                          r->state ? r->state : "", "action", row->action);
    const char *outcome = "nothing to do";
    const char *reason = "";
    char error[ERR_MESSAGE_MAX + 160] = "";
    for (unsigned ph = 0; ph < nphases && !error[0]; ph++) {
        ops_call c = {.params = x->p->params,
                      .region = row->region,
                      .job_id = x->job_id,
                      .stamp = x->stamp,
                      .phase = ph};
        bool calls = ops_phase_calls(ex, ph);
        if (calls) {
            aws_request probe;
            if (!ex->action_request(r, &c, &probe))
                continue;
            aws_request_free(&probe);
        }
        unsigned every = ex->wait_ms ? ex->wait_ms : 2000;
        uint64_t most = ex->wait_max_ms ? ex->wait_max_ms : 10 * 60 * 1000;
        uint64_t since = timeutil_mono_ms();
        for (;;) {
            err e;
            err_clear(&e);
            bool gone = false;
            if (!recheck(x, row->region, r, &gone, &e)) {
                snprintf(error, sizeof error, "%s", e.message);
                break;
            }
            if (gone) {
                reason = "no longer exists";
                ph = nphases;
                break;
            }
            if (ph == 0 && !r->before)
                r->before = xstrdup(r->state);
            const char *why = "";
            ops_decision dec = ex->decide(r, x->p->params, ph, &why);
            if (dec == OPS_WAIT) {
                if (timeutil_mono_ms() - since >= most) {
                    snprintf(error, sizeof error, "%s after %u s of waiting (state %s)", why,
                             (unsigned)(most / 1000), r->state);
                    break;
                }
                struct timespec ts = {every / 1000, (long)(every % 1000) * 1000000L};
                nanosleep(&ts, NULL);
                continue;
            }
            if (dec == OPS_CANNOT) {
                snprintf(error, sizeof error, "%s", why);
                break;
            }
            if (dec == OPS_NOTHING || dec == OPS_PASS) {
                if (ph == 0 && dec == OPS_NOTHING) {
                    reason = why;
                    ph = nphases; /* ends the resource */
                }
                break;
            }
            if (calls && !act(x, r, &c, d, &e)) {
                char code[ERR_FIELD_MAX + 4] = "";
                if (e.remote_code[0])
                    snprintf(code, sizeof code, "%s: ", e.remote_code);
                snprintf(error, sizeof error, "%s: %s%s", ops_phase_verb(ex, ph), code, e.message);
                if (e.request_id[0])
                    json_object_set_new(d, "request_id", json_string(e.request_id));
                break;
            }
            outcome = "done";
            if (!calls)
                json_object_set_new(d, "after", json_string(r->state));
            break;
        }
    }
    if (error[0]) {
        outcome = "failed";
        json_object_set_new(d, "error", json_string(error));
    } else if (strcmp(outcome, "done") != 0 && reason[0]) {
        json_object_set_new(d, "reason", json_string(reason));
    }
    json_object_set_new(d, "outcome", json_string(outcome));
    return d;
}

json_t *client_exec_run(aws_client *aws, client_plan *p, FILE *progress, client_exec_counts *n)
{
    exec_run x = {.aws = aws, .p = p};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(x.stamp, sizeof x.stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(x.job_id, sizeof x.job_id, "escher-client-%ld-%s", (long)getpid(), x.stamp);
    memset(n, 0, sizeof *n);
    json_t *results = json_array();
    size_t k = 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    for (size_t i = 0; i < p->nrows; i++) {
        client_plan_row *row = &p->rows[i];
        if (row->decision != OPS_ACT && row->decision != OPS_WAIT)
            continue;
        if (interrupted) {
            json_array_append_new(results,
                                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "account",
                                            p->account, "region", row->region, "id", row->res.id,
                                            "name", row->res.name ? row->res.name : "", "before",
                                            row->res.state ? row->res.state : "", "action",
                                            row->action, "outcome", "not run (interrupted)"));
            n->skipped++;
            continue;
        }
        json_t *d = run_row(&x, row);
        const char *o = json_string_value(json_object_get(d, "outcome"));
        if (strcmp(o, "done") == 0)
            n->done++;
        else if (strcmp(o, "failed") == 0)
            n->failed++;
        else
            n->nothing++;
        if (progress) {
            const char *after = json_string_value(json_object_get(d, "after"));
            const char *error = json_string_value(json_object_get(d, "error"));
            fprintf(progress, "[%zu/%zu] %s %s: %s%s%s\n", ++k, p->nact, row->region, row->res.id,
                    o,
                    after   ? ", now "
                    : error ? ": "
                            : "",
                    after   ? after
                    : error ? error
                            : "");
            fflush(progress);
        }
        json_array_append_new(results, d);
    }
    sigaction(SIGINT, &old, NULL);
    if (interrupted && progress)
        fprintf(progress, "interrupted: %zu of %zu resources not started\n", n->skipped, p->nact);
    return results;
}
