/* The credential broker; see broker.h for the cache key and its reasons.
 *
 * Entries, answers waiting for the loop and AssumeRole calls in flight
 * are short singly linked lists: a worker holds a few sessions (one per
 * tenant account and job kind), so a linear scan costs less than keeping
 * an index. */
#include "broker/broker.h"

#include "aws/sts.h"
#include "core/secure.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_LEN            32
#define ACCOUNT_LEN         12
#define DEFAULT_MAX_ENTRIES 1024
#define MAX_DURATION        43200
#define ACTION_MAX          128
#define RESOURCE_MAX        2048
#define EXTERNAL_ID_MAX     1224

typedef struct cache_key {
    char account[ACCOUNT_LEN + 1];
    char *role_arn;
    unsigned char policy_hash[HASH_LEN];
    char *external_id;
    char *source_identity; /* NULL for none */
} cache_key;

typedef struct entry {
    cache_key k;
    aws_creds *creds;
    int duration; /* DurationSeconds it was assumed with */
    struct entry *next;
} entry;

typedef struct waiter {
    broker_done_fn done;
    void *arg;
    char *job_id; /* each waiter's error names its own job */
    struct waiter *next;
} waiter;

/* One AssumeRole in flight and the gets waiting for it. b is NULL once the
 * broker is freed: the call still owns the record until lib/aws answers. */
typedef struct flight {
    broker *b;
    cache_key k;
    int duration;
    waiter *waiters;
    waiter **tail;
    struct flight *next;
} flight;

/* A cached answer on its way through the loop. */
typedef struct hit {
    broker *b;
    struct event *ev;
    aws_creds *creds;
    broker_done_fn done;
    void *arg;
    struct hit *next;
} hit;

struct broker {
    aws_client *sts;
    int margin;
    size_t max_entries;
    time_t (*now)(void *arg);
    void *now_arg;
    struct event_base *base;
    entry *entries;
    size_t nentries;
    flight *flights;
    hit *hits;
    unsigned long assumes;
};

/* A validated request: what AssumeRole is sent and what the cache keys on
 * (borrowing the request's strings). */
typedef struct prepared {
    const broker_request *r;
    char account[ACCOUNT_LEN + 1];
    char session_name[BROKER_SESSION_NAME_MAX + 1];
    char *policy;
    unsigned char policy_hash[HASH_LEN];
    int duration;
} prepared;

/* ---- validation ---- */

