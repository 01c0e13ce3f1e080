/* The worker's life: setup, the loop, signals, shutdown. See worker.h. */
#include "worker_internal.h"

#include "aws/aws_opts.h"
#include "core/xmalloc.h"
#include "db/db.h"
#include "job_kinds.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RATELIMIT_PREFIX "escher:"

static struct timeval tv_ms(int64_t ms)
{
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
}

/* Drops the worker's reference of every ended job: from the loop, so no job
 * is freed under the callback that ended it. */
static void on_bury(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    while (w->ndead > 0)
        wjob_unref(w->dead[--w->ndead]);
}

static void on_job_end(wjob *j, void *arg)
{
    worker *w = arg;
    if (j->prev)
        j->prev->next = j->next;
    else
        w->running = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
    w->njobs--;
    if (w->ndead == w->dead_cap) {
        w->dead_cap = w->dead_cap ? w->dead_cap * 2 : 16;
        w->dead = xreallocarray(w->dead, w->dead_cap, sizeof *w->dead);
    }
    w->dead[w->ndead++] = j;
    struct timeval zero = {0, 0};
    if (w->ev_bury)
        evtimer_add(w->ev_bury, &zero);
    if (w->draining) {
        if (w->njobs == 0)
            event_base_loopexit(w->base, NULL);
    } else if (w->maybe_more) {
        worker_fill_soon(w);
    }
}

/* Hands every running job back to the queue and stops the loop. */
static void release_all(worker *w)
{
    size_t n = w->njobs;
    if (n > 0)
        log_warn(w->log, "grace period over: handing running jobs back to the queue",
                 LOG_INT("jobs", n));
    while (w->running)
        wjob_release(w->running); /* leaves the list, whatever the outcome */
    event_base_loopexit(w->base, NULL);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    release_all(arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    worker *w = arg;
    if (w->draining) {
        log_warn(w->log, "second signal: handing back at once", LOG_INT("signal", sig));
        release_all(w);
        return;
    }
    w->draining = true;
    evtimer_del(w->ev_poll);
    evtimer_del(w->ev_reap);
    if (w->ev_fill)
        evtimer_del(w->ev_fill);
    worker_listen_close(w);
    log_info(w->log, "stopping: no more leases; running jobs get the grace period",
             LOG_INT("signal", sig), LOG_INT("jobs", w->njobs), LOG_INT("grace_ms", w->grace_ms));
    if (w->njobs == 0) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    struct timeval tv = tv_ms(w->grace_ms);
    evtimer_add(w->ev_grace, &tv);
}

static bool connect_db(worker *w, err *e)
{
    w->db = db_connect(w->database_url, e);
    if (w->db == NULL)
        return false;
    if (w->database_role && *w->database_role && !db_set_role(w->db, w->database_role, e))
        return err_prefix(e, "database-role '%s'", w->database_role);
    return true;
}

/* The server's own AWS identity (lib/aws's default chain), its STS client,
 * the broker and the job-side AWS layer. */
static bool setup_aws(worker *w, err *e)
{
    aws_client_options copts;
    aws_opts_client_options(w->o, &copts);
    credprov_options po = {0};
    po.endpoint_url = copts.endpoint_url;
    po.region = copts.region;
    po.ca_file = copts.ca_file;
    w->identity = credprov_default_chain(&po, e);
    if (w->identity == NULL)
        return err_prefix(e, "the worker's own AWS identity");
    w->sts = aws_client_new(&copts, w->identity, w->base, e);
    if (w->sts == NULL)
        return false;
    broker_options bo = {.base = w->base};
    w->broker = broker_new(w->sts, &bo, e);
    if (w->broker == NULL)
        return false;
    w->rl = ratelimit_new(opts_get_string(w->o, "redis-url"), RATELIMIT_PREFIX, NULL, w->log, e);
    if (w->rl == NULL)
        return false;
    w->aws = waws_new(w->base, &copts, w->broker, w->rl,
                      (int)opts_get_int(w->o, "max-requests-in-flight"), w->log);
    /* Receivers of notifications are not AWS: the system's CA store, and
     * short timeouts so a slow receiver only costs its own job a retry. */
    http_options ho = {.connect_timeout_ms = 5000, .timeout_ms = 15000};
    w->http = http_async_new(w->base, &ho);
    const char *mk = opts_get_secret(w->o, "master-key");
    if (mk && *mk) {
        if (!seal_key_parse(mk, &w->master_key, e))
            return err_prefix(e, "master-key");
        w->has_master_key = true;
    }
    return true;
}

static bool setup_events(worker *w, err *e)
{
    w->ev_term = evsignal_new(w->base, SIGTERM, on_signal, w);
    w->ev_int = evsignal_new(w->base, SIGINT, on_signal, w);
    w->ev_poll = event_new(w->base, -1, EV_PERSIST, worker_on_poll, w);
    w->ev_heartbeat = event_new(w->base, -1, EV_PERSIST, worker_on_heartbeat, w);
    w->ev_reap = event_new(w->base, -1, EV_PERSIST, worker_on_reap, w);
    w->ev_bury = evtimer_new(w->base, on_bury, w);
    w->ev_grace = evtimer_new(w->base, on_grace, w);
    int64_t beat = w->lease_ms / 3 > 100 ? w->lease_ms / 3 : 100;
    int64_t reap = w->lease_ms / 2 > 200 ? w->lease_ms / 2 : 200;
    struct timeval tpoll = tv_ms(w->poll_ms), tbeat = tv_ms(beat), treap = tv_ms(reap);
    if (!w->ev_term || !w->ev_int || !w->ev_poll || !w->ev_heartbeat || !w->ev_reap ||
        !w->ev_bury || !w->ev_grace || evsignal_add(w->ev_term, NULL) != 0 ||
        evsignal_add(w->ev_int, NULL) != 0 || event_add(w->ev_poll, &tpoll) != 0 ||
        event_add(w->ev_heartbeat, &tbeat) != 0 || event_add(w->ev_reap, &treap) != 0)
        return err_set(e, ERR_INTERNAL, "cannot set up the worker's libevent events");
    return true;
}

worker *worker_new(const opts *o, const logger *log, err *e)
{
    worker *w = xcalloc(1, sizeof *w);
    w->o = o;
    w->log = log;
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "localhost");
    snprintf(w->id, sizeof w->id, "%s:%ld", host, (long)getpid());
    snprintf(w->actor, sizeof w->actor, "worker:%s", w->id);
    w->database_url = opts_get_string(o, "database-url");
    w->database_role = opts_get_string(o, "database-role");
    w->concurrency = (size_t)opts_get_int(o, "concurrency");
    w->lease_ms = opts_get_duration_ms(o, "lease");
    w->poll_ms = opts_get_duration_ms(o, "poll-interval");
    w->grace_ms = opts_get_duration_ms(o, "grace-period");
    w->batch = xcalloc(w->concurrency, sizeof *w->batch);
    size_t nk;
    const job_kind *kinds = job_kinds(&nk);
    w->kinds = xcalloc(nk, sizeof *w->kinds);
    for (size_t i = 0; i < nk; i++)
        w->kinds[w->nkinds++] = kinds[i].name;
    w->base = event_base_new();
    if (w->base == NULL) {
        err_set(e, ERR_INTERNAL, "cannot create the event loop");
        worker_free(w);
        return NULL;
    }
    if (!connect_db(w, e) || !setup_aws(w, e) || !setup_events(w, e)) {
        worker_free(w);
        return NULL;
    }
    worker_listen_open(w);
    w->env = (wjob_env){
        .db = w->db,
        .aws = w->aws,
        .worker_id = w->id,
        .actor = w->actor,
        .session_duration = (int)(opts_get_duration_ms(o, "role-session-duration") / 1000),
        .http = w->http,
        .master_key = w->has_master_key ? &w->master_key : NULL,
        .base = w->base,
        .on_end = on_job_end,
        .on_end_arg = w,
    };
    return w;
}

