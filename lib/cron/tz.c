/* TZif reader (RFC 8536) and POSIX TZ rule evaluation.
 *
 * Why not localtime_r: it works on the process's one zone, switching it means
 * setenv("TZ") + tzset(), which is not thread-safe, and a scheduler evaluates
 * thousands of schedules in many zones. So a zone is read once into an
 * immutable struct and every conversion is arithmetic over it. */
#include "cron/tz.h"

#include "core/timeutil.h"
#include "cron/civil.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_DEFAULT_DIR  "/usr/share/zoneinfo"
#define TZ_FILE_MAX     (1024 * 1024) /* real zone files are < 4 KiB */
#define TZ_NAME_MAX     255
#define TZ_ABBR_MAX     16
#define TZ_OFFSET_LIMIT (26 * 3600) /* wider than any real offset (+14 h, -12 h) */

typedef struct tz_type {
    int32_t utoff; /* seconds east of UTC */
    bool isdst;
    uint8_t abbr; /* index into tz_zone.abbrs */
} tz_type;

/* One date of a POSIX rule: Jn (julian, 1-365, no leap day), n (0-365,
 * leap day counted) or Mm.w.d, plus a time of day in local time, which RFC
 * 8536 extends to -167..167 hours. */
typedef struct tz_rule_date {
    char kind; /* 'J', 'N' or 'M' */
    int day;   /* J: 1-365, N: 0-365, M: weekday 0-6 */
    int week;  /* M: 1-5 (5 = last) */
    int month; /* M: 1-12 */
    int32_t secs;
} tz_rule_date;

typedef struct tz_rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    bool has_dst;
    char std_abbr[TZ_ABBR_MAX], dst_abbr[TZ_ABBR_MAX];
    tz_rule_date start, end;
} tz_rule;

struct tz_zone {
    char *name;
    size_t ntrans, ntypes;
    int64_t *trans; /* ascending UTC instants */
    uint8_t *tidx;  /* type after each transition */
    tz_type *types;
    char *abbrs; /* NUL-terminated strings, indexed by tz_type.abbr */
    bool has_rule;
    tz_rule rule;
    int32_t min_off, max_off; /* over every type and the rule */
};

/* ---- POSIX TZ strings ("CET-1CEST,M3.5.0,M10.5.0/3") ---- */

static bool rule_abbr(const char **p, char out[TZ_ABBR_MAX])
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '<') {
        s++;
        while (*s && *s != '>') {
            if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                  (*s >= '0' && *s <= '9') || *s == '+' || *s == '-'))
                return false;
            if (n + 1 >= TZ_ABBR_MAX)
                return false;
            out[n++] = *s++;
        }
        if (*s != '>')
            return false;
        s++;
    } else {
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
            if (n + 1 >= TZ_ABBR_MAX)
                return false;
            out[n++] = *s++;
        }
    }
    if (n < 3)
        return false;
    out[n] = '\0';
    *p = s;
    return true;
}

static bool rule_num(const char **p, int lo, int hi, int *out)
{
    const char *s = *p;
    int v = 0, digits = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (++digits > 3)
            return false;
    }
    if (digits == 0 || v < lo || v > hi)
        return false;
    *out = v;
    *p = s;
    return true;
}

