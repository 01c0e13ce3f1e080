/* AWS Cost Explorer (JSON 1.1, global): GetCostAndUsage and
 * GetCostForecast over the world's daily costs.
 *
 * Costs are summed from world_cost_daily per line (account x service x
 * region) and day. The management account sees the whole organization, a
 * member only itself, as with consolidated billing. Pages hold whole time
 * periods, as many as fit in CE_PAGE_GROUPS groups. */
#include "svc_ce_internal.h"

#include "core/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CE_PAGE_GROUPS 500
#define CE_MAX_METRICS 7
#define CE_MAX_GROUPS  2
#define CE_DAY         86400

/* One GroupBy entry: a simulated dimension or a tag key. */
typedef struct ce_groupdef {
    const char *type; /* "DIMENSION" / "TAG" as given */
    const char *key;
    const ce_dim *dim; /* NULL for TAG */
} ce_groupdef;

typedef struct ce_query {
    time_t start, end;
    bool monthly;
    const ce_metric *metrics[CE_MAX_METRICS];
    const char *metric_names[CE_MAX_METRICS]; /* as requested: echoed as keys */
    size_t nmetrics;
    ce_groupdef groups[CE_MAX_GROUPS];
    size_t ngroups;
    ce_expr *filter;
} ce_query;

static bool ce_granularity(sbx_call *c, json_t *body, bool *monthly)
{
    const char *g = json_string_value(json_object_get(body, "Granularity"));
    if (!g)
        return call_error(c, 400, "ValidationException", "Granularity is required");
    if (strcmp(g, "HOURLY") == 0)
        return call_error(c, 400, "ValidationException",
                          "Hourly granularity is not enabled for this account");
    if (strcmp(g, "DAILY") != 0 && strcmp(g, "MONTHLY") != 0)
        return call_error(c, 400, "ValidationException", "Granularity %s is invalid.", g);
    *monthly = strcmp(g, "MONTHLY") == 0;
    return true;
}

static bool ce_parse_groups(sbx_call *c, json_t *gb, ce_query *q)
{
    if (!gb)
        return true;
    if (!json_is_array(gb))
        return call_error(c, 400, "ValidationException", "GroupBy must be a list");
    if (json_array_size(gb) > CE_MAX_GROUPS)
        return call_error(c, 400, "ValidationException",
                          "You can only group by up to two different groups.");
    for (size_t i = 0; i < json_array_size(gb); i++) {
        json_t *g = json_array_get(gb, i);
        const char *type = json_string_value(json_object_get(g, "Type"));
        const char *key = json_string_value(json_object_get(g, "Key"));
        if (!type || !*type || !key || !*key)
            return call_error(c, 400, "ValidationException",
                              "Group Definition is invalid. Both type an key need to be set to "
                              "a non-empty value.");
        ce_groupdef *d = &q->groups[q->ngroups++];
        d->type = type;
        d->key = key;
        if (strcmp(type, "TAG") == 0)
            continue;
        if (strcmp(type, "DIMENSION") != 0)
            return call_error(c, 400, "ValidationException", "Group Definition type is invalid.");
        if (!ce_dim_known(key) || strcmp(key, "LINKED_ACCOUNT_NAME") == 0)
            return call_error(c, 400, "ValidationException",
                              "Group Definition dimension is invalid. Valid values are AZ, "
                              "INSTANCE_TYPE, LINKED_ACCOUNT, OPERATION, PURCHASE_TYPE, SERVICE, "
                              "USAGE_TYPE, PLATFORM, TENANCY, RECORD_TYPE, LEGAL_ENTITY_NAME, "
                              "INVOICING_ENTITY, DEPLOYMENT_OPTION, DATABASE_ENGINE, "
                              "CACHE_ENGINE, INSTANCE_TYPE_FAMILY, REGION, BILLING_ENTITY, "
                              "RESERVATION_ID, SAVINGS_PLANS_TYPE, SAVINGS_PLAN_ARN, "
                              "OPERATING_SYSTEM");
        d->dim = ce_dim_find(key);
        if (!d->dim)
            return call_error(c, 400, "ValidationException",
                              "Group Definition dimension %s is not simulated by "
                              "escher-sandbox",
                              key);
    }
    for (size_t i = 1; i < q->ngroups; i++)
        if (strcmp(q->groups[0].type, q->groups[i].type) == 0 &&
            strcmp(q->groups[0].key, q->groups[i].key) == 0)
            return call_error(c, 400, "ValidationException",
                              "Duplicate group definitions are not allowed.");
    return true;
}

