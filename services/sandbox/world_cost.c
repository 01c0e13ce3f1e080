/* Costs and CloudWatch series as pure functions of the seed: nothing is
 * stored per day or per sample, so a 1,000-account world with 13 months of
 * daily costs per service and region costs no memory, and the same query
 * always gets the same answer. */
#include "world_internal.h"

#include "core/timeutil.h"

#include <math.h>
#include <string.h>

#define DAY 86400

/* The Cost Explorer service names (SERVICE dimension values) and what a
 * small account spends on each per region and day. */
static const struct {
    const char *name;
    double base_usd; /* small account, one region, one day */
    double uses;     /* share of (account, region) pairs billed for it */
    double weekend;  /* weekend factor: dev fleets stop on weekends */
} cost_services[] = {
    {"Amazon Elastic Compute Cloud - Compute", 38.0, 1.00, 0.78},
    {"EC2 - Other", 7.5, 0.95, 0.92},
    {"Amazon Relational Database Service", 24.0, 0.55, 0.90},
    {"Amazon Simple Storage Service", 4.2, 0.85, 0.97},
    {"AWS CloudTrail", 0.9, 0.60, 0.96},
    {"Amazon CloudWatch", 2.6, 0.90, 0.95},
    {"AWS Key Management Service", 1.3, 0.50, 1.00},
    {"Amazon Virtual Private Cloud", 2.4, 0.60, 0.97},
};
#define NSERVICES (sizeof(cost_services) / sizeof(cost_services[0]))

const char *const world_cost_services[] = {
    "Amazon Elastic Compute Cloud - Compute",
    "EC2 - Other",
    "Amazon Relational Database Service",
    "Amazon Simple Storage Service",
    "AWS CloudTrail",
    "Amazon CloudWatch",
    "AWS Key Management Service",
    "Amazon Virtual Private Cloud",
};
const size_t world_ncost_services = sizeof(world_cost_services) / sizeof(world_cost_services[0]);

static const double size_factor[] = {1.0, 3.2, 8.5};

static int service_index(const char *service)
{
    for (size_t i = 0; i < NSERVICES; i++)
        if (strcmp(cost_services[i].name, service) == 0)
            return (int)i;
    return -1;
}

int world_account_size(uint64_t seed, const char *account_id)
{
    double u = wunit(whash_str(whash_str(wmix(seed), "account-size"), account_id));
    return u < 0.5 ? 0 : u < 0.85 ? 1 : 2;
}

/* The series of one (account, service, region) hashes from these: the
 * service by its index, so the hot path hashes two short strings. */
static uint64_t series_hash(uint64_t seed, const char *account_id, int service, const char *region)
{
    uint64_t h = whash_str(whash_str(wmix(seed), "cost"), account_id);
    return whash_str(whash_u64(h, (uint64_t)service), region);
}

static bool series_used(uint64_t h, int service)
{
    return wunit(whash_u64(h, 0)) < cost_services[service].uses;
}

bool world_cost_uses(uint64_t seed, const char *account_id, const char *service, const char *region)
{
    int s = service_index(service);
    return s >= 0 && series_used(series_hash(seed, account_id, s, region), s);
}

/* Days since 1970-01-01 of the UTC day holding t (floor, also before 1970). */
static long day_number(time_t t)
{
    return (long)((t - (((t % DAY) + DAY) % DAY)) / DAY);
}

/* 0 Sunday .. 6 Saturday; 1970-01-01 was a Thursday. Arithmetic rather
 * than gmtime_r: Cost Explorer sums millions of days per query. */
static int weekday(long days)
{
    return (int)(((days % 7) + 11) % 7);
}

/* The first day with costs: the first of the month twelve months before
 * the generation month, so MONTHLY queries see 13 calendar months. */
static time_t history_start(time_t generated_at)
{
    timeutil_civil c;
    timeutil_civil_from_time(generated_at, &c);
    return (time_t)timeutil_days_from_civil(c.year - 1, c.month, 1) * DAY;
}

static bool region_simulated(const world *w, const char *region)
{
    for (size_t i = 0; i < w->nregions; i++)
        if (strcmp(w->region_names[i], region) == 0)
            return true;
    return false;
}

/* Everything about one cost line that does not depend on the day. */
typedef struct cost_series {
    bool billed;
    int service;
    uint64_t h;
    long first, last; /* day numbers of the history */
    double level;     /* base x account size x this line's own level */
    double slope;     /* growth over the history */
    bool anomalies;   /* false: no anomaly is on this line, skip looking */
    const char *account_id, *service_name, *region;
} cost_series;