/* [+-]hh[:mm[:ss]] with hours up to max_hours; returns seconds. */
static bool rule_hms(const char **p, int max_hours, int32_t *out)
{
    const char *s = *p;
    int sign = 1, h, m = 0, sec = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!rule_num(&s, 0, max_hours, &h))
        return false;
    if (*s == ':') {
        s++;
        if (!rule_num(&s, 0, 59, &m))
            return false;
        if (*s == ':') {
            s++;
            if (!rule_num(&s, 0, 59, &sec))
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    *p = s;
    return true;
}

static bool rule_date(const char **p, tz_rule_date *d)
{
    const char *s = *p;
    if (*s == 'J') {
        s++;
        d->kind = 'J';
        if (!rule_num(&s, 1, 365, &d->day))
            return false;
    } else if (*s == 'M') {
        s++;
        d->kind = 'M';
        if (!rule_num(&s, 1, 12, &d->month) || *s++ != '.' || !rule_num(&s, 1, 5, &d->week) ||
            *s++ != '.' || !rule_num(&s, 0, 6, &d->day))
            return false;
    } else {
        d->kind = 'N';
        if (!rule_num(&s, 0, 365, &d->day))
            return false;
    }
    d->secs = 2 * 3600;
    if (*s == '/') {
        s++;
        if (!rule_hms(&s, 167, &d->secs))
            return false;
    }
    *p = s;
    return true;
}

/* Parses the TZ string of a TZif footer. POSIX offsets count hours west of
 * UTC ("CET-1" is one hour east), hence the negations. */
static bool rule_parse(const char *s, tz_rule *r)
{
    int32_t off;
    memset(r, 0, sizeof(*r));
    if (!rule_abbr(&s, r->std_abbr) || !rule_hms(&s, 24, &off))
        return false;
    r->std_off = -off;
    if (*s == '\0')
        return true;
    if (!rule_abbr(&s, r->dst_abbr))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!rule_hms(&s, 24, &off))
            return false;
        r->dst_off = -off;
    }
    if (*s == '\0') {
        /* No dates: POSIX leaves it to the implementation; glibc and tzcode
         * use the US rules, so do the same. */
        r->start = (tz_rule_date){.kind = 'M', .month = 3, .week = 2, .day = 0, .secs = 7200};
        r->end = (tz_rule_date){.kind = 'M', .month = 11, .week = 1, .day = 0, .secs = 7200};
        return true;
    }
    if (*s++ != ',' || !rule_date(&s, &r->start) || *s++ != ',' || !rule_date(&s, &r->end))
        return false;
    return *s == '\0';
}

/* Local midnight of the rule date in year y, as days since 1970-01-01. */
static int64_t rule_day(const tz_rule_date *d, int64_t y)
{
    int64_t jan1 = timeutil_days_from_civil(y, 1, 1);
    if (d->kind == 'J')
        return jan1 + d->day - 1 + (civil_is_leap(y) && d->day >= 60 ? 1 : 0);
    if (d->kind == 'N')
        return jan1 + d->day;
    int64_t first = timeutil_days_from_civil(y, d->month, 1);
    int64_t wday = civil_weekday(first);
    int64_t day = first + (d->day - wday + 7) % 7 + 7 * (d->week - 1);
    while (day - first >= civil_month_days(y, d->month))
        day -= 7;
    return day;
}

/* The two transitions of year y as UTC instants. */
static void rule_year(const tz_rule *r, int64_t y, int64_t *dst_start, int64_t *dst_end)
{
    *dst_start = rule_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
    *dst_end = rule_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;
}

/* Rule state at t: whether DST is in effect, and the next change after t.
 * Looks at the transitions of the neighbouring years too because a rule time
 * of up to 167 hours can push a transition across New Year. On equal instants
 * the DST start wins, which is how "all year DST" rules (0/0,J365/25) work. */
static bool rule_at(const tz_rule *r, int64_t t, int64_t *next)
{
    *next = INT64_MAX;
    if (!r->has_dst)
        return false;
    timeutil_civil c;
    timeutil_civil_from_time((time_t)(t + r->std_off), &c);
    int64_t best_at = INT64_MIN;
    bool dst = false;
    for (int64_t y = c.year - 1; y <= c.year + 1; y++) {
        int64_t start, end;
        rule_year(r, y, &start, &end);
        if (end <= t && (end > best_at)) {
            best_at = end;
            dst = false;
        }
        if (start <= t && start >= best_at) {
            best_at = start;
            dst = true;
        }
        if (start > t && start < *next)
            *next = start;
        if (end > t && end < *next)
            *next = end;
    }
    return dst;
}

