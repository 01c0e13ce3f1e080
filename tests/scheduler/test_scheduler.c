/* escher-scheduler as a program against a migrated private database: fires
 * on time with the right job, the missed-fire policies after a simulated
 * downtime, one-off schedules, disabled ones, a NOTIFY waking it, a row
 * another transaction holds, and a zone it cannot load. Schedules are
 * written in SQL as the API writes them (next_fire_at set); the API's own
 * tests are tests/api_routes_schedules. */
#include "stest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CREATED_BY "ops@a.example"

/* Inserts a schedule of tenant A: cron (NULL for a one-off whose run_at is
 * the SQL expression next), next_fire_at the SQL expression next (NULL:
 * none), the policy and window; its id into id. */
static void add(const char *name, const char *cron, const char *zone, const char *next,
                const char *policy, int window_s, bool enabled, char id[40])
{
    char sql[1024], win[16];
    snprintf(win, sizeof win, "%d", window_s);
    snprintf(sql, sizeof sql,
             "INSERT INTO schedules (tenant_id, name, cron, run_at, time_zone, operation, params,"
             " target, dry_run, enabled, missed_fire_policy, missed_fire_window, created_by,"
             " next_fire_at)"
             " VALUES ($1, $2, $3, %s, $4, 'ec2.stop', '{\"hibernate\": true}',"
             " '{\"regions\": [\"eu-west-1\"], \"tags\": {\"env\": \"dev\"}}', true, $5, $6,"
             " $7::bigint * interval '1 second', '" CREATED_BY "', %s) RETURNING id",
             cron ? "NULL" : next, next ? next : "NULL");
    const char *p[7] = {S.tenant_a, name, cron, zone, enabled ? "t" : "f", policy, win};
    st_query1(sql, 7, p, id, 40);
    assert_int_equal(strlen(id), 36);
}

static long jobs_of(const char *schedule)
{
    return st_long("SELECT count(*) FROM jobs WHERE payload->>'schedule' = $1", schedule);
}

/* Checks the one job of a fire: kind, author, key, payload, the fire's row
 * pointing at it, and the lag from fire time to enqueue (ms) into *lag. */
static void check_job(const char *schedule, const char *fire_iso, long *lag)
{
    const char *p[2] = {schedule, fire_iso};
    PGresult *r = st_rows(
        "SELECT j.kind, j.created_by, j.tenant_id, j.idempotency_key,"
        " j.payload = jsonb_build_object('schedule', $1::text, 'fire_at', $2::text,"
        "   'operation', 'ec2.stop', 'params', '{\"hibernate\": true}'::jsonb,"
        "   'target', '{\"regions\": [\"eu-west-1\"], \"tags\": {\"env\": \"dev\"}}'::jsonb,"
        "   'dry_run', true),"
        " (extract(epoch FROM j.created_at - $2::text::timestamptz) * 1000)::bigint,"
        " f.job_id = j.id, j.payload::text"
        " FROM jobs j LEFT JOIN schedule_fires f ON f.schedule_id = $1::text::uuid"
        "   AND f.fire_at = $2::text::timestamptz"
        " WHERE j.payload->>'schedule' = $1::text AND j.payload->>'fire_at' = $2::text",
        2, p);
    if (PQntuples(r) != 1)
        fail_msg("%d jobs for schedule %s fire %s, want 1", PQntuples(r), schedule, fire_iso);
    char key[128];
    snprintf(key, sizeof key, "schedule:%s:%s", schedule, fire_iso);
    assert_string_equal(PQgetvalue(r, 0, 0), "ops.run");
    assert_string_equal(PQgetvalue(r, 0, 1), CREATED_BY);
    assert_string_equal(PQgetvalue(r, 0, 2), S.tenant_a);
    assert_string_equal(PQgetvalue(r, 0, 3), key);
    if (strcmp(PQgetvalue(r, 0, 4), "t") != 0)
        fail_msg("payload %s is not the schedule's", PQgetvalue(r, 0, 7));
    assert_string_equal(PQgetvalue(r, 0, 6), "t");
    if (lag)
        *lag = strtol(PQgetvalue(r, 0, 5), NULL, 10);
    PQclear(r);
}

static void column(const char *sql, const char *id, char *out, size_t n)
{
    const char *p[1] = {id};
    st_query1(sql, 1, p, out, n);
}

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A one-off and a cron schedule due 3 s ahead: one job each, on time, and
 * nothing more after. */
