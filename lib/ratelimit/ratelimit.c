#include "ratelimit/ratelimit.h"

#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <hiredis/hiredis.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATELIMIT_NAME_MAX   128
#define RATELIMIT_REASON_MAX 512
#define LOCAL_TABLE_SIZE     256

/* KEYS[1] bucket; ARGV burst, per_sec, n, ttl_ms. Returns {admitted, wait_ms}.
 * Time is Redis's TIME in microseconds (fits a Lua double exactly). A clock
 * step backwards only delays refill; it never mints tokens. A refused take
 * stores nothing, so refusals cost no writes. */
static const char TAKE_SCRIPT[] =
    "local burst = tonumber(ARGV[1])\n"
    "local rate = tonumber(ARGV[2])\n"
    "local n = tonumber(ARGV[3])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens = tonumber(v[1])\n"
    "local ts = tonumber(v[2])\n"
    "if tokens == nil or ts == nil then tokens = burst; ts = now end\n"
    "if now > ts then\n"
    "  tokens = math.min(burst, tokens + (now - ts) * rate / 1000000)\n"
    "  ts = now\n"
    "end\n"
    "if tokens < n then\n"
    "  return {0, math.max(1, math.ceil((n - tokens) * 1000 / rate))}\n"
    "end\n"
    "tokens = tokens - n\n"
    "redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),\n"
    "           'ts', string.format('%.17g', ts))\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
    "return {1, 0}\n";

typedef struct local_bucket {
    char *key;
    double tokens;
    uint64_t ts_ms;
    struct local_bucket *next;
} local_bucket;

struct ratelimit {
    pthread_mutex_t lock;
    char *host;
    int port;
    int db;
    char *prefix;
    ratelimit_limits limits;
    const logger *log;

    redisContext *ctx; /* NULL while disconnected */
    char sha[41];      /* the script's SHA1 from SCRIPT LOAD */
    bool degraded;
    char reason[RATELIMIT_REASON_MAX];
    uint64_t next_attempt_ms; /* monotonic; no reconnect before this */

    local_bucket *local[LOCAL_TABLE_SIZE];
};

static const char *const CLASS_NAMES[RATELIMIT_CLASS_COUNT] = {"describe", "mutate"};

const char *ratelimit_class_name(ratelimit_class c)
{
    if ((int)c < 0 || c >= RATELIMIT_CLASS_COUNT)
        return "unknown";
    return CLASS_NAMES[c];
}

bool ratelimit_class_parse(const char *s, ratelimit_class *out, err *e)
{
    for (int i = 0; i < RATELIMIT_CLASS_COUNT; i++) {
        if (s && strcmp(s, CLASS_NAMES[i]) == 0) {
            *out = (ratelimit_class)i;
            return true;
        }
    }
    return err_set(e, ERR_INVALID, "unknown rate limit class '%s' (expected describe or mutate)",
                   s ? s : "(null)");
}

void ratelimit_limits_default(ratelimit_limits *l)
{
    memset(l, 0, sizeof *l);
    l->rates[RATELIMIT_DESCRIBE] = (ratelimit_rate){.burst = 100, .per_sec = 20};
    l->rates[RATELIMIT_MUTATE] = (ratelimit_rate){.burst = 50, .per_sec = 5};
    l->connect_timeout_ms = 200;
    l->command_timeout_ms = 200;
    l->reconnect_interval_ms = 2000;
    l->fallback_workers = 1;
}

