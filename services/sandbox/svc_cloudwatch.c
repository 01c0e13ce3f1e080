/* Amazon CloudWatch (query protocol): GetMetricData over the world's
 * per-instance CPU series.
 *
 * The world has basic monitoring: one CPUUtilization sample per instance
 * every 5 minutes (world_cpu_at). A query's period buckets are aligned to
 * multiples of the period and aggregate the samples that fall in them;
 * buckets without samples are absent, as in CloudWatch. Other metrics exist
 * but have no data (an empty, Complete result). Pages split the answer's
 * datapoints, queries in order, at MaxDatapoints. */
#include "call.h"

#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CW_XMLNS       "http://monitoring.amazonaws.com/doc/2010-08-01/"
#define CW_SAMPLE      300 /* basic monitoring resolution */
#define CW_MAX_POINTS  100800
#define CW_MAX_QUERIES 500

typedef enum cw_stat { CW_AVG, CW_MAX, CW_MIN, CW_SUM, CW_COUNT } cw_stat;

static const char *const cw_stat_names[] = {"Average", "Maximum", "Minimum", "Sum", "SampleCount"};

typedef struct cw_query {
    char *id;
    char *label;
    bool return_data;
    long period;
    cw_stat stat;
    const sbx_instance *inst; /* NULL: a metric without data */
    time_t *ts;               /* ascending, or descending with ScanBy TimestampDescending */
    double *vals;
    size_t n;
} cw_query;

static const char *cw_qparam(sbx_call *c, size_t i, const char *suffix)
{
    char name[160];
    snprintf(name, sizeof name, "MetricDataQueries.member.%zu.%s", i, suffix);
    return call_param(c, name);
}

static bool cw_parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

static bool cw_id_valid(const char *id)
{
    if (!islower((unsigned char)id[0]))
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return strlen(id) <= 255;
}

/* The instance a CPUUtilization query names, if it exists here. */
static const sbx_instance *cw_instance(sbx_call *c, size_t i)
{
    const char *ns = cw_qparam(c, i, "MetricStat.Metric.Namespace");
    const char *metric = cw_qparam(c, i, "MetricStat.Metric.MetricName");
    if (!ns || !metric || strcmp(ns, "AWS/EC2") != 0 || strcmp(metric, "CPUUtilization") != 0)
        return NULL;
    const char *dname = cw_qparam(c, i, "MetricStat.Metric.Dimensions.member.1.Name");
    const char *dval = cw_qparam(c, i, "MetricStat.Metric.Dimensions.member.1.Value");
    /* A metric is its exact dimension set: InstanceId alone. */
    if (!dname || !dval || strcmp(dname, "InstanceId") != 0 ||
        cw_qparam(c, i, "MetricStat.Metric.Dimensions.member.2.Name"))
        return NULL;
    sbx_region *r = call_region_state(c);
    for (size_t k = 0; r && k < r->ninstances; k++)
        if (strcmp(r->instances[k]->id, dval) == 0)
            return r->instances[k];
    return NULL;
}

static bool cw_parse_query(sbx_call *c, size_t i, cw_query *q)
{
    const char *id = cw_qparam(c, i, "Id");
    if (!id)
        return call_error(c, 400, "MissingParameter",
                          "The parameter MetricDataQueries.member.%zu.Id is required.", i);
    if (!cw_id_valid(id))
        return call_error(c, 400, "ValidationError",
                          "The value %s for parameter MetricDataQueries.member.%zu.Id is not "
                          "valid. It must start with a lowercase letter and contain only "
                          "letters, numbers and underscores.",
                          id, i);
    q->id = xstrdup(id);
    if (cw_qparam(c, i, "Expression"))
        return call_error(c, 400, "ValidationError",
                          "Metric math expressions are not simulated by escher-sandbox.");
    const char *rd = cw_qparam(c, i, "ReturnData");
    q->return_data = !rd || strcmp(rd, "false") != 0;
    const char *metric = cw_qparam(c, i, "MetricStat.Metric.MetricName");
    if (!metric)
        return call_error(c, 400, "ValidationError",
                          "The parameter MetricDataQueries.member.%zu.MetricStat is required.", i);
    const char *label = cw_qparam(c, i, "Label");
    q->label = xstrdup(label ? label : metric);
    const char *ps = cw_qparam(c, i, "MetricStat.Period");
    if (!ps || !cw_parse_long(ps, &q->period) || q->period <= 0 ||
        (q->period % 60 != 0 && q->period != 1 && q->period != 5 && q->period != 10 &&
         q->period != 30))
        return call_error(c, 400, "ValidationError",
                          "The value %s for parameter MetricDataQueries.member.%zu.MetricStat."
                          "Period is not valid. The period must be 1, 5, 10, 30, or a multiple "
                          "of 60.",
                          ps ? ps : "null", i);
    const char *stat = cw_qparam(c, i, "MetricStat.Stat");
    size_t s = 0;
    for (; stat && s < sizeof cw_stat_names / sizeof cw_stat_names[0]; s++)
        if (strcmp(cw_stat_names[s], stat) == 0)
            break;
    if (!stat || s == sizeof cw_stat_names / sizeof cw_stat_names[0])
        return call_error(c, 400, "ValidationError",
                          "The value %s for parameter MetricDataQueries.member.%zu.MetricStat."
                          "Stat is not valid.",
                          stat ? stat : "null", i);
    q->stat = (cw_stat)s;
    q->inst = cw_instance(c, i);
    return true;
}

