/* Cost Explorer's data model in the sandbox: billed lines, dimensions,
 * derived cost allocation tags, filter expressions, metrics and dates. */
#include "svc_ce_internal.h"

#include "core/xmalloc.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- lines and tags ---- */

const char *const ce_tag_keys[CE_NTAGS] = {"env", "team"};

/* Values each derived tag takes; "" is a line without the tag, as real
 * bills always have some untagged spend. */
static const char *const ce_tag_values[CE_NTAGS][4] = {
    {"prod", "dev", "staging", ""},
    {"platform", "data", "web", ""},
};

static uint64_t ce_hash(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* Tags are a pure function of (seed, account, service, region, key), so a
 * line always carries the same tags and grouping by tag sums to the total. */
static const char *ce_derive_tag(const world *w, const ce_line *l, size_t k)
{
    uint64_t h = ce_hash(1469598103934665603ULL ^ w->seed, l->acct->id);
    h = ce_hash(h, l->service);
    h = ce_hash(h, l->region);
    h = ce_hash(h, ce_tag_keys[k]);
    return ce_tag_values[k][h % 4];
}

ce_line *ce_lines(sbx_call *c, size_t *n)
{
    world *w = call_world(c);
    sbx_account *me = call_account(c);
    sbx_account *const *accts = &me;
    size_t naccts = 1;
    if (me->is_management) {
        accts = w->accounts;
        naccts = w->naccounts;
    }
    size_t cap = naccts * world_ncost_services * w->nregions;
    ce_line *lines = xcalloc(cap ? cap : 1, sizeof *lines);
    size_t k = 0;
    for (size_t a = 0; a < naccts; a++)
        for (size_t s = 0; s < world_ncost_services; s++)
            for (size_t r = 0; r < w->nregions; r++) {
                ce_line *l = &lines[k++];
                l->acct = accts[a];
                l->service = world_cost_services[s];
                l->region = w->region_names[r];
                for (size_t t = 0; t < CE_NTAGS; t++)
                    l->tags[t] = ce_derive_tag(w, l, t);
            }
    *n = k;
    return lines;
}

const char *ce_line_tag(const ce_line *l, const char *key)
{
    for (size_t t = 0; t < CE_NTAGS; t++)
        if (strcmp(ce_tag_keys[t], key) == 0)
            return l->tags[t];
    return NULL;
}

/* ---- dimensions ---- */

static const char *dim_account(const ce_line *l)
{
    return l->acct->id;
}
static const char *dim_account_name(const ce_line *l)
{
    return l->acct->name;
}
static const char *dim_service(const ce_line *l)
{
    return l->service;
}
static const char *dim_region(const ce_line *l)
{
    return l->region;
}
static const char *dim_record_type(const ce_line *l)
{
    (void)l;
    return "Usage";
}

static const ce_dim ce_dims[] = {
    {"LINKED_ACCOUNT", dim_account},  {"LINKED_ACCOUNT_NAME", dim_account_name},
    {"SERVICE", dim_service},         {"REGION", dim_region},
    {"RECORD_TYPE", dim_record_type},
};

/* Every dimension of the API (botocore's Dimension enum). */
static const char *const ce_all_dims[] = {
    "AZ",
    "INSTANCE_TYPE",
    "LINKED_ACCOUNT",
    "LINKED_ACCOUNT_NAME",
    "OPERATION",
    "PURCHASE_TYPE",
    "REGION",
    "SERVICE",
    "SERVICE_CODE",
    "USAGE_TYPE",
    "USAGE_TYPE_GROUP",
    "RECORD_TYPE",
    "OPERATING_SYSTEM",
    "TENANCY",
    "SCOPE",
    "PLATFORM",
    "SUBSCRIPTION_ID",
    "LEGAL_ENTITY_NAME",
    "DEPLOYMENT_OPTION",
    "DATABASE_ENGINE",
    "CACHE_ENGINE",
    "INSTANCE_TYPE_FAMILY",
    "BILLING_ENTITY",
    "RESERVATION_ID",
    "RESOURCE_ID",
    "RIGHTSIZING_TYPE",
    "SAVINGS_PLANS_TYPE",
    "SAVINGS_PLAN_ARN",
    "PAYMENT_OPTION",
    "AGREEMENT_END_DATE_TIME_AFTER",
    "AGREEMENT_END_DATE_TIME_BEFORE",
    "INVOICING_ENTITY",
};

const ce_dim *ce_dim_find(const char *name)
{
    for (size_t i = 0; i < sizeof ce_dims / sizeof ce_dims[0]; i++)
        if (strcmp(ce_dims[i].name, name) == 0)
            return &ce_dims[i];
    return NULL;
}

bool ce_dim_known(const char *name)
{
    for (size_t i = 0; i < sizeof ce_all_dims / sizeof ce_all_dims[0]; i++)
        if (strcmp(ce_all_dims[i], name) == 0)
            return true;
    return false;
}

/* ---- filter expressions ---- */

typedef enum ce_op { CE_AND, CE_OR, CE_NOT, CE_DIM, CE_TAG } ce_op;

enum {
    CE_M_ABSENT = 1,
    CE_M_STARTS = 2,
    CE_M_ENDS = 4,
    CE_M_CONTAINS = 8,
    CE_M_NOCASE = 16,
};

struct ce_expr {
    ce_op op;
    ce_expr **kids;
    size_t nkids;
    const ce_dim *dim;
    char *tag_key;
    char **values;
    size_t nvalues;
    unsigned match;
};

void ce_expr_free(ce_expr *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nkids; i++)
        ce_expr_free(x->kids[i]);
    free(x->kids);
    for (size_t i = 0; i < x->nvalues; i++)
        free(x->values[i]);
    free(x->values);
    free(x->tag_key);
    free(x);
}

