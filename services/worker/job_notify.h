/* Job kind notify.deliver: tells one notification channel how an operation
 * run ended (issue 5, notifications; docs/notifications.md).
 *
 * Payload {"channel": "<notification_channels.id>", "event": "succeeded" |
 * "partial" | "failed" | "test", "run": {...the run's summary...}}. The
 * worker reads the channel, opens its secret with the master key (option
 * master-key), and sends: Slack, a POST of {"text": ...} to the webhook URL
 * (the secret); webhook, a POST of the JSON summary signed with the HMAC key;
 * e-mail, a plain-text message over SMTP. HTTP goes through the worker's
 * asynchronous client on its loop; SMTP is a blocking libcurl transfer of at
 * most 10 s (SMTP has no asynchronous path in lib/aws's transport).
 *
 * Outcomes: a 2xx answer succeeds; 408, 429, 5xx and network errors fail
 * the attempt retryably (the queue's backoff); another 4xx fails for good.
 * Delivery is at least once: a receiver deduplicates on X-Escher-Delivery
 * (the job id). No AWS role is assumed. */
#ifndef ESCHER_WORKER_JOB_NOTIFY_H
#define ESCHER_WORKER_JOB_NOTIFY_H

#include "core/err.h"
#include "worker_job.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* "sha256=" + 64 hex digits + NUL */
#define JOB_NOTIFY_SIG_LEN 72

void job_notify_start(wjob *j);
void job_notify_free(void *state);

/* The X-Escher-Signature value for body sent at timestamp (decimal Unix
 * seconds, the X-Escher-Timestamp value): "sha256=" and the lower-case hex
 * of HMAC-SHA256(key, timestamp "." body). */
void job_notify_signature(const void *key, size_t keylen, const char *timestamp, const void *body,
                          size_t bodylen, char out[JOB_NOTIFY_SIG_LEN]);

/* Queues notify.deliver for the run job run_job_id of tenant_id that ended
 * in state ("succeeded", "partial" or "failed"): one job per enabled channel
 * of the tenant whose events include state, idempotency key
 * "notify:<run job id>:<channel id>", payload run = the summary made from
 * the run's result and payload (borrowed). Inside the caller's transaction
 * when one is open. */
bool job_notify_enqueue(PGconn *db, const char *tenant_id, const char *run_job_id,
                        const char *state, const json_t *result, const json_t *run_payload, err *e);

#endif
