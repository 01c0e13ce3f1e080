/* Executor of asg.set_capacity (ops_catalog.h): Auto Scaling groups' min,
 * max and desired capacity. Auto Scaling has no DryRun: a dry run lists what
 * it would do without calling. The listing filters on names only, so tags
 * and the name glob are matched on the answer. A group's "state" is its
 * capacity as "min/max/desired" ("1/4/2"). */
#ifndef ESCHER_OPS_OPS_ASG_H
#define ESCHER_OPS_OPS_ASG_H

#include "ops/ops_catalog.h"

extern const ops_executor OPS_ASG_SET_CAPACITY;

#endif
