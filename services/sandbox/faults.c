/* Faults: EC2's request-rate limiting as token buckets per (service,
 * account, region, API class) — each AWS API has its own limits — plus latency, server errors and
 * dropped connections, globally or for the calls a rule matches.
 *
 * Settings as JSON (GET/PUT /faults):
 *   {"throttle": {"enabled": true, "describe": {"burst": 100, "rate": 20},
 *                 "mutate": {"burst": 50, "rate": 5}},
 *    "latency": {"fixed_ms": 0, "jitter_ms": 0},
 *    "error_rate": 0, "error_status": [500, 503], "drop_rate": 0,
 *    "throttle_rate": 0, "seed": 1,
 *    "rules": [{"account": "...", "region": "...", "class": "describe",
 *               "service": "ec2", "action": "DescribeInstances",
 *               "latency_ms": 200, "jitter_ms": 50, "error_rate": 1,
 *               "drop_rate": 0, "throttle_rate": 0.3}]}
 * The first rule whose given fields all match a call overrides the global
 * latency, error, drop and throttle-rate settings it names. throttle_rate is
 * a share of calls answered with the throttling error whatever the buckets
 * hold: a test can ask for "30% of calls throttled" without tuning bucket
 * sizes to its own call rate. */
#include "faults.h"

#include "core/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bucket_rate {
    double burst;
    double rate; /* tokens per second */
} bucket_rate;

typedef struct fault_rule {
    char *account, *region, *service, *action;
    int cls;                                     /* -1 any */
    long latency_ms, jitter_ms;                  /* -1: global */
    double error_rate, drop_rate, throttle_rate; /* < 0: global */
} fault_rule;

typedef struct settings {
    bool throttle;
    bucket_rate rates[2]; /* by sbx_api_class */
    long latency_ms, jitter_ms;
    double error_rate, drop_rate, throttle_rate;
    int error_status[2];
    size_t nerror_status;
    uint64_t seed;
    fault_rule *rules;
    size_t nrules;
} settings;

typedef struct bucket {
    uint64_t hash; /* 0: empty slot */
    char *key;
    double tokens;
    uint64_t last_ms;
} bucket;

struct sbx_faults {
    faults_config start;
    settings set;
    uint64_t rng;
    bucket *buckets;
    size_t nbuckets, cap;
};

static const char *const CLASS_NAMES[] = {"describe", "mutate"};

static void rules_free(fault_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rules[i].account);
        free(rules[i].region);
        free(rules[i].service);
        free(rules[i].action);
    }
    free(rules);
}

static void buckets_clear(sbx_faults *f)
{
    for (size_t i = 0; i < f->cap; i++)
        free(f->buckets[i].key);
    free(f->buckets);
    f->buckets = NULL;
    f->nbuckets = f->cap = 0;
}

static void settings_defaults(settings *s, const faults_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->throttle = cfg->throttle;
    s->rates[SBX_DESCRIBE] = (bucket_rate){100, 20};
    s->rates[SBX_MUTATE] = (bucket_rate){50, 5};
    s->latency_ms = cfg->latency_ms;
    s->error_rate = cfg->error_rate;
    s->error_status[0] = 500;
    s->error_status[1] = 503;
    s->nerror_status = 2;
    s->seed = cfg->seed;
}

sbx_faults *faults_new(const faults_config *cfg)
{
    sbx_faults *f = xcalloc(1, sizeof *f);
    f->start = *cfg;
    settings_defaults(&f->set, cfg);
    f->rng = cfg->seed;
    return f;
}

void faults_reset(sbx_faults *f)
{
    rules_free(f->set.rules, f->set.nrules);
    settings_defaults(&f->set, &f->start);
    f->rng = f->start.seed;
    buckets_clear(f);
}

void faults_free(sbx_faults *f)
{
    if (f == NULL)
        return;
    rules_free(f->set.rules, f->set.nrules);
    buckets_clear(f);
    free(f);
}

/* ---- decisions ---- */