static bool ce_parse_metrics(sbx_call *c, json_t *ms, ce_query *q)
{
    if (!json_is_array(ms) || json_array_size(ms) == 0)
        return call_error(c, 400, "ValidationException", "Metrics are required");
    for (size_t i = 0; i < json_array_size(ms); i++) {
        const char *name = json_string_value(json_array_get(ms, i));
        const ce_metric *m = name ? ce_metric_find(name) : NULL;
        if (!m)
            return call_error(c, 400, "ValidationException", "Invalid metric: %s",
                              name ? name : "null");
        bool dup = false;
        for (size_t k = 0; k < q->nmetrics; k++)
            dup |= q->metrics[k] == m;
        if (dup)
            continue;
        if (q->nmetrics == CE_MAX_METRICS)
            return call_error(c, 400, "ValidationException", "Too many metrics");
        q->metrics[q->nmetrics] = m;
        q->metric_names[q->nmetrics++] = name;
    }
    return true;
}

static time_t ce_today(sbx_call *c)
{
    time_t now = call_now(c);
    return now - now % CE_DAY;
}

static bool ce_parse_usage_query(sbx_call *c, ce_query *q)
{
    json_t *body = call_json(c);
    if (!ce_time_period(c, body, &q->start, &q->end) || !ce_granularity(c, body, &q->monthly))
        return false;
    if (q->start >= q->end)
        return call_error(c, 400, "ValidationException",
                          "Start date (and hour) should be before end date (and hour)");
    if (q->end > ce_next_month(ce_today(c)))
        return call_error(c, 400, "ValidationException",
                          "end date past the beginning of next month");
    return ce_parse_metrics(c, json_object_get(body, "Metrics"), q) &&
           ce_parse_groups(c, json_object_get(body, "GroupBy"), q) &&
           ce_expr_parse(c, json_object_get(body, "Filter"), &q->filter);
}

/* The group key of a line: the values of each GroupBy, tags as key$value. */
static char *ce_group_key(const ce_query *q, const ce_line *l)
{
    char *parts[CE_MAX_GROUPS] = {NULL, NULL};
    for (size_t g = 0; g < q->ngroups; g++) {
        const ce_groupdef *d = &q->groups[g];
        if (d->dim) {
            parts[g] = xstrdup(d->dim->value(l));
        } else {
            const char *v = ce_line_tag(l, d->key);
            parts[g] = xasprintf("%s$%s", d->key, v ? v : "");
        }
    }
    char *key = q->ngroups == 2 ? xasprintf("%s\x1f%s", parts[0], parts[1])
                                : xstrdup(q->ngroups ? parts[0] : "");
    free(parts[0]);
    free(parts[1]);
    return key;
}

typedef struct ce_keyed {
    char *key;
    size_t line;
} ce_keyed;

static int ce_keyed_cmp(const void *a, const void *b)
{
    const ce_keyed *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    return r ? r : (x->line > y->line) - (x->line < y->line);
}

/* The lines that pass the filter, sorted by group key; fills each line's
 * group index and the distinct keys. */
typedef struct ce_grouping {
    ce_line *lines;
    size_t nlines;
    size_t *line_group; /* group index per kept line */
    size_t *kept;       /* indices into lines */
    size_t nkept;
    char **keys; /* distinct group keys, sorted */
    size_t ngroups;
} ce_grouping;

static void ce_grouping_build(sbx_call *c, const ce_query *q, ce_grouping *gr)
{
    memset(gr, 0, sizeof *gr);
    gr->lines = ce_lines(c, &gr->nlines);
    ce_keyed *k = xcalloc(gr->nlines ? gr->nlines : 1, sizeof *k);
    for (size_t i = 0; i < gr->nlines; i++)
        if (ce_expr_match(q->filter, &gr->lines[i])) {
            k[gr->nkept].key = ce_group_key(q, &gr->lines[i]);
            k[gr->nkept++].line = i;
        }
    qsort(k, gr->nkept, sizeof *k, ce_keyed_cmp);
    gr->kept = xcalloc(gr->nkept ? gr->nkept : 1, sizeof *gr->kept);
    gr->line_group = xcalloc(gr->nkept ? gr->nkept : 1, sizeof *gr->line_group);
    gr->keys = xcalloc(gr->nkept ? gr->nkept : 1, sizeof *gr->keys);
    for (size_t i = 0; i < gr->nkept; i++) {
        if (gr->ngroups == 0 || strcmp(gr->keys[gr->ngroups - 1], k[i].key) != 0)
            gr->keys[gr->ngroups++] = k[i].key;
        else
            free(k[i].key);
        gr->kept[i] = k[i].line;
        gr->line_group[i] = gr->ngroups - 1;
    }
    free(k);
}