/* Fills q->ts/vals with one datapoint per period bucket holding samples. */
static void cw_compute(sbx_call *c, cw_query *q, time_t start, time_t end, bool descending)
{
    if (!q->inst)
        return;
    const world *w = call_world(c);
    time_t now = call_now(c);
    time_t first = start - start % q->period;
    size_t cap = 0;
    for (time_t b = first; b < end; b += q->period) {
        time_t t0 = b > start ? b : start;
        time_t t = t0 + (CW_SAMPLE - t0 % CW_SAMPLE) % CW_SAMPLE;
        double sum = 0, mn = INFINITY, mx = -INFINITY;
        size_t cnt = 0;
        for (; t < b + q->period && t < end && t <= now; t += CW_SAMPLE) {
            if (t < q->inst->launch_time)
                continue;
            double v = world_cpu_at(w, q->inst->id, t);
            if (!isfinite(v) || v < 0)
                continue;
            sum += v;
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            cnt++;
        }
        if (!cnt)
            continue;
        double val = 0;
        switch (q->stat) {
        case CW_AVG:
            val = sum / (double)cnt;
            break;
        case CW_MAX:
            val = mx;
            break;
        case CW_MIN:
            val = mn;
            break;
        case CW_SUM:
            val = sum;
            break;
        case CW_COUNT:
            val = (double)cnt;
            break;
        }
        if (q->n == cap) {
            cap = cap ? cap * 2 : 64;
            q->ts = xreallocarray(q->ts, cap, sizeof *q->ts);
            q->vals = xreallocarray(q->vals, cap, sizeof *q->vals);
        }
        q->ts[q->n] = b;
        q->vals[q->n++] = val;
    }
    for (size_t i = 0; descending && i < q->n / 2; i++) {
        size_t j = q->n - 1 - i;
        time_t tt = q->ts[i];
        q->ts[i] = q->ts[j];
        q->ts[j] = tt;
        double tv = q->vals[i];
        q->vals[i] = q->vals[j];
        q->vals[j] = tv;
    }
}

static bool cw_time_param(sbx_call *c, const char *name, time_t *out)
{
    const char *s = call_param(c, name);
    if (!s)
        return call_error(c, 400, "MissingParameter", "The parameter %s is required.", name);
    err e = {0};
    if (!timeutil_parse_iso8601(s, out, &e)) {
        char *end;
        double v = strtod(s, &end); /* epoch seconds, as some SDKs send */
        if (end == s || *end)
            return call_error(c, 400, "InvalidParameterValue",
                              "The parameter %s must be an ISO 8601 timestamp: %s", name, s);
        *out = (time_t)v;
    }
    return true;
}

static void cw_write_result(sbx_call *c, const cw_query *q, size_t from, size_t to, bool partial)
{
    call_xml_open(c, "member");
    call_xml_text(c, "Id", q->id);
    call_xml_text(c, "Label", q->label);
    call_xml_open(c, "Timestamps");
    for (size_t i = from; i < to; i++)
        call_xml_time(c, "member", q->ts[i]);
    call_xml_close(c, "Timestamps");
    call_xml_open(c, "Values");
    for (size_t i = from; i < to; i++)
        call_xml_double(c, "member", q->vals[i]);
    call_xml_close(c, "Values");
    call_xml_text(c, "StatusCode", partial ? "PartialData" : "Complete");
    call_xml_open(c, "Messages");
    call_xml_close(c, "Messages");
    call_xml_close(c, "member");
}

