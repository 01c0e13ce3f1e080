/* Costs and CPU series: pure, deterministic, non-negative, seasonal, zero
 * outside the history, with the injected anomalies visible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "world.h"
#include "world_test.h"

#include <math.h>
#include <string.h>

#define DAY 86400

static time_t today(void)
{
    return WT_NOW - WT_NOW % DAY;
}

static void test_deterministic_and_non_negative(void **state)
{
    (void)state;
    world *a = wt_world(4, 2, 21), *b = wt_world(4, 2, 21);
    size_t nonzero = 0, zero = 0;
    for (size_t i = 0; i < a->naccounts; i++) {
        for (size_t s = 0; s < world_ncost_services; s++) {
            for (size_t r = 0; r < a->nregions; r++) {
                for (int d = 0; d < 400; d += 7) {
                    time_t day = today() - d * DAY;
                    double x = world_cost_daily(a, a->accounts[i]->id, world_cost_services[s],
                                                a->region_names[r], day);
                    double y = world_cost_daily(b, b->accounts[i]->id, world_cost_services[s],
                                                b->region_names[r], day + 3600);
                    assert_true(x == y); /* any time of the day names the day */
                    assert_true(x >= 0 && isfinite(x));
                    if (x > 0)
                        nonzero++;
                    else
                        zero++;
                }
            }
        }
    }
    assert_true(nonzero > zero);
    world_free(a);
    world_free(b);
}

/* The bulk form gives exactly the per-day values, across the history's
 * edges and anomalies. */
static void test_series_matches_daily(void **state)
{
    (void)state;
    world *w = wt_world(3, 2, 21);
    enum { NDAYS = 420 };
    double out[NDAYS];
    time_t from = today() - 410 * DAY + 5000;
    for (size_t i = 0; i < w->naccounts; i++) {
        for (size_t s = 0; s < world_ncost_services; s++) {
            world_cost_series(w, w->accounts[i]->id, world_cost_services[s], "eu-west-1", from,
                              NDAYS, out);
            for (int d = 0; d < NDAYS; d++)
                assert_true(out[d] == world_cost_daily(w, w->accounts[i]->id,
                                                       world_cost_services[s], "eu-west-1",
                                                       from + d * DAY));
        }
    }
    const sbx_anomaly *an = &w->anomalies[0];
    world_cost_series(w, an->account_id, an->service, an->region, an->day, 1, out);
    assert_true(out[0] == world_cost_daily(w, an->account_id, an->service, an->region, an->day));
    world_cost_series(w, "000000000000", world_cost_services[0], "us-east-1", from, 3, out);
    assert_true(out[0] == 0 && out[1] == 0 && out[2] == 0);
    world_free(w);
}

static void test_zero_outside_history(void **state)
{
    (void)state;
    world *w = wt_world(2, 1, 21);
    const char *acct = w->accounts[1]->id, *ec2 = "Amazon Elastic Compute Cloud - Compute";
    /* Generated 2025-06-15: history is 2024-06-01 .. 2025-06-15. */
    assert_true(world_cost_daily(w, acct, ec2, "us-east-1", today()) > 0);
    assert_true(world_cost_daily(w, acct, ec2, "us-east-1", 1717200000) > 0); /* 2024-06-01 */
    assert_true(world_cost_daily(w, acct, ec2, "us-east-1", 1717200000 - DAY) == 0);
    assert_true(world_cost_daily(w, acct, ec2, "us-east-1", today() + DAY) == 0);
    assert_true(world_cost_daily(w, acct, "Amazon Chime", "us-east-1", today()) == 0);
    assert_true(world_cost_daily(w, acct, ec2, "eu-west-1", today()) == 0); /* not simulated */
    assert_true(world_cost_daily(w, "000000000000", ec2, "us-east-1", today()) == 0);
    assert_true(world_cost_daily(w, w->hub->id, ec2, "us-east-1", today()) == 0);
    assert_true(world_cost_daily(w, NULL, ec2, "us-east-1", today()) == 0);
    world_free(w);
}

static void test_services_unused_are_zero(void **state)
{
    (void)state;
    world *w = wt_world(12, 2, 21);
    /* Some (account, service, region) is not billed at all, all year. */
    size_t unused = 0;
    for (size_t i = 0; i < w->naccounts; i++) {
        for (size_t s = 0; s < world_ncost_services; s++) {
            double total = 0;
            for (int d = 0; d < 390; d++)
                total += world_cost_daily(w, w->accounts[i]->id, world_cost_services[s],
                                          "us-east-1", today() - d * DAY);
            unused += total == 0;
        }
    }
    assert_true(unused > 0);
    /* RDS is billed exactly where the world has databases. */
    for (size_t i = 0; i < w->naccounts; i++) {
        for (size_t r = 0; r < w->nregions; r++) {
            bool billed =
                world_cost_daily(w, w->accounts[i]->id, "Amazon Relational Database Service",
                                 w->region_names[r], today() - DAY) > 0;
            assert_int_equal(billed, w->accounts[i]->regions[r]->ndbs > 0);
        }
    }
    world_free(w);
}

