/* The per-token request limit (429): a token bucket per API token, shared by
 * the loops of one process. Each process keeps its own buckets, so with P
 * processes behind one port a token may reach P times the rate; the limit
 * is there to stop one runaway script from starving the rest, not to meter. */
#ifndef ESCHER_API_THROTTLE_H
#define ESCHER_API_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct api_throttle api_throttle;

/* A limiter allowing `per_sec` requests a second with bursts of `burst`.
 * Caller frees with api_throttle_free. Aborts on allocation failure. */
api_throttle *api_throttle_new(double per_sec, double burst);
void api_throttle_free(api_throttle *t);

/* Takes one request from token_id's bucket at monotonic time now_us. True
 * when admitted; false with *retry_after_s (whole seconds, >= 1) otherwise.
 * Thread-safe. Buckets live in a fixed table: two tokens that hash alike
 * share a slot and reset each other's bucket, which only ever admits more. */
bool api_throttle_take(api_throttle *t, const char *token_id, int64_t now_us, int *retry_after_s);

/* True at most once per period_us for key (e.g. a token's hash) in this
 * process: for work that may be skipped in between, like recording when a
 * token was last used. Thread-safe; slots as in api_throttle_take, so two
 * keys sharing a slot only make it answer true more often. */
bool api_throttle_once_per(api_throttle *t, const char *key, int64_t now_us, int64_t period_us);

#endif
