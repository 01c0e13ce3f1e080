/* What the Cost Explorer files share: the cost lines the sandbox bills
 * (account x service x region, with derived cost allocation tags), filter
 * expressions, metrics and dates. Only svc_ce*.c include it. */
#ifndef ESCHER_SANDBOX_SVC_CE_INTERNAL_H
#define ESCHER_SANDBOX_SVC_CE_INTERNAL_H

#include "call.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Cost allocation tags derived from each cost line (see ce_line_tag). */
#define CE_NTAGS 2
extern const char *const ce_tag_keys[CE_NTAGS];

/* One billed line: an account's use of one service in one region. */
typedef struct ce_line {
    const sbx_account *acct;
    const char *service;
    const char *region;
    const char *tags[CE_NTAGS]; /* "" when the line is untagged for that key */
} ce_line;

/* The lines the caller may see: every organization account for the
 * management account (consolidated billing), else the caller's own. */
ce_line *ce_lines(sbx_call *c, size_t *n);

/* Value of a tag key on a line; NULL when the key is not a derived tag. */
const char *ce_line_tag(const ce_line *l, const char *key);

/* A dimension the sandbox can filter and group on. */
typedef struct ce_dim {
    const char *name; /* "LINKED_ACCOUNT" */
    const char *(*value)(const ce_line *l);
} ce_dim;

/* Finds a simulated dimension; NULL otherwise. */
const ce_dim *ce_dim_find(const char *name);
/* Whether name is one of Cost Explorer's dimensions at all. */
bool ce_dim_known(const char *name);

typedef struct ce_expr ce_expr;

/* Parses a Filter Expression; NULL json gives NULL with true (no filter).
 * Errors answer ValidationException. */
bool ce_expr_parse(sbx_call *c, json_t *j, ce_expr **out);
bool ce_expr_match(const ce_expr *x, const ce_line *l);
void ce_expr_free(ce_expr *x);

/* A cost metric as requested (UnblendedCost or UNBLENDED_COST spelling). */
typedef struct ce_metric {
    const char *name;      /* "UnblendedCost" */
    const char *enum_name; /* "UNBLENDED_COST" */
    const char *unit;      /* "USD", "N/A" */
    bool usage;            /* a usage quantity, not money */
} ce_metric;

const ce_metric *ce_metric_find(const char *name);
/* The metric's amount on a line for a day whose unblended cost is u. */
double ce_metric_amount(const ce_metric *m, const ce_line *l, double u);

/* Dates: UTC midnights. Parses "YYYY-MM-DD" strictly. */
bool ce_parse_date(const char *s, time_t *out);
void ce_format_date(time_t t, char out[11]);
/* The first day of the month after the one holding t. */
time_t ce_next_month(time_t t);

/* Reads TimePeriod {Start, End} (required); answers ValidationException. */
bool ce_time_period(sbx_call *c, json_t *body, time_t *start, time_t *end);

/* Splits [start, end) into periods of granularity "DAILY"/"MONTHLY":
 * fills a new array of period starts plus a final end (n + 1 entries). */
time_t *ce_periods(time_t start, time_t end, bool monthly, size_t *n);

/* Formats an amount as Cost Explorer does (plain decimal, no exponent). */
void ce_amount(double v, char out[48]);

#endif
