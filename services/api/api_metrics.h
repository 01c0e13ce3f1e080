/* Request counters and latency histograms for /metrics (Prometheus text
 * format 0.0.4), shared by every loop of the process through atomics: no
 * lock on the request path. */
#ifndef ESCHER_API_METRICS_H
#define ESCHER_API_METRICS_H

#include "core/strbuf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct api_metrics api_metrics;

/* Counters for nroutes routes plus one slot for requests that matched no
 * route. Caller frees. Aborts on allocation failure. */
api_metrics *api_metrics_new(size_t nroutes);
void api_metrics_free(api_metrics *m);

/* Counts one answered request: route index (nroutes for none), status and
 * time from first byte handled to answer queued. */
void api_metrics_observe(api_metrics *m, size_t route, int status, int64_t duration_us);

/* Counts a database reconnect (the connection was found broken). */
void api_metrics_db_reconnect(api_metrics *m);

/* Appends every metric in the text exposition format to out. */
void api_metrics_render(const api_metrics *m, strbuf *out);

#endif