static void ce_grouping_free(ce_grouping *gr)
{
    for (size_t i = 0; i < gr->ngroups; i++)
        free(gr->keys[i]);
    free(gr->keys);
    free(gr->kept);
    free(gr->line_group);
    free(gr->lines);
}

static json_t *ce_metric_value(double v, const char *unit)
{
    char amt[48];
    ce_amount(v, amt);
    return json_pack("{s:s, s:s}", "Amount", amt, "Unit", unit);
}

static json_t *ce_period_json(time_t s, time_t e)
{
    char a[11], b[11];
    ce_format_date(s, a);
    ce_format_date(e, b);
    return json_pack("{s:s, s:s}", "Start", a, "End", b);
}

/* Sums a line's metric amounts over [s, e) into acc[nmetrics]. */
static void ce_sum_line(const world *w, const ce_query *q, const ce_line *l, time_t s, time_t e,
                        double *acc)
{
    for (time_t d = s; d < e; d += CE_DAY) {
        double u = world_cost_daily(w, l->acct->id, l->service, l->region, d);
        if (u == 0)
            continue;
        for (size_t m = 0; m < q->nmetrics; m++)
            acc[m] += ce_metric_amount(q->metrics[m], l, u);
    }
}

static json_t *ce_metrics_json(const ce_query *q, const double *acc)
{
    json_t *o = json_object();
    for (size_t m = 0; m < q->nmetrics; m++)
        json_object_set_new(o, q->metric_names[m], ce_metric_value(acc[m], q->metrics[m]->unit));
    return o;
}

static json_t *ce_keys_json(const char *key, size_t ngroups)
{
    json_t *keys = json_array();
    const char *sep = ngroups == 2 ? strchr(key, '\x1f') : NULL;
    if (sep) {
        char *first = xstrndup(key, (size_t)(sep - key));
        json_array_append_new(keys, json_string(first));
        json_array_append_new(keys, json_string(sep + 1));
        free(first);
    } else {
        json_array_append_new(keys, json_string(key));
    }
    return keys;
}

/* One ResultsByTime entry for period [s, e). seen[g] marks groups answered. */
static json_t *ce_result(sbx_call *c, const ce_query *q, const ce_grouping *gr, time_t s, time_t e,
                         bool *seen)
{
    const world *w = call_world(c);
    size_t ng = gr->ngroups ? gr->ngroups : 1;
    double *acc = xcalloc(ng * CE_MAX_METRICS, sizeof *acc);
    bool *used = xcalloc(ng, sizeof *used);
    for (size_t i = 0; i < gr->nkept; i++) {
        double *a = &acc[gr->line_group[i] * CE_MAX_METRICS];
        double before = a[0];
        ce_sum_line(w, q, &gr->lines[gr->kept[i]], s, e, a);
        used[gr->line_group[i]] |= a[0] != before;
    }
    json_t *r = json_object();
    json_object_set_new(r, "TimePeriod", ce_period_json(s, e));
    json_t *groups = json_array();
    if (q->ngroups == 0) {
        double total[CE_MAX_METRICS] = {0};
        for (size_t g = 0; g < gr->ngroups; g++)
            for (size_t m = 0; m < q->nmetrics; m++)
                total[m] += acc[g * CE_MAX_METRICS + m];
        json_object_set_new(r, "Total", ce_metrics_json(q, total));
    } else {
        json_object_set_new(r, "Total", json_object());
        for (size_t g = 0; g < gr->ngroups; g++) {
            if (!used[g])
                continue;
            seen[g] = true;
            json_array_append_new(
                groups, json_pack("{s:o, s:o}", "Keys", ce_keys_json(gr->keys[g], q->ngroups),
                                  "Metrics", ce_metrics_json(q, &acc[g * CE_MAX_METRICS])));
        }
    }
    json_object_set_new(r, "Groups", groups);
    json_object_set_new(r, "Estimated", json_boolean(e > ce_today(c)));
    free(acc);
    free(used);
    return r;
}

