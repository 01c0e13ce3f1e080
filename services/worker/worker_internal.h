/* The worker's state, shared by worker.c (life, signals, shutdown) and
 * worker_lease.c (leasing, heartbeats, reaping, LISTEN). Not for job code,
 * which sees only wjob_env. */
#ifndef ESCHER_WORKER_INTERNAL_H
#define ESCHER_WORKER_INTERNAL_H

#include "aws/credprov.h"
#include "aws/http.h"
#include "core/seal.h"
#include "broker/broker.h"
#include "queue/queue.h"
#include "ratelimit/ratelimit.h"
#include "worker.h"
#include "worker_aws.h"
#include "worker_job.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdint.h>

struct worker {
    const opts *o;
    const logger *log;
    char id[128];    /* "<host>:<pid>", leased_by */
    char actor[160]; /* "worker:<id>" */
    const char *database_url;
    const char *database_role; /* NULL or "": none */
    size_t concurrency;
    int64_t lease_ms, poll_ms, grace_ms;

    struct event_base *base;
    PGconn *db;     /* statements */
    PGconn *listen; /* LISTEN only; NULL while broken */
    credprov *identity;
    aws_client *sts;
    broker *broker;
    ratelimit *rl;
    waws *aws;
    struct http_async *http; /* notifications' HTTP, on base */
    bool has_master_key;
    seal_key master_key; /* wiped in worker_free */
    wjob_env env;

    const char **kinds; /* names of the kinds in the table, for queue_lease */
    size_t nkinds;
    queue_job *batch; /* concurrency entries */

    wjob *running; /* list of running jobs */
    size_t njobs;
    wjob **dead; /* ended, the worker's reference still to drop */
    size_t ndead, dead_cap;
    bool maybe_more; /* the last lease filled every free slot: more may wait */
    bool draining;

    struct event *ev_term, *ev_int, *ev_poll, *ev_heartbeat, *ev_reap, *ev_listen, *ev_fill,
        *ev_bury, *ev_grace;
};

/* Leases jobs into free slots and starts them (nothing while draining). */
void worker_fill(worker *w);

/* worker_fill on the next loop pass (never re-entrant inside job code). */
void worker_fill_soon(worker *w);

/* Timer and socket callbacks (arg: the worker). */
void worker_on_poll(evutil_socket_t fd, short what, void *arg);
void worker_on_heartbeat(evutil_socket_t fd, short what, void *arg);
void worker_on_reap(evutil_socket_t fd, short what, void *arg);
void worker_on_listen(evutil_socket_t fd, short what, void *arg);

/* (Re)opens the LISTEN connection and its event; false (logged) on failure,
 * the poll tries again later. */
bool worker_listen_open(worker *w);

/* Closes the LISTEN connection and its event. */
void worker_listen_close(worker *w);

#endif