static uint64_t next_u64(sbx_faults *f)
{
    uint64_t z = (f->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double next_unit(sbx_faults *f)
{
    return (double)(next_u64(f) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t key_hash(const char *service, const char *account, const char *region,
                         sbx_api_class cls)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = service; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    h = (h ^ '/') * 0x100000001b3ULL;
    for (const char *p = account; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    h = (h ^ '/') * 0x100000001b3ULL;
    for (const char *p = region; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    h = (h ^ (uint64_t)(cls + 1)) * 0x100000001b3ULL;
    return h ? h : 1;
}

static bucket *bucket_find(sbx_faults *f, uint64_t h, const char *key);

static void buckets_grow(sbx_faults *f)
{
    bucket *old = f->buckets;
    size_t oldcap = f->cap;
    f->cap = oldcap ? 2 * oldcap : 256;
    f->buckets = xcalloc(f->cap, sizeof *f->buckets);
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].hash == 0)
            continue;
        size_t j = old[i].hash & (f->cap - 1);
        while (f->buckets[j].hash)
            j = (j + 1) & (f->cap - 1);
        f->buckets[j] = old[i];
    }
    free(old);
}

/* The bucket for key, created full when new. */
static bucket *bucket_find(sbx_faults *f, uint64_t h, const char *key)
{
    if (2 * (f->nbuckets + 1) > f->cap)
        buckets_grow(f);
    size_t j = h & (f->cap - 1);
    while (f->buckets[j].hash) {
        if (f->buckets[j].hash == h && strcmp(f->buckets[j].key, key) == 0)
            return &f->buckets[j];
        j = (j + 1) & (f->cap - 1);
    }
    f->buckets[j].hash = h;
    f->buckets[j].key = xstrdup(key);
    f->buckets[j].tokens = -1; /* filled by the caller */
    f->nbuckets++;
    return &f->buckets[j];
}

static bool take_token(sbx_faults *f, const char *service, const char *account, const char *region,
                       sbx_api_class cls, uint64_t now_ms)
{
    char key[200];
    snprintf(key, sizeof key, "%s/%s/%s/%d", service, account, region, (int)cls);
    bucket *b = bucket_find(f, key_hash(service, account, region, cls), key);
    const bucket_rate *r = &f->set.rates[cls];
    if (b->tokens < 0) {
        b->tokens = r->burst;
        b->last_ms = now_ms;
    }
    double refill = (double)(now_ms - b->last_ms) / 1000.0 * r->rate;
    b->tokens = fmin(r->burst, b->tokens + refill);
    b->last_ms = now_ms;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

static bool field_matches(const char *want, const char *have)
{
    return want == NULL || (have && strcmp(want, have) == 0);
}

void faults_decide(sbx_faults *f, const char *account, const char *region, sbx_api_class cls,
                   const char *service, const char *action, uint64_t now_ms, fault_decision *out)
{
    memset(out, 0, sizeof *out);
    const settings *s = &f->set;
    long latency = s->latency_ms, jitter = s->jitter_ms;
    double error_rate = s->error_rate, drop_rate = s->drop_rate, throttle_rate = s->throttle_rate;
    for (size_t i = 0; i < s->nrules; i++) {
        const fault_rule *r = &s->rules[i];
        if (!field_matches(r->account, account) || !field_matches(r->region, region) ||
            !field_matches(r->service, service) || !field_matches(r->action, action) ||
            (r->cls >= 0 && r->cls != (int)cls))
            continue;
        if (r->latency_ms >= 0)
            latency = r->latency_ms;
        if (r->jitter_ms >= 0)
            jitter = r->jitter_ms;
        if (r->error_rate >= 0)
            error_rate = r->error_rate;
        if (r->drop_rate >= 0)
            drop_rate = r->drop_rate;
        if (r->throttle_rate >= 0)
            throttle_rate = r->throttle_rate;
        break;
    }
    if (latency > 0 || jitter > 0)
        out->latency_ms =
            (uint32_t)(latency + (jitter > 0 ? (long)(next_u64(f) % (uint64_t)(jitter + 1)) : 0));
    if (drop_rate > 0 && next_unit(f) < drop_rate) {
        out->drop = true;
        return;
    }
    if (error_rate > 0 && next_unit(f) < error_rate && s->nerror_status) {
        out->error_status = s->error_status[next_u64(f) % s->nerror_status];
        return;
    }
    if (throttle_rate > 0 && next_unit(f) < throttle_rate) {
        out->throttled = true;
        return;
    }
    if (s->throttle && !take_token(f, service, account, region, cls, now_ms))
        out->throttled = true;
}

/* ---- JSON ---- */

static json_t *rule_json(const fault_rule *r)
{
    json_t *o = json_object();
    if (r->account)
        json_object_set_new(o, "account", json_string(r->account));
    if (r->region)
        json_object_set_new(o, "region", json_string(r->region));
    if (r->service)
        json_object_set_new(o, "service", json_string(r->service));
    if (r->action)
        json_object_set_new(o, "action", json_string(r->action));
    if (r->cls >= 0)
        json_object_set_new(o, "class", json_string(CLASS_NAMES[r->cls]));
    if (r->latency_ms >= 0)
        json_object_set_new(o, "latency_ms", json_integer(r->latency_ms));
    if (r->jitter_ms >= 0)
        json_object_set_new(o, "jitter_ms", json_integer(r->jitter_ms));
    if (r->error_rate >= 0)
        json_object_set_new(o, "error_rate", json_real(r->error_rate));
    if (r->drop_rate >= 0)
        json_object_set_new(o, "drop_rate", json_real(r->drop_rate));
    if (r->throttle_rate >= 0)
        json_object_set_new(o, "throttle_rate", json_real(r->throttle_rate));
    return o;
}

json_t *faults_to_json(const sbx_faults *f)
{
    const settings *s = &f->set;
    json_t *statuses = json_array();
    for (size_t i = 0; i < s->nerror_status; i++)
        json_array_append_new(statuses, json_integer(s->error_status[i]));
    json_t *rules = json_array();
    for (size_t i = 0; i < s->nrules; i++)
        json_array_append_new(rules, rule_json(&s->rules[i]));
    return json_pack("{s:{s:b, s:{s:f, s:f}, s:{s:f, s:f}}, s:{s:I, s:I}, s:f, s:o, s:f, s:f, s:I, "
                     "s:o}",
                     "throttle", "enabled", s->throttle, "describe", "burst", s->rates[0].burst,
                     "rate", s->rates[0].rate, "mutate", "burst", s->rates[1].burst, "rate",
                     s->rates[1].rate, "latency", "fixed_ms", (json_int_t)s->latency_ms,
                     "jitter_ms", (json_int_t)s->jitter_ms, "error_rate", s->error_rate,
                     "error_status", statuses, "drop_rate", s->drop_rate, "throttle_rate",
                     s->throttle_rate, "seed", (json_int_t)s->seed, "rules", rules);
}

static bool get_number(const json_t *obj, const char *key, double lo, double hi, double *out,
                       const char *where, err *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return true;
    if (!json_is_number(v))
        return err_set(e, ERR_INVALID, "%s%s must be a number", where, key);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi))
        return err_set(e, ERR_INVALID, "%s%s is %g; it must be between %g and %g", where, key, d,
                       lo, hi);
    *out = d;
    return true;
}

static bool get_string(const json_t *obj, const char *key, char **out, err *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return true;
    if (!json_is_string(v))
        return err_set(e, ERR_INVALID, "rules[].%s must be a string", key);
    *out = xstrdup(json_string_value(v));
    return true;
}

static bool parse_rule(const json_t *o, fault_rule *r, err *e)
{
    memset(r, 0, sizeof *r);
    r->cls = -1;
    r->latency_ms = r->jitter_ms = -1;
    r->error_rate = r->drop_rate = r->throttle_rate = -1;
    if (!json_is_object(o))
        return err_set(e, ERR_INVALID, "rules[] must be objects");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        static const char *const known[] = {"account",   "region",       "service",   "action",
                                            "class",     "latency_ms",   "jitter_ms", "error_rate",
                                            "drop_rate", "throttle_rate"};
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok)
            return err_set(e, ERR_INVALID, "rules[] has unknown field '%s'", key);
    }
    json_t *cls = json_object_get(o, "class");
    if (cls) {
        const char *c = json_string_value(cls);
        for (int i = 0; c && i < 2; i++)
            if (strcmp(c, CLASS_NAMES[i]) == 0)
                r->cls = i;
        if (r->cls < 0)
            return err_set(e, ERR_INVALID, "rules[].class must be \"describe\" or \"mutate\"");
    }
    double lat = -1, jit = -1;
    return get_string(o, "account", &r->account, e) && get_string(o, "region", &r->region, e) &&
           get_string(o, "service", &r->service, e) && get_string(o, "action", &r->action, e) &&
           get_number(o, "latency_ms", 0, 600000, &lat, "rules[].", e) &&
           get_number(o, "jitter_ms", 0, 600000, &jit, "rules[].", e) &&
           get_number(o, "error_rate", 0, 1, &r->error_rate, "rules[].", e) &&
           get_number(o, "drop_rate", 0, 1, &r->drop_rate, "rules[].", e) &&
           get_number(o, "throttle_rate", 0, 1, &r->throttle_rate, "rules[].", e) &&
           ((r->latency_ms = (long)lat), (r->jitter_ms = (long)jit), true);
}

