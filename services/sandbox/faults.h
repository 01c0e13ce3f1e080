/* Injected trouble: EC2-style request throttling (token buckets per
 * service, account, region and API class), latency, random server errors and dropped
 * connections. Decisions come from a seeded PRNG so a test run repeats. */
#ifndef ESCHER_SANDBOX_FAULTS_H
#define ESCHER_SANDBOX_FAULTS_H

#include "call.h"

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sbx_faults sbx_faults;

/* Settings at start (and after a reset). */
typedef struct faults_config {
    bool throttle;       /* token buckets on */
    uint32_t latency_ms; /* fixed latency of every call */
    double error_rate;   /* 0..1: share answered 500/503 */
    uint64_t seed;
} faults_config;

/* What to do with one call. */
typedef struct fault_decision {
    bool throttled;      /* answer the protocol's throttling error */
    int error_status;    /* 500 or 503: answer InternalError / ServiceUnavailable; 0 none */
    bool drop;           /* close the connection without an answer */
    uint32_t latency_ms; /* delay before the answer */
} fault_decision;

sbx_faults *faults_new(const faults_config *cfg);
void faults_free(sbx_faults *f);
/* Back to the start settings, buckets full. */
void faults_reset(sbx_faults *f);

/* Decides for a call by (service, account, region, class) and action; takes
 * a token when throttling is on. now_ms: monotonic milliseconds. */
void faults_decide(sbx_faults *f, const char *account, const char *region, sbx_api_class cls,
                   const char *service, const char *action, uint64_t now_ms, fault_decision *out);

/* The settings as JSON (GET /faults). */
json_t *faults_to_json(const sbx_faults *f);
/* Changes the settings named in obj (PUT /faults); others keep their value.
 * Fails with ERR_INVALID naming the bad field; nothing changes then. */
bool faults_update(sbx_faults *f, const json_t *obj, err *e);

#endif
