/* Exactly once with two schedulers: 1,000 schedules "* * * * *" (two
 * tenants, four zones) and two escher-scheduler processes on one database
 * for about a minute. Every schedule starts due at the current minute, so
 * both processes race for the first minute's fires at start-up and for the
 * next minute's at its boundary. The test then counts: one job per
 * idempotency key and per recorded fire, and exactly the fires the time
 * window holds (every schedule, every minute boundary from the first to the
 * last before the stop, none missing, none extra). Label slow: about 65 s. */
#include "stest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEDULES 1000
#define RUN_MS    60000

static long sql_long(const char *sql)
{
    return st_long(sql, NULL);
}

/* The jobs a scheduler says it made: the sum of its "schedules fired"
 * lines' jobs; printed per minute (of the log line's time) with the
 * batches. */
static long jobs_logged(const st_proc *p, const char *who)
{
    FILE *f = fopen(p->log, "r");
    assert_non_null(f);
    long total = 0, minute_jobs = 0, minute_batches = 0;
    char minute[20] = "", line[8192];
    while (fgets(line, sizeof line, f)) {
        json_t *l = line[0] == '{' ? json_loads(line, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(l, "msg"));
        const char *ts = json_string_value(json_object_get(l, "ts"));
        if (msg && ts && strcmp(msg, "schedules fired") == 0) {
            long jobs = (long)json_integer_value(json_object_get(l, "jobs"));
            if (strncmp(ts, minute, 16) != 0) {
                if (minute_batches)
                    print_message("scheduler %s, minute %.16s: %ld jobs in %ld batches\n", who,
                                  minute, minute_jobs, minute_batches);
                snprintf(minute, sizeof minute, "%.16s", ts);
                minute_jobs = minute_batches = 0;
            }
            minute_jobs += jobs;
            minute_batches++;
            total += jobs;
        }
        json_decref(l);
    }
    if (minute_batches)
        print_message("scheduler %s, minute %.16s: %ld jobs in %ld batches\n", who, minute,
                      minute_jobs, minute_batches);
    fclose(f);
    return total;
}

/* Waits until the clock is between from_ms and to_ms into a minute. */
static void wait_into_minute(long from_ms, long to_ms)
{
    for (;;) {
        long into = sql_long("SELECT (extract(epoch FROM now()) * 1000)::bigint % 60000");
        if (into >= from_ms && into <= to_ms)
            return;
        st_sleep_ms(100);
    }
}

static void test_two_schedulers_exactly_once(void **state)
{
    (void)state;
    st_need();
    /* Start well inside a minute: the first fires (the current minute's)
     * are then under the misfire threshold late when the schedulers reach
     * them, so each is a plain on-time fire. */
    wait_into_minute(1000, 45000);
    char sql[1024];
    snprintf(
        sql, sizeof sql,
        "INSERT INTO schedules (tenant_id, name, cron, time_zone, operation, created_by,"
        " next_fire_at)"
        " SELECT CASE WHEN i %% 2 = 0 THEN '%s'::uuid ELSE '%s'::uuid END, 'every minute ' || i,"
        "        '* * * * *',"
        "        (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'])[i %% 4 + 1],"
        "        'ec2.stop', 'ops@example.com', date_trunc('minute', now())"
        "   FROM generate_series(1, %d) AS i",
        S.tenant_a, S.tenant_b, SCHEDULES);
    st_exec(sql);
    /* Small batches, so the two interleave within each minute's 1,000 fires. */
    static const char *const args[] = {"--batch-size", "50", NULL};
    st_proc a, b;
    st_start(&a, args);
    st_start(&b, args);
    uint64_t started = st_now_ms();
    /* Run about a minute, then stop away from a minute boundary, once the
     * last boundary's fires are all made, so the window's expected fires are
     * exact. */
    for (;;) {
        st_sleep_ms(250);
        long into = sql_long("SELECT (extract(epoch FROM now()) * 1000)::bigint % 60000");
        long last = sql_long("SELECT count(*) FROM schedule_fires"
                             " WHERE fire_at = date_trunc('minute', now())");
        if (st_now_ms() - started >= RUN_MS && into >= 2000 && into <= 55000 && last == SCHEDULES)
            break;
        if (st_now_ms() - started > RUN_MS + 60000)
            fail_msg("the fires of the last minute never completed (%ld of %d)", last, SCHEDULES);
    }
    char stopped_at[40];
    st_query1("SELECT date_trunc('minute', now())::text", 0, NULL, stopped_at, sizeof stopped_at);
    st_stop(&a);
    st_stop(&b);

    long minutes = sql_long("SELECT count(DISTINCT fire_at) FROM schedule_fires");
    long fires = sql_long("SELECT count(*) FROM schedule_fires");
    long jobs = sql_long("SELECT count(*) FROM jobs");
    long keys = sql_long("SELECT count(DISTINCT (tenant_id, idempotency_key)) FROM jobs");
    long dup_keys = sql_long("SELECT count(*) FROM (SELECT idempotency_key FROM jobs"
                             " GROUP BY tenant_id, idempotency_key HAVING count(*) > 1) d");
    long dup_fires = sql_long("SELECT count(*) FROM (SELECT 1 FROM jobs"
                              " GROUP BY payload->>'schedule', payload->>'fire_at'"
                              " HAVING count(*) > 1) d");
    /* The window: every minute from the first fire to the stop. */
    long window = sql_long("SELECT count(*) FROM generate_series("
                           " (SELECT min(fire_at) FROM schedule_fires),"
                           " (SELECT max(fire_at) FROM schedule_fires), interval '1 minute')");
    char first[40], last[40];
    st_query1("SELECT min(fire_at)::text FROM schedule_fires", 0, NULL, first, sizeof first);
    st_query1("SELECT max(fire_at)::text FROM schedule_fires", 0, NULL, last, sizeof last);
    /* Each expected (schedule, minute) present once, with its job. */
    long missing = sql_long(
        "SELECT count(*) FROM schedules s CROSS JOIN generate_series("
        " (SELECT min(fire_at) FROM schedule_fires), (SELECT max(fire_at) FROM schedule_fires),"
        " interval '1 minute') AS m"
        " WHERE NOT EXISTS (SELECT 1 FROM schedule_fires f JOIN jobs j ON j.id = f.job_id"
        "   WHERE f.schedule_id = s.id AND f.fire_at = m"
        "     AND j.idempotency_key = 'schedule:' || s.id || ':' ||"
        "         to_char(m AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        "     AND j.payload->>'schedule' = s.id::text)");
    long ja = jobs_logged(&a, "A"), jb = jobs_logged(&b, "B");
    print_message("window %s .. %s (%ld minutes, stopped in the minute of %s): %ld fires, %ld "
                  "jobs, %ld keys; scheduler A made %ld, B %ld\n",
                  first, last, window, stopped_at, fires, jobs, keys, ja, jb);
    assert_int_equal(dup_keys, 0);
    assert_int_equal(dup_fires, 0);
    assert_int_equal(jobs, keys);
    assert_int_equal(fires, jobs);
    assert_int_equal(minutes, window);
    assert_true(window >= 2);
    assert_int_equal(fires, (long)SCHEDULES * window);
    assert_int_equal(missing, 0);
    /* The last fire is the stop's own minute: nothing the window held was
     * left unfired. */
    assert_string_equal(last, stopped_at);
    /* Both took part, and together made every job. */
    assert_true(ja > 0 && jb > 0);
    assert_int_equal(ja + jb, jobs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_two_schedulers_exactly_once, st_each),
    };
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}
