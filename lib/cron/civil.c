#include "cron/civil.h"

bool civil_is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int civil_month_days(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && civil_is_leap(year) ? 29 : days[month - 1];
}

int64_t civil_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && a < 0);
}

int civil_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday. */
    return (int)(days + 4 - 7 * civil_floor_div(days + 4, 7));
}
