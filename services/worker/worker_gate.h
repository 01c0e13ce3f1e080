/* The gate every AWS request of a worker passes before it is sent: the
 * shared rate limit (lib/ratelimit: one token bucket per account, region and
 * API class, in Redis, shared by every worker process) and a cap on requests
 * in flight in this process (option max-requests-in-flight).
 *
 * An operation is submitted with the bucket it draws from and a start
 * function. The gate calls the start function once a token is taken and a
 * slot is free; the operation then runs (asynchronously) and reports its end
 * with wgate_done, which frees the slot for the next one. Operations wait in
 * submission order for a slot; one whose bucket is empty sleeps on a timer
 * for as long as the limiter says, without holding back the others.
 *
 * Single-threaded: everything runs on the worker's loop. */
#ifndef ESCHER_WORKER_GATE_H
#define ESCHER_WORKER_GATE_H

#include "core/err.h"
#include "core/log.h"
#include "ratelimit/ratelimit.h"

#include <stddef.h>

struct event_base;

typedef struct wgate wgate;

/* Starts an admitted operation (refused NULL), or tells it that it will never
 * be admitted (refused set: the gate is closing, or the limiter refused the
 * request as invalid); the operation must then report its failure to its own
 * caller and must not call wgate_done. May run inside wgate_submit. */
typedef void (*wgate_go_fn)(void *arg, const err *refused);

/* A gate on base drawing from rl (borrowed; NULL: no rate limit) with at most
 * max_in_flight operations running. log is borrowed (may be NULL). Never
 * fails. Free with wgate_free. */
wgate *wgate_new(struct event_base *base, ratelimit *rl, int max_in_flight, const logger *log);

/* Refuses every waiting operation (their go gets refused "worker stopping"),
 * then frees the gate. Operations already admitted must have ended or must
 * not call wgate_done afterwards. NULL is accepted. */
void wgate_free(wgate *g);

/* Submits an operation drawing one token from (account, region, cls).
 * account and region are copied. go is called exactly once. */
void wgate_submit(wgate *g, const char *account, const char *region, ratelimit_class cls,
                  wgate_go_fn go, void *arg);

/* An admitted operation ended: frees its slot and admits the next ones. */
void wgate_done(wgate *g);

/* Operations running / waiting (tests and logs). */
size_t wgate_in_flight(const wgate *g);
size_t wgate_waiting(const wgate *g);

#endif
