/* The AWS request gate: rate limit, then a slot. See worker_gate.h. */
#include "worker_gate.h"

#include "core/xmalloc.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct entry entry;
struct entry {
    wgate *g;
    char *account;
    char *region;
    ratelimit_class cls;
    wgate_go_fn go;
    void *arg;
    struct event *timer; /* while sleeping on an empty bucket */
    entry *prev, *next;
};

/* A doubly linked list with a tail, so sleepers can leave from the middle. */
typedef struct list {
    entry *head, *tail;
    size_t n;
} list;

struct wgate {
    struct event_base *base;
    ratelimit *rl;
    const logger *log;
    size_t max_in_flight;
    size_t in_flight;
    list ready;    /* waiting for a slot, in order */
    list sleeping; /* waiting for a token, each on its timer */
    bool pumping;
};

static void list_unlink(list *l, entry *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
    l->n--;
}

static void list_push_back(list *l, entry *x)
{
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
    l->n++;
}

static void list_push_front(list *l, entry *x)
{
    x->prev = NULL;
    x->next = l->head;
    if (l->head)
        l->head->prev = x;
    else
        l->tail = x;
    l->head = x;
    l->n++;
}

static void entry_free(entry *x)
{
    if (x->timer)
        event_free(x->timer);
    free(x->account);
    free(x->region);
    free(x);
}

wgate *wgate_new(struct event_base *base, ratelimit *rl, int max_in_flight, const logger *log)
{
    wgate *g = xcalloc(1, sizeof *g);
    g->base = base;
    g->rl = rl;
    g->log = log;
    g->max_in_flight = max_in_flight > 0 ? (size_t)max_in_flight : 1;
    return g;
}

static void pump(wgate *g);

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    entry *x = arg;
    wgate *g = x->g;
    list_unlink(&g->sleeping, x);
    /* It waited its turn already: it goes before later arrivals. */
    list_push_front(&g->ready, x);
    pump(g);
}

/* Puts x to sleep for wait_ms; false when no timer can be made. */
static bool sleep_on_bucket(wgate *g, entry *x, int64_t wait_ms)
{
    if (x->timer == NULL)
        x->timer = evtimer_new(g->base, on_wake, x);
    if (x->timer == NULL)
        return false;
    struct timeval tv = {(time_t)(wait_ms / 1000), (suseconds_t)((wait_ms % 1000) * 1000)};
    if (evtimer_add(x->timer, &tv) != 0)
        return false;
    list_push_back(&g->sleeping, x);
    return true;
}

/* Admits waiting operations while slots are free. Re-entrant calls (a go
 * that fails at once and calls wgate_done) leave the work to the outer one. */
static void pump(wgate *g)
{
    if (g->pumping)
        return;
    g->pumping = true;
    while (g->in_flight < g->max_in_flight && g->ready.head) {
        entry *x = g->ready.head;
        list_unlink(&g->ready, x);
        int64_t wait_ms = 0;
        err e = {0};
        if (g->rl && !ratelimit_take(g->rl, x->account, x->region, x->cls, 1, &wait_ms, &e)) {
            if (wait_ms > 0 && sleep_on_bucket(g, x, wait_ms)) {
                log_debug(g->log, "AWS request waits for its rate-limit bucket",
                          LOG_STR("account", x->account), LOG_STR("region", x->region),
                          LOG_STR("class", ratelimit_class_name(x->cls)),
                          LOG_INT("wait_ms", wait_ms));
                continue;
            }
            if (wait_ms > 0)
                err_set(&e, ERR_INTERNAL, "cannot arm a libevent timer for the rate limit");
            x->go(x->arg, &e);
            entry_free(x);
            continue;
        }
        g->in_flight++;
        x->go(x->arg, NULL);
        entry_free(x);
    }
    g->pumping = false;
}

void wgate_submit(wgate *g, const char *account, const char *region, ratelimit_class cls,
                  wgate_go_fn go, void *arg)
{
    entry *x = xcalloc(1, sizeof *x);
    x->g = g;
    x->account = xstrdup(account ? account : "");
    x->region = xstrdup(region ? region : "");
    x->cls = cls;
    x->go = go;
    x->arg = arg;
    list_push_back(&g->ready, x);
    pump(g);
}

void wgate_done(wgate *g)
{
    if (g->in_flight > 0)
        g->in_flight--;
    pump(g);
}

size_t wgate_in_flight(const wgate *g)
{
    return g->in_flight;
}

size_t wgate_waiting(const wgate *g)
{
    return g->ready.n + g->sleeping.n;
}

static void refuse_all(list *l)
{
    err e;
    err_set(&e, ERR_INTERNAL, "worker stopping: the AWS request was not sent");
    while (l->head) {
        entry *x = l->head;
        list_unlink(l, x);
        x->go(x->arg, &e);
        entry_free(x);
    }
}

void wgate_free(wgate *g)
{
    if (g == NULL)
        return;
    g->max_in_flight = 0; /* nothing more is admitted while refusing */
    refuse_all(&g->sleeping);
    refuse_all(&g->ready);
    free(g);
}
