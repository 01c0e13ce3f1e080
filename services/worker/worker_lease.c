/* Leasing, heartbeats, reaping and the LISTEN wake-up. See worker.h. */
#include "worker_internal.h"

#include "db/db.h"

#include <string.h>

static void start_job(worker *w, queue_job *q)
{
    const job_kind *kind = job_kind_find(q->kind);
    wjob *j = wjob_new(&w->env, q, kind, w->log);
    j->next = w->running;
    if (w->running)
        w->running->prev = j;
    w->running = j;
    w->njobs++;
    log_info(j->log, "job leased", LOG_INT("max_attempts", j->q.max_attempts),
             LOG_STR("created_by", j->q.created_by));
    if (kind == NULL) { /* queue_lease was asked for the table's kinds only */
        wjob_fail(j, "escher-worker does not run this kind of job", false, NULL, NULL);
        return;
    }
    kind->start(j);
}

void worker_fill(worker *w)
{
    if (w->draining)
        return;
    if (w->njobs >= w->concurrency) {
        w->maybe_more = true; /* asked while full: look again when a slot frees */
        return;
    }
    size_t room = w->concurrency - w->njobs;
    size_t n = 0;
    err e = {0};
    if (!queue_lease(w->db, w->id, w->kinds, w->nkinds, room, w->lease_ms, w->batch, &n, &e)) {
        log_warn(w->log, "cannot lease jobs", LOG_STR("error", e.message));
        w->maybe_more = false;
        return;
    }
    w->maybe_more = n == room;
    for (size_t i = 0; i < n; i++)
        start_job(w, &w->batch[i]);
    queue_jobs_clear(w->batch, n);
}

static void on_fill(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_fill(arg);
}

void worker_fill_soon(worker *w)
{
    if (w->ev_fill == NULL)
        w->ev_fill = evtimer_new(w->base, on_fill, w);
    struct timeval zero = {0, 0};
    if (w->ev_fill && !evtimer_pending(w->ev_fill, NULL))
        evtimer_add(w->ev_fill, &zero);
}

/* The statement connection broke (server restart, network): reset it and
 * take the role again. Blocking, but only when it is down anyway. */
static void db_check(worker *w)
{
    if (PQstatus(w->db) != CONNECTION_BAD)
        return;
    PQreset(w->db);
    err e = {0};
    if (PQstatus(w->db) != CONNECTION_OK) {
        log_warn(w->log, "database connection down; retrying at the next poll");
        return;
    }
    if (w->database_role && *w->database_role && !db_set_role(w->db, w->database_role, &e)) {
        log_error(w->log, "database reconnected but SET ROLE failed", LOG_STR("error", e.message));
        return;
    }
    log_info(w->log, "database connection restored");
}

void worker_on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    db_check(w);
    if (w->listen == NULL)
        worker_listen_open(w);
    worker_fill(w);
}

void worker_on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    for (wjob *j = w->running, *next; j; j = next) {
        next = j->next; /* a lost job leaves the list */
        bool cancel = false;
        err e = {0};
        if (!queue_heartbeat(w->db, j->q.id, w->id, w->lease_ms, &cancel, &e)) {
            if (e.code == ERR_NOT_FOUND)
                wjob_lost(j, &e);
            else
                log_warn(j->log, "heartbeat failed", LOG_STR("error", e.message));
            continue;
        }
        if (cancel && !j->cancel_requested) {
            log_info(j->log, "cancel requested: the job stops at its next step");
            j->cancel_requested = true;
        }
    }
}

void worker_on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    size_t reaped = 0;
    err e = {0};
    if (!queue_reap(w->db, &reaped, &e))
        log_warn(w->log, "cannot reap expired leases", LOG_STR("error", e.message));
    else if (reaped > 0)
        log_info(w->log, "expired leases returned to the queue", LOG_INT("jobs", reaped));
}

void worker_on_listen(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    size_t count = 0;
    err e = {0};
    if (!queue_drain_notifies(w->listen, &count, &e)) {
        log_warn(w->log, "LISTEN connection lost; polling until it is back",
                 LOG_STR("error", e.message));
        worker_listen_close(w);
        return;
    }
    if (count > 0)
        worker_fill(w);
}

void worker_listen_close(worker *w)
{
    if (w->ev_listen) {
        event_free(w->ev_listen);
        w->ev_listen = NULL;
    }
    if (w->listen) {
        PQfinish(w->listen);
        w->listen = NULL;
    }
}

bool worker_listen_open(worker *w)
{
    worker_listen_close(w);
    err e = {0};
    w->listen = db_connect(w->database_url, &e);
    if (w->listen == NULL || !queue_listen(w->listen, &e)) {
        log_warn(w->log, "cannot LISTEN for new jobs; polling", LOG_STR("error", e.message));
        worker_listen_close(w);
        return false;
    }
    w->ev_listen =
        event_new(w->base, queue_socket(w->listen), EV_READ | EV_PERSIST, worker_on_listen, w);
    if (w->ev_listen == NULL || event_add(w->ev_listen, NULL) != 0) {
        log_warn(w->log, "cannot watch the LISTEN socket; polling");
        worker_listen_close(w);
        return false;
    }
    return true;
}
