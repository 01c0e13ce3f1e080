#include "nlu/nlu_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct zone_word {
    const char *words; /* space-separated */
    const char *zone;
} zone_word;

/* Longer phrases first: "new york time" before a bare word. A city needs
 * "time" after it, because "Tokyo" or "Frankfurt" alone is a region. */
static const zone_word zones[] = {
    {"new york time", "America/New_York"},
    {"los angeles time", "America/Los_Angeles"},
    {"central european time", "Europe/Berlin"},
    {"berlin time", "Europe/Berlin"},
    {"frankfurt time", "Europe/Berlin"},
    {"paris time", "Europe/Paris"},
    {"london time", "Europe/London"},
    {"dublin time", "Europe/Dublin"},
    {"tokyo time", "Asia/Tokyo"},
    {"sydney time", "Australia/Sydney"},
    {"chicago time", "America/Chicago"},
    {"pacific time", "America/Los_Angeles"},
    {"eastern time", "America/New_York"},
    {"utc", "UTC"},
    {"gmt", "UTC"},
    {"pacific", "America/Los_Angeles"},
    {"pst", "America/Los_Angeles"},
    {"pdt", "America/Los_Angeles"},
    {"eastern", "America/New_York"},
    {"est", "America/New_York"},
    {"edt", "America/New_York"},
    {"cet", "Europe/Berlin"},
    {"cest", "Europe/Berlin"},
};