/* DimensionValueAttributes: account names for LINKED_ACCOUNT groups. */
static json_t *ce_dim_attributes(const ce_query *q, const ce_grouping *gr, const bool *seen)
{
    json_t *arr = json_array();
    for (size_t d = 0; d < q->ngroups; d++) {
        if (!q->groups[d].dim || strcmp(q->groups[d].key, "LINKED_ACCOUNT") != 0)
            continue;
        for (size_t i = 0; i < gr->nkept; i++) {
            const ce_line *l = &gr->lines[gr->kept[i]];
            if (!seen[gr->line_group[i]])
                continue;
            bool dup = false;
            for (size_t k = 0; k < json_array_size(arr) && !dup; k++)
                dup = strcmp(json_string_value(json_object_get(json_array_get(arr, k), "Value")),
                             l->acct->id) == 0;
            if (!dup)
                json_array_append_new(arr, json_pack("{s:s, s:{s:s}}", "Value", l->acct->id,
                                                     "Attributes", "description", l->acct->name));
        }
    }
    return arr;
}

static bool ce_get_cost_and_usage(sbx_call *c)
{
    ce_query q = {0};
    if (!ce_parse_usage_query(c, &q)) {
        ce_expr_free(q.filter);
        return false;
    }
    size_t offset = 0;
    const char *tok = json_string_value(json_object_get(call_json(c), "NextPageToken"));
    if (tok && !call_page_offset(c, tok, &offset)) {
        ce_expr_free(q.filter);
        return false;
    }
    ce_grouping gr;
    ce_grouping_build(c, &q, &gr);
    size_t nper;
    time_t *per = ce_periods(q.start, q.end, q.monthly, &nper);
    size_t per_page = q.ngroups ? CE_PAGE_GROUPS / (gr.ngroups ? gr.ngroups : 1) : nper;
    if (per_page == 0)
        per_page = 1;
    size_t stop = offset + per_page < nper ? offset + per_page : nper;

    json_t *out = json_object();
    bool *seen = xcalloc(gr.ngroups ? gr.ngroups : 1, sizeof *seen);
    json_t *results = json_array();
    for (size_t p = offset; p < stop; p++)
        json_array_append_new(results, ce_result(c, &q, &gr, per[p], per[p + 1], seen));
    if (q.ngroups) {
        json_t *defs = json_array();
        for (size_t g = 0; g < q.ngroups; g++)
            json_array_append_new(
                defs, json_pack("{s:s, s:s}", "Type", q.groups[g].type, "Key", q.groups[g].key));
        json_object_set_new(out, "GroupDefinitions", defs);
    }
    json_object_set_new(out, "ResultsByTime", results);
    json_object_set_new(out, "DimensionValueAttributes", ce_dim_attributes(&q, &gr, seen));
    if (stop < nper) {
        char *next = call_page_token(c, stop);
        json_object_set_new(out, "NextPageToken", json_string(next));
    }
    call_note(c, "%zu periods from %zu, %zu groups", stop > offset ? stop - offset : 0, offset,
              gr.ngroups);
    call_json_reply(c, out);
    free(seen);
    free(per);
    ce_grouping_free(&gr);
    ce_expr_free(q.filter);
    return true;
}

/* ---- forecast ---- */

#define CE_TREND_DAYS 30

/* The standard normal quantile for a two-sided interval of `level` percent
 * (Abramowitz and Stegun 26.2.23, error below 4.5e-4). */
