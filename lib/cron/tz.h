/* Time zones read straight from the system's TZif files (Debian tzdata), so
 * that a schedule in "Europe/Berlin" is evaluated in Berlin time whatever the
 * process's own zone is. A loaded zone is immutable: any number of threads may
 * use one tz_zone at once, and nothing here touches TZ, tzset() or
 * localtime_r. */
#ifndef ESCHER_CRON_TZ_H
#define ESCHER_CRON_TZ_H

#include "core/err.h"

#include <time.h>

typedef struct tz_zone tz_zone;

/* Loads an IANA zone ("Europe/Berlin", "UTC") from $TZDIR or
 * /usr/share/zoneinfo: TZif v1, v2 or v3 with its transitions, local time
 * types and the POSIX TZ footer rule that covers instants after the last
 * transition. Names with "..", absolute paths, odd characters or files that
 * are not TZif are refused with ERR_INVALID, e.g. "unknown time zone
 * 'Mars/Base': no such zone in /usr/share/zoneinfo". Caller frees with
 * tz_free. */
tz_zone *tz_load(const char *name, err *e);
void tz_free(tz_zone *z);

/* The name given to tz_load. */
const char *tz_name(const tz_zone *z);

/* UTC instant -> local civil time (every field of *out is set, tm_wday,
 * tm_yday, tm_isdst, tm_gmtoff and tm_zone included), offset in seconds east
 * of UTC and the abbreviation ("CEST"), valid as long as z. Any out pointer
 * may be NULL. Valid for |t| < 2^50. */
void tz_to_local(const tz_zone *z, time_t t, struct tm *out, int *utc_offset, const char **abbr);

/* Local civil time -> UTC: fills out with the instants whose local time is
 * `local` (only tm_year, tm_mon, tm_mday, tm_hour, tm_min and tm_sec are read,
 * and must be in range), earliest first, and returns how many there are: 0 in
 * a spring-forward gap, 2 in a fall-back overlap, else 1. */
int tz_from_local(const tz_zone *z, const struct tm *local, time_t out[2]);

/* Offset (seconds east of UTC) in effect at t, and in *next_change (may be
 * NULL) the first instant after t at which it may change: a transition of the
 * file or of the footer rule; INT64_MAX when it never changes again. Lets a
 * caller walk time in spans of constant offset (cron_next does). */
int tz_offset(const tz_zone *z, time_t t, time_t *next_change);

#endif