/* ---- TZif files ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static bool tzif_header(const unsigned char *p, size_t n, tzif_counts *c, char *version)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    *version = (char)p[4];
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    return c->type >= 1 && c->type <= 256 && c->chars >= 1 && c->chars <= 4096 &&
           c->time <= 100000 && c->leap <= 1000 && (c->isut == 0 || c->isut == c->type) &&
           (c->isstd == 0 || c->isstd == c->type);
}

static size_t tzif_block_size(const tzif_counts *c, size_t tsize)
{
    return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) + c->isstd +
           c->isut;
}

/* Parses the data block that starts at p (after its header). Returns a
 * description of what is wrong, or NULL. */
static const char *tzif_data(tz_zone *z, const tzif_counts *c, const unsigned char *p, size_t tsize)
{
    if (c->leap > 0)
        return "zone files with leap seconds (right/...) are not supported";
    z->ntrans = c->time;
    z->ntypes = c->type;
    z->trans = xcalloc(c->time ? c->time : 1, sizeof(*z->trans));
    z->tidx = xcalloc(c->time ? c->time : 1, 1);
    z->types = xcalloc(c->type, sizeof(*z->types));
    z->abbrs = xcalloc(c->chars + 1, 1);
    for (size_t i = 0; i < c->time; i++) {
        z->trans[i] = tsize == 8 ? be64(p) : (int32_t)be32(p);
        p += tsize;
        if (i > 0 && z->trans[i] <= z->trans[i - 1])
            return "transition times are not ascending";
    }
    for (size_t i = 0; i < c->time; i++) {
        z->tidx[i] = *p++;
        if (z->tidx[i] >= c->type)
            return "transition names a missing time type";
    }
    for (size_t i = 0; i < c->type; i++) {
        int32_t off = (int32_t)be32(p);
        if (off <= -TZ_OFFSET_LIMIT || off >= TZ_OFFSET_LIMIT || p[4] > 1 || p[5] >= c->chars)
            return "bad local time type";
        z->types[i] = (tz_type){.utoff = off, .isdst = p[4] == 1, .abbr = p[5]};
        p += 6;
    }
    memcpy(z->abbrs, p, c->chars); /* the extra NUL byte ends an unterminated last name */
    return NULL;
}

static const char *tzif_parse(tz_zone *z, const unsigned char *buf, size_t n)
{
    tzif_counts c;
    char version;
    if (!tzif_header(buf, n, &c, &version))
        return "not a TZif file";
    size_t v1 = 44 + tzif_block_size(&c, 4);
    if (v1 > n)
        return "truncated TZif file";
    if (version == '\0')
        return tzif_data(z, &c, buf + 44, 4);
    /* v2+: a second header and block with 64-bit times, then the footer. */
    const unsigned char *h2 = buf + v1;
    if (!tzif_header(h2, n - v1, &c, &version))
        return "bad TZif v2 header";
    size_t v2 = 44 + tzif_block_size(&c, 8);
    if (v2 > n - v1)
        return "truncated TZif file";
    const char *why = tzif_data(z, &c, h2 + 44, 8);
    if (why)
        return why;
    const char *foot = (const char *)h2 + v2, *end = (const char *)buf + n;
    if (foot >= end || *foot != '\n')
        return "missing TZ footer";
    const char *nl = memchr(foot + 1, '\n', (size_t)(end - foot - 1));
    if (!nl)
        return "unterminated TZ footer";
    if (nl > foot + 1) {
        char rule[256];
        size_t len = (size_t)(nl - foot - 1);
        if (len >= sizeof(rule))
            return "TZ footer too long";
        memcpy(rule, foot + 1, len);
        rule[len] = '\0';
        if (!rule_parse(rule, &z->rule))
            return "bad TZ footer rule";
        z->has_rule = true;
    }
    return NULL;
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
        return false;
    for (const char *s = name; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '+' || *s == '/' || *s == '.'))
            return false;
        /* Every path component must start with something other than '.', which
         * refuses "..", "." and hidden files alike. */
        if ((s == name || s[-1] == '/') && (*s == '.' || *s == '/'))
            return false;
    }
    return true;
}

