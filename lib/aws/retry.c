#include "aws/retry.h"

#include "core/secure.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* botocore standard.py ThrottledRetryableChecker._THROTTLED_ERROR_CODES */
static const char *const throttling_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

/* botocore standard.py TransientRetryableChecker._TRANSIENT_ERROR_CODES */
static const char *const transient_codes[] = {
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
};

/* Java SDK v2 ClockSkew / Go SDK v2 clock-skew codes */
static const char *const skew_codes[] = {
    "RequestTimeTooSkewed",      "RequestExpired",        "RequestInTheFuture",
    "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool in_list(const char *code, const char *const *list, size_t n)
{
    if (code == NULL || *code == '\0')
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(code, list[i]) == 0)
            return true;
    return false;
}

bool retry_is_throttling_code(const char *code)
{
    return in_list(code, throttling_codes, COUNT(throttling_codes));
}

bool retry_is_transient_code(const char *code)
{
    return in_list(code, transient_codes, COUNT(transient_codes));
}

bool retry_is_skew_code(const char *code)
{
    return in_list(code, skew_codes, COUNT(skew_codes));
}

retry_kind retry_classify(const char *service, const err *e)
{
    if (e == NULL)
        return RETRY_KIND_NONE;
    switch (e->code) {
    case ERR_TIMEOUT:
        return RETRY_KIND_TIMEOUT;
    case ERR_HTTP:
        /* no answer at all: botocore's ConnectionError / HTTPClientError */
        if (e->http_status == 0)
            return RETRY_KIND_TRANSIENT;
        break;
    case ERR_AWS:
        break;
    default:
        return RETRY_KIND_NONE;
    }
    if (retry_is_throttling_code(e->remote_code))
        return RETRY_KIND_THROTTLE;
    if (retry_is_transient_code(e->remote_code))
        return RETRY_KIND_TRANSIENT;
    if (service && strcmp(service, "sts") == 0 &&
        strcmp(e->remote_code, "IDPCommunicationError") == 0)
        return RETRY_KIND_TRANSIENT;
    switch (e->http_status) {
    case 500:
    case 502:
    case 503:
    case 504:
        return RETRY_KIND_TRANSIENT;
    default:
        return RETRY_KIND_NONE;
    }
}

long retry_backoff_ms(retry_kind kind, int attempts, double r)
{
    if (attempts < 1)
        attempts = 1;
    if (!(r >= 0.0))
        r = 0.0;
    if (r >= 1.0)
        r = 0.999999;
    double base = (double)(kind == RETRY_KIND_THROTTLE ? RETRY_THROTTLE_BASE_MS : RETRY_BASE_MS);
    /* The ceiling stops growing at the cap; the exponent is bounded only so
     * ldexp cannot overflow. */
    int exp = attempts - 1 > 64 ? 64 : attempts - 1;
    double ceiling = ldexp(base, exp);
    if (ceiling > (double)RETRY_MAX_BACKOFF_MS)
        ceiling = (double)RETRY_MAX_BACKOFF_MS;
    return (long)(r * ceiling);
}