static const struct {
    const char *name;
    unsigned bit;
} ce_match_options[] = {
    {"EQUALS", 0},
    {"ABSENT", CE_M_ABSENT},
    {"STARTS_WITH", CE_M_STARTS},
    {"ENDS_WITH", CE_M_ENDS},
    {"CONTAINS", CE_M_CONTAINS},
    {"CASE_SENSITIVE", 0},
    {"CASE_INSENSITIVE", CE_M_NOCASE},
};

/* Reads Key/Values/MatchOptions of a Dimensions or Tags object. */
static bool ce_parse_values(sbx_call *c, json_t *j, const char *what, ce_expr *x, const char **key)
{
    if (!json_is_object(j))
        return call_error(c, 400, "ValidationException", "%s must be an object", what);
    *key = json_string_value(json_object_get(j, "Key"));
    json_t *vals = json_object_get(j, "Values");
    size_t n = json_is_array(vals) ? json_array_size(vals) : 0;
    x->values = xcalloc(n ? n : 1, sizeof *x->values);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(vals, i));
        if (!v)
            return call_error(c, 400, "ValidationException", "%s values must be strings", what);
        x->values[x->nvalues++] = xstrdup(v);
    }
    json_t *opts = json_object_get(j, "MatchOptions");
    for (size_t i = 0; json_is_array(opts) && i < json_array_size(opts); i++) {
        const char *o = json_string_value(json_array_get(opts, i));
        size_t k = 0;
        for (; o && k < sizeof ce_match_options / sizeof ce_match_options[0]; k++)
            if (strcmp(ce_match_options[k].name, o) == 0)
                break;
        if (!o || k == sizeof ce_match_options / sizeof ce_match_options[0])
            return call_error(c, 400, "ValidationException", "Invalid MatchOption: %s",
                              o ? o : "(not a string)");
        x->match |= ce_match_options[k].bit;
    }
    return true;
}

static bool ce_parse_node(sbx_call *c, json_t *j, int depth, ce_expr *x);

static bool ce_parse_list(sbx_call *c, json_t *arr, const char *op, int depth, ce_expr *x)
{
    if (!json_is_array(arr) || json_array_size(arr) < 2)
        return call_error(c, 400, "ValidationException",
                          "%s expression must have at least 2 operands", op);
    x->kids = xcalloc(json_array_size(arr), sizeof *x->kids);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        ce_expr *k = xcalloc(1, sizeof *k);
        x->kids[x->nkids++] = k;
        if (!ce_parse_node(c, json_array_get(arr, i), depth + 1, k))
            return false;
    }
    return true;
}

