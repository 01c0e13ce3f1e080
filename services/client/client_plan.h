/* The preview of an operation plan: what would change, resource by
 * resource, read with the local AWS credentials before anything is asked
 * of the user. The listing and the decision per resource are lib/ops's
 * executors (the same requests and the same "already stopped" judgement as
 * the server's workers), so the preview and the run agree. */
#ifndef ESCHER_CLIENT_PLAN_H
#define ESCHER_CLIENT_PLAN_H

#include "aws/aws_client.h"
#include "core/err.h"
#include "ops/ops_catalog.h"
#include "ops/target.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* One resource of the preview. */
typedef struct client_plan_row {
    char *region;
    ops_resource res;
    ops_decision decision; /* at phase 0: ACT (or WAIT: acted on once settled), NOTHING, CANNOT */
    char action[160];      /* "stop", "resize from m5.large to m5.xlarge", "none" */
    const char *why;       /* static: why NOTHING or CANNOT; "" else */
} client_plan_row;

typedef struct client_plan {
    const ops_op *op;
    json_t *params; /* validated, owned */
    char *account;  /* the local credentials' account */
    char *principal;
    client_plan_row *rows;
    size_t nrows, cap;
    size_t nact; /* rows whose decision is ACT or WAIT */
    /* Regions whose listing failed, as "region: message" lines. */
    json_t *failures;
} client_plan;

/* The regions of t: its list, or for "all" every region enabled for the
 * account (EC2 DescribeRegions). def_region when the target names none.
 * Returns a JSON array of strings (caller decrefs), NULL with e set. */
json_t *client_plan_regions(aws_client *aws, const target *t, const char *def_region, err *e);

/* The regions a query plan's filters name: their list; "all": every
 * region enabled for the account (DescribeRegions); none: def_region, said
 * on stderr so a one-region answer does not pass for more. New array, or
 * NULL with e set. */
json_t *client_plan_query_regions(aws_client *aws, const json_t *filters, const char *def_region,
                                  err *e);

/* Checks the operation plan (lib/nlu's JSON: operation, params, target)
 * against the catalog and the local identity, lists the resources of each
 * region and decides on each. account/principal: the local credentials'
 * (STS GetCallerIdentity); a target naming other accounts only is refused
 * (local credentials reach their own account). Fails with ERR_INVALID for a
 * plan the catalog refuses or an operation without an executor, and with
 * the AWS error when nothing could be listed; a region that fails among
 * others is recorded in failures. *out freed with client_plan_free. */
bool client_plan_build(aws_client *aws, const json_t *plan, const char *def_region,
                       client_plan **out, err *e);

void client_plan_free(client_plan *p);

/* The preview table (account, region, resource, name, state, action, risk),
 * then the count line. */
void client_plan_print(FILE *out, const client_plan *p);

#endif