bool worker_run(worker *w, err *e)
{
    log_info(w->log, "worker started", LOG_STR("worker_id", w->id),
             LOG_INT("concurrency", w->concurrency), LOG_INT("lease_ms", w->lease_ms),
             LOG_BOOL("listening", w->listen != NULL));
    worker_fill(w);
    if (event_base_dispatch(w->base) < 0)
        return err_set(e, ERR_INTERNAL, "the event loop failed");
    log_info(w->log, "worker stopped", LOG_STR("worker_id", w->id));
    return true;
}

static void free_event(struct event *ev)
{
    if (ev)
        event_free(ev);
}

void worker_free(worker *w)
{
    if (w == NULL)
        return;
    /* Jobs still running (worker_new failed half-way, or the loop failed):
     * nothing more is written for them; their leases expire. */
    while (w->running) {
        wjob *j = w->running;
        j->ended = true;
        on_job_end(j, w);
    }
    on_bury(-1, 0, w);
    /* Broker first (its waiting gets report through waws), then waws (the
     * gate's waiting requests and the sessions' calls end), then the STS
     * client; each callback finds its job ended and lets go of it. */
    broker_free(w->broker);
    waws_free(w->aws);
    http_async_free(w->http);
    seal_key_wipe(&w->master_key);
    aws_client_free(w->sts);
    credprov_free(w->identity);
    ratelimit_free(w->rl);
    worker_listen_close(w);
    if (w->db)
        PQfinish(w->db);
    struct event *evs[] = {w->ev_term, w->ev_int,  w->ev_poll, w->ev_heartbeat,
                           w->ev_reap, w->ev_fill, w->ev_bury, w->ev_grace};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        free_event(evs[i]);
    if (w->base)
        event_base_free(w->base);
    free(w->dead);
    free(w->batch);
    free(w->kinds);
    free(w);
}
