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

/* Records the answer to a request that queued job: 202 {"job": "<id>"} with
 * Location /v1/jobs/<id>, where the client follows it. */
void api_enqueue_accepted(api_req *r, const char *job);

#endif
