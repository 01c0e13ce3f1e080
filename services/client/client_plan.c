/* The preview. See client_plan.h. Listing and deciding are the executor's
 * pure functions driven by blocking calls: the client acts for one person
 * in one account, where a few hundred calls in a row are the common case. */
#include "client_plan.h"

#include "aws/paging.h"
#include "aws/query.h"
#include "aws/sts.h"
#include "aws/xml.h"
#include "core/xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define EC2_VERSION "2016-11-15"

void client_plan_free(client_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nrows; i++) {
        free(p->rows[i].region);
        ops_resource_clear(&p->rows[i].res);
    }
    free(p->rows);
    json_decref(p->params);
    json_decref(p->failures);
    free(p->account);
    free(p->principal);
    free(p);
}

/* Every region enabled for the account (EC2 DescribeRegions), asked in
 * def_region. */
static json_t *all_regions(aws_client *aws, const char *def_region, err *e)
{
    json_t *out = json_array();
    query_params q;
    query_init(&q, "DescribeRegions", EC2_VERSION);
    aws_request req;
    query_to_request(&q, "ec2", "DescribeRegions", AWS_PROTO_EC2, &req);
    req.region = def_region;
    query_free(&q);
    http_response resp = {0};
    bool ok = aws_client_call(aws, &req, &resp, e);
    aws_request_free(&req);
    xml_doc *doc = NULL;
    const xml_node *root = NULL;
    if (ok)
        ok = query_parse_result(resp.body.buf ? resp.body.buf : "", resp.body.len, NULL, &doc,
                                &root, e);
    http_response_free(&resp);
    if (!ok) {
        json_decref(out);
        err_prefix(e, "DescribeRegions for 'all regions'");
        return NULL;
    }
    for (const xml_node *r = xml_find(root, "regionInfo/item"); r; r = xml_next(r)) {
        const char *name = xml_find_text(r, "regionName");
        if (name)
            json_array_append_new(out, json_string(name));
    }
    xml_free(doc);
    return out;
}

json_t *client_plan_regions(aws_client *aws, const target *t, const char *def_region, err *e)
{
    if (t->all_regions)
        return all_regions(aws, def_region, e);
    json_t *out = json_array();
    for (size_t i = 0; i < t->nregions; i++)
        json_array_append_new(out, json_string(t->regions[i]));
    if (t->nregions == 0)
        json_array_append_new(out, json_string(def_region));
    return out;
}

json_t *client_plan_query_regions(aws_client *aws, const json_t *filters, const char *def_region,
                                  err *e)
{
    const json_t *regions = json_object_get(filters, "regions");
    if (json_is_string(regions) && strcmp(json_string_value(regions), "all") == 0)
        return all_regions(aws, def_region, e);
    if (json_array_size(regions) > 0)
        return json_deep_copy(regions);
    fprintf(stderr, "escher: no region named; answering for %s\n", def_region);
    return json_pack("[s]", def_region);
}

typedef struct list_arg {
    const ops_executor *x;
    const target_selector *sel;
    const char *region;
} list_arg;

static bool build_page(void *arg, const char *token, aws_request *req, err *e)
{
    (void)e;
    const list_arg *a = arg;
    a->x->list_request(a->sel, a->region, token, req);
    return true;
}

/* The words for what happens to r: the phase texts that carry the
 * parameters ("resize from m5.large to m5.xlarge") or else the verbs of the
 * phases that send something with these parameters ("snapshot, delete"). */
static void action_words(const client_plan *p, const ops_resource *r, const char *region, char *buf,
                         size_t n)
{
    const ops_executor *x = p->op->executor;
    unsigned nphases = x->nphases ? x->nphases : 1;
    buf[0] = '\0';
    size_t len = 0;
    for (unsigned ph = 0; ph < nphases; ph++) {
        if (!ops_phase_calls(x, ph))
            continue;
        ops_call c = {.params = p->params,
                      .region = region,
                      .job_id = "preview",
                      .stamp = "preview",
                      .phase = ph};
        aws_request req;
        if (!x->action_request(r, &c, &req))
            continue;
        aws_request_free(&req);
        char text[160];
        const char *verb = ops_phase_verb(x, ph);
        if (x->phase_text)
            x->phase_text(r, &c, text, sizeof text);
        if (x->phase_text && strcmp(text, verb) != 0) {
            snprintf(buf, n, "%s", text);
            return;
        }
        len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s", len ? ", " : "", verb);
        if (len >= n)
            break;
    }
    if (buf[0] == '\0')
        snprintf(buf, n, "%s", x->verb);
}

/* Lists region's resources and decides on each. */
static bool plan_region(client_plan *p, aws_client *aws, const target_selector *sel,
                        const char *region, err *e)
{
    const ops_executor *x = p->op->executor;
    list_arg a = {x, sel, region};
    paginator *pg = paginator_new(x->paging);
    ops_resource *res = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    for (;;) {
        bool got = false;
        if (!paginator_fetch(pg, aws, build_page, &a, &got, e)) {
            ok = false;
            break;
        }
        if (!got)
            break;
        if (!x->list_parse(paginator_xml(pg), sel, &res, &n, &cap, e)) {
            ok = false;
            break;
        }
        if (paginator_done(pg))
            break;
    }
    if (ok && paginator_truncated(pg))
        fprintf(stderr, "escher: the listing of %s stopped early (paging limit)\n", region);
    paginator_free(pg);
    for (size_t i = 0; i < n; i++) {
        if (!ok) {
            ops_resource_clear(&res[i]);
            continue;
        }
        if (p->nrows == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 64;
            p->rows = xreallocarray(p->rows, p->cap, sizeof *p->rows);
        }
        client_plan_row *row = &p->rows[p->nrows++];
        memset(row, 0, sizeof *row);
        row->region = xstrdup(region);
        row->res = res[i];
        row->why = "";
        row->decision = x->decide(&row->res, p->params, 0, &row->why);
        if (row->decision == OPS_PASS)
            row->decision = OPS_ACT;
        if (row->decision == OPS_ACT || row->decision == OPS_WAIT) {
            p->nact++;
            action_words(p, &row->res, region, row->action, sizeof row->action);
        } else {
            snprintf(row->action, sizeof row->action, "none");
        }
    }
    free(res);
    return ok;
}