static void test_fires_ahead(void **state)
{
    (void)state;
    st_need();
    st_proc p;
    st_start(&p, NULL);
    char once[40], cron[40];
    add("once", NULL, "UTC", "date_trunc('second', now()) + interval '3 seconds'", "run_once", 3600,
        true, once);
    add("cron", "* * * * *", "Europe/Berlin", "date_trunc('second', now()) + interval '3 seconds'",
        "run_once", 3600, true, cron);
    char fire_once[32], fire_cron[32];
    column("SELECT " ISO("run_at") " FROM schedules WHERE id = $1", once, fire_once,
           sizeof fire_once);
    column("SELECT " ISO("next_fire_at") " FROM schedules WHERE id = $1", cron, fire_cron,
           sizeof fire_cron);
    assert_true(jobs_of(once) == 0 && jobs_of(cron) == 0);
    long n = st_wait_count("SELECT count(*) FROM jobs", NULL, 2, 10000);
    assert_int_equal(n, 2);
    long lag_once = 0, lag_cron = 0;
    check_job(once, fire_once, &lag_once);
    check_job(cron, fire_cron, &lag_cron);
    print_message("lag from fire time to job: one-off %ld ms, cron %ld ms\n", lag_once, lag_cron);
    assert_true(lag_once >= 0 && lag_once < 1500);
    assert_true(lag_cron >= 0 && lag_cron < 1500);
    /* The one-off is done; the cron one moved to the next minute. */
    char v[64];
    column("SELECT coalesce(" ISO("next_fire_at") ", 'null') || ' ' || " ISO(
               "last_fire_at") " FROM schedules WHERE id = $1",
           once, v, sizeof v);
    char want[80];
    snprintf(want, sizeof want, "null %s", fire_once);
    assert_string_equal(v, want);
    column("SELECT (next_fire_at = date_trunc('minute', last_fire_at) + interval '1 minute')::text"
           " || ' ' || " ISO("last_fire_at") " FROM schedules WHERE id = $1",
           cron, v, sizeof v);
    snprintf(want, sizeof want, "true %s", fire_cron);
    assert_string_equal(v, want);
    st_sleep_ms(2000);
    assert_int_equal(jobs_of(once), 1);
    /* (The cron one may have reached its next minute meanwhile: that is
     * another fire.) */
    const char *q[2] = {cron, fire_cron};
    char n1[16];
    st_query1("SELECT count(*) FROM jobs WHERE payload->>'schedule' = $1"
              " AND payload->>'fire_at' = $2",
              2, q, n1, sizeof n1);
    assert_string_equal(n1, "1");
    st_stop(&p);
}

/* Per-minute schedules whose next fire was three hours ago (a scheduler that
 * was down), one per policy, and a daily one whose latest fire is 12 h old.
 * N is the first batch's transaction time (the fires' created_at). */