static double ce_z(int level)
{
    double p = (1.0 - level / 100.0) / 2.0;
    double t = sqrt(-2.0 * log(p));
    return t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
                   (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
}

static bool ce_get_cost_forecast(sbx_call *c)
{
    json_t *body = call_json(c);
    ce_query q = {0};
    if (!ce_time_period(c, body, &q.start, &q.end))
        return false;
    char sa[11], sb[11];
    ce_format_date(q.start, sa);
    ce_format_date(q.end, sb);
    if (q.start >= q.end)
        return call_error(c, 400, "ValidationException",
                          "Requested Start: %s must be before requested End: %s", sa, sb);
    time_t today = ce_today(c);
    if (q.start < today) {
        char td[11];
        ce_format_date(today, td);
        return call_error(c, 400, "ValidationException",
                          "Start date must be equal to or later than the current date: %s", td);
    }
    const char *mname = json_string_value(json_object_get(body, "Metric"));
    const ce_metric *m = mname ? ce_metric_find(mname) : NULL;
    if (!m)
        return call_error(c, 400, "ValidationException", "Invalid metric: %s",
                          mname ? mname : "null");
    if (!ce_granularity(c, body, &q.monthly))
        return false;
    json_t *lv = json_object_get(body, "PredictionIntervalLevel");
    int level = lv ? (int)json_integer_value(lv) : 80;
    if (lv && (!json_is_integer(lv) || level < 51 || level > 99))
        return call_error(c, 400, "ValidationException",
                          "PredictionIntervalLevel must be between 51 and 99");
    if (!ce_expr_parse(c, json_object_get(body, "Filter"), &q.filter))
        return false;
    q.metrics[0] = m;
    q.metric_names[0] = mname;
    q.nmetrics = 1;

    /* Least squares over the last CE_TREND_DAYS days' totals. */
    ce_grouping gr;
    ce_grouping_build(c, &q, &gr);
    const world *w = call_world(c);
    double y[CE_TREND_DAYS];
    time_t h0 = today - CE_TREND_DAYS * CE_DAY;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int d = 0; d < CE_TREND_DAYS; d++) {
        double acc[CE_MAX_METRICS] = {0};
        time_t day = h0 + (time_t)d * CE_DAY;
        for (size_t i = 0; i < gr.nkept; i++)
            ce_sum_line(w, &q, &gr.lines[gr.kept[i]], day, day + CE_DAY, acc);
        y[d] = acc[0];
        sx += d;
        sy += y[d];
        sxx += (double)d * d;
        sxy += d * y[d];
    }
    double n = CE_TREND_DAYS;
    double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    double icpt = (sy - slope * sx) / n;
    double ss = 0;
    for (int d = 0; d < CE_TREND_DAYS; d++) {
        double r = y[d] - (icpt + slope * d);
        ss += r * r;
    }
    double sigma = sqrt(ss / (n - 2));
    double z = ce_z(level);

    size_t nper;
    time_t *per = ce_periods(q.start, q.end, q.monthly, &nper);
    json_t *results = json_array();
    double total = 0;
    for (size_t p = 0; p < nper; p++) {
        double mean = 0;
        size_t days = 0;
        for (time_t d = per[p]; d < per[p + 1]; d += CE_DAY, days++) {
            double x = (double)((d - h0) / CE_DAY);
            double f = icpt + slope * x;
            mean += f > 0 ? f : 0;
        }
        double half = z * sigma * sqrt((double)days);
        char am[48], lo[48], hi[48];
        ce_amount(mean, am);
        ce_amount(mean - half > 0 ? mean - half : 0, lo);
        ce_amount(mean + half, hi);
        json_array_append_new(results, json_pack("{s:o, s:s, s:s, s:s}", "TimePeriod",
                                                 ce_period_json(per[p], per[p + 1]), "MeanValue",
                                                 am, "PredictionIntervalLowerBound", lo,
                                                 "PredictionIntervalUpperBound", hi));
        total += mean;
    }
    json_t *out = json_object();
    json_object_set_new(out, "Total", ce_metric_value(total, m->unit));
    json_object_set_new(out, "ForecastResultsByTime", results);
    call_note(c, "forecast %s..%s trend %.4f/day", sa, sb, slope);
    call_json_reply(c, out);
    free(per);
    ce_grouping_free(&gr);
    ce_expr_free(q.filter);
    return true;
}

static const sbx_action ce_actions[] = {
    {"GetCostAndUsage", SBX_DESCRIBE, ce_get_cost_and_usage, false, NULL, NULL, false},
    {"GetCostForecast", SBX_DESCRIBE, ce_get_cost_forecast, false, NULL, NULL, false},
};

/* AWS Cost Explorer: one global endpoint in us-east-1. */
const sbx_service svc_ce = {
    .signing_name = "ce",
    .iam_prefix = "ce",
    .protocol = AWS_PROTO_JSON,
    .xml_namespace = NULL,
    .json_target = "AWSInsightsIndexService",
    .global = true,
    .actions = ce_actions,
    .nactions = sizeof ce_actions / sizeof ce_actions[0],
};