static const char *const day_names[7][3] = {
    {"sunday", "sundays", "sun"},     {"monday", "mondays", "mon"},
    {"tuesday", "tuesdays", "tue"},   {"wednesday", "wednesdays", "wed"},
    {"thursday", "thursdays", "thu"}, {"friday", "fridays", "fri"},
    {"saturday", "saturdays", "sat"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *nlu_time_zone(const nlu_tokens *t, size_t i, size_t *used)
{
    for (size_t z = 0; z < COUNT(zones); z++) {
        const char *p = zones[z].words;
        size_t k = 0;
        bool ok = true;
        while (*p) {
            const char *end = strchr(p, ' ');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (i + k >= t->n || strlen(t->w[i + k]) != len || strncmp(t->w[i + k], p, len)) {
                ok = false;
                break;
            }
            k++;
            p += len;
            if (*p)
                p++;
        }
        if (ok) {
            *used = k;
            return zones[z].zone;
        }
    }
    *used = 0;
    return NULL;
}

static bool all_digits(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

size_t nlu_time_clock(const nlu_tokens *t, size_t i, int *hour, int *minute, bool *bad)
{
    const char *w = t->w[i];
    if (strcmp(w, "noon") == 0 || strcmp(w, "midday") == 0) {
        *hour = 12;
        *minute = 0;
        return 1;
    }
    if (strcmp(w, "midnight") == 0) {
        *hour = 0;
        *minute = 0;
        return 1;
    }
    size_t len = strlen(w);
    int ampm = 0; /* 1 am, 2 pm */
    if (len > 2 && (strcmp(w + len - 2, "am") == 0 || strcmp(w + len - 2, "pm") == 0)) {
        ampm = w[len - 2] == 'a' ? 1 : 2;
        len -= 2;
    }
    const char *colon = memchr(w, ':', len);
    size_t hl = colon ? (size_t)(colon - w) : len;
    if (!all_digits(w, hl) || hl > 2)
        return 0;
    int h = atoi(w), m = 0;
    if (colon) {
        size_t ml = len - hl - 1;
        if (ml != 2 || !all_digits(colon + 1, ml))
            return 0;
        m = atoi(colon + 1);
    }
    size_t used = 1;
    if (!ampm && i + 1 < t->n &&
        (strcmp(t->w[i + 1], "am") == 0 || strcmp(t->w[i + 1], "pm") == 0)) {
        ampm = t->w[i + 1][0] == 'a' ? 1 : 2;
        used = 2;
    }
    if (ampm) {
        if (h < 1 || h > 12)
            *bad = true;
        else if (ampm == 2 && h != 12)
            h += 12;
        else if (ampm == 1 && h == 12)
            h = 0;
    }
    if (h > 23 || m > 59)
        *bad = true;
    *hour = h;
    *minute = m;
    return used;
}

static int day_of(const char *w)
{
    for (int d = 0; d < 7; d++)
        for (int k = 0; k < 3; k++)
            if (strcmp(w, day_names[d][k]) == 0)
                return d;
    return -1;
}

/* Words that may follow "every" in a schedule. */
static bool every_day_word(const char *w)
{
    static const char *const words[] = {"day",      "night",   "evening",  "morning", "weekday",
                                        "weekdays", "weekend", "weekends", "workday", "workdays"};
    for (size_t i = 0; i < COUNT(words); i++)
        if (strcmp(w, words[i]) == 0)
            return true;
    return day_of(w) >= 0;
}

/* "on mondays": the "on" belongs to the days. */
static void mark_on(nlu_tokens *t, size_t i)
{
    if (i > 0 && strcmp(t->w[i - 1], "on") == 0)
        t->used[i - 1] = true;
}

void nlu_time_scan(nlu_tokens *t, nlu_when *w)
{
    memset(w, 0, sizeof(*w));
    for (size_t i = 0; i < t->n; i++) {
        const char *x = t->w[i];
        size_t k;
        const char *z = nlu_time_zone(t, i, &k);
        if (z) {
            w->zone = z;
            w->seen = true;
            for (size_t j = 0; j < k; j++)
                t->used[i + j] = true;
            i += k - 1;
            continue;
        }
        if ((strcmp(x, "every") == 0 || strcmp(x, "each") == 0) &&
            !(i + 1 < t->n && every_day_word(t->w[i + 1]))) {
            /* "every prod instance" is not a schedule. */
            continue;
        }
        if (strcmp(x, "every") == 0 || strcmp(x, "each") == 0) {
            /* "every day" is every day; "every weekday" is read below. */
            t->used[i] = true;
            if (i + 1 < t->n &&
                (strcmp(t->w[i + 1], "day") == 0 || strcmp(t->w[i + 1], "night") == 0 ||
                 strcmp(t->w[i + 1], "evening") == 0 || strcmp(t->w[i + 1], "morning") == 0)) {
                t->used[i + 1] = true;
                i++;
            }
            w->seen = true;
            continue;
        }
        if (strcmp(x, "daily") == 0 || strcmp(x, "nightly") == 0) {
            t->used[i] = true;
            w->seen = true;
            continue;
        }
        if (strcmp(x, "weekday") == 0 || strcmp(x, "weekdays") == 0 || strcmp(x, "workday") == 0 ||
            strcmp(x, "workdays") == 0) {
            w->days |= 0x3e;
            t->used[i] = true;
            mark_on(t, i);
            w->seen = true;
            continue;
        }
        if (strcmp(x, "weekend") == 0 || strcmp(x, "weekends") == 0) {
            w->days |= 0x41;
            t->used[i] = true;
            mark_on(t, i);
            w->seen = true;
            continue;
        }
        int d = day_of(x);
        if (d >= 0) {
            w->days |= 1u << d;
            t->used[i] = true;
            mark_on(t, i);
            w->seen = true;
            continue;
        }
        /* A clock needs "at" before it, or a colon or am/pm of its own:
         * a bare number is a count or an age, not a time. */
        bool at = strcmp(x, "at") == 0 && i + 1 < t->n;
        size_t ci = at ? i + 1 : i;
        if (!at && !strchr(x, ':') && !strstr(x, "am") && !strstr(x, "pm") &&
            strcmp(x, "noon") != 0 && strcmp(x, "midnight") != 0)
            continue;
        int h = 0, m = 0;
        bool bad = false;
        k = nlu_time_clock(t, ci, &h, &m, &bad);
        if (k == 0)
            continue;
        for (size_t j = i; j < ci + k; j++)
            t->used[j] = true;
        w->seen = true;
        w->have_time = true;
        w->hour = h;
        w->minute = m;
        w->bad_time = w->bad_time || bad;
        i = ci + k - 1;
    }
    /* "Europe time": a zone was meant but none is known by that name. */
    for (size_t i = 1; i < t->n; i++)
        if (w->seen && !t->used[i] && strcmp(t->w[i], "time") == 0 && !t->used[i - 1] &&
            strcmp(t->w[i - 1], "the") != 0 && strcmp(t->w[i - 1], "what") != 0)
            w->bad_zone = true;
}

void nlu_time_cron(const nlu_when *w, char *buf, size_t size)
{
    char days[32] = "*";
    if (w->days == 0x3e) {
        snprintf(days, sizeof(days), "1-5");
    } else if (w->days != 0 && w->days != 0x7f) {
        size_t off = 0;
        for (int d = 0; d < 7; d++)
            if (w->days & (1u << d))
                off += (size_t)snprintf(days + off, sizeof(days) - off, "%s%d", off ? "," : "", d);
    }
    snprintf(buf, size, "%d %d * * %s", w->minute, w->hour, days);
}
