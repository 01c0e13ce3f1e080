/* Executors of the EBS operations (ops_catalog.h): ec2.snapshot_volumes
 * (every EBS volume of the selected instances gets a snapshot) and
 * ebs.delete_unattached (volumes attached to nothing, a snapshot first by
 * default), both with EC2's DryRun. */
#ifndef ESCHER_OPS_OPS_EBS_H
#define ESCHER_OPS_OPS_EBS_H

#include "ops/ops_catalog.h"

extern const ops_executor OPS_EC2_SNAPSHOT_VOLUMES;
extern const ops_executor OPS_EBS_DELETE_UNATTACHED;

#endif