static void test_missed_policies(void **state)
{
    (void)state;
    st_need();
    char skip[40], once[40], each[40], daily[40];
    const char *ago = "now() - interval '3 hours'";
    add("skip", "* * * * *", "UTC", ago, "skip", 600, true, skip);
    add("once", "* * * * *", "UTC", ago, "run_once", 600, true, once);
    add("each", "* * * * *", "Europe/Berlin", ago, "run_each", 600, true, each);
    long hour =
        (st_long("SELECT extract(hour FROM now() AT TIME ZONE 'UTC')::int", NULL) + 12) % 24;
    char daily_cron[32];
    snprintf(daily_cron, sizeof daily_cron, "0 %ld * * *", hour);
    add("daily", daily_cron, "UTC", "now() - interval '3 days'", "run_once", 3600, true, daily);
    st_proc p;
    static const char *const args[] = {"--misfire-threshold", "1s", NULL};
    st_start(&p, args);
    st_wait_log(&p, "\"schedules fired\"", 1, 10000);
    st_stop(&p);
    assert_true(st_log_count(&p, "\"missed fires\"") >= 3);

    /* Fires of the first batch, compared with what each policy wants at N. */
    static const char *const check_sql =
        "WITH b AS (SELECT floor(extract(epoch FROM min(created_at))) AS n FROM schedule_fires),"
        " want AS ("
        "  SELECT $1::uuid AS s, m FROM b, generate_series(0, 660) AS k,"
        "       LATERAL (SELECT to_timestamp(n - k) AS m) x"
        "   WHERE extract(second FROM m) = 0 AND ("
        "     ($2 = 'skip' AND m >= to_timestamp(n - 1)) OR"
        "     ($2 = 'run_once' AND m = date_trunc('minute', to_timestamp(n))) OR"
        "     ($2 = 'run_each' AND m >= to_timestamp(n - 600)))),"
        " got AS (SELECT f.schedule_id AS s, f.fire_at AS m FROM schedule_fires f, b"
        "   WHERE f.schedule_id = $1::text::uuid"
        "     AND f.created_at < to_timestamp(b.n + 1))"
        " SELECT (SELECT count(*) FROM want) || ' ' ||"
        "        (SELECT count(*) FROM (SELECT * FROM want EXCEPT SELECT * FROM got) x) || ' ' ||"
        "        (SELECT count(*) FROM (SELECT * FROM got EXCEPT SELECT * FROM want) x)";
    const char *cases[3][2] = {{skip, "skip"}, {once, "run_once"}, {each, "run_each"}};
    for (int i = 0; i < 3; i++) {
        char out[64];
        st_query1(check_sql, 2, cases[i], out, sizeof out);
        long want = 0, missing = -1, extra = -1;
        sscanf(out, "%ld %ld %ld", &want, &missing, &extra);
        print_message("%s: %ld fires wanted, %ld missing, %ld extra\n", cases[i][1], want, missing,
                      extra);
        assert_int_equal(missing, 0);
        assert_int_equal(extra, 0);
        if (strcmp(cases[i][1], "run_once") == 0)
            assert_int_equal(want, 1);
        if (strcmp(cases[i][1], "run_each") == 0)
            assert_true(want == 10 || want == 11);
        assert_true(want <= 1 || strcmp(cases[i][1], "run_each") == 0);
        /* Every fire made its job. */
        assert_int_equal(
            st_long("SELECT count(*) FROM schedule_fires f JOIN jobs j ON j.id ="
                    " f.job_id WHERE f.schedule_id = $1",
                    cases[i][0]),
            st_long("SELECT count(*) FROM schedule_fires WHERE schedule_id = $1", cases[i][0]));
    }
    /* All three moved past now; the daily one made nothing and waits for its
     * next occurrence. */
    assert_int_equal(st_long("SELECT count(*) FROM schedules WHERE next_fire_at <= "
                             "(SELECT min(created_at) FROM schedule_fires)",
                             NULL),
                     0);
    assert_int_equal(jobs_of(daily), 0);
    char ok[8];
    column("SELECT (next_fire_at > now() AND next_fire_at <= now() + interval '13 hours'"
           " AND extract(minute FROM next_fire_at) = 0)::text FROM schedules WHERE id = $1",
           daily, ok, sizeof ok);
    assert_string_equal(ok, "true");
}

/* One-offs: due soon (fires once), missed by 10 min (run_once within 1 h:
 * fires), missed by 2 h (gone); all end with no next fire. */
static void test_one_off(void **state)
{
    (void)state;
    st_need();
    char soon[40], late[40], gone[40];
    add("soon", NULL, "UTC", "date_trunc('second', now()) + interval '2 seconds'", "run_once", 3600,
        true, soon);
    add("late", NULL, "UTC", "date_trunc('second', now()) - interval '10 minutes'", "run_once",
        3600, true, late);
    add("gone", NULL, "UTC", "date_trunc('second', now()) - interval '2 hours'", "run_once", 3600,
        true, gone);
    st_proc p;
    st_start(&p, NULL);
    assert_int_equal(
        st_wait_count("SELECT count(*) FROM jobs WHERE payload->>'schedule' = $1", soon, 1, 10000),
        1);
    st_sleep_ms(1500);
    st_stop(&p);
    assert_int_equal(jobs_of(soon), 1);
    assert_int_equal(jobs_of(late), 1);
    assert_int_equal(jobs_of(gone), 0);
    assert_int_equal(st_long("SELECT count(*) FROM schedules WHERE next_fire_at IS NOT NULL", NULL),
                     0);
    char fire[32];
    column("SELECT " ISO("run_at") " FROM schedules WHERE id = $1", late, fire, sizeof fire);
    check_job(late, fire, NULL);
}

/* A disabled schedule (and an enabled one whose next fire is NULL) never
 * fires, while a control schedule does; enabling it with a next fire does. */
static void test_disabled(void **state)
{
    (void)state;
    st_need();
    char off[40], ended[40], control[40];
    add("off", "* * * * *", "UTC", NULL, "run_each", 3600, false, off);
    add("ended", "* * * * *", "UTC", NULL, "run_each", 3600, true, ended);
    add("control", NULL, "UTC", "date_trunc('second', now()) + interval '1 second'", "run_once",
        3600, true, control);
    st_proc p;
    static const char *const args[] = {"--max-sleep", "200ms", NULL};
    st_start(&p, args);
    assert_int_equal(st_wait_count("SELECT count(*) FROM jobs WHERE payload->>'schedule' = $1",
                                   control, 1, 10000),
                     1);
    st_sleep_ms(1500);
    assert_int_equal(jobs_of(off), 0);
    assert_int_equal(jobs_of(ended), 0);
    const char *q[1] = {off};
    PQclear(
        st_rows("UPDATE schedules SET enabled = true, next_fire_at = date_trunc('second', now())"
                " WHERE id = $1",
                1, q));
    assert_int_equal(
        st_wait_count("SELECT count(*) FROM jobs WHERE payload->>'schedule' = $1", off, 1, 5000),
        1);
    st_stop(&p);
}

