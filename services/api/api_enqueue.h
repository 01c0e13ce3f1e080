/* Queuing a job from a route handler: as the caller (created_by, which the
 * worker turns into the session's SourceIdentity), for the caller's tenant,
 * inside the request's transaction, so the job exists exactly when the
 * answer is a success. */
#ifndef ESCHER_API_ENQUEUE_H
#define ESCHER_API_ENQUEUE_H

#include "api_req.h"

#include "queue/queue.h"

#include <jansson.h>
#include <stdbool.h>

/* Queues a job of kind with payload (borrowed) concerning the aws_accounts
 * row account_id (a uuid, or NULL) and writes its id into id. Records a 500
 * and returns false when the queue refuses: nothing a client sends can make
 * it fail. */
bool api_enqueue(api_req *r, const char *kind, const json_t *payload, const char *account_id,
                 char id[QUEUE_ID_LEN]);

/* api_enqueue with an idempotency key (NULL for none; 1..200 characters,
 * unique per tenant across every producer, so callers prefix their own
 * namespace): when the tenant already used key, no job is added, id gets
 * that job's id and *duplicate is set (otherwise cleared). */
bool api_enqueue_key(api_req *r, const char *kind, const json_t *payload, const char *account_id,
                     const char *key, char id[QUEUE_ID_LEN], bool *duplicate);

/* Records the answer to a request that queued job: 202 {"job": "<id>"} with
 * Location /v1/jobs/<id>, where the client follows it. */
void api_enqueue_accepted(api_req *r, const char *job);

#endif
