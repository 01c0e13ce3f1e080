/* Calendar arithmetic shared by tz.c and cron.c (internal to lib/cron):
 * proleptic Gregorian, days counted from 1970-01-01, valid for negative
 * values too. The conversions between days and dates are in core/timeutil. */
#ifndef ESCHER_CRON_CIVIL_H
#define ESCHER_CRON_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

bool civil_is_leap(int64_t year);
/* Days in month (1-12) of year. */
int civil_month_days(int64_t year, int month);
/* a / b rounded towards minus infinity (b > 0). */
int64_t civil_floor_div(int64_t a, int64_t b);
/* Day of the week, 0 = Sunday, of a day counted from 1970-01-01. */
int civil_weekday(int64_t days);

#endif
