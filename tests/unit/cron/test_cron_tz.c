/* lib/cron/tz: the TZif reader and POSIX footer rules against glibc's
 * localtime_r (run under TZ=<zone> in a forked child, so this process's zone
 * is never touched), known offsets, local -> UTC in gaps and overlaps, and
 * the refusal of bad names and bad files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/timeutil.h"
#include "crontest.h"
#include "cron/tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: compares tz_to_local with localtime_r at t, and checks that
 * tz_from_local of the result finds t again. Returns 1 on a mismatch. */
static int compare_at(const tz_zone *z, time_t t, const char *what)
{
    struct tm want, got;
    int off;
    const char *abbr;
    if (!localtime_r(&t, &want))
        return 0;
    tz_to_local(z, t, &got, &off, &abbr);
    if (want.tm_year != got.tm_year || want.tm_mon != got.tm_mon || want.tm_mday != got.tm_mday ||
        want.tm_hour != got.tm_hour || want.tm_min != got.tm_min || want.tm_sec != got.tm_sec ||
        want.tm_wday != got.tm_wday || want.tm_yday != got.tm_yday ||
        want.tm_isdst != got.tm_isdst || want.tm_gmtoff != off || got.tm_gmtoff != off ||
        strcmp(want.tm_zone, abbr) != 0) {
        fprintf(stderr,
                "%s at %lld: glibc %04d-%02d-%02d %02d:%02d:%02d wday %d yday %d dst %d %+ld %s, "
                "tz %04d-%02d-%02d %02d:%02d:%02d wday %d yday %d dst %d %+d %s\n",
                what, (long long)t, want.tm_year + 1900, want.tm_mon + 1, want.tm_mday,
                want.tm_hour, want.tm_min, want.tm_sec, want.tm_wday, want.tm_yday, want.tm_isdst,
                want.tm_gmtoff, want.tm_zone, got.tm_year + 1900, got.tm_mon + 1, got.tm_mday,
                got.tm_hour, got.tm_min, got.tm_sec, got.tm_wday, got.tm_yday, got.tm_isdst, off,
                abbr);
        return 1;
    }
    time_t back[2];
    int n = tz_from_local(z, &got, back);
    if (n < 1 || (back[0] != t && (n < 2 || back[1] != t))) {
        fprintf(stderr, "%s at %lld: tz_from_local gave %d instants, not this one\n", what,
                (long long)t, n);
        return 1;
    }
    return 0;
}

/* Runs the comparison for `name` in a child with TZ=tz_env; returns the
 * number of mismatches (capped). */
static int compare_with_glibc(const char *name, const char *tz_env, time_t from, time_t to,
                              time_t step)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("TZ", tz_env, 1);
        tzset();
        err e;
        tz_zone *z = tz_load(name, &e);
        if (!z) {
            fprintf(stderr, "tz_load(%s): %s\n", name, e.message);
            _exit(100);
        }
        int bad = 0;
        for (time_t t = from; t < to && bad < 20; t += step)
            bad += compare_at(z, t, name);
        /* Around every transition: the walk uses tz_offset's next change. */
        time_t t = from, next;
        while (bad < 20) {
            tz_offset(z, t, &next);
            if (next >= to)
                break;
            bad += compare_at(z, next - 1, name) + compare_at(z, next, name) +
                   compare_at(z, next + 1, name);
            t = next;
        }
        tz_free(z);
        _exit(bad > 99 ? 99 : bad);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_zones_match_glibc(void **state)
{
    (void)state;
    static const char *const zones[] = {"UTC",
                                        "Europe/Berlin",
                                        "America/New_York",
                                        "Australia/Sydney",
                                        "Australia/Lord_Howe",
                                        "Asia/Kolkata",
                                        "Asia/Tehran",
                                        "America/St_Johns",
                                        "Pacific/Chatham",
                                        "Pacific/Apia",
                                        "Europe/Dublin",
                                        "Africa/Casablanca",
                                        "America/Sao_Paulo",
                                        "Europe/London",
                                        "America/Nuuk",
                                        "Asia/Jerusalem",
                                        "America/Santiago",
                                        "Antarctica/Troll",
                                        "Europe/Moscow",
                                        "Asia/Gaza",
                                        "America/Los_Angeles",
                                        "Pacific/Kiritimati",
                                        "Etc/GMT+5",
                                        "Asia/Tokyo"};
    time_t y1902 = crontest_iso("1902-01-01T00:00:00Z"),
           y1970 = crontest_iso("1970-01-01T00:00:00Z"),
           y2040 = crontest_iso("2040-01-01T00:00:00Z"),
           y2100 = crontest_iso("2100-01-01T00:00:00Z");
    int total = 0;
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        /* 1970-2040 every 7 hours, 1902-2100 (footer era included) every 5 days
         * and 13 minutes, plus both sides of every transition. */
        int bad = compare_with_glibc(zones[i], zones[i], y1970, y2040, 7 * 3600) +
                  compare_with_glibc(zones[i], zones[i], y1902, y2100, 5 * 86400 + 780);
        if (bad)
            print_error("%s: %d mismatches with glibc\n", zones[i], bad);
        total += bad;
    }
    assert_int_equal(total, 0);
}

