/* AWS for the jobs of one worker: temporary credentials from the broker,
 * session clients made from them, and calls, each through a gate it owns
 * (worker_gate.h: shared rate limit, in-flight cap), all asynchronous on the
 * worker's loop.
 *
 * Credentials stay in memory only: the broker's copy is wiped when its
 * cache drops it, the copy handed to a callback is the callback's (it gives
 * it to waws_session_new, which copies it, and frees its own with
 * creds_free), and a session's copy is wiped when the session is freed.
 * Nothing here logs. */
#ifndef ESCHER_WORKER_AWS_H
#define ESCHER_WORKER_AWS_H

#include "aws/aws_client.h"
#include "aws/creds.h"
#include "broker/broker.h"
#include "core/err.h"
#include "worker_gate.h"

#include <stdbool.h>
#include <stddef.h>

struct event_base;

typedef struct waws waws;
typedef struct waws_session waws_session;

/* Made on base with the transport options of every session client (copied,
 * strings included), the broker (borrowed), the rate limiter (borrowed; NULL:
 * none), at most max_in_flight requests at once, and log (borrowed, may be
 * NULL). The options' region is the one STS calls are made and rate-limited
 * in (NULL: "us-east-1"). Never fails. Free with waws_free. */
waws *waws_new(struct event_base *base, const aws_client_options *client_opts, broker *b,
               ratelimit *rl, int max_in_flight, const logger *log);

/* Ends everything: requests still waiting at the gate fail ("worker
 * stopping"), session calls in flight end with a "cancelled" error, every
 * session is freed (credentials wiped), then w. Free the broker first: its
 * waiting gets report through this waws. NULL is accepted. */
void waws_free(waws *w);

/* Called once on the loop with the callee's own credentials (free with
 * creds_free) or NULL and why. */
typedef void (*waws_creds_fn)(aws_creds *creds, const err *e, void *arg);

/* Asks the broker for credentials for r (AssumeRole unless cached), after
 * taking a token of the role's account's describe bucket. r is copied.
 * done is called exactly once, never inside this call. */
void waws_assume(waws *w, const broker_request *r, waws_creds_fn done, void *arg);

/* A client signing with creds (copied) whose calls are rate-limited under
 * account (copied: the account the credentials act in). Fails only when the
 * client cannot be made (ERR_INTERNAL). Close with waws_session_close. */
waws_session *waws_session_new(waws *w, const aws_creds *creds, const char *account, err *e);

/* Closes s: freed (credentials wiped) once its calls have ended, on the loop,
 * never inside a callback of its own. NULL is accepted. */
void waws_session_close(waws_session *s);

/* Sends req (copied) with s in class cls after the gate admits it. done runs
 * exactly once on the loop, never inside this call, with the answer (valid
 * only during done) or the error; as aws_client_call_async. */
void waws_call(waws_session *s, ratelimit_class cls, const aws_request *req, aws_done_fn done,
               void *arg);

/* How a job should take a failed AWS operation. */
typedef enum waws_verdict {
    WAWS_REFUSED,   /* AWS said no (AccessDenied, NoSuchEntity, a bad request): final */
    WAWS_TRANSIENT, /* throttling, 5xx, network, timeouts, our own trouble: try again later */
} waws_verdict;

/* Sorts e by the AWS SDKs' retry classification: an AWS error answer that
 * they would not retry is a refusal; so is a request we built invalid
 * (ERR_INVALID, ERR_LIMIT). Everything else is transient. */
waws_verdict waws_classify(const err *e);

/* The error as AWS said it, for an account's last_error and a job's error:
 * code gets the AWS error code (for errors of our own, the err code name),
 * message the AWS message without the context lib/aws and the broker put
 * before it and without the "(HTTP nnn)" after it. Both always
 * NUL-terminated. */
void waws_error_parts(const err *e, char *code, size_t code_cap, char *message, size_t message_cap);

#endif