static bool read_file(const char *path, unsigned char **buf, size_t *len, bool *missing)
{
    *missing = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *missing = errno == ENOENT || errno == ENOTDIR;
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_FILE_MAX) {
        *missing = true; /* a directory such as "Europe" is not a zone */
        close(fd);
        return false;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    unsigned char *b = xmalloc(cap + 1);
    while (n < cap) {
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = n;
    return true;
}

static void zone_bounds(tz_zone *z)
{
    z->min_off = INT32_MAX;
    z->max_off = INT32_MIN;
    for (size_t i = 0; i < z->ntypes; i++) {
        if (z->types[i].utoff < z->min_off)
            z->min_off = z->types[i].utoff;
        if (z->types[i].utoff > z->max_off)
            z->max_off = z->types[i].utoff;
    }
    if (z->has_rule) {
        int32_t offs[2] = {z->rule.std_off, z->rule.has_dst ? z->rule.dst_off : z->rule.std_off};
        for (int i = 0; i < 2; i++) {
            if (offs[i] < z->min_off)
                z->min_off = offs[i];
            if (offs[i] > z->max_off)
                z->max_off = offs[i];
        }
    }
}

tz_zone *tz_load(const char *name, err *e)
{
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = TZ_DEFAULT_DIR;
    if (!name_ok(name)) {
        err_set(e, ERR_INVALID,
                "unknown time zone '%.*s': not an IANA zone name like Europe/Berlin (no absolute "
                "paths, '..' or special characters)",
                TZ_NAME_MAX, name);
        return NULL;
    }
    char *path = xasprintf("%s/%s", dir, name);
    unsigned char *buf = NULL;
    size_t len = 0;
    bool missing;
    if (!read_file(path, &buf, &len, &missing)) {
        if (missing)
            err_set(e, ERR_INVALID, "unknown time zone '%s': no such zone in %s", name, dir);
        else
            err_set(e, ERR_IO, "reading time zone '%s': %s: %s", name, path, strerror(errno));
        free(path);
        return NULL;
    }
    free(path);
    tz_zone *z = xcalloc(1, sizeof(*z));
    const char *why = tzif_parse(z, buf, len);
    free(buf);
    if (!why && z->ntrans == 0 && !z->has_rule && z->ntypes == 0)
        why = "no local time types";
    if (why) {
        err_set(e, ERR_INVALID, "unknown time zone '%s': %s/%s: %s", name, dir, name, why);
        tz_free(z);
        return NULL;
    }
    z->name = xstrdup(name);
    zone_bounds(z);
    return z;
}

void tz_free(tz_zone *z)
{
    if (!z)
        return;
    free(z->name);
    free(z->trans);
    free(z->tidx);
    free(z->types);
    free(z->abbrs);
    free(z);
}

const char *tz_name(const tz_zone *z)
{
    return z->name;
}

/* Offset, DST flag and abbreviation at t, and the next instant the offset
 * (or the abbreviation) may change. */
static int32_t zone_at(const tz_zone *z, int64_t t, bool *isdst, const char **abbr, int64_t *next)
{
    size_t n = z->ntrans;
    if ((n == 0 || t >= z->trans[n - 1]) && z->has_rule) {
        int64_t rnext;
        bool dst = rule_at(&z->rule, t, &rnext);
        if (next)
            *next = rnext;
        *isdst = dst;
        *abbr = dst ? z->rule.dst_abbr : z->rule.std_abbr;
        return dst ? z->rule.dst_off : z->rule.std_off;
    }
    size_t type;
    if (n == 0 || t < z->trans[0]) {
        /* RFC 8536: type 0 is the time type before the first transition. */
        type = 0;
        if (next)
            *next = n ? z->trans[0] : INT64_MAX;
    } else {
        size_t lo = 0, hi = n; /* find the last transition <= t */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (z->trans[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        type = z->tidx[lo];
        if (next) {
            if (lo + 1 < n)
                *next = z->trans[lo + 1];
            else
                *next = INT64_MAX; /* no rule: the last type holds for ever */
        }
    }
    *isdst = z->types[type].isdst;
    *abbr = z->abbrs + z->types[type].abbr;
    return z->types[type].utoff;
}

void tz_to_local(const tz_zone *z, time_t t, struct tm *out, int *utc_offset, const char **abbr)
{
    bool isdst;
    const char *a;
    /* Keeps the arithmetic below far from overflow for absurd inputs. */
    if (t > (time_t)1 << 50)
        t = (time_t)1 << 50;
    if (t < -((time_t)1 << 50))
        t = -((time_t)1 << 50);
    int32_t off = zone_at(z, t, &isdst, &a, NULL);
    if (utc_offset)
        *utc_offset = off;
    if (abbr)
        *abbr = a;
    if (!out)
        return;
    int64_t local = (int64_t)t + off;
    timeutil_civil c;
    timeutil_civil_from_time((time_t)local, &c);
    int64_t days = civil_floor_div(local, 86400);
    memset(out, 0, sizeof(*out));
    out->tm_year = (int)(c.year - 1900);
    out->tm_mon = c.month - 1;
    out->tm_mday = c.day;
    out->tm_hour = c.hour;
    out->tm_min = c.min;
    out->tm_sec = c.sec;
    out->tm_wday = civil_weekday(days);
    out->tm_yday = (int)(days - timeutil_days_from_civil(c.year, 1, 1));
    out->tm_isdst = isdst;
    out->tm_gmtoff = off;
    out->tm_zone = a;
}

int tz_offset(const tz_zone *z, time_t t, time_t *next_change)
{
    bool isdst;
    const char *abbr;
    int64_t next;
    int32_t off = zone_at(z, t, &isdst, &abbr, &next);
    if (next_change)
        *next_change = (time_t)next;
    return off;
}

int tz_from_local(const tz_zone *z, const struct tm *local, time_t out[2])
{
    int64_t l = (timeutil_days_from_civil((int64_t)local->tm_year + 1900, local->tm_mon + 1, 1) +
                 local->tm_mday - 1) *
                    86400 +
                local->tm_hour * 3600 + local->tm_min * 60 + local->tm_sec;
    /* Every instant t with t + offset(t) == l lies in [l - max_off, l - min_off];
     * collect the offsets in effect there and keep those that map back to l. */
    int64_t lo = l - z->max_off, hi = l - z->min_off;
    int32_t offs[16];
    int noffs = 0;
    int64_t t = lo;
    while (noffs < 16) {
        bool isdst;
        const char *abbr;
        int64_t next;
        int32_t off = zone_at(z, t, &isdst, &abbr, &next);
        bool seen = false;
        for (int i = 0; i < noffs; i++)
            seen |= offs[i] == off;
        if (!seen)
            offs[noffs++] = off;
        if (next > hi)
            break;
        t = next;
    }
    int n = 0;
    for (int i = 0; i < noffs; i++) {
        int64_t cand = l - offs[i];
        if (tz_offset(z, (time_t)cand, NULL) != offs[i])
            continue;
        bool dup = false;
        for (int j = 0; j < n; j++)
            dup |= out[j] == cand;
        if (dup)
            continue;
        if (n < 2) {
            out[n++] = (time_t)cand;
        } else if (cand < out[1]) {
            out[1] = (time_t)cand; /* more than two: keep the earliest two */
        }
        if (n == 2 && out[1] < out[0]) {
            time_t tmp = out[0];
            out[0] = out[1];
            out[1] = tmp;
        }
    }
    return n;
}