static void expect_local(const char *zone_name, const char *utc, const char *want, int want_off)
{
    tz_zone *z = crontest_zone(zone_name);
    struct tm tm;
    int off;
    const char *abbr;
    tz_to_local(z, crontest_iso(utc), &tm, &off, &abbr);
    char got[64];
    snprintf(got, sizeof(got), "%04d-%02d-%02d %02d:%02d:%02d %s", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, abbr);
    if (strcmp(got, want) != 0 || off != want_off)
        fail_msg("%s at %s: got %s %+d, want %s %+d", zone_name, utc, got, off, want, want_off);
    tz_free(z);
}

static void test_known_offsets(void **state)
{
    (void)state;
    expect_local("UTC", "2026-07-01T12:00:00Z", "2026-07-01 12:00:00 UTC", 0);
    expect_local("Europe/Berlin", "2026-07-01T12:00:00Z", "2026-07-01 14:00:00 CEST", 7200);
    expect_local("Europe/Berlin", "2026-01-15T12:00:00Z", "2026-01-15 13:00:00 CET", 3600);
    expect_local("Europe/Berlin", "2026-03-29T00:59:59Z", "2026-03-29 01:59:59 CET", 3600);
    expect_local("Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29 03:00:00 CEST", 7200);
    expect_local("Europe/Berlin", "2026-10-25T00:59:59Z", "2026-10-25 02:59:59 CEST", 7200);
    expect_local("Europe/Berlin", "2026-10-25T01:00:00Z", "2026-10-25 02:00:00 CET", 3600);
    expect_local("Europe/Berlin", "2055-07-01T00:00:00Z", "2055-07-01 02:00:00 CEST", 7200);
    expect_local("Europe/Berlin", "1980-07-01T00:00:00Z", "1980-07-01 02:00:00 CEST", 7200);
    expect_local("Europe/Berlin", "1975-07-01T00:00:00Z", "1975-07-01 01:00:00 CET", 3600);
    expect_local("America/New_York", "1970-01-01T00:00:00Z", "1969-12-31 19:00:00 EST", -18000);
    expect_local("America/New_York", "2026-03-08T06:59:59Z", "2026-03-08 01:59:59 EST", -18000);
    expect_local("America/New_York", "2026-03-08T07:00:00Z", "2026-03-08 03:00:00 EDT", -14400);
    expect_local("America/New_York", "2026-11-01T05:59:59Z", "2026-11-01 01:59:59 EDT", -14400);
    expect_local("America/New_York", "2026-11-01T06:00:00Z", "2026-11-01 01:00:00 EST", -18000);
    expect_local("America/New_York", "2045-07-04T16:00:00Z", "2045-07-04 12:00:00 EDT", -14400);
    expect_local("Australia/Sydney", "2060-01-01T00:00:00Z", "2060-01-01 11:00:00 AEDT", 39600);
    expect_local("Australia/Sydney", "2060-07-01T00:00:00Z", "2060-07-01 10:00:00 AEST", 36000);
    expect_local("Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01 05:30:00 IST", 19800);
    expect_local("Asia/Kathmandu", "2026-01-01T00:00:00Z", "2026-01-01 05:45:00 +0545", 20700);
    expect_local("Pacific/Chatham", "2050-01-01T00:00:00Z", "2050-01-01 13:45:00 +1345", 49500);
    expect_local("Europe/Dublin", "2050-01-01T00:00:00Z", "2050-01-01 00:00:00 GMT", 0);
    expect_local("Europe/Dublin", "2050-07-01T00:00:00Z", "2050-07-01 01:00:00 IST", 3600);
    expect_local("Europe/Berlin", "1850-01-01T00:00:00Z", "1850-01-01 00:53:28 LMT", 3208);
}