static bool ce_parse_node(sbx_call *c, json_t *j, int depth, ce_expr *x)
{
    static const char *const roots[] = {"And", "Or", "Not", "Dimensions", "Tags", "CostCategories"};
    if (depth > 16)
        return call_error(c, 400, "ValidationException", "Expression is nested too deeply");
    if (!json_is_object(j))
        return call_error(c, 400, "ValidationException", "Expression must be an object");
    int which = -1, count = 0;
    for (int i = 0; i < 6; i++)
        if (json_object_get(j, roots[i])) {
            which = i;
            count++;
        }
    if (count != 1)
        return call_error(c, 400, "ValidationException",
                          "Expression must have exactly one of And, Or, Not, Dimensions, Tags "
                          "or CostCategories (found %d)",
                          count);
    json_t *v = json_object_get(j, roots[which]);
    const char *key = NULL;
    switch (which) {
    case 0:
        x->op = CE_AND;
        return ce_parse_list(c, v, "And", depth, x);
    case 1:
        x->op = CE_OR;
        return ce_parse_list(c, v, "Or", depth, x);
    case 2:
        x->op = CE_NOT;
        x->kids = xcalloc(1, sizeof *x->kids);
        x->kids[0] = xcalloc(1, sizeof **x->kids);
        x->nkids = 1;
        return ce_parse_node(c, v, depth + 1, x->kids[0]);
    case 3:
        x->op = CE_DIM;
        if (!ce_parse_values(c, v, "Dimensions", x, &key))
            return false;
        if (!key || !ce_dim_known(key))
            return call_error(c, 400, "ValidationException", "Dimension %s is not allowed.",
                              key ? key : "null");
        x->dim = ce_dim_find(key);
        if (!x->dim)
            return call_error(c, 400, "ValidationException",
                              "Dimension %s is not simulated by escher-sandbox", key);
        if (x->nvalues == 0)
            return call_error(c, 400, "ValidationException", "Values are required for dimension %s",
                              key);
        return true;
    case 4:
        x->op = CE_TAG;
        if (!ce_parse_values(c, v, "Tags", x, &key))
            return false;
        if (!key || !*key)
            return call_error(c, 400, "ValidationException", "Tag key is required");
        x->tag_key = xstrdup(key);
        return true;
    default:
        return call_error(c, 400, "ValidationException",
                          "Cost category filters are not simulated by escher-sandbox");
    }
}

bool ce_expr_parse(sbx_call *c, json_t *j, ce_expr **out)
{
    *out = NULL;
    if (!j || json_is_null(j))
        return true;
    ce_expr *x = xcalloc(1, sizeof *x);
    if (!ce_parse_node(c, j, 0, x)) {
        ce_expr_free(x);
        return false;
    }
    *out = x;
    return true;
}

static bool ce_value_match(const ce_expr *x, const char *s)
{
    size_t sl = strlen(s);
    int (*cmp)(const char *, const char *, size_t) =
        (x->match & CE_M_NOCASE) ? strncasecmp : strncmp;
    for (size_t i = 0; i < x->nvalues; i++) {
        const char *v = x->values[i];
        size_t vl = strlen(v);
        if (x->match & CE_M_STARTS) {
            if (vl <= sl && cmp(s, v, vl) == 0)
                return true;
        } else if (x->match & CE_M_ENDS) {
            if (vl <= sl && cmp(s + sl - vl, v, vl) == 0)
                return true;
        } else if (x->match & CE_M_CONTAINS) {
            for (size_t k = 0; vl <= sl && k <= sl - vl; k++)
                if (cmp(s + k, v, vl) == 0)
                    return true;
        } else if (vl == sl && cmp(s, v, vl) == 0) {
            return true;
        }
    }
    return false;
}

bool ce_expr_match(const ce_expr *x, const ce_line *l)
{
    if (!x)
        return true;
    switch (x->op) {
    case CE_AND:
        for (size_t i = 0; i < x->nkids; i++)
            if (!ce_expr_match(x->kids[i], l))
                return false;
        return true;
    case CE_OR:
        for (size_t i = 0; i < x->nkids; i++)
            if (ce_expr_match(x->kids[i], l))
                return true;
        return false;
    case CE_NOT:
        return !ce_expr_match(x->kids[0], l);
    case CE_DIM:
        return ce_value_match(x, x->dim->value(l));
    case CE_TAG: {
        const char *v = ce_line_tag(l, x->tag_key);
        bool absent = !v || !*v;
        if (x->match & CE_M_ABSENT)
            return absent;
        if (absent)
            return false;
        return x->nvalues == 0 || ce_value_match(x, v);
    }
    }
    return false;
}

