/* Time: wall-clock UTC for storage and signing, monotonic for intervals.
 * Everything stored or sent is UTC; conversion to a user's zone happens only
 * at display time, elsewhere. */
#ifndef ESCHER_CORE_TIMEUTIL_H
#define ESCHER_CORE_TIMEUTIL_H

#include "core/err.h"

#include <stdint.h>
#include <time.h>

#define TIMEUTIL_ISO8601_LEN 21 /* "2015-08-30T12:36:00Z" + NUL */
#define TIMEUTIL_AMZ_LEN     17 /* "20150830T123600Z" + NUL */

/* Wall clock, seconds / milliseconds since the Unix epoch (UTC). */
time_t timeutil_now(void);
int64_t timeutil_now_ms(void);

/* Monotonic clock for timeouts and durations; unrelated to the wall clock. */
uint64_t timeutil_mono_ns(void);
uint64_t timeutil_mono_ms(void);

/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" into out (TIMEUTIL_ISO8601_LEN bytes). */
void timeutil_format_iso8601(time_t t, char out[TIMEUTIL_ISO8601_LEN]);
/* Formats t as SigV4's "YYYYMMDDTHHMMSSZ" into out (TIMEUTIL_AMZ_LEN bytes). */
void timeutil_format_amz(time_t t, char out[TIMEUTIL_AMZ_LEN]);
/* Formats t with milliseconds, "YYYY-MM-DDTHH:MM:SS.mmmZ", for log lines (25 bytes). */
void timeutil_format_log(int64_t ms, char out[25]);

/* UTC calendar fields by arithmetic (Howard Hinnant's civil-calendar
 * algorithms, proleptic Gregorian): signing and the sandbox format thousands
 * of timestamps a second, and gmtime_r costs more than the rest of that work.
 * Valid for every time_t, negative ones included. */
typedef struct timeutil_civil {
    int64_t year;
    int month; /* 1-12 */
    int day;   /* 1-31 */
    int hour, min, sec;
} timeutil_civil;

void timeutil_civil_from_time(time_t t, timeutil_civil *out);
/* Days since 1970-01-01 of year-month-day (month 1-12); negative before 1970. */
int64_t timeutil_days_from_civil(int64_t year, int month, int day);

/* Parses ISO 8601 / RFC 3339 as AWS writes it: "2015-08-30T12:36:00Z",
 * optional fractional seconds, "Z" or "+HH:MM"/"-HH:MM". Also accepts the
 * compact SigV4 form "20150830T123600Z". Fails with ERR_PARSE quoting s. */
bool timeutil_parse_iso8601(const char *s, time_t *out, err *e);

/* Parses an HTTP date (RFC 7231 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT").
 * Fails with ERR_PARSE quoting s. */
bool timeutil_parse_http_date(const char *s, time_t *out, err *e);

#endif
