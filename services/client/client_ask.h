/* Queries answered with the user's local AWS credentials, for chat and ask
 * (client_chat.h): instances listed or counted by region, state, tag, name,
 * type and age (other resources: client_query.h); the estate cache's
 * listing (escher refresh). */
#ifndef ESCHER_CLIENT_ASK_H
#define ESCHER_CLIENT_ASK_H

#include "client_api.h"
#include "client_out.h"

#include "aws/aws_client.h"
#include "aws/credprov.h"
#include "core/opts.h"
#include "ops/target.h"

/* The plan's filters as a target selector (strings borrowed from filters;
 * free only the arrays with client_ask_selector_clear). */
void client_ask_selector(const json_t *filters, target_selector *sel);
void client_ask_selector_clear(target_selector *sel);

/* The local AWS side of a command or a conversation, opened once and used
 * for every call it makes: a client on the local credentials (--profile,
 * the default chain) whose asynchronous side runs on base (listings of
 * several regions side by side), and the default region (--region,
 * AWS_REGION, AWS_DEFAULT_REGION, the profile's, else us-east-1). */
typedef struct client_aws {
    aws_client *aws;
    credprov *creds;
    struct event_base *base;
    char *region;
} client_aws;

/* Opens ca; false after saying why on stderr (ca is then empty). Close
 * with client_aws_close. */
bool client_aws_open(const opts *o, client_aws *ca);
void client_aws_close(client_aws *ca);

/* The region of a sentence that names none: --region, AWS_REGION,
 * AWS_DEFAULT_REGION, the profile's region in the config file, else
 * us-east-1 (the order of the client's --region help). Caller frees. */
char *client_ask_default_region(const opts *o);

/* Answers a query plan (lib/nlu's JSON) on stdout in format out with the
 * local credentials; returns the exit status. Instances here, every other
 * resource through client_query_answer (client_query.h). Regions: the
 * filters' list, "all" (DescribeRegions), else the default region. What was
 * answered (listed or counted) is appended to seen when it is not NULL
 * (client_query_seen). */
int client_ask_query(client_aws *ca, const json_t *plan, client_out_format out, json_t *seen);

/* Appends every instance of the region (DescribeInstances with paging) to
 * items as {account, region, id, name, state, type, tags, launch_time}. */
bool client_ask_instances(aws_client *aws, const char *region, json_t *items, err *e);

#endif
