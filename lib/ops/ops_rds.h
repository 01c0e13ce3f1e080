/* Executors of the RDS operations (ops_catalog.h): rds.start, rds.stop and
 * rds.snapshot on DB instances. RDS has no DryRun: a dry run lists what it
 * would do without calling. DescribeDBInstances filters on ids only, so tags,
 * state and the name glob are matched on the answer. */
#ifndef ESCHER_OPS_OPS_RDS_H
#define ESCHER_OPS_OPS_RDS_H

#include "ops/ops_catalog.h"

extern const ops_executor OPS_RDS_START;
extern const ops_executor OPS_RDS_STOP;
extern const ops_executor OPS_RDS_SNAPSHOT;

#endif