static void test_from_local(void **state)
{
    (void)state;
    tz_zone *z = crontest_zone("Europe/Berlin");
    time_t out[2];
    struct tm gap = {.tm_year = 126, .tm_mon = 2, .tm_mday = 29, .tm_hour = 2, .tm_min = 30};
    assert_int_equal(tz_from_local(z, &gap, out), 0);
    struct tm overlap = {.tm_year = 126, .tm_mon = 9, .tm_mday = 25, .tm_hour = 2, .tm_min = 30};
    assert_int_equal(tz_from_local(z, &overlap, out), 2);
    assert_int_equal(out[0], crontest_iso("2026-10-25T00:30:00Z"));
    assert_int_equal(out[1], crontest_iso("2026-10-25T01:30:00Z"));
    struct tm plain = {.tm_year = 126, .tm_mon = 6, .tm_mday = 1, .tm_hour = 12, .tm_sec = 7};
    assert_int_equal(tz_from_local(z, &plain, out), 1);
    assert_int_equal(out[0], crontest_iso("2026-07-01T10:00:07Z"));
    struct tm edge = {.tm_year = 126, .tm_mon = 2, .tm_mday = 29, .tm_hour = 3};
    assert_int_equal(tz_from_local(z, &edge, out), 1);
    assert_int_equal(out[0], crontest_iso("2026-03-29T01:00:00Z"));
    edge.tm_hour = 1, edge.tm_min = 59, edge.tm_sec = 59;
    assert_int_equal(tz_from_local(z, &edge, out), 1);
    assert_int_equal(out[0], crontest_iso("2026-03-29T00:59:59Z"));
    struct tm footer = {.tm_year = 150, .tm_mon = 9, .tm_mday = 30, .tm_hour = 2, .tm_min = 15};
    assert_int_equal(tz_from_local(z, &footer, out), 2);
    assert_int_equal(out[0], crontest_iso("2050-10-30T00:15:00Z"));
    tz_free(z);

    z = crontest_zone("America/New_York");
    struct tm ny_gap = {.tm_year = 126, .tm_mon = 2, .tm_mday = 8, .tm_hour = 2, .tm_min = 30};
    assert_int_equal(tz_from_local(z, &ny_gap, out), 0);
    struct tm ny_over = {.tm_year = 126, .tm_mon = 10, .tm_mday = 1, .tm_hour = 1, .tm_min = 30};
    assert_int_equal(tz_from_local(z, &ny_over, out), 2);
    assert_int_equal(out[0], crontest_iso("2026-11-01T05:30:00Z"));
    assert_int_equal(out[1], crontest_iso("2026-11-01T06:30:00Z"));
    tz_free(z);

    /* Apia skipped the whole of 2011-12-30 when it crossed the date line. */
    z = crontest_zone("Pacific/Apia");
    struct tm lost = {.tm_year = 111, .tm_mon = 11, .tm_mday = 30, .tm_hour = 12};
    assert_int_equal(tz_from_local(z, &lost, out), 0);
    tz_free(z);
}