static bool in_charset(const char *s, const char *extra)
{
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || strchr(extra, c) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

bool broker_session_name(const char *job_id, char out[BROKER_SESSION_NAME_MAX + 1], err *e)
{
    if (job_id == NULL || job_id[0] == '\0')
        return err_set(e, ERR_INVALID, "job id is empty: the session name needs one");
    int n = snprintf(out, BROKER_SESSION_NAME_MAX + 1, "escher-%s", job_id);
    if (n < 0 || n > BROKER_SESSION_NAME_MAX || !in_charset(job_id, "+=,.@-")) {
        out[0] = '\0';
        return err_set(e, ERR_INVALID,
                       "job id \"%.200s\" cannot name an STS session: \"escher-<job id>\" must be "
                       "2-64 characters of [A-Za-z0-9_+=,.@-]",
                       job_id);
    }
    return true;
}

/* arn:<partition>:iam::<12 digits>:role/<path/>name -> the account. */
static bool role_account(const char *arn, char account[ACCOUNT_LEN + 1], err *e)
{
    if (arn == NULL || arn[0] == '\0')
        return err_set(e, ERR_INVALID, "role ARN is empty");
    bool ok = strncmp(arn, "arn:", 4) == 0 && strlen(arn) <= 2048;
    const char *p = ok ? strchr(arn + 4, ':') : NULL;
    ok = p && p != arn + 4 && strncmp(p, ":iam::", 6) == 0;
    if (ok) {
        p += 6;
        for (int i = 0; i < ACCOUNT_LEN && ok; i++)
            ok = p[i] >= '0' && p[i] <= '9';
        ok = ok && strncmp(p + ACCOUNT_LEN, ":role/", 6) == 0 && p[ACCOUNT_LEN + 6] != '\0';
    }
    if (!ok)
        return err_set(e, ERR_INVALID,
                       "role ARN \"%.300s\" is not arn:<partition>:iam::<account>:role/<name>",
                       arn);
    memcpy(account, p, ACCOUNT_LEN);
    account[ACCOUNT_LEN] = '\0';
    return true;
}

/* service:Action, the action possibly with IAM's * and ? wildcards. */
static bool action_valid(const char *a)
{
    const char *colon = strchr(a, ':');
    if (colon == NULL || colon == a || colon[1] == '\0' || strlen(a) > ACTION_MAX)
        return false;
    for (const char *p = a; p < colon; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    for (const char *p = colon + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '*' || *p == '?'))
            return false;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted, de-duplicated JSON array of v. */
static json_t *sorted_array(const char *const *v, size_t n)
{
    const char **s = xcalloc(n ? n : 1, sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_str);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(s[i], s[i - 1]) != 0)
            json_array_append_new(a, json_string(s[i]));
    free(s);
    return a;
}

char *broker_policy(const broker_request *r, err *e)
{
    const char *job = r->job_id ? r->job_id : "";
    if (r->nactions == 0 || r->actions == NULL) {
        err_set(e, ERR_INVALID, "job \"%.100s\" declares no actions: its session could do nothing",
                job);
        return NULL;
    }
    for (size_t i = 0; i < r->nactions; i++)
        if (r->actions[i] == NULL || !action_valid(r->actions[i])) {
            err_set(e, ERR_INVALID,
                    "job \"%.100s\": action \"%.200s\" is not service:Action (e.g. "
                    "\"ec2:DescribeInstances\")",
                    job, r->actions[i] ? r->actions[i] : "(null)");
            return NULL;
        }
    for (size_t i = 0; i < r->nresources; i++)
        if (r->resources == NULL || r->resources[i] == NULL || r->resources[i][0] == '\0' ||
            strlen(r->resources[i]) > RESOURCE_MAX) {
            err_set(e, ERR_INVALID, "job \"%.100s\": resource %zu is empty or too long", job, i);
            return NULL;
        }
    json_t *stmt = json_object();
    json_object_set_new(stmt, "Effect", json_string("Allow"));
    json_object_set_new(stmt, "Action", sorted_array(r->actions, r->nactions));
    if (r->nresources == 0)
        json_object_set_new(stmt, "Resource", json_string("*"));
    else
        json_object_set_new(stmt, "Resource", sorted_array(r->resources, r->nresources));
    json_t *doc = json_object();
    json_object_set_new(doc, "Version", json_string("2012-10-17"));
    json_t *stmts = json_array();
    json_array_append_new(stmts, stmt);
    json_object_set_new(doc, "Statement", stmts);
    char *out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (out == NULL) {
        err_set(e, ERR_INTERNAL, "job \"%.100s\": cannot serialize the session policy", job);
        return NULL;
    }
    size_t len = strlen(out);
    if (len > BROKER_POLICY_MAX) {
        err_set(e, ERR_LIMIT,
                "job \"%.100s\": session policy of %zu actions is %zu characters, over STS's "
                "limit of %d",
                job, r->nactions, len, BROKER_POLICY_MAX);
        free(out);
        return NULL;
    }
    return out;
}

static void prepared_free(prepared *p)
{
    free(p->policy);
    p->policy = NULL;
}

static bool prepare(const broker_request *r, prepared *p, err *e)
{
    memset(p, 0, sizeof *p);
    p->r = r;
    if (r == NULL)
        return err_set(e, ERR_INVALID, "no broker request");
    if (!broker_session_name(r->job_id, p->session_name, e))
        return false;
    if (!role_account(r->role_arn, p->account, e))
        return err_prefix(e, "job \"%s\"", r->job_id);
    /* The external id is not quoted: it is the tenant's proof of identity
     * towards its own role and has no business in logs. */
    if (r->external_id == NULL || strlen(r->external_id) < 2 ||
        strlen(r->external_id) > EXTERNAL_ID_MAX || !in_charset(r->external_id, "+=,.@:/-"))
        return err_set(e, ERR_INVALID,
                       "job \"%s\": the external id for role \"%.300s\" is missing or not 2-%d "
                       "characters of [A-Za-z0-9_+=,.@:/-]",
                       r->job_id, r->role_arn, EXTERNAL_ID_MAX);
    if (r->source_identity) {
        size_t n = strlen(r->source_identity);
        if (n < 2 || n > 64 || !in_charset(r->source_identity, "+=,.@-"))
            return err_set(e, ERR_INVALID,
                           "job \"%s\": source identity \"%.100s\" is not 2-64 characters of "
                           "[A-Za-z0-9_+=,.@-]",
                           r->job_id, r->source_identity);
    }
    p->duration = r->duration_seconds ? r->duration_seconds : BROKER_DEFAULT_DURATION;
    if (p->duration < BROKER_DEFAULT_DURATION || p->duration > MAX_DURATION)
        return err_set(e, ERR_INVALID, "job \"%s\": duration %d s is outside 900..%d", r->job_id,
                       r->duration_seconds, MAX_DURATION);
    p->policy = broker_policy(r, e);
    if (p->policy == NULL)
        return false;
    unsigned int mdlen = 0;
    if (!EVP_Digest(p->policy, strlen(p->policy), p->policy_hash, &mdlen, EVP_sha256(), NULL) ||
        mdlen != HASH_LEN) {
        prepared_free(p);
        return err_set(e, ERR_INTERNAL, "job \"%s\": SHA-256 of the session policy failed",
                       r->job_id);
    }
    return true;
}

/* ---- cache ---- */

static bool same_opt(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool key_matches(const cache_key *k, const prepared *p)
{
    return strcmp(k->account, p->account) == 0 && strcmp(k->role_arn, p->r->role_arn) == 0 &&
           memcmp(k->policy_hash, p->policy_hash, HASH_LEN) == 0 &&
           strcmp(k->external_id, p->r->external_id) == 0 &&
           same_opt(k->source_identity, p->r->source_identity);
}

static void key_init(cache_key *k, const prepared *p)
{
    memcpy(k->account, p->account, sizeof k->account);
    k->role_arn = xstrdup(p->r->role_arn);
    memcpy(k->policy_hash, p->policy_hash, HASH_LEN);
    k->external_id = xstrdup(p->r->external_id);
    k->source_identity = p->r->source_identity ? xstrdup(p->r->source_identity) : NULL;
}

static void key_free(cache_key *k)
{
    free(k->role_arn);
    secure_free_string(k->external_id);
    free(k->source_identity);
}

static time_t now_of(const broker *b)
{
    return b->now ? b->now(b->now_arg) : timeutil_now();
}

static bool usable(const broker *b, const aws_creds *c, time_t now)
{
    return c->expiration != 0 && now < c->expiration - b->margin;
}

static void entry_free(entry *en)
{
    creds_free(en->creds);
    key_free(&en->k);
    free(en);
}

/* Drops entries no longer usable, so stale secrets do not linger. */
static void sweep(broker *b, time_t now)
{
    for (entry **pp = &b->entries; *pp;) {
        entry *en = *pp;
        if (!usable(b, en->creds, now)) {
            *pp = en->next;
            entry_free(en);
            b->nentries--;
        } else {
            pp = &en->next;
        }
    }
}

static entry *lookup(broker *b, const prepared *p)
{
    sweep(b, now_of(b));
    for (entry *en = b->entries; en; en = en->next)
        if (key_matches(&en->k, p) && en->duration >= p->duration)
            return en;
    return NULL;
}

static void remove_entry(broker *b, entry *victim)
{
    for (entry **pp = &b->entries; *pp; pp = &(*pp)->next)
        if (*pp == victim) {
            *pp = victim->next;
            entry_free(victim);
            b->nentries--;
            return;
        }
}

/* Takes creds. Replaces the entry of the same key; evicts the entry closest
 * to expiry when full. */
static void store(broker *b, const cache_key *k, int duration, aws_creds *creds)
{
    time_t now = now_of(b);
    sweep(b, now);
    if (!usable(b, creds, now)) {
        creds_free(creds);
        return;
    }
    for (entry *en = b->entries; en; en = en->next)
        if (strcmp(en->k.account, k->account) == 0 && strcmp(en->k.role_arn, k->role_arn) == 0 &&
            memcmp(en->k.policy_hash, k->policy_hash, HASH_LEN) == 0 &&
            strcmp(en->k.external_id, k->external_id) == 0 &&
            same_opt(en->k.source_identity, k->source_identity)) {
            remove_entry(b, en);
            break;
        }
    while (b->nentries >= b->max_entries && b->entries) {
        entry *soonest = b->entries;
        for (entry *en = b->entries; en; en = en->next)
            if (en->creds->expiration < soonest->creds->expiration)
                soonest = en;
        remove_entry(b, soonest);
    }
    entry *en = xcalloc(1, sizeof *en);
    memcpy(en->k.account, k->account, sizeof en->k.account);
    en->k.role_arn = xstrdup(k->role_arn);
    memcpy(en->k.policy_hash, k->policy_hash, HASH_LEN);
    en->k.external_id = xstrdup(k->external_id);
    en->k.source_identity = k->source_identity ? xstrdup(k->source_identity) : NULL;
    en->creds = creds;
    en->duration = duration;
    en->next = b->entries;
    b->entries = en;
    b->nentries++;
}

/* ---- life cycle ---- */

broker *broker_new(aws_client *sts_client, const broker_options *opts, err *e)
{
    if (sts_client == NULL) {
        err_set(e, ERR_INVALID, "broker_new: no STS client");
        return NULL;
    }
    broker_options o = {0};
    if (opts)
        o = *opts;
    if (o.refresh_margin_seconds < 0 || o.refresh_margin_seconds >= BROKER_DEFAULT_DURATION) {
        err_set(e, ERR_INVALID, "broker refresh margin %d s is outside 0..%d",
                o.refresh_margin_seconds, BROKER_DEFAULT_DURATION - 1);
        return NULL;
    }
    broker *b = xcalloc(1, sizeof *b);
    b->sts = sts_client;
    b->margin = o.refresh_margin_seconds ? o.refresh_margin_seconds : BROKER_DEFAULT_MARGIN;
    b->max_entries = o.max_entries ? o.max_entries : DEFAULT_MAX_ENTRIES;
    b->now = o.now;
    b->now_arg = o.now_arg;
    b->base = o.base;
    return b;
}

static void waiters_fail(waiter *w, const err *cause)
{
    while (w) {
        waiter *next = w->next;
        err we = *cause;
        err_prefix(&we, "job \"%s\"", w->job_id);
        w->done(NULL, &we, w->arg);
        free(w->job_id);
        free(w);
        w = next;
    }
}

void broker_free(broker *b)
{
    if (b == NULL)
        return;
    while (b->hits) {
        hit *h = b->hits;
        b->hits = h->next;
        event_free(h->ev);
        creds_free(h->creds);
        err e;
        err_set(&e, ERR_INTERNAL, "broker freed before the cached credentials were delivered");
        h->done(NULL, &e, h->arg);
        free(h);
    }
    while (b->flights) {
        flight *f = b->flights;
        b->flights = f->next;
        f->b = NULL; /* on_assumed frees it when lib/aws answers */
        waiter *w = f->waiters;
        f->waiters = NULL;
        f->tail = &f->waiters;
        err e;
        err_set(&e, ERR_INTERNAL, "broker freed while assuming role \"%.300s\"", f->k.role_arn);
        waiters_fail(w, &e);
    }
    while (b->entries) {
        entry *en = b->entries;
        b->entries = en->next;
        entry_free(en);
    }
    free(b);
}

size_t broker_cache_size(const broker *b)
{
    return b->nentries;
}

unsigned long broker_assume_count(const broker *b)
{
    return b->assumes;
}

/* ---- AssumeRole ---- */

static bool build_request(const prepared *p, aws_request *req, err *e)
{
    sts_assume_role_params sp = {0};
    sp.role_arn = p->r->role_arn;
    sp.session_name = p->session_name;
    sp.external_id = p->r->external_id;
    sp.duration_seconds = p->duration;
    sp.policy = p->policy;
    sp.source_identity = p->r->source_identity;
    return sts_assume_role_request(&sp, req, e);
}

static bool parse_answer(const http_response *resp, const char *role_arn, aws_creds **out, err *e)
{
    char source[400];
    snprintf(source, sizeof source, "sts:AssumeRole %.300s", role_arn);
    return sts_assume_role_parse(resp->body.buf ? resp->body.buf : "", resp->body.len, source, out,
                                 e);
}

bool broker_get(broker *b, const broker_request *r, aws_creds **out, err *e)
{
    *out = NULL;
    prepared p;
    if (!prepare(r, &p, e))
        return false;
    entry *en = lookup(b, &p);
    if (en) {
        *out = creds_dup(en->creds);
        prepared_free(&p);
        return true;
    }
    aws_request req;
    if (!build_request(&p, &req, e)) {
        prepared_free(&p);
        return err_prefix(e, "job \"%s\"", r->job_id);
    }
    http_response resp = HTTP_RESPONSE_INIT;
    b->assumes++;
    bool ok = aws_client_call(b->sts, &req, &resp, e);
    aws_request_free(&req);
    aws_creds *creds = NULL;
    if (ok)
        ok = parse_answer(&resp, r->role_arn, &creds, e);
    http_response_free(&resp); /* wipes the body, which held the secret */
    if (!ok) {
        prepared_free(&p);
        return err_prefix(e, "job \"%s\": assuming role \"%.300s\"", r->job_id, r->role_arn);
    }
    *out = creds_dup(creds);
    cache_key k;
    key_init(&k, &p);
    store(b, &k, p.duration, creds);
    key_free(&k);
    prepared_free(&p);
    return true;
}

static void on_hit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hit *h = arg;
    broker *b = h->b;
    for (hit **pp = &b->hits; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    event_free(h->ev);
    broker_done_fn done = h->done;
    void *darg = h->arg;
    aws_creds *creds = h->creds;
    free(h);
    done(creds, NULL, darg);
}

static void flight_free(flight *f)
{
    key_free(&f->k);
    free(f);
}

static void on_assumed(const http_response *resp, const err *ce, void *arg)
{
    flight *f = arg;
    broker *b = f->b;
    if (b) {
        for (flight **pp = &b->flights; *pp; pp = &(*pp)->next)
            if (*pp == f) {
                *pp = f->next;
                break;
            }
    }
    err e = {0};
    aws_creds *creds = NULL;
    bool ok = resp != NULL;
    if (!ok)
        e = *ce;
    else
        ok = parse_answer(resp, f->k.role_arn, &creds, &e);
    waiter *w = f->waiters;
    f->waiters = NULL;
    if (!ok) {
        err_prefix(&e, "assuming role \"%.300s\"", f->k.role_arn);
        waiters_fail(w, &e);
        flight_free(f);
        return;
    }
    /* Cache first, so a callback asking again is served from the cache. */
    if (b)
        store(b, &f->k, f->duration, creds_dup(creds));
    flight_free(f);
    while (w) {
        waiter *next = w->next;
        w->done(creds_dup(creds), NULL, w->arg);
        free(w->job_id);
        free(w);
        w = next;
    }
    creds_free(creds);
}

static waiter *waiter_new(broker_done_fn done, void *arg, const char *job_id)
{
    waiter *w = xcalloc(1, sizeof *w);
    w->done = done;
    w->arg = arg;
    w->job_id = xstrdup(job_id);
    return w;
}

bool broker_get_async(broker *b, const broker_request *r, broker_done_fn done, void *arg, err *e)
{
    if (b->base == NULL)
        return err_set(e, ERR_INVALID, "broker_get_async needs broker_options.base (the loop)");
    if (done == NULL)
        return err_set(e, ERR_INVALID, "broker_get_async needs a callback");
    prepared p;
    if (!prepare(r, &p, e))
        return false;
    entry *en = lookup(b, &p);
    if (en) {
        hit *h = xcalloc(1, sizeof *h);
        h->b = b;
        h->ev = evtimer_new(b->base, on_hit, h);
        struct timeval zero = {0, 0};
        if (h->ev == NULL || evtimer_add(h->ev, &zero) != 0) {
            if (h->ev)
                event_free(h->ev);
            free(h);
            prepared_free(&p);
            return err_set(e, ERR_INTERNAL, "job \"%s\": cannot schedule the cached answer",
                           r->job_id);
        }
        h->creds = creds_dup(en->creds);
        h->done = done;
        h->arg = arg;
        h->next = b->hits;
        b->hits = h;
        prepared_free(&p);
        return true;
    }
    for (flight *f = b->flights; f; f = f->next)
        if (key_matches(&f->k, &p) && f->duration >= p.duration) {
            waiter *w = waiter_new(done, arg, r->job_id);
            *f->tail = w;
            f->tail = &w->next;
            prepared_free(&p);
            return true;
        }
    aws_request req;
    if (!build_request(&p, &req, e)) {
        prepared_free(&p);
        return err_prefix(e, "job \"%s\"", r->job_id);
    }
    flight *f = xcalloc(1, sizeof *f);
    f->b = b;
    key_init(&f->k, &p);
    f->duration = p.duration;
    f->waiters = waiter_new(done, arg, r->job_id);
    f->tail = &f->waiters->next;
    f->next = b->flights;
    b->flights = f;
    b->assumes++;
    bool ok = aws_client_call_async(b->sts, &req, on_assumed, f, e);
    aws_request_free(&req);
    prepared_free(&p);
    if (!ok) {
        b->flights = f->next;
        free(f->waiters->job_id);
        free(f->waiters);
        flight_free(f);
        return err_prefix(e, "job \"%s\": assuming role \"%.300s\"", r->job_id, r->role_arn);
    }
    return true;
}