static bool parse_int(const char *s, size_t len, long lo, long hi, long *out)
{
    if (len == 0 || len > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* redis://host[:port][/db]; IPv6 literals in brackets. */
static bool parse_url(ratelimit *rl, const char *url, err *e)
{
    static const char scheme[] = "redis://";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0)
        return err_set(e, ERR_CONFIG, "Redis URL '%s' does not start with redis://",
                       url ? url : "(null)");
    const char *p = url + sizeof scheme - 1;
    const char *end = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(end - p)))
        return err_set(e, ERR_CONFIG,
                       "Redis URL '%s': credentials in the URL are not supported yet", url);
    const char *host = p, *host_end, *port_start = NULL;
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (!host_end)
            return err_set(e, ERR_CONFIG, "Redis URL '%s': unterminated '[' in host", url);
        if (host_end + 1 < end) {
            if (host_end[1] != ':')
                return err_set(e, ERR_CONFIG, "Redis URL '%s': junk after ']'", url);
            port_start = host_end + 2;
        }
    } else {
        host_end = memchr(host, ':', (size_t)(end - host));
        if (host_end)
            port_start = host_end + 1;
        else
            host_end = end;
    }
    if (host_end == host)
        return err_set(e, ERR_CONFIG, "Redis URL '%s' has no host", url);
    long port = 6379, db = 0;
    if (port_start && !parse_int(port_start, (size_t)(end - port_start), 1, 65535, &port))
        return err_set(e, ERR_CONFIG, "Redis URL '%s': port '%.*s' is not a number 1-65535", url,
                       (int)(end - port_start), port_start);
    if (*end == '/' && end[1] != '\0') {
        const char *d = end + 1;
        if (!parse_int(d, strlen(d), 0, INT_MAX, &db))
            return err_set(e, ERR_CONFIG, "Redis URL '%s': database '%s' is not a number", url, d);
    } else if (*end != '\0' && strcmp(end, "/") != 0) {
        return err_set(e, ERR_CONFIG, "Redis URL '%s': unexpected '%s'", url, end);
    }
    rl->host = xstrndup(host, (size_t)(host_end - host));
    rl->port = (int)port;
    rl->db = (int)db;
    return true;
}

static void disconnect(ratelimit *rl)
{
    if (rl->ctx) {
        redisFree(rl->ctx);
        rl->ctx = NULL;
    }
}

/* Called with the lock held whenever Redis fails: drops the connection,
 * records why, and logs only the transition so an outage is one line, not one
 * per call. */
static void go_degraded(ratelimit *rl, const char *what, const char *why)
{
    /* why may point into the context's errstr: copy it before freeing. */
    snprintf(rl->reason, sizeof rl->reason, "%s %s:%d: %s", what, rl->host, rl->port, why);
    disconnect(rl);
    rl->next_attempt_ms = timeutil_mono_ms() + (uint64_t)rl->limits.reconnect_interval_ms;
    if (!rl->degraded) {
        rl->degraded = true;
        log_warn(rl->log, "ratelimit: Redis unavailable, using local buckets",
                 LOG_STR("reason", rl->reason));
    }
}

static void go_shared(ratelimit *rl)
{
    if (rl->degraded) {
        rl->degraded = false;
        rl->reason[0] = '\0';
        log_info(rl->log, "ratelimit: Redis available again, using shared buckets");
    }
}

/* Connects, selects the database and loads the script. On failure the
 * limiter is degraded and false is returned. */
static bool connect_redis(ratelimit *rl)
{
    int ct = rl->limits.connect_timeout_ms, cmd = rl->limits.command_timeout_ms;
    struct timeval ctv = {.tv_sec = ct / 1000, .tv_usec = (ct % 1000) * 1000};
    struct timeval cmdtv = {.tv_sec = cmd / 1000, .tv_usec = (cmd % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(rl->host, rl->port, ctv);
    if (!c) {
        go_degraded(rl, "connecting to", "out of memory");
        return false;
    }
    rl->ctx = c;
    if (c->err) {
        go_degraded(rl, "connecting to", c->errstr);
        return false;
    }
    if (redisSetTimeout(c, cmdtv) != REDIS_OK) {
        go_degraded(rl, "setting the command timeout on", c->errstr);
        return false;
    }
    if (rl->db != 0) {
        redisReply *r = redisCommand(c, "SELECT %d", rl->db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            char why[RATELIMIT_REASON_MAX];
            snprintf(why, sizeof why, "SELECT %d: %s", rl->db, r ? r->str : c->errstr);
            freeReplyObject(r);
            go_degraded(rl, "selecting a database on", why);
            return false;
        }
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(c, "SCRIPT LOAD %s", TAKE_SCRIPT);
    if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
        char why[RATELIMIT_REASON_MAX];
        snprintf(why, sizeof why, "SCRIPT LOAD: %s",
                 !r                             ? c->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str
                                                : "unexpected reply");
        freeReplyObject(r);
        go_degraded(rl, "loading the rate limit script into", why);
        return false;
    }
    memcpy(rl->sha, r->str, 40);
    rl->sha[40] = '\0';
    freeReplyObject(r);
    go_shared(rl);
    return true;
}

static ratelimit_rate effective_rate(const ratelimit *rl, ratelimit_class cls, bool local)
{
    ratelimit_rate r = rl->limits.rates[cls];
    if (local && rl->limits.fallback_workers > 1) {
        r.per_sec /= rl->limits.fallback_workers;
        r.burst = fmax(1.0, r.burst / rl->limits.fallback_workers);
    }
    return r;
}

static size_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h % LOCAL_TABLE_SIZE);
}

