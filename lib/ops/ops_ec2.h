/* Executors of the EC2 instance operations (ops_catalog.h): listing
 * instances with DescribeInstances filters built from a selector, reading
 * one again, Start/Stop/RebootInstances, tags.apply's CreateTags then
 * DeleteTags, and ec2.resize's stop, ModifyInstanceAttribute and start, all
 * with DryRun. The listing helpers serve ops_ebs.c too. */
#ifndef ESCHER_OPS_OPS_EC2_H
#define ESCHER_OPS_OPS_EC2_H

#include "aws/query.h"
#include "aws/xml.h"
#include "ops/ops_catalog.h"

extern const ops_executor OPS_EC2_START;
extern const ops_executor OPS_EC2_STOP;
extern const ops_executor OPS_EC2_REBOOT;
extern const ops_executor OPS_EC2_TAGS;
/* ec2.resize: check, stop, wait for stopped, ModifyInstanceAttribute,
 * start (only what was running), wait for running. */
extern const ops_executor OPS_EC2_RESIZE;

/* Appends filter number ++*n (Filter.N.Name, Filter.N.Value.M) to q. */
void ops_ec2_add_filter(query_params *q, size_t *n, const char *name, char *const *values,
                        size_t nvalues);

/* The selector's tags as filters: tag:<key> with the values, or tag-key
 * for a key alone. */
void ops_ec2_add_tag_filters(query_params *q, size_t *nf, const target_selector *sel);

/* DescribeInstances of one page with the selector as filters (tags, state,
 * Name, ids). */
void ops_ec2_list_request(const target_selector *sel, const char *region, const char *token,
                          struct aws_request *req);

/* The value of the Name tag in item's tagSet, "" when none. */
const char *ops_ec2_name_tag(const xml_node *item);

#endif
