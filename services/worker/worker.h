/* escher-worker's process: one libevent loop running many jobs at once.
 *
 * Several processes per host is the scaling model; inside one, jobs mostly
 * wait on AWS, so one loop keeps many of them (option concurrency) and many
 * AWS requests (max-requests-in-flight) in flight through lib/aws's
 * asynchronous client. Database statements are short and synchronous on the
 * worker's connection (as role escher_worker); a second connection only
 * LISTENs on the queue's channel so an idle worker wakes the moment a job is
 * queued, with a slow poll (poll-interval) as the safety net.
 *
 * Timers: heartbeat every lease/3 for every running job (a cancel request
 * arrives this way; a lease found lost abandons the job), reaping of expired
 * leases every lease/2 (jobs of a dead worker go back to the queue), the
 * poll, and on shutdown the grace period.
 *
 * SIGTERM or SIGINT: leasing stops at once; running jobs get the grace
 * period to finish; those still running then are handed back with
 * queue_release (the attempt is not counted) and logged; worker_run returns.
 * A second signal hands back at once. */
#ifndef ESCHER_WORKER_WORKER_H
#define ESCHER_WORKER_WORKER_H

#include "core/err.h"
#include "core/log.h"
#include "core/opts.h"

#include <stdbool.h>

typedef struct worker worker;

/* Connects to PostgreSQL (twice), Redis (an unreachable Redis only degrades
 * the rate limits), builds the server's AWS identity from lib/aws's default
 * chain, the broker and the loop. o and log are borrowed and must outlive
 * the worker. Fails with ERR_IO / ERR_AUTH naming the database (password
 * removed), ERR_CONFIG for bad option values, or the credential chain's
 * error. */
worker *worker_new(const opts *o, const logger *log, err *e);

/* Runs until a signal ends it as described above. False with e when the
 * loop itself failed. */
bool worker_run(worker *w, err *e);

/* Ends what is still in flight, wipes every credential and frees w. NULL is
 * accepted. */
void worker_free(worker *w);

#endif