/* The scheduler sleeps (max-sleep 1 h, the next fire a day away); a schedule
 * created due now fires in under a second because the insert notifies it. */
static void test_notify_wakes(void **state)
{
    (void)state;
    st_need();
    char far[40], now[40];
    add("far", "0 0 * * *", "UTC", "date_trunc('day', now()) + interval '1 day'", "run_once", 3600,
        true, far);
    st_proc p;
    static const char *const args[] = {"--max-sleep", "1h", NULL};
    st_start(&p, args);
    st_wait_log(&p, "\"sleeping\"", 1, 10000);
    st_sleep_ms(300);
    int sleeps = st_log_count(&p, "\"sleeping\"");
    uint64_t t0 = st_now_ms();
    add("now", NULL, "UTC", "date_trunc('second', now())", "skip", 0, true, now);
    long n =
        st_wait_count("SELECT count(*) FROM jobs WHERE payload->>'schedule' = $1", now, 1, 5000);
    uint64_t latency = st_now_ms() - t0;
    print_message("created due now -> job in %llu ms\n", (unsigned long long)latency);
    assert_int_equal(n, 1);
    assert_true(latency < 1000);
    assert_true(st_log_count(&p, "\"woken by a change to the schedules\"") >= 1);
    /* It was asleep before the insert, not polling. */
    assert_true(sleeps <= 2);
    st_stop(&p);
    assert_int_equal(jobs_of(far), 0);
}

/* A due schedule locked by another transaction (an API PATCH in flight) is
 * passed over without spinning, then fires once the lock is released. */
static void test_locked_row(void **state)
{
    (void)state;
    st_need();
    char held[40];
    add("held", NULL, "UTC", "date_trunc('second', now())", "run_once", 3600, true, held);
    PGconn *other = pgtest_connect(&S.db);
    const char *q[1] = {held};
    PQclear(PQexec(other, "BEGIN"));
    PGresult *r = PQexecParams(other, "SELECT 1 FROM schedules WHERE id = $1 FOR UPDATE", 1, NULL,
                               q, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    st_proc p;
    st_start(&p, NULL);
    st_sleep_ms(1500);
    assert_int_equal(jobs_of(held), 0);
    int looks = st_log_count(&p, "\"sleeping\"");
    print_message("looks while the row was locked for 1.5 s: %d\n", looks);
    assert_true(looks >= 2 && looks <= 40); /* about one per 100 ms, not a spin */
    PQclear(PQexec(other, "COMMIT"));
    PQfinish(other);
    assert_int_equal(
        st_wait_count("SELECT count(*) FROM jobs WHERE payload->>'schedule' = $1", held, 1, 2000),
        1);
    st_stop(&p);
}

/* A zone the system does not have (tzdata changed under a stored schedule):
 * that schedule stops with the reason, the others fire. */
static void test_bad_zone(void **state)
{
    (void)state;
    st_need();
    char bad[40], good[40];
    add("bad", "* * * * *", "Mars/Base", "date_trunc('second', now())", "run_once", 3600, true,
        bad);
    add("good", NULL, "UTC", "date_trunc('second', now())", "run_once", 3600, true, good);
    st_proc p;
    st_start(&p, NULL);
    assert_int_equal(
        st_wait_count("SELECT count(*) FROM jobs WHERE payload->>'schedule' = $1", good, 1, 5000),
        1);
    st_stop(&p);
    assert_int_equal(jobs_of(bad), 0);
    char v[300];
    column("SELECT coalesce(next_fire_at::text, 'null') || ' ' || last_error FROM schedules"
           " WHERE id = $1",
           bad, v, sizeof v);
    if (strstr(v, "null unknown time zone 'Mars/Base'") != v)
        fail_msg("the bad schedule is '%s'", v);
    assert_true(st_log_count(&p, "\"schedule cannot be evaluated: it stops firing\"") == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fires_ahead, st_each),
        cmocka_unit_test_setup(test_missed_policies, st_each),
        cmocka_unit_test_setup(test_one_off, st_each),
        cmocka_unit_test_setup(test_disabled, st_each),
        cmocka_unit_test_setup(test_notify_wakes, st_each),
        cmocka_unit_test_setup(test_locked_row, st_each),
        cmocka_unit_test_setup(test_bad_zone, st_each),
    };
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}