/* Refuses a target whose accounts the local credentials cannot act in. */
static bool check_accounts(const target *t, const char *account, err *e)
{
    if (t->accounts == TARGET_ACCOUNTS_ALL)
        return true;
    if (t->accounts == TARGET_ACCOUNTS_OU)
        return err_set(e, ERR_INVALID,
                       "the plan targets OU %s; local credentials act in their own account (%s) "
                       "only: schedule it on the server instead",
                       t->ou, account);
    for (size_t i = 0; i < t->naccount_ids; i++)
        if (strcmp(t->account_ids[i], account) == 0)
            return true;
    return err_set(e, ERR_INVALID,
                   "the plan targets account %s; the local credentials are account %s's",
                   t->naccount_ids ? t->account_ids[0] : "?", account);
}

bool client_plan_build(aws_client *aws, const json_t *plan, const char *def_region,
                       client_plan **out, err *e)
{
    *out = NULL;
    const char *name = json_string_value(json_object_get(plan, "operation"));
    const ops_op *op = ops_lookup(name ? name : "", e);
    if (!op)
        return false;
    if (!op->executor)
        return err_set(e, ERR_INVALID, "%s is not executable yet", op->name);
    json_t *params = json_object_get(plan, "params");
    params = params ? json_deep_copy(params) : json_object();
    target t;
    if (!ops_validate_params(op, params, e) ||
        !target_parse(json_object_get(plan, "target"), &t, e)) {
        json_decref(params);
        return false;
    }
    client_plan *p = xcalloc(1, sizeof *p);
    p->op = op;
    p->params = params;
    p->failures = json_array();
    sts_identity id = {0};
    json_t *regions = NULL;
    bool ok = ops_check_target(op, &t, e) && sts_get_caller_identity(aws, &id, e);
    if (ok) {
        p->account = xstrdup(id.account ? id.account : "");
        p->principal = xstrdup(id.arn ? id.arn : "");
        ok = check_accounts(&t, p->account, e) &&
             (regions = client_plan_regions(aws, &t, def_region, e)) != NULL;
    }
    sts_identity_free(&id);
    size_t nok = 0, i;
    json_t *r;
    if (ok) {
        json_array_foreach(regions, i, r)
        {
            err re;
            err_clear(&re);
            if (plan_region(p, aws, &t.selector, json_string_value(r), &re))
                nok++;
            else
                json_array_append_new(p->failures,
                                      json_sprintf("%s: %s", json_string_value(r), re.message));
        }
        if (nok == 0) {
            ok = err_set(e, ERR_AWS, "%s", json_string_value(json_array_get(p->failures, 0)));
        }
    }
    json_decref(regions);
    target_clear(&t);
    if (!ok) {
        client_plan_free(p);
        return false;
    }
    *out = p;
    return true;
}

/* The seven cells of row r; action is the buffer behind cells[5]. */
static void row_cells(const client_plan *p, const client_plan_row *r, char *action, size_t n,
                      const char *cells[7])
{
    if (r->decision == OPS_ACT || r->decision == OPS_WAIT)
        snprintf(action, n, "%s", r->action);
    else
        snprintf(action, n, "none (%s)", r->why);
    cells[0] = p->account;
    cells[1] = r->region;
    cells[2] = r->res.id;
    cells[3] = r->res.name ? r->res.name : "";
    cells[4] = r->res.state ? r->res.state : "";
    cells[5] = action;
    cells[6] = ops_risk_name(p->op->risk);
}

void client_plan_print(FILE *out, const client_plan *p)
{
    static const char *const head[] = {"ACCOUNT", "REGION", "RESOURCE", "NAME",
                                       "STATE",   "ACTION", "RISK"};
    size_t w[7];
    for (int c = 0; c < 7; c++)
        w[c] = strlen(head[c]);
    char action[200];
    const char *cells[7];
    for (size_t i = 0; i < p->nrows; i++) {
        row_cells(p, &p->rows[i], action, sizeof action, cells);
        for (int c = 0; c < 7; c++)
            if (strlen(cells[c]) > w[c])
                w[c] = strlen(cells[c]);
    }
    for (int c = 0; c < 7; c++)
        fprintf(out, "%-*s%s", c < 6 ? (int)w[c] : 0, head[c], c < 6 ? "  " : "\n");
    for (size_t i = 0; i < p->nrows; i++) {
        row_cells(p, &p->rows[i], action, sizeof action, cells);
        for (int c = 0; c < 7; c++)
            fprintf(out, "%-*s%s", c < 6 ? (int)w[c] : 0, cells[c], c < 6 ? "  " : "\n");
    }
    size_t i;
    json_t *f;
    json_array_foreach(p->failures, i, f) fprintf(out, "could not list %s\n", json_string_value(f));
    const char *risk = ops_risk_name(p->op->risk);
    fprintf(out, "%s: %zu resource%s to change, %zu unchanged (risk %s)\n", p->op->name, p->nact,
            p->nact == 1 ? "" : "s", p->nrows - p->nact, risk);
}
