/* Runs a confirmed preview (client_plan.h) with the local AWS credentials,
 * resource after resource and phase after phase, as the server's workers do
 * (re-check the state, decide, act; wait where the executor says the state
 * is still moving) but with blocking calls and without steps in a database:
 * the user is here to see it. */
#ifndef ESCHER_CLIENT_EXEC_H
#define ESCHER_CLIENT_EXEC_H

#include "client_plan.h"

#include "aws/aws_client.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct client_exec_counts {
    size_t done, nothing, failed;
    size_t skipped; /* not started: Ctrl-C came first */
} client_exec_counts;

/* Acts on every row of p decided ACT or WAIT. progress (may be NULL)
 * receives one line per resource as it ends. SIGINT (Ctrl-C) during the
 * run finishes the resource in hand and starts no other: those are
 * "not run (interrupted)"; the caller's SIGINT handling is restored after. Returns the per-resource
 * results (caller decrefs): {account, region, id, name, before, action,
 * outcome: done|nothing to do|failed, after, error, request_id}. */
json_t *client_exec_run(aws_client *aws, client_plan *p, FILE *progress, client_exec_counts *n);

#endif