static bool parse_rate(const json_t *obj, const char *name, bucket_rate *r, err *e)
{
    json_t *o = json_object_get(obj, name);
    if (o == NULL)
        return true;
    if (!json_is_object(o))
        return err_set(e, ERR_INVALID, "throttle.%s must be an object", name);
    char where[64];
    snprintf(where, sizeof where, "throttle.%s.", name);
    return get_number(o, "burst", 1, 1e9, &r->burst, where, e) &&
           get_number(o, "rate", 0, 1e9, &r->rate, where, e);
}

bool faults_update(sbx_faults *f, const json_t *obj, err *e)
{
    if (!json_is_object(obj))
        return err_set(e, ERR_INVALID, "the faults must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        static const char *const known[] = {"throttle",     "latency",   "error_rate",
                                            "error_status", "drop_rate", "throttle_rate",
                                            "seed",         "rules"};
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok)
            return err_set(e, ERR_INVALID,
                           "unknown field '%s' (known: throttle, latency, "
                           "error_rate, error_status, drop_rate, throttle_rate, seed, rules)",
                           key);
    }
    settings n = f->set; /* rules are replaced below or kept */
    json_t *t = json_object_get(obj, "throttle");
    if (t) {
        if (!json_is_object(t))
            return err_set(e, ERR_INVALID, "throttle must be an object");
        json_t *en = json_object_get(t, "enabled");
        if (en && !json_is_boolean(en))
            return err_set(e, ERR_INVALID, "throttle.enabled must be true or false");
        if (en)
            n.throttle = json_is_true(en);
        if (!parse_rate(t, "describe", &n.rates[0], e) || !parse_rate(t, "mutate", &n.rates[1], e))
            return false;
    }
    json_t *lat = json_object_get(obj, "latency");
    if (lat) {
        if (!json_is_object(lat))
            return err_set(e, ERR_INVALID, "latency must be an object");
        double fixed = (double)n.latency_ms, jitter = (double)n.jitter_ms;
        if (!get_number(lat, "fixed_ms", 0, 600000, &fixed, "latency.", e) ||
            !get_number(lat, "jitter_ms", 0, 600000, &jitter, "latency.", e))
            return false;
        n.latency_ms = (long)fixed;
        n.jitter_ms = (long)jitter;
    }
    double seed = (double)n.seed;
    if (!get_number(obj, "error_rate", 0, 1, &n.error_rate, "", e) ||
        !get_number(obj, "drop_rate", 0, 1, &n.drop_rate, "", e) ||
        !get_number(obj, "throttle_rate", 0, 1, &n.throttle_rate, "", e) ||
        !get_number(obj, "seed", 0, 9007199254740992.0, &seed, "", e))
        return false;
    json_t *st = json_object_get(obj, "error_status");
    if (st) {
        if (!json_is_array(st) || json_array_size(st) < 1 || json_array_size(st) > 2)
            return err_set(e, ERR_INVALID, "error_status must be a list of 500 and/or 503");
        n.nerror_status = 0;
        size_t i;
        json_t *x;
        json_array_foreach(st, i, x)
        {
            json_int_t code = json_integer_value(x);
            if (!json_is_integer(x) || (code != 500 && code != 503))
                return err_set(e, ERR_INVALID, "error_status must be a list of 500 and/or 503");
            n.error_status[n.nerror_status++] = (int)code;
        }
    }
    json_t *rules = json_object_get(obj, "rules");
    fault_rule *parsed = NULL;
    size_t nparsed = 0;
    if (rules) {
        if (!json_is_array(rules))
            return err_set(e, ERR_INVALID, "rules must be a list");
        parsed = xcalloc(json_array_size(rules) + 1, sizeof *parsed);
        size_t i;
        json_t *x;
        json_array_foreach(rules, i, x)
        {
            if (!parse_rule(x, &parsed[i], e)) {
                rules_free(parsed, i + 1);
                return false;
            }
            nparsed++;
        }
        n.rules = parsed;
        n.nrules = nparsed;
        rules_free(f->set.rules, f->set.nrules);
    }
    if ((uint64_t)seed != f->set.seed)
        f->rng = (uint64_t)seed;
    n.seed = (uint64_t)seed;
    f->set = n;
    return true;
}