/* The same algorithm as TAKE_SCRIPT on this process's monotonic clock. */
static bool take_local(ratelimit *rl, const char *key, ratelimit_class cls, int n, int64_t *wait_ms)
{
    ratelimit_rate rate = effective_rate(rl, cls, true);
    uint64_t now = timeutil_mono_ms();
    size_t h = hash_key(key);
    local_bucket *b = rl->local[h];
    while (b && strcmp(b->key, key) != 0)
        b = b->next;
    if (!b) {
        b = xcalloc(1, sizeof *b);
        b->key = xstrdup(key);
        b->tokens = rate.burst;
        b->ts_ms = now;
        b->next = rl->local[h];
        rl->local[h] = b;
    }
    if (now > b->ts_ms) {
        b->tokens = fmin(rate.burst, b->tokens + (double)(now - b->ts_ms) * rate.per_sec / 1000.0);
        b->ts_ms = now;
    }
    /* Shrinking burst (fallback_workers) can leave a bucket above it. */
    b->tokens = fmin(b->tokens, rate.burst);
    if (b->tokens < n) {
        *wait_ms = (int64_t)fmax(1.0, ceil((n - b->tokens) * 1000.0 / rate.per_sec));
        return false;
    }
    b->tokens -= n;
    *wait_ms = 0;
    return true;
}

static bool reply_is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* One round trip; returns false (and degrades) when Redis failed. On success
 * *admitted and *wait_ms hold the script's answer. */
static bool take_redis(ratelimit *rl, const char *key, ratelimit_class cls, int n, bool *admitted,
                       int64_t *wait_ms)
{
    ratelimit_rate rate = effective_rate(rl, cls, false);
    char burst[32], per_sec[32], nbuf[16], ttl[32];
    snprintf(burst, sizeof burst, "%.17g", rate.burst);
    snprintf(per_sec, sizeof per_sec, "%.17g", rate.per_sec);
    snprintf(nbuf, sizeof nbuf, "%d", n);
    /* Idle long enough to refill completely: the key says nothing a missing
     * key would not, so let Redis drop it. */
    snprintf(ttl, sizeof ttl, "%.0f", ceil(rate.burst / rate.per_sec * 1000.0) + 1000.0);
    const char *argv[] = {"EVALSHA", rl->sha, "1", key, burst, per_sec, nbuf, ttl};
    size_t argc = sizeof argv / sizeof argv[0];
    redisReply *r = redisCommandArgv(rl->ctx, (int)argc, argv, NULL);
    if (reply_is_noscript(r)) {
        /* A restart or SCRIPT FLUSH emptied the cache; EVAL caches it again. */
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = TAKE_SCRIPT;
        r = redisCommandArgv(rl->ctx, (int)argc, argv, NULL);
    }
    if (!r) {
        go_degraded(rl, "talking to", rl->ctx->errstr[0] ? rl->ctx->errstr : "no reply");
        return false;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        char why[RATELIMIT_REASON_MAX];
        snprintf(why, sizeof why, "script error: %s", r->str);
        freeReplyObject(r);
        go_degraded(rl, "running the rate limit script on", why);
        return false;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        go_degraded(rl, "running the rate limit script on", "unexpected reply shape");
        return false;
    }
    *admitted = r->element[0]->integer == 1;
    *wait_ms = *admitted ? 0 : r->element[1]->integer;
    freeReplyObject(r);
    return true;
}