static void test_anomalies_visible(void **state)
{
    (void)state;
    world *w = wt_world(6, 2, 21);
    assert_true(w->nanomalies >= 3);
    for (size_t i = 0; i < w->nanomalies; i++) {
        const sbx_anomaly *an = &w->anomalies[i];
        assert_true(an->factor >= 3 && an->factor <= 10);
        assert_true(an->day % DAY == 0);
        assert_true(an->day < WT_NOW && an->day >= WT_NOW - 61 * DAY);
        double with = world_cost_daily(w, an->account_id, an->service, an->region, an->day);
        size_t saved = w->nanomalies;
        w->nanomalies = 0;
        double without = world_cost_daily(w, an->account_id, an->service, an->region, an->day);
        double before = world_cost_daily(w, an->account_id, an->service, an->region, an->day - DAY);
        w->nanomalies = saved;
        assert_true(without > 0);
        /* Exactly the factor (several anomalies on one day multiply). */
        double product = 1;
        for (size_t k = 0; k < w->nanomalies; k++)
            if (w->anomalies[k].day == an->day &&
                strcmp(w->anomalies[k].account_id, an->account_id) == 0 &&
                strcmp(w->anomalies[k].service, an->service) == 0 &&
                strcmp(w->anomalies[k].region, an->region) == 0)
                product *= w->anomalies[k].factor;
        assert_true(fabs(with - without * product) < 1e-9 * with);
        /* And it stands out from the day before. */
        assert_true(with > 2 * before);
    }
    world_free(w);
}

static void test_weekends_and_scale(void **state)
{
    (void)state;
    world *w = wt_world(12, 1, 21);
    const char *ec2 = "Amazon Elastic Compute Cloud - Compute";
    double weekday = 0, weekend = 0;
    int nweekday = 0, nweekend = 0;
    for (size_t i = 0; i < w->naccounts; i++) {
        for (int d = 1; d < 120; d++) {
            time_t day = today() - d * DAY;
            struct tm tm;
            gmtime_r(&day, &tm);
            double c = world_cost_daily(w, w->accounts[i]->id, ec2, "us-east-1", day);
            if (tm.tm_wday == 0 || tm.tm_wday == 6) {
                weekend += c;
                nweekend++;
            } else {
                weekday += c;
                nweekday++;
            }
        }
    }
    assert_true(weekend / nweekend < 0.85 * (weekday / nweekday));
    world_free(w);
}

static void test_cpu_series(void **state)
{
    (void)state;
    world *w = wt_world(3, 1, 21);
    size_t idle = 0, busy = 0;
    for (size_t i = 0; i < w->naccounts; i++) {
        const sbx_region *r = w->accounts[i]->regions[0];
        for (size_t n = 0; n < r->ninstances; n++) {
            const char *id = r->instances[n]->id;
            double max = 0, min = 100;
            for (int k = 0; k < 288; k++) {
                double c = world_cpu_at(w, id, WT_NOW - k * 300);
                assert_true(c >= 0 && c <= 100);
                assert_true(c == world_cpu_at(w, id, WT_NOW - k * 300));
                max = c > max ? c : max;
                min = c < min ? c : min;
            }
            if (max <= 3.0)
                idle++;
            else if (max - min > 10)
                busy++; /* a daily cycle */
        }
    }
    assert_true(idle > 0 && busy > 0);
    assert_true(world_cpu_at(w, NULL, WT_NOW) == 0);
    world_free(w);
}

static void test_service_names(void **state)
{
    (void)state;
    assert_int_equal(world_ncost_services, 8);
    const char *want[] = {"Amazon Elastic Compute Cloud - Compute",
                          "EC2 - Other",
                          "Amazon Relational Database Service",
                          "Amazon Simple Storage Service",
                          "AWS CloudTrail",
                          "Amazon CloudWatch",
                          "AWS Key Management Service",
                          "Amazon Virtual Private Cloud"};
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(world_cost_services[i], want[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_and_non_negative),
        cmocka_unit_test(test_series_matches_daily),
        cmocka_unit_test(test_zero_outside_history),
        cmocka_unit_test(test_services_unused_are_zero),
        cmocka_unit_test(test_anomalies_visible),
        cmocka_unit_test(test_weekends_and_scale),
        cmocka_unit_test(test_cpu_series),
        cmocka_unit_test(test_service_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
