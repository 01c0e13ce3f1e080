/* The scheduler's loop, its wake-ups and its shutdown. See scheduler.h. */
#include "scheduler.h"

#include "sched_batch.h"
#include "sched_zones.h"

#include "core/xmalloc.h"
#include "db/db.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A look again after finding every due schedule locked by another replica
 * (its batch commits within milliseconds), or after a failed batch. */
#define LOCKED_RETRY_MS 100
#define FAILED_RETRY_MS 1000

struct scheduler {
    const opts *o;
    const logger *log;
    char id[128]; /* "<host>:<pid>", for the logs */
    const char *database_url;
    const char *database_role; /* NULL or "": none */
    int batch;
    int64_t max_sleep_ms;
    sched_batch_env env;

    struct event_base *base;
    PGconn *db;     /* statements */
    PGconn *listen; /* LISTEN only; NULL while broken */
    sched_zones *zones;
    struct event *ev_term, *ev_int, *ev_cycle, *ev_listen;
    bool stopping;

    /* Totals for the stop line. */
    uint64_t batches, jobs, missed;
};

static struct timeval tv_ms(int64_t ms)
{
    if (ms < 0)
        ms = 0;
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
}

/* The next cycle in ms (0: on the next loop pass), replacing any pending one. */
static void cycle_in(scheduler *s, int64_t ms)
{
    if (s->stopping)
        return;
    struct timeval tv = tv_ms(ms);
    evtimer_del(s->ev_cycle);
    evtimer_add(s->ev_cycle, &tv);
}

/* ---- connections ---------------------------------------------------------- */

static bool take_role(scheduler *s, err *e)
{
    if (s->database_role && *s->database_role && !db_set_role(s->db, s->database_role, e))
        return err_prefix(e, "database-role '%s'", s->database_role);
    return true;
}

/* The statement connection broke (server restart, network): connect again
 * and take the role. Blocking, but only when the database is down anyway. */
static bool db_check(scheduler *s)
{
    if (s->db != NULL && PQstatus(s->db) == CONNECTION_OK)
        return true;
    if (s->db != NULL)
        PQfinish(s->db);
    err e = {0};
    s->db = db_connect(s->database_url, &e);
    if (s->db == NULL || !take_role(s, &e)) {
        log_warn(s->log, "database unavailable; retrying", LOG_STR("error", e.message),
                 LOG_INT("retry_ms", FAILED_RETRY_MS));
        if (s->db != NULL)
            PQfinish(s->db);
        s->db = NULL;
        s->env.db = NULL;
        return false;
    }
    s->env.db = s->db;
    log_info(s->log, "database connection restored");
    return true;
}

static void listen_close(scheduler *s)
{
    if (s->ev_listen) {
        event_free(s->ev_listen);
        s->ev_listen = NULL;
    }
    if (s->listen) {
        PQfinish(s->listen);
        s->listen = NULL;
    }
}

/* Reads what arrived on the LISTEN connection; true when a notification
 * came (any payload: each one only means "look again"). */
static bool listen_drain(scheduler *s, bool *woken)
{
    *woken = false;
    if (!PQconsumeInput(s->listen))
        return false;
    PGnotify *n;
    while ((n = PQnotifies(s->listen)) != NULL) {
        if (strcmp(n->relname, SCHED_CHANNEL) == 0)
            *woken = true;
        PQfreemem(n);
    }
    return true;
}

static void on_listen(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    scheduler *s = arg;
    bool woken = false;
    if (!listen_drain(s, &woken)) {
        log_warn(s->log, "LISTEN connection lost; sleeping at most max-sleep until it is back",
                 LOG_STR("error", PQerrorMessage(s->listen)));
        listen_close(s);
        return;
    }
    if (woken) {
        log_debug(s->log, "woken by a change to the schedules");
        cycle_in(s, 0);
    }
}

static bool listen_open(scheduler *s)
{
    listen_close(s);
    err e = {0};
    s->listen = db_connect(s->database_url, &e);
    if (s->listen == NULL || !db_exec(s->listen, "LISTEN " SCHED_CHANNEL, 0, NULL, NULL, &e)) {
        log_warn(s->log, "cannot LISTEN for schedule changes; sleeping at most max-sleep",
                 LOG_STR("error", e.message));
        listen_close(s);
        return false;
    }
    s->ev_listen = event_new(s->base, PQsocket(s->listen), EV_READ | EV_PERSIST, on_listen, s);
    if (s->ev_listen == NULL || event_add(s->ev_listen, NULL) != 0) {
        log_warn(s->log, "cannot watch the LISTEN socket; sleeping at most max-sleep");
        listen_close(s);
        return false;
    }
    return true;
}

/* ---- the cycle -------------------------------------------------------------- */