bool retry_max_attempts(int option, const char *env_value, int *out, err *e)
{
    if (option > 0) {
        if (option > RETRY_MAX_ATTEMPTS_LIMIT)
            return err_set(e, ERR_CONFIG, "max_attempts %d is above the limit of %d", option,
                           RETRY_MAX_ATTEMPTS_LIMIT);
        *out = option;
        return true;
    }
    if (env_value == NULL || *env_value == '\0') {
        *out = RETRY_DEFAULT_MAX_ATTEMPTS;
        return true;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(env_value, &end, 10);
    if (errno != 0 || end == env_value || *end != '\0' || v < 1 || v > RETRY_MAX_ATTEMPTS_LIMIT)
        return err_set(e, ERR_CONFIG, "AWS_MAX_ATTEMPTS \"%.40s\" is not an integer from 1 to %d",
                       env_value, RETRY_MAX_ATTEMPTS_LIMIT);
    *out = (int)v;
    return true;
}

bool retry_clock_skewed(const err *e, const char *date_header, time_t now, long *offset)
{
    if (e == NULL || e->code != ERR_AWS || !retry_is_skew_code(e->remote_code))
        return false;
    if (date_header == NULL || *date_header == '\0')
        return false;
    time_t server;
    if (!timeutil_parse_http_date(date_header, &server, NULL))
        return false;
    long diff = (long)(server - now) - *offset;
    if (diff <= RETRY_SKEW_THRESHOLD_S && diff >= -RETRY_SKEW_THRESHOLD_S)
        return false;
    *offset = (long)(server - now);
    return true;
}

struct retry_policy {
    pthread_mutex_t lock;
    int max_attempts;
    int quota;
    retry_random_fn rnd;
    void *rnd_arg;
};

/* Jitter need not be unpredictable, only independent across processes so
 * many clients do not retry in step: a CSPRNG read per retry is cheap
 * next to the delay itself. */
static double default_random(void *arg)
{
    (void)arg;
    uint64_t v = 0;
    if (!secure_random(&v, sizeof v, NULL))
        v = (uint64_t)timeutil_mono_ns() * 0x9E3779B97F4A7C15ULL;
    return (double)(v >> 11) / 9007199254740992.0; /* 53 bits into [0, 1) */
}

retry_policy *retry_policy_new(int max_attempts, retry_random_fn rnd, void *rnd_arg)
{
    retry_policy *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->max_attempts = max_attempts >= 1 ? max_attempts : RETRY_DEFAULT_MAX_ATTEMPTS;
    p->quota = RETRY_QUOTA_INITIAL;
    retry_policy_set_random(p, rnd, rnd_arg);
    return p;
}

void retry_policy_free(retry_policy *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void retry_policy_set_random(retry_policy *p, retry_random_fn rnd, void *rnd_arg)
{
    pthread_mutex_lock(&p->lock);
    p->rnd = rnd ? rnd : default_random;
    p->rnd_arg = rnd ? rnd_arg : NULL;
    pthread_mutex_unlock(&p->lock);
}

int retry_policy_max_attempts(const retry_policy *p)
{
    return p->max_attempts;
}

int retry_policy_quota(const retry_policy *p)
{
    retry_policy *mp = (retry_policy *)p; /* the lock is not part of the value */
    pthread_mutex_lock(&mp->lock);
    int q = p->quota;
    pthread_mutex_unlock(&mp->lock);
    return q;
}

bool retry_policy_should_retry(retry_policy *p, retry_state *s, const char *service, const err *e,
                               long *delay_ms, const char **why)
{
    const char *unused;
    if (why == NULL)
        why = &unused;
    *delay_ms = 0;
    /* botocore checks the attempt limit and retryability before the quota,
     * so a final error never costs tokens. */
    if (s->attempts >= p->max_attempts) {
        *why = "max attempts reached";
        return false;
    }
    retry_kind kind = retry_classify(service, e);
    if (kind == RETRY_KIND_NONE) {
        *why = "not retryable";
        return false;
    }
    int cost = kind == RETRY_KIND_TIMEOUT ? RETRY_TIMEOUT_COST : RETRY_COST;
    pthread_mutex_lock(&p->lock);
    bool paid = p->quota >= cost;
    if (paid)
        p->quota -= cost;
    double r = paid ? p->rnd(p->rnd_arg) : 0.0;
    pthread_mutex_unlock(&p->lock);
    if (!paid) {
        *why = "retry quota exhausted";
        return false;
    }
    s->acquired = cost;
    *delay_ms = retry_backoff_ms(kind, s->attempts, r);
    *why = "retrying";
    return true;
}

void retry_policy_on_success(retry_policy *p, const retry_state *s)
{
    int amount = s->acquired > 0 ? s->acquired : RETRY_NO_RETRY_INCREMENT;
    pthread_mutex_lock(&p->lock);
    p->quota += amount;
    if (p->quota > RETRY_QUOTA_INITIAL)
        p->quota = RETRY_QUOTA_INITIAL;
    pthread_mutex_unlock(&p->lock);
}
