/* Shared AWS rate limits: one token bucket per (account, region, API class)
 * kept in Redis, so every worker process together stays under what AWS
 * allows an account in a region.
 *
 * Each ratelimit_take is one EVALSHA of a Lua script that refills the bucket
 * by the time elapsed since its last use, measured with Redis's own TIME so
 * the workers' clocks do not matter, then takes n tokens or answers how long
 * until n tokens will be there. A bucket's key expires once it has been idle
 * long enough to be full again, because a missing key means "full bucket".
 *
 * When Redis cannot be reached or answers with an error, the limiter keeps
 * working on in-process buckets with the same rates (divided by
 * `fallback_workers`, so a fleet of N workers stays near the shared limit),
 * logs the change once with the reason, retries Redis at most every
 * `reconnect_interval_ms`, and reports itself degraded for /readyz. When Redis
 * answers again it logs that once and uses the shared buckets again.
 *
 * A ratelimit may be used from several threads (one lock serializes them;
 * each call is one Redis round trip). It must not be shared across fork():
 * create one per process. */
#ifndef ESCHER_RATELIMIT_RATELIMIT_H
#define ESCHER_RATELIMIT_RATELIMIT_H

#include "core/err.h"
#include "core/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* API classes with separate buckets, after EC2's request throttling: the
 * cheap read calls (Describe*, List*, Get*) and the calls that change
 * something. Stable: the name is part of the Redis key. */
typedef enum ratelimit_class {
    RATELIMIT_DESCRIBE = 0,
    RATELIMIT_MUTATE,
    RATELIMIT_CLASS_COUNT
} ratelimit_class;

/* "describe" / "mutate"; "unknown" for an out-of-range value. Never NULL. */
const char *ratelimit_class_name(ratelimit_class c);

/* Parses "describe" or "mutate". Fails with ERR_INVALID quoting s. */
bool ratelimit_class_parse(const char *s, ratelimit_class *out, err *e);

/* One bucket's shape: at most `burst` tokens, refilled at `per_sec` a second. */
typedef struct ratelimit_rate {
    double burst;
    double per_sec;
} ratelimit_rate;

typedef struct ratelimit_limits {
    ratelimit_rate rates[RATELIMIT_CLASS_COUNT];
    int connect_timeout_ms;    /* TCP connect to Redis */
    int command_timeout_ms;    /* one command's round trip */
    int reconnect_interval_ms; /* least time between reconnect attempts */
    /* While degraded each process gets rate/fallback_workers and
     * max(1, burst/fallback_workers): the share of the shared limit it would
     * use if the fleet has this many workers. 1 = the whole limit. */
    int fallback_workers;
} ratelimit_limits;

/* Fills *l with the defaults: describe 100 burst / 20 per second and mutate
 * 50 / 5 (EC2's published non-mutating and mutating buckets), 200 ms connect
 * and command timeouts, a reconnect attempt at most every 2000 ms,
 * fallback_workers 1. */
void ratelimit_limits_default(ratelimit_limits *l);

typedef struct ratelimit ratelimit;

/* Creates a limiter on Redis at `redis_url` ("redis://host[:port][/db]", port
 * 6379 and db 0 by default), naming its keys `key_prefix` + "rl:" + account +
 * ":" + region + ":" + class. `limits` NULL means ratelimit_limits_default.
 * `log` is borrowed for the limiter's life and may be NULL.
 *
 * An unreachable Redis is not an error: the limiter starts degraded (logged)
 * and keeps trying. Fails with ERR_CONFIG quoting the URL when it cannot be
 * parsed (passwords in the URL are not supported yet), and with ERR_INVALID
 * when a rate is not positive or burst < 1. The caller frees the result with
 * ratelimit_free. */
ratelimit *ratelimit_new(const char *redis_url, const char *key_prefix,
                         const ratelimit_limits *limits, const logger *log, err *e);

/* Closes the Redis connection and frees everything. NULL is accepted. */
void ratelimit_free(ratelimit *rl);

/* Takes n tokens from the bucket of (account, region, class).
 *
 * Returns true when admitted (*wait_ms = 0). Returns false with *wait_ms > 0
 * and ERR_LIMIT in *e when the bucket holds fewer than n tokens: *wait_ms is
 * how long until it will hold n (the caller sleeps and calls again; nothing
 * was taken). Returns false with *wait_ms = -1 and ERR_INVALID quoting the
 * value when account or region is empty or longer than 128 bytes, class is
 * out of range, or n < 1 or n > the class's burst (never admissible).
 *
 * Redis failures never fail the call: they switch to local buckets (see the
 * top of this file). wait_ms may be NULL. */
bool ratelimit_take(ratelimit *rl, const char *account, const char *region, ratelimit_class cls,
                    int n, int64_t *wait_ms, err *e);

/* True while the limiter uses local buckets because Redis is unavailable
 * (when a reconnect attempt is due, it is made first, so a probe sees
 * recovery even on an idle worker; that attempt may block for the connect
 * timeout);
 * then copies the reason (e.g. "connecting to 127.0.0.1:6379: Connection
 * refused") into reason (cap bytes, truncated, NUL-terminated) when reason is
 * not NULL. False, with reason set to "", while Redis is in use. */
bool ratelimit_degraded(ratelimit *rl, char *reason, size_t cap);

#endif
