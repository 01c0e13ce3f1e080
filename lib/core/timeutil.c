#include "core/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

time_t timeutil_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

int64_t timeutil_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t timeutil_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t timeutil_mono_ms(void)
{
    return timeutil_mono_ns() / 1000000u;
}

void timeutil_format_iso8601(time_t t, char out[TIMEUTIL_ISO8601_LEN])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, TIMEUTIL_ISO8601_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void timeutil_format_amz(time_t t, char out[TIMEUTIL_AMZ_LEN])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, TIMEUTIL_AMZ_LEN, "%Y%m%dT%H%M%SZ", &tm);
}

void timeutil_format_log(int64_t ms, char out[25])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char secs_part[TIMEUTIL_ISO8601_LEN];
    strftime(secs_part, sizeof secs_part, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 25, "%.19s.%03uZ", secs_part, (unsigned)(ms % 1000) % 1000u);
}

void timeutil_civil_from_time(time_t t, timeutil_civil *out)
{
    int64_t days = (int64_t)t / 86400, secs = (int64_t)t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t z = days + 719468; /* days from 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    out->year = yoe + era * 400 + (out->month <= 2);
    out->hour = (int)(secs / 3600);
    out->min = (int)(secs / 60 % 60);
    out->sec = (int)(secs % 60);
}

int64_t timeutil_days_from_civil(int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t yoe = year - era * 400;
    int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits; returns -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool fields_valid(const struct tm *tm)
{
    return tm->tm_mon >= 0 && tm->tm_mon < 12 && tm->tm_mday >= 1 && tm->tm_mday <= 31 &&
           tm->tm_hour >= 0 && tm->tm_hour < 24 && tm->tm_min >= 0 && tm->tm_min < 60 &&
           tm->tm_sec >= 0 && tm->tm_sec <= 60;
}

bool timeutil_parse_iso8601(const char *s, time_t *out, err *e)
{
    struct tm tm = {0};
    const char *p = s;
    size_t len = strlen(s);
    if (len == 16 && s[8] == 'T' && s[15] == 'Z') { /* 20150830T123600Z */
        tm.tm_year = digits(s, 4) - 1900;
        tm.tm_mon = digits(s + 4, 2) - 1;
        tm.tm_mday = digits(s + 6, 2);
        tm.tm_hour = digits(s + 9, 2);
        tm.tm_min = digits(s + 11, 2);
        tm.tm_sec = digits(s + 13, 2);
        if (digits(s, 4) < 0 || !fields_valid(&tm))
            return err_set(e, ERR_PARSE, "invalid timestamp '%s'", s);
        *out = timegm(&tm);
        return true;
    }
    if (len < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return err_set(e, ERR_PARSE, "invalid timestamp '%s': expected YYYY-MM-DDTHH:MM:SSZ", s);
    int year = digits(p, 4);
    tm.tm_mon = digits(p + 5, 2) - 1;
    tm.tm_mday = digits(p + 8, 2);
    tm.tm_hour = digits(p + 11, 2);
    tm.tm_min = digits(p + 14, 2);
    tm.tm_sec = digits(p + 17, 2);
    if (year < 0 || !fields_valid(&tm))
        return err_set(e, ERR_PARSE, "invalid timestamp '%s': a field is out of range", s);
    tm.tm_year = year - 1900;
    p += 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return err_set(e, ERR_PARSE, "invalid timestamp '%s': empty fraction", s);
        while (isdigit((unsigned char)*p))
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh = digits(p + 1, 2);
        int mm = p[3] == ':' ? digits(p + 4, 2) : digits(p + 3, 2);
        if (hh < 0 || mm < 0 || hh > 23 || mm > 59)
            return err_set(e, ERR_PARSE, "invalid timestamp '%s': bad zone offset", s);
        offset = (hh * 3600L + mm * 60L) * (*p == '+' ? 1 : -1);
        p += p[3] == ':' ? 6 : 5;
    } else {
        return err_set(e, ERR_PARSE, "invalid timestamp '%s': missing zone (Z or +HH:MM)", s);
    }
    if (*p != '\0')
        return err_set(e, ERR_PARSE, "invalid timestamp '%s': trailing characters", s);
    *out = timegm(&tm) - offset;
    return true;
}

bool timeutil_parse_http_date(const char *s, time_t *out, err *e)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char wday[4], mon[4], zone[4];
    int day, year, hh, mm, ss;
    if (sscanf(s, "%3s, %d %3s %d %d:%d:%d %3s", wday, &day, mon, &year, &hh, &mm, &ss, zone) !=
            8 ||
        strcmp(zone, "GMT") != 0)
        return err_set(e, ERR_PARSE, "invalid HTTP date '%s'", s);
    const char *m = strstr(months, mon);
    if (m == NULL || (m - months) % 3 != 0)
        return err_set(e, ERR_PARSE, "invalid HTTP date '%s': unknown month '%s'", s, mon);
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    if (!fields_valid(&tm))
        return err_set(e, ERR_PARSE, "invalid HTTP date '%s': a field is out of range", s);
    *out = timegm(&tm);
    return true;
}