/* ---- metrics ---- */

static const ce_metric ce_metrics[] = {
    {"UnblendedCost", "UNBLENDED_COST", "USD", false},
    {"BlendedCost", "BLENDED_COST", "USD", false},
    {"AmortizedCost", "AMORTIZED_COST", "USD", false},
    {"NetUnblendedCost", "NET_UNBLENDED_COST", "USD", false},
    {"NetAmortizedCost", "NET_AMORTIZED_COST", "USD", false},
    {"UsageQuantity", "USAGE_QUANTITY", "N/A", true},
    {"NormalizedUsageAmount", "NORMALIZED_USAGE_AMOUNT", "N/A", true},
};

const ce_metric *ce_metric_find(const char *name)
{
    for (size_t i = 0; i < sizeof ce_metrics / sizeof ce_metrics[0]; i++)
        if (strcasecmp(ce_metrics[i].name, name) == 0 ||
            strcasecmp(ce_metrics[i].enum_name, name) == 0)
            return &ce_metrics[i];
    return NULL;
}

double ce_metric_amount(const ce_metric *m, const ce_line *l, double u)
{
    if (strcmp(m->enum_name, "BLENDED_COST") == 0) {
        /* Blended rates average an organization's tiers: a fixed per-account
         * discount of 0-4% keeps blended and unblended visibly different. */
        uint64_t h = ce_hash(1469598103934665603ULL, l->acct->id);
        return u * (0.96 + 0.04 * (double)(h % 1000) / 1000.0);
    }
    if (m->usage) {
        /* Usage in the line's own unit: hours at a per-service rate. */
        uint64_t h = ce_hash(1469598103934665603ULL, l->service);
        return u / (0.02 + 0.2 * (double)(h % 100) / 100.0);
    }
    return u;
}

/* ---- dates ---- */

bool ce_parse_date(const char *s, time_t *out)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return false;
    struct tm tm = {0};
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1)
        return false;
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != atoi(s + 8))
        return false; /* 2024-02-30 */
    *out = t;
    return true;
}

void ce_format_date(time_t t, char out[11])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}

time_t ce_next_month(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mday = 1;
    tm.tm_mon++;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return timegm(&tm);
}

bool ce_time_period(sbx_call *c, json_t *body, time_t *start, time_t *end)
{
    json_t *tp = json_object_get(body, "TimePeriod");
    const char *s = json_string_value(json_object_get(tp, "Start"));
    const char *e = json_string_value(json_object_get(tp, "End"));
    if (!s || !e)
        return call_error(c, 400, "ValidationException",
                          "TimePeriod with Start and End is required");
    if (!ce_parse_date(s, start))
        return call_error(c, 400, "ValidationException", "Start date is invalid: %s", s);
    if (!ce_parse_date(e, end))
        return call_error(c, 400, "ValidationException", "End date is invalid: %s", e);
    return true;
}

time_t *ce_periods(time_t start, time_t end, bool monthly, size_t *n)
{
    size_t cap = 16, k = 0;
    time_t *p = xmalloc(cap * sizeof *p);
    for (time_t t = start; t < end; t = monthly ? ce_next_month(t) : t + 86400) {
        if (k + 2 > cap) {
            cap *= 2;
            p = xreallocarray(p, cap, sizeof *p);
        }
        p[k++] = t;
    }
    p[k] = end;
    *n = k;
    return p;
}

void ce_amount(double v, char out[48])
{
    if (!isfinite(v) || fabs(v) < 5e-11)
        v = 0;
    snprintf(out, 48, "%.10f", v);
    char *dot = strchr(out, '.');
    if (dot) {
        char *z = out + strlen(out) - 1;
        while (z > dot && *z == '0')
            *z-- = '\0';
        if (z == dot)
            *z = '\0';
    }
    if (strcmp(out, "-0") == 0)
        strcpy(out, "0");
}
