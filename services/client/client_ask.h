/* `escher ask "SENTENCE"`: one sentence through the intent engine (lib/nlu),
 * answered with the user's local AWS credentials. Only queries on instances
 * are answered so far; plans that would change anything are described and
 * never executed (the preview and confirmation are not built yet). */
#ifndef ESCHER_CLIENT_ASK_H
#define ESCHER_CLIENT_ASK_H

#include "client_api.h"
#include "client_out.h"

#include "aws/aws_client.h"
#include "aws/credprov.h"
#include "core/opts.h"

/* Answers sentence; returns the exit status (client_cmd.h). api is the
 * configured server or NULL: it is only asked whether it is reachable (GET
 * /healthz), and is never sent the sentence, its answers or credentials. */
int client_ask_run(const opts *o, const char *sentence, client_out_format out, client_api *api);

/* An AWS client on the local credentials (--profile, the default chain) in
 * the default region (--region, AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's, else us-east-1), with *creds and *region for the caller to free;
 * NULL after saying why on stderr. */
aws_client *client_ask_aws(const opts *o, credprov **creds, char **region);

/* Appends every instance of the region (DescribeInstances with paging) to
 * items as {account, region, id, name, state, type, tags, launch_time}. */
bool client_ask_instances(aws_client *aws, const char *region, json_t *items, err *e);

#endif
