/* Per-token request limit (see api_throttle.h). */
#include "api_throttle.h"

#include "core/xmalloc.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096 /* power of two; far more than the tokens one process sees at once */

typedef struct slot {
    char token_id[37];
    double tokens;
    int64_t at_us;
} slot;

typedef struct once_slot {
    char key[65];
    int64_t at_us;
} once_slot;

struct api_throttle {
    pthread_mutex_t lock;
    double per_sec, burst;
    slot slots[SLOTS];
    once_slot once[SLOTS];
};

api_throttle *api_throttle_new(double per_sec, double burst)
{
    api_throttle *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->per_sec = per_sec;
    t->burst = burst < 1 ? 1 : burst;
    return t;
}

void api_throttle_free(api_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

bool api_throttle_take(api_throttle *t, const char *token_id, int64_t now_us, int *retry_after_s)
{
    slot *s = &t->slots[fnv1a(token_id) & (SLOTS - 1)];
    pthread_mutex_lock(&t->lock);
    if (strncmp(s->token_id, token_id, sizeof s->token_id) != 0) {
        snprintf(s->token_id, sizeof s->token_id, "%s", token_id);
        s->tokens = t->burst;
        s->at_us = now_us;
    }
    double elapsed = (double)(now_us - s->at_us) / 1e6;
    if (elapsed > 0) {
        s->tokens = fmin(t->burst, s->tokens + elapsed * t->per_sec);
        s->at_us = now_us;
    }
    bool ok = s->tokens >= 1;
    if (ok)
        s->tokens -= 1;
    else if (retry_after_s)
        *retry_after_s = (int)ceil((1 - s->tokens) / t->per_sec);
    pthread_mutex_unlock(&t->lock);
    if (!ok && retry_after_s && *retry_after_s < 1)
        *retry_after_s = 1;
    return ok;
}

bool api_throttle_once_per(api_throttle *t, const char *key, int64_t now_us, int64_t period_us)
{
    once_slot *s = &t->once[fnv1a(key) & (SLOTS - 1)];
    pthread_mutex_lock(&t->lock);
    bool due = strncmp(s->key, key, sizeof s->key) != 0 || now_us - s->at_us >= period_us;
    if (due) {
        snprintf(s->key, sizeof s->key, "%s", key);
        s->at_us = now_us;
    }
    pthread_mutex_unlock(&t->lock);
    return due;
}
