/* Queries on resources other than instances, answered with the user's local
 * AWS credentials for chat and ask (client_ask_query hands them over):
 * EBS volumes and snapshots, S3 buckets, RDS DB instances, security groups
 * and Elastic IPs, listed or counted by region, tag, Name, state, id, type
 * and age, as lib/nlu's query plans say (docs/nlu.md). */
#ifndef ESCHER_CLIENT_QUERY_H
#define ESCHER_CLIENT_QUERY_H

#include "client_ask.h"
#include "client_out.h"

#include "core/opts.h"

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

/* Answers a query plan on one of volumes, snapshots, buckets, databases,
 * security_groups or elastic_ips on stdout in format out (rows through
 * client_out_items, a count as {"count": N}) with the local credentials, and
 * returns the exit status: 0, 1 when every region failed (the AWS error on
 * stderr), 3 when some did, 2 for a resource or a filter this resource
 * cannot answer (said on stderr: a state for buckets, an age for security
 * groups, ...). Without regions in the plan the default region
 * (ca->region) is answered and stderr says so; buckets are
 * one global listing. The plan is borrowed. What was answered is appended
 * to seen when it is not NULL (client_query_seen). */
int client_query_answer(client_aws *ca, const json_t *plan, client_out_format out, json_t *seen);

/* Appends {"id", "region"} of each row with an id to seen (an array;
 * NULL: nothing): what a conversation's "them" may refer to next, and
 * where. */
void client_query_seen(const json_t *rows, json_t *seen);

/* True when the ISO 8601 time `when` is more than `days` days before now
 * (the plan's older_than_days); false for a missing or unreadable time. */
bool client_query_older(const char *when, long long days, time_t now);

#endif