ratelimit *ratelimit_new(const char *redis_url, const char *key_prefix,
                         const ratelimit_limits *limits, const logger *log, err *e)
{
    ratelimit_limits l;
    if (limits)
        l = *limits;
    else
        ratelimit_limits_default(&l);
    for (int i = 0; i < RATELIMIT_CLASS_COUNT; i++) {
        ratelimit_rate r = l.rates[i];
        if (!(r.per_sec > 0) || !(r.burst >= 1) || !isfinite(r.per_sec) || !isfinite(r.burst)) {
            err_set(e, ERR_INVALID,
                    "rate limit for class '%s' must have burst >= 1 and a "
                    "positive rate, got burst %g and %g per second",
                    CLASS_NAMES[i], r.burst, r.per_sec);
            return NULL;
        }
    }
    if (l.connect_timeout_ms <= 0 || l.command_timeout_ms <= 0 || l.reconnect_interval_ms < 0 ||
        l.fallback_workers < 1) {
        err_set(e, ERR_INVALID,
                "rate limit timeouts must be positive and fallback_workers >= 1, got connect %d "
                "ms, command %d ms, reconnect %d ms, fallback_workers %d",
                l.connect_timeout_ms, l.command_timeout_ms, l.reconnect_interval_ms,
                l.fallback_workers);
        return NULL;
    }
    ratelimit *rl = xcalloc(1, sizeof *rl);
    if (!parse_url(rl, redis_url, e)) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->lock, NULL);
    rl->prefix = xstrdup(key_prefix ? key_prefix : "");
    rl->limits = l;
    rl->log = log;
    connect_redis(rl);
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    disconnect(rl);
    for (size_t i = 0; i < LOCAL_TABLE_SIZE; i++) {
        for (local_bucket *b = rl->local[i], *next; b; b = next) {
            next = b->next;
            free(b->key);
            free(b);
        }
    }
    pthread_mutex_destroy(&rl->lock);
    free(rl->host);
    free(rl->prefix);
    free(rl);
}

static bool check_name(const char *what, const char *s, err *e)
{
    if (!s || !*s)
        return err_set(e, ERR_INVALID, "rate limit %s is empty", what);
    size_t len = strnlen(s, RATELIMIT_NAME_MAX + 1);
    if (len > RATELIMIT_NAME_MAX)
        return err_set(e, ERR_INVALID, "rate limit %s '%.*s...' is longer than %d bytes", what, 40,
                       s, RATELIMIT_NAME_MAX);
    return true;
}

bool ratelimit_take(ratelimit *rl, const char *account, const char *region, ratelimit_class cls,
                    int n, int64_t *wait_ms, err *e)
{
    int64_t wait_dummy;
    if (!wait_ms)
        wait_ms = &wait_dummy;
    *wait_ms = -1;
    if (!check_name("account", account, e) || !check_name("region", region, e))
        return false;
    if ((int)cls < 0 || cls >= RATELIMIT_CLASS_COUNT)
        return err_set(e, ERR_INVALID, "unknown rate limit class %d", (int)cls);
    if (n < 1 || n > rl->limits.rates[cls].burst)
        return err_set(e, ERR_INVALID, "cannot take %d tokens from the '%s' bucket of burst %g", n,
                       CLASS_NAMES[cls], rl->limits.rates[cls].burst);

    char *key = xasprintf("%srl:%s:%s:%s", rl->prefix, account, region, CLASS_NAMES[cls]);
    bool admitted = false;
    pthread_mutex_lock(&rl->lock);
    bool done = false;
    if (!rl->ctx && timeutil_mono_ms() >= rl->next_attempt_ms)
        connect_redis(rl);
    if (rl->ctx)
        done = take_redis(rl, key, cls, n, &admitted, wait_ms);
    if (!done) {
        /* n fits the shared burst but may exceed the shrunken local one. */
        int local_n = (int)fmin((double)n, effective_rate(rl, cls, true).burst);
        admitted = take_local(rl, key, cls, local_n, wait_ms);
    }
    pthread_mutex_unlock(&rl->lock);

    if (admitted) {
        err_clear(e);
        free(key);
        return true;
    }
    err_set(e, ERR_LIMIT, "rate limit '%s' exceeded; retry in %lld ms", key, (long long)*wait_ms);
    free(key);
    return false;
}

bool ratelimit_degraded(ratelimit *rl, char *reason, size_t cap)
{
    pthread_mutex_lock(&rl->lock);
    /* An idle worker makes no takes; let the readiness probe notice recovery. */
    if (!rl->ctx && timeutil_mono_ms() >= rl->next_attempt_ms)
        connect_redis(rl);
    bool d = rl->degraded;
    if (reason && cap > 0)
        snprintf(reason, cap, "%s", d ? rl->reason : "");
    pthread_mutex_unlock(&rl->lock);
    return d;
}
