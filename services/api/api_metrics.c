/* /metrics counters (see api_metrics.h). Statuses are counted in a small
 * fixed set so the label set stays bounded whatever clients send. */
#include "api_metrics.h"

#include "api_route.h"

#include "core/xmalloc.h"

#include <stdatomic.h>
#include <stdlib.h>

static const int statuses[] = {200, 201, 202, 204, 400, 401, 403, 404,
                               405, 409, 413, 429, 500, 503, 0 /* other */};
#define NSTATUS (sizeof statuses / sizeof statuses[0])

/* Seconds; the upper bounds of the histogram's buckets, then +Inf. */
static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBOUNDS (sizeof bounds / sizeof bounds[0])

typedef struct route_metrics {
    atomic_ulong count[NSTATUS];
    atomic_ulong bucket[NBOUNDS + 1]; /* non-cumulative; rendered cumulative */
    atomic_ullong sum_us;
} route_metrics;

struct api_metrics {
    size_t nroutes;
    atomic_ulong db_reconnects;
    route_metrics *routes; /* nroutes + 1 */
};

api_metrics *api_metrics_new(size_t nroutes)
{
    api_metrics *m = xcalloc(1, sizeof *m);
    m->nroutes = nroutes;
    m->routes = xcalloc(nroutes + 1, sizeof *m->routes);
    return m;
}

void api_metrics_free(api_metrics *m)
{
    if (m == NULL)
        return;
    free(m->routes);
    free(m);
}

void api_metrics_observe(api_metrics *m, size_t route, int status, int64_t duration_us)
{
    route_metrics *rm = &m->routes[route < m->nroutes ? route : m->nroutes];
    size_t s = 0;
    while (s < NSTATUS - 1 && statuses[s] != status)
        s++;
    atomic_fetch_add_explicit(&rm->count[s], 1, memory_order_relaxed);
    double sec = (double)duration_us / 1e6;
    size_t b = 0;
    while (b < NBOUNDS && sec > bounds[b])
        b++;
    atomic_fetch_add_explicit(&rm->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->sum_us, (unsigned long long)(duration_us > 0 ? duration_us : 0),
                              memory_order_relaxed);
}

void api_metrics_db_reconnect(api_metrics *m)
{
    atomic_fetch_add_explicit(&m->db_reconnects, 1, memory_order_relaxed);
}

static void route_labels(const api_metrics *m, size_t i, const char **method, const char **path)
{
    const api_route *r = i < m->nroutes ? api_route_at(i) : NULL;
    *method = r ? r->method : "any";
    *path = r ? r->pattern : "unmatched";
}

void api_metrics_render(const api_metrics *m, strbuf *out)
{
    strbuf_puts(out, "# HELP escher_api_requests_total HTTP requests answered, by route and "
                     "status (status \"other\" for statuses not listed).\n"
                     "# TYPE escher_api_requests_total counter\n");
    for (size_t i = 0; i <= m->nroutes; i++) {
        const char *method, *path;
        route_labels(m, i, &method, &path);
        for (size_t s = 0; s < NSTATUS; s++) {
            unsigned long n = atomic_load_explicit(&m->routes[i].count[s], memory_order_relaxed);
            if (n == 0)
                continue;
            char code[8];
            if (statuses[s])
                snprintf(code, sizeof code, "%d", statuses[s]);
            else
                snprintf(code, sizeof code, "other");
            strbuf_printf(out,
                          "escher_api_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} "
                          "%lu\n",
                          method, path, code, n);
        }
    }
    strbuf_puts(out, "# HELP escher_api_request_duration_seconds Time to answer a request, by "
                     "route.\n"
                     "# TYPE escher_api_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= m->nroutes; i++) {
        const route_metrics *rm = &m->routes[i];
        unsigned long cum = 0;
        for (size_t b = 0; b <= NBOUNDS; b++)
            cum += atomic_load_explicit(&rm->bucket[b], memory_order_relaxed);
        if (cum == 0)
            continue;
        const char *method, *path;
        route_labels(m, i, &method, &path);
        cum = 0;
        for (size_t b = 0; b <= NBOUNDS; b++) {
            cum += atomic_load_explicit(&rm->bucket[b], memory_order_relaxed);
            char le[16];
            if (b < NBOUNDS)
                snprintf(le, sizeof le, "%g", bounds[b]);
            else
                snprintf(le, sizeof le, "+Inf");
            strbuf_printf(out,
                          "escher_api_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                          "le=\"%s\"} %lu\n",
                          method, path, le, cum);
        }
        strbuf_printf(out,
                      "escher_api_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
                      "escher_api_request_duration_seconds_count{method=\"%s\",route=\"%s\"} "
                      "%lu\n",
                      method, path,
                      (double)atomic_load_explicit(&rm->sum_us, memory_order_relaxed) / 1e6, method,
                      path, cum);
    }
    strbuf_printf(out,
                  "# HELP escher_api_db_reconnects_total Database connections found broken and "
                  "reopened.\n"
                  "# TYPE escher_api_db_reconnects_total counter\n"
                  "escher_api_db_reconnects_total %lu\n",
                  atomic_load_explicit(&m->db_reconnects, memory_order_relaxed));
}