/* One batch, then when to look again. */
static void on_cycle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    scheduler *s = arg;
    if (s->stopping)
        return;
    if (s->listen == NULL)
        listen_open(s);
    if (!db_check(s)) {
        cycle_in(s, FAILED_RETRY_MS);
        return;
    }
    sched_batch_result r;
    err e = {0};
    if (!sched_batch_run(&s->env, s->batch, &r, &e)) {
        log_error(s->log, "batch failed; retrying", LOG_STR("error", e.message),
                  LOG_INT("retry_ms", FAILED_RETRY_MS));
        cycle_in(s, FAILED_RETRY_MS);
        return;
    }
    s->batches++;
    s->jobs += r.jobs;
    s->missed += r.missed;
    if (r.schedules > 0)
        log_info(s->log, "schedules fired", LOG_INT("schedules", r.schedules),
                 LOG_INT("jobs", r.jobs), LOG_INT("missed", r.missed),
                 LOG_INT("max_lag_ms", r.max_lag_ms));
    if (r.schedules == (size_t)s->batch) {
        cycle_in(s, 0); /* a full batch: more may be due */
        return;
    }
    /* Also picks up a LISTEN connection that broke since. */
    if (s->listen != NULL) {
        bool woken = false;
        if (!listen_drain(s, &woken))
            listen_close(s);
    }
    int64_t ms = 0;
    bool none = false;
    if (!sched_batch_next_ms(s->db, &ms, &none, &e)) {
        log_error(s->log, "cannot read the next fire time; retrying", LOG_STR("error", e.message));
        cycle_in(s, FAILED_RETRY_MS);
        return;
    }
    if (none || ms > s->max_sleep_ms)
        ms = s->max_sleep_ms;
    else if (ms <= 0)
        /* Still due: either it came due while we worked (go on), or every
         * due schedule is another replica's until its commit. */
        ms = r.schedules > 0 ? 0 : LOCKED_RETRY_MS;
    log_debug(s->log, "sleeping", LOG_INT("ms", ms), LOG_BOOL("nothing_scheduled", none));
    cycle_in(s, ms);
}

/* ---- life ------------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    scheduler *s = arg;
    if (s->stopping)
        return;
    s->stopping = true;
    log_info(s->log, "stopping", LOG_INT("signal", sig));
    event_base_loopexit(s->base, NULL);
}

scheduler *scheduler_new(const opts *o, const logger *log, err *e)
{
    scheduler *s = xcalloc(1, sizeof *s);
    s->o = o;
    s->log = log;
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "localhost");
    snprintf(s->id, sizeof s->id, "%s:%ld", host, (long)getpid());
    s->database_url = opts_get_string(o, "database-url");
    s->database_role = opts_get_string(o, "database-role");
    s->batch = (int)opts_get_int(o, "batch-size");
    s->max_sleep_ms = opts_get_duration_ms(o, "max-sleep");
    s->zones = sched_zones_new();
    s->base = event_base_new();
    if (s->base == NULL) {
        err_set(e, ERR_INTERNAL, "cannot create the event loop");
        scheduler_free(s);
        return NULL;
    }
    s->db = db_connect(s->database_url, e);
    if (s->db == NULL || !take_role(s, e)) {
        scheduler_free(s);
        return NULL;
    }
    s->env = (sched_batch_env){.db = s->db,
                               .zones = s->zones,
                               .log = log,
                               .threshold_s = opts_get_duration_ms(o, "misfire-threshold") / 1000};
    s->ev_term = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->ev_int = evsignal_new(s->base, SIGINT, on_signal, s);
    s->ev_cycle = evtimer_new(s->base, on_cycle, s);
    if (!s->ev_term || !s->ev_int || !s->ev_cycle || evsignal_add(s->ev_term, NULL) != 0 ||
        evsignal_add(s->ev_int, NULL) != 0) {
        err_set(e, ERR_INTERNAL, "cannot set up the scheduler's libevent events");
        scheduler_free(s);
        return NULL;
    }
    listen_open(s);
    return s;
}

bool scheduler_run(scheduler *s, err *e)
{
    log_info(s->log, "scheduler started", LOG_STR("scheduler_id", s->id),
             LOG_INT("batch_size", s->batch), LOG_INT("max_sleep_ms", s->max_sleep_ms),
             LOG_INT("misfire_threshold_s", s->env.threshold_s),
             LOG_BOOL("listening", s->listen != NULL));
    cycle_in(s, 0);
    if (event_base_dispatch(s->base) < 0)
        return err_set(e, ERR_INTERNAL, "the event loop failed");
    log_info(s->log, "scheduler stopped", LOG_STR("scheduler_id", s->id),
             LOG_INT("batches", s->batches), LOG_INT("jobs", s->jobs),
             LOG_INT("missed", s->missed));
    return true;
}

void scheduler_free(scheduler *s)
{
    if (s == NULL)
        return;
    listen_close(s);
    struct event *evs[] = {s->ev_term, s->ev_int, s->ev_cycle};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    if (s->db)
        PQfinish(s->db);
    if (s->base)
        event_base_free(s->base);
    sched_zones_free(s->zones);
    free(s);
}
