/* Running an operation of the catalog (lib/ops) now, outside any schedule:
 * the routes POST /v1/runs and POST /v1/schedules/{id}/run, and the check
 * of an operation, its parameters and its target that the schedules routes
 * share, so that what a schedule stores and what a run takes are refused
 * with the same messages (the worker's, from lib/ops). */
#ifndef ESCHER_API_RUNS_H
#define ESCHER_API_RUNS_H

#include "api_req.h"

#include "core/err.h"
#include "ops/ops_catalog.h"

#include <jansson.h>
#include <stdbool.h>

/* Checks operation, params (an object or NULL for {}) and target against
 * the catalog exactly as the worker checks an ops.run payload. On success
 * *op (may be NULL) is the catalog entry; on failure *field is the body
 * field at fault ("operation", "params" or "target") and e says why. Pure. */
bool api_runs_validate(const char *operation, const json_t *params, const json_t *target_json,
                       const ops_op **op, const char **field, err *e);

/* api_runs_validate for a request body: records the 400 "invalid_field"
 * ("field 'params': ec2.resize: parameter 'instance_type' is ...") and
 * returns false when it fails. */
bool api_runs_check(api_req *r, const char *operation, const json_t *params,
                    const json_t *target_json, const ops_op **op);

#endif