static bool series_prepare(const world *w, const char *account_id, const char *service,
                           const char *region, cost_series *cs)
{
    memset(cs, 0, sizeof(*cs));
    if (w == NULL || account_id == NULL || service == NULL || region == NULL)
        return false;
    cs->service = service_index(service);
    if (cs->service < 0 || !region_simulated(w, region))
        return false;
    const sbx_account *a = world_account(w, account_id);
    if (a == NULL || a == w->hub)
        return false;
    cs->h = series_hash(w->seed, account_id, cs->service, region);
    if (!series_used(cs->h, cs->service))
        return false;
    cs->first = day_number(history_start(w->generated_at));
    cs->last = day_number(w->generated_at);
    cs->level = cost_services[cs->service].base_usd *
                size_factor[world_account_size(w->seed, account_id)] *
                (0.5 + wunit(whash_u64(cs->h, 1)));
    cs->slope = -0.3 + 0.8 * wunit(whash_u64(cs->h, 2));
    cs->account_id = account_id;
    cs->service_name = service;
    cs->region = region;
    cs->anomalies = w->nanomalies > 0;
    cs->billed = true;
    return true;
}

static bool anomaly_on_line(const sbx_anomaly *a, const cost_series *cs)
{
    return strcmp(a->account_id, cs->account_id) == 0 &&
           strcmp(a->service, cs->service_name) == 0 && strcmp(a->region, cs->region) == 0;
}

static double anomaly_factor(const world *w, const cost_series *cs, long day)
{
    double f = 1.0;
    time_t start = (time_t)day * DAY;
    for (size_t i = 0; cs->anomalies && i < w->nanomalies; i++) {
        const sbx_anomaly *a = &w->anomalies[i];
        if (a->day >= start && a->day < start + DAY && anomaly_on_line(a, cs))
            f *= a->factor;
    }
    return f;
}

static double series_day(const world *w, const cost_series *cs, long day)
{
    if (!cs->billed || day < cs->first || day > cs->last)
        return 0;
    double span = (double)(cs->last - cs->first);
    double t = span > 0 ? (double)(day - cs->first) / span : 1.0;
    double trend = 1.0 + cs->slope * (t - 1.0);
    int wd = weekday(day);
    double season = (wd == 0 || wd == 6) ? cost_services[cs->service].weekend : 1.0;
    double noise = 1.0 + 0.15 * (2.0 * wunit(whash_u64(cs->h, (uint64_t)(day * DAY))) - 1.0);
    double usd = cs->level * trend * season * noise * anomaly_factor(w, cs, day);
    return usd > 0 ? usd : 0;
}

double world_cost_daily(const world *w, const char *account_id, const char *service,
                        const char *region, time_t day)
{
    cost_series cs;
    if (!series_prepare(w, account_id, service, region, &cs))
        return 0;
    return series_day(w, &cs, day_number(day));
}

void world_cost_series(const world *w, const char *account_id, const char *service,
                       const char *region, time_t from, size_t ndays, double *out)
{
    cost_series cs;
    bool billed = series_prepare(w, account_id, service, region, &cs);
    if (billed) {
        cs.anomalies = false;
        for (size_t i = 0; i < w->nanomalies; i++)
            cs.anomalies |= anomaly_on_line(&w->anomalies[i], &cs);
    }
    long d0 = day_number(from);
    for (size_t i = 0; i < ndays; i++)
        out[i] = billed ? series_day(w, &cs, d0 + (long)i) : 0;
}

double world_cpu_at(const world *w, const char *instance_id, time_t t)
{
    if (w == NULL || instance_id == NULL)
        return 0;
    uint64_t h = whash_str(whash_str(wmix(w->seed), "cpu"), instance_id);
    uint64_t bucket = (uint64_t)(t / 300);
    double jitter = wunit(whash_u64(h, bucket));
    /* Two in five instances idle: rightsizing candidates that never work. */
    if (wunit(whash_u64(h, 1)) < 0.4)
        return 1.0 + 2.0 * jitter;
    double base = 10.0 + 50.0 * wunit(whash_u64(h, 2));
    double amp = 5.0 + 25.0 * wunit(whash_u64(h, 3));
    double phase = 6.283185307179586 * wunit(whash_u64(h, 4));
    double tod = (double)(((t % DAY) + DAY) % DAY) / DAY;
    double v = base + amp * sin(6.283185307179586 * tod + phase) + 10.0 * (jitter - 0.5);
    int wd = weekday(day_number(t));
    if (wd == 0 || wd == 6)
        v *= 0.7;
    return v < 0.1 ? 0.1 : v > 100.0 ? 100.0 : v;
}
