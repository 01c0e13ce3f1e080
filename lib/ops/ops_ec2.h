/* Executors of the EC2 instance operations (ops_catalog.h): listing
 * instances with DescribeInstances filters built from a selector, reading
 * one again, and Start/Stop/RebootInstances with DryRun. */
#ifndef ESCHER_OPS_OPS_EC2_H
#define ESCHER_OPS_OPS_EC2_H

#include "ops/ops_catalog.h"

extern const ops_executor OPS_EC2_START;
extern const ops_executor OPS_EC2_STOP;
extern const ops_executor OPS_EC2_REBOOT;

#endif