static void cw_free_queries(cw_query *qs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(qs[i].id);
        free(qs[i].label);
        free(qs[i].ts);
        free(qs[i].vals);
    }
    free(qs);
}

static bool cw_get_metric_data(sbx_call *c)
{
    time_t start, end;
    if (!cw_time_param(c, "StartTime", &start) || !cw_time_param(c, "EndTime", &end))
        return false;
    if (start >= end)
        return call_error(c, 400, "InvalidParameterValue",
                          "The parameter StartTime must be less than the parameter EndTime.");
    const char *scan = call_param(c, "ScanBy");
    if (scan && strcmp(scan, "TimestampDescending") != 0 && strcmp(scan, "TimestampAscending") != 0)
        return call_error(c, 400, "ValidationError",
                          "1 validation error detected: Value '%s' at 'scanBy' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [TimestampDescending, "
                          "TimestampAscending]",
                          scan);
    bool descending = !scan || strcmp(scan, "TimestampDescending") == 0;
    long maxdp = CW_MAX_POINTS;
    const char *mds = call_param(c, "MaxDatapoints");
    if (mds && (!cw_parse_long(mds, &maxdp) || maxdp < 1))
        return call_error(c, 400, "InvalidParameterValue",
                          "The parameter MaxDatapoints must be a positive integer.");
    if (maxdp > CW_MAX_POINTS)
        maxdp = CW_MAX_POINTS;
    size_t offset = 0;
    const char *tok = call_param(c, "NextToken");
    if (tok && !call_page_offset(c, tok, &offset))
        return false;

    size_t nq = 0;
    while (nq < CW_MAX_QUERIES + 1 && cw_qparam(c, nq + 1, "Id"))
        nq++;
    if (nq == 0)
        return call_error(c, 400, "MissingParameter",
                          "The parameter MetricDataQueries is required.");
    if (nq > CW_MAX_QUERIES)
        return call_error(c, 400, "ValidationError",
                          "The collection MetricDataQueries must not have a size greater than "
                          "500.");
    cw_query *qs = xcalloc(nq, sizeof *qs);
    for (size_t i = 0; i < nq; i++) {
        if (!cw_parse_query(c, i + 1, &qs[i])) {
            cw_free_queries(qs, nq);
            return false;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(qs[k].id, qs[i].id) == 0) {
                call_error(c, 400, "ValidationError",
                           "The values for parameter id in MetricDataQueries are not unique.");
                cw_free_queries(qs, nq);
                return false;
            }
        cw_compute(c, &qs[i], start, end, descending);
    }

    /* The page is datapoints [offset, offset + maxdp) of the queries'
     * datapoints laid end to end. */
    size_t total = 0;
    for (size_t i = 0; i < nq; i++)
        total += qs[i].return_data ? qs[i].n : 0;
    size_t stop = offset + (size_t)maxdp < total ? offset + (size_t)maxdp : total;
    call_xml_open(c, "MetricDataResults");
    size_t base = 0;
    for (size_t i = 0; i < nq; i++) {
        if (!qs[i].return_data)
            continue;
        size_t lo = offset > base ? offset - base : 0;
        size_t hi = stop > base ? stop - base : 0;
        lo = lo < qs[i].n ? lo : qs[i].n;
        hi = hi < qs[i].n ? hi : qs[i].n;
        cw_write_result(c, &qs[i], lo, hi > lo ? hi : lo, hi < qs[i].n);
        base += qs[i].n;
    }
    call_xml_close(c, "MetricDataResults");
    if (stop < total) {
        char *next = call_page_token(c, stop);
        call_xml_text(c, "NextToken", next);
    }
    call_xml_open(c, "Messages");
    call_xml_close(c, "Messages");
    call_note(c, "%zu queries, datapoints %zu..%zu of %zu", nq, offset, stop, total);
    cw_free_queries(qs, nq);
    return true;
}

static const sbx_action cw_actions[] = {
    {"GetMetricData", SBX_DESCRIBE, cw_get_metric_data, false, NULL, NULL, false},
};

/* Amazon CloudWatch (signing name "monitoring"), API version 2010-08-01. */
const sbx_service svc_cloudwatch = {
    .signing_name = "monitoring",
    .iam_prefix = "cloudwatch",
    .protocol = AWS_PROTO_QUERY,
    .xml_namespace = CW_XMLNS,
    .json_target = NULL,
    .global = false,
    .actions = cw_actions,
    .nactions = sizeof cw_actions / sizeof cw_actions[0],
};