static void test_names_refused(void **state)
{
    (void)state;
    unsetenv("TZDIR");
    static const char *const bad[] = {"../etc/passwd",
                                      "/etc/localtime",
                                      "Europe/../Europe/Berlin",
                                      "..",
                                      ".",
                                      "Europe//Berlin",
                                      "",
                                      "Europe/",
                                      ".hidden",
                                      "Europe/Berlin\n",
                                      "Europe/Ber lin",
                                      "Europe\\Berlin",
                                      "Europe/./Berlin"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err e;
        tz_zone *z = tz_load(bad[i], &e);
        if (z)
            fail_msg("tz_load('%s') succeeded", bad[i]);
        assert_int_equal(e.code, ERR_INVALID);
        assert_non_null(strstr(e.message, "unknown time zone '"));
    }
    err e;
    assert_null(tz_load("../etc/passwd", &e));
    assert_string_equal(e.message, "unknown time zone '../etc/passwd': not an IANA zone name like "
                                   "Europe/Berlin (no absolute paths, '..' or special characters)");
    assert_null(tz_load("Mars/Base", &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_string_equal(e.message, "unknown time zone 'Mars/Base': no such zone in "
                                   "/usr/share/zoneinfo");
    assert_null(tz_load("Europe", &e)); /* a directory */
    assert_string_equal(e.message, "unknown time zone 'Europe': no such zone in "
                                   "/usr/share/zoneinfo");
    assert_null(tz_load("Europe/Berlin/x", &e));
    assert_string_equal(e.message, "unknown time zone 'Europe/Berlin/x': no such zone in "
                                   "/usr/share/zoneinfo");
    assert_null(tz_load("zone.tab", &e)); /* a file, but not TZif */
    assert_string_equal(e.message, "unknown time zone 'zone.tab': /usr/share/zoneinfo/zone.tab: "
                                   "not a TZif file");
    tz_zone *z = crontest_zone("Etc/GMT-14");
    assert_string_equal(tz_name(z), "Etc/GMT-14");
    assert_int_equal(tz_offset(z, 0, NULL), 14 * 3600);
    tz_free(z);
}

/* ---- TZDIR with hand-made files: footer rules and broken files ---- */

static char tzdir[64];

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A TZif file with no transitions, one type and the footer; size returned. */
static size_t make_tzif(unsigned char *buf, char version, int32_t off, const char *abbr,
                        const char *footer)
{
    size_t n = 0, chars = strlen(abbr) + 1;
    for (int block = 0; block < (version ? 2 : 1); block++) {
        memcpy(buf + n, "TZif", 4);
        buf[n + 4] = (unsigned char)version;
        memset(buf + n + 5, 0, 15);
        put_be32(buf + n + 20, 0);
        put_be32(buf + n + 24, 0);
        put_be32(buf + n + 28, 0);
        put_be32(buf + n + 32, 0);
        put_be32(buf + n + 36, 1);
        put_be32(buf + n + 40, (uint32_t)chars);
        n += 44;
        put_be32(buf + n, (uint32_t)off);
        buf[n + 4] = 0;
        buf[n + 5] = 0;
        n += 6;
        memcpy(buf + n, abbr, chars);
        n += chars;
    }
    if (version)
        n += (size_t)sprintf((char *)buf + n, "\n%s\n", footer);
    return n;
}

static void write_file(const char *name, const unsigned char *buf, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tzdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static int setup_tzdir(void **state)
{
    (void)state;
    snprintf(tzdir, sizeof(tzdir), "/tmp/escher-tz-XXXXXX");
    if (!mkdtemp(tzdir))
        return -1;
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/Test", tzdir);
    mkdir(sub, 0700);
    setenv("TZDIR", tzdir, 1);
    return 0;
}

static int teardown_tzdir(void **state)
{
    (void)state;
    unsetenv("TZDIR");
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tzdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_footer_rules(void **state)
{
    (void)state;
    /* Every date form (Jn, n, Mm.w.d), default and explicit times, signed and
     * beyond-24-hour times (RFC 8536 version 3), angle-bracket names,
     * southern-hemisphere and negative-DST rules, all-year DST and no dates. */
    static const char *const rules[] = {
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "EST5EDT,M3.2.0,M11.1.0",
        "AEST-10AEDT,M10.1.0,M4.1.0/3",
        "IST-1GMT0,M10.5.0,M3.5.0/1",
        "<+0330>-3:30",
        "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
        "IST-2IDT,M3.4.4/26,M10.5.0",
        "XXX3YYY,J60/2,J300/2",
        "XXX3YYY,59/2,300/2",
        "XXX3YYY,0,364",
        "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
        "ABC-5:30:15DEF-6:45,M1.1.1/167,M12.5.6/-167",
        "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
        "XXX+3YYY+2,M2.5.3/12:30:30,M11.5.3/+4",
        "EST5EDT",
        "UTC0",
    };
    time_t from = crontest_iso("1990-01-01T00:00:00Z"), to = crontest_iso("2101-01-01T00:00:00Z");
    unsigned char buf[512];
    int total = 0;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "Test/Rule%zu", i);
        size_t n = make_tzif(buf, (char)(i % 2 ? '3' : '2'), 0, "LMT", rules[i]);
        write_file(name, buf, n);
        int bad = compare_with_glibc(name, rules[i], from, to, 3 * 86400 + 3599);
        if (bad)
            print_error("%s (%s): %d mismatches with glibc\n", name, rules[i], bad);
        total += bad;
    }
    assert_int_equal(total, 0);

    /* A rule whose end spills into the next year ("365" is 1 January after a
     * common year): like tzcode, the previous year's end still applies, so
     * 1990-01-01 is DST until 02:00 DST (04:00Z), standard until 02:00
     * standard (05:00Z), then DST again. glibc looks at the current year's
     * dates only and says standard time before 05:00Z. */
    size_t n = make_tzif(buf, '2', 0, "LMT", "XXX3YYY,0,365");
    write_file("Test/Spill", buf, n);
    tz_zone *z = crontest_zone("Test/Spill");
    assert_int_equal(tz_offset(z, crontest_iso("1990-01-01T03:59:59Z"), NULL), -7200);
    assert_int_equal(tz_offset(z, crontest_iso("1990-01-01T04:00:00Z"), NULL), -10800);
    assert_int_equal(tz_offset(z, crontest_iso("1990-01-01T04:59:59Z"), NULL), -10800);
    assert_int_equal(tz_offset(z, crontest_iso("1990-01-01T05:00:00Z"), NULL), -7200);
    /* In a leap year "365" is 31 December: DST ends there at 02:00. */
    assert_int_equal(tz_offset(z, crontest_iso("1992-12-31T12:00:00Z"), NULL), -10800);
    tz_free(z);

    /* RFC 8536's idiom for DST all year. glibc gets its last hours of the
     * year wrong (it picks the year from UTC), so this is checked by value. */
    n = make_tzif(buf, '3', 0, "LMT", "EST5EDT,0/0,J365/25");
    write_file("Test/AllYear", buf, n);
    z = crontest_zone("Test/AllYear");
    static const char *const all_year[] = {"2049-12-31T23:00:00Z", "2050-01-01T02:59:55Z",
                                           "2050-01-01T04:59:59Z", "2050-01-01T05:00:00Z",
                                           "2050-07-01T00:00:00Z", "2052-12-31T12:00:00Z"};
    for (size_t i = 0; i < sizeof(all_year) / sizeof(all_year[0]); i++) {
        const char *abbr;
        int off;
        tz_to_local(z, crontest_iso(all_year[i]), NULL, &off, &abbr);
        if (off != -14400 || strcmp(abbr, "EDT") != 0)
            fail_msg("all-year DST at %s: %+d %s", all_year[i], off, abbr);
    }
    tz_free(z);

    /* The same rule as a v1 file has no footer: its one type holds for ever. */
    n = make_tzif(buf, '\0', 3600, "XYZ", "");
    write_file("Test/V1", buf, n);
    z = crontest_zone("Test/V1");
    assert_int_equal(tz_offset(z, crontest_iso("2040-07-01T00:00:00Z"), NULL), 3600);
    tz_free(z);
}

static void test_bad_files(void **state)
{
    (void)state;
    static const char *const bad_rules[] = {"CET",
                                            "CET-1CEST,M3.5.0",
                                            "CET-1CEST,M13.5.0,M10.5.0",
                                            "CET-1CEST,M3.6.0,M10.5.0",
                                            "CET-1CEST,M3.5.7,M10.5.0",
                                            "CET-25",
                                            "XX-1",
                                            "CET-1CEST,J0,J10",
                                            "CET-1CEST,366,10",
                                            "CET-1CEST,M3.5.0/168,M10.5.0",
                                            "<+01-1",
                                            "CET-1CEST,M3.5.0,M10.5.0x",
                                            "CET-1:60",
                                            "CET-1CEST,,M10.5.0",
                                            "CET-1:00:00:00"};
    unsigned char buf[512];
    for (size_t i = 0; i < sizeof(bad_rules) / sizeof(bad_rules[0]); i++) {
        size_t n = make_tzif(buf, '2', 3600, "CET", bad_rules[i]);
        write_file("Test/Bad", buf, n);
        err e;
        tz_zone *z = tz_load("Test/Bad", &e);
        if (z)
            fail_msg("footer '%s' was accepted", bad_rules[i]);
        assert_int_equal(e.code, ERR_INVALID);
        assert_non_null(strstr(e.message, "bad TZ footer rule"));
    }
    /* Every truncation of a real zone file is refused cleanly (never read
     * past the end); the whole file loads. */
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    assert_non_null(f);
    unsigned char real[8192];
    size_t len = fread(real, 1, sizeof(real), f);
    fclose(f);
    assert_true(len > 100 && len < sizeof(real));
    for (size_t cut = 0; cut < len; cut++) {
        write_file("Test/Cut", real, cut);
        err e;
        tz_zone *z = tz_load("Test/Cut", &e);
        if (z)
            fail_msg("a TZif file cut at %zu of %zu bytes was accepted", cut, len);
        assert_int_equal(e.code, ERR_INVALID);
    }
    write_file("Test/Cut", real, len);
    tz_zone *z = crontest_zone("Test/Cut");
    tz_free(z);
    /* A byte flipped anywhere: refused or loaded, never a crash (ASan watches). */
    for (size_t i = 0; i < len; i++) {
        unsigned char copy[8192];
        memcpy(copy, real, len);
        copy[i] ^= 0xff;
        write_file("Test/Flip", copy, len);
        err e;
        z = tz_load("Test/Flip", &e);
        if (z) {
            struct tm tm;
            time_t out[2];
            tz_to_local(z, 1800000000, &tm, NULL, NULL);
            tz_from_local(z, &tm, out);
            tz_free(z);
        }
    }
    const unsigned char junk[] = "TZif2 this is not a zone";
    write_file("Test/Junk", junk, sizeof(junk));
    err e;
    assert_null(tz_load("Test/Junk", &e));
    char want[256];
    snprintf(want, sizeof(want), "unknown time zone 'Test/Junk': %s/Test/Junk: not a TZif file",
             tzdir);
    assert_string_equal(e.message, want);
    assert_null(tz_load("Mars/Base", &e));
    snprintf(want, sizeof(want), "unknown time zone 'Mars/Base': no such zone in %s", tzdir);
    assert_string_equal(e.message, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zones_match_glibc),
        cmocka_unit_test(test_known_offsets),
        cmocka_unit_test(test_from_local),
        cmocka_unit_test(test_names_refused),
        cmocka_unit_test_setup_teardown(test_footer_rules, setup_tzdir, teardown_tzdir),
        cmocka_unit_test_setup_teardown(test_bad_files, setup_tzdir, teardown_tzdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
