/* Cron expressions. Each field is a bit set of the values it allows; the next
 * fire is found by advancing field by field (month, day, hour, minute) in
 * local civil time, one span of constant UTC offset at a time, so a schedule
 * that fires once a year costs a handful of steps, not half a million. */
#include "cron/cron.h"

#include "core/timeutil.h"
#include "cron/civil.h"
#include "core/xmalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CRON_TEXT_MAX 256
#define CRON_HORIZON  (5 * 366 * 86400LL) /* "no fire within 5 years" */

enum { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

typedef struct cron_field_def {
    const char *name;
    int min, max;      /* accepted numbers (day-of-week accepts 7 for Sunday) */
    int star_max;      /* largest value '*' stands for */
    const char *names; /* three-letter names, value = position + min, or NULL */
    const char *want;  /* how the names are described in errors */
} cron_field_def;

static const cron_field_def fields[F_COUNT] = {
    {"minute", 0, 59, 59, NULL, NULL},
    {"hour", 0, 23, 23, NULL, NULL},
    {"day-of-month", 1, 31, 31, NULL, NULL},
    {"month", 1, 12, 12, "janfebmaraprmayjunjulaugsepoctnovdec", "jan-dec"},
    {"day-of-week", 0, 7, 6, "sunmontuewedthufrisat", "sun-sat"},
};

struct cron_expr {
    uint64_t bits[F_COUNT];
    /* The field's text starts with '*'. As in Vixie cron this decides two
     * things: the day rule (day-of-month and day-of-week are OR-ed only when
     * neither starts with '*') and, for minute and hour, that the schedule is
     * periodic and so fires in both passes of a fall-back overlap. */
    bool star[F_COUNT];
    int star_step[F_COUNT]; /* the step of the leading '*' item, for cron_text */
};

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Copies text for quoting in a message, with control and non-ASCII bytes
 * shown as '?': an error never carries them (or a cut UTF-8 sequence) into
 * logs or JSON. The syntax is ASCII, so nothing of meaning is lost. */
static void quote(const char *text, size_t n, char *out, size_t cap)
{
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)text[i];
        out[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
    }
    out[i] = '\0';
}

typedef struct cron_parser {
    const char *text; /* the whole expression, for messages */
    int field;
    err *e;
} cron_parser;

static bool field_fail(cron_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool field_fail(cron_parser *p, const char *fmt, ...)
{
    char what[512], q[CRON_TEXT_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    quote(p->text, strlen(p->text), q, sizeof(q));
    return err_set(p->e, ERR_INVALID, "invalid cron field '%s' in '%s': %s", fields[p->field].name,
                   q, what);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool unexpected(cron_parser *p, const char *s, const char *item, size_t item_len)
{
    char q[CRON_TEXT_MAX + 1];
    quote(item, item_len, q, sizeof(q));
    if (*s == '\0' || *s == ',')
        return field_fail(p, "'%s' is incomplete", q);
    unsigned char ch = (unsigned char)*s;
    if (ch < 0x20 || ch >= 0x7f)
        return field_fail(p, "unexpected byte 0x%02x in '%s'", ch, q);
    return field_fail(p, "unexpected character '%c' in '%s'", ch, q);
}

/* A number or (month, day-of-week) a name. */
static bool parse_value(cron_parser *p, const char **sp, const char *item, size_t item_len,
                        int *out)
{
    const cron_field_def *f = &fields[p->field];
    const char *s = *sp, *start = s;
    char q[CRON_TEXT_MAX + 1];
    if (is_digit(*s)) {
        long v = 0;
        while (is_digit(*s)) {
            if (v < 1000000)
                v = v * 10 + (*s - '0');
            s++;
        }
        if (v < f->min || v > f->max) {
            quote(start, (size_t)(s - start), q, sizeof(q));
            return field_fail(p, "%s is out of range %d-%d", q, f->min, f->max);
        }
        *out = (int)v;
    } else if (is_alpha(*s)) {
        while (is_alpha(*s))
            s++;
        size_t n = (size_t)(s - start);
        quote(start, n, q, sizeof(q));
        if (!f->names)
            return field_fail(p, "'%s' is not a number", q);
        int found = -1;
        for (int i = 0; n == 3 && f->names[i * 3]; i++)
            if (lower(start[0]) == f->names[i * 3] && lower(start[1]) == f->names[i * 3 + 1] &&
                lower(start[2]) == f->names[i * 3 + 2])
                found = i + f->min;
        if (found < 0)
            return field_fail(p, "unknown name '%s' (want %s)", q, f->want);
        *out = found;
    } else {
        return unexpected(p, s, item, item_len);
    }
    *sp = s;
    return true;
}

/* item := ('*' | value ['-' value]) ['/' step] */
static bool parse_item(cron_parser *p, const char *item, size_t len, cron_expr *c, bool first)
{
    const cron_field_def *f = &fields[p->field];
    const char *s = item;
    int lo, hi, step = 1;
    bool star = false;
    char q[CRON_TEXT_MAX + 1];
    if (*s == '*') {
        star = true;
        s++;
        lo = f->min;
        hi = f->star_max;
    } else {
        if (!parse_value(p, &s, item, len, &lo))
            return false;
        hi = lo;
        if (*s == '-') {
            s++;
            if (!parse_value(p, &s, item, len, &hi))
                return false;
            if (hi < lo) {
                quote(item, (size_t)(s - item), q, sizeof(q));
                return field_fail(p, "range %s is reversed (%d is after %d)", q, lo, hi);
            }
        }
    }
    if (*s == '/') {
        s++;
        const char *digits = s;
        long v = 0;
        while (is_digit(*s)) {
            if (v < 1000000)
                v = v * 10 + (*s - '0');
            s++;
        }
        if (s == digits)
            return unexpected(p, s, item, len);
        int span = f->star_max - f->min + 1;
        if (v < 1 || v > span) {
            quote(digits, (size_t)(s - digits), q, sizeof(q));
            return field_fail(p, "step %s is out of range 1-%d", q, span);
        }
        step = (int)v;
        /* "5/15" means 5-max/15, as in cronie. */
        if (!star && hi == lo)
            hi = f->star_max > lo ? f->star_max : lo;
    }
    if (s != item + len)
        return unexpected(p, s, item, len);
    for (int v = lo; v <= hi; v += step)
        c->bits[p->field] |= (uint64_t)1 << (p->field == F_DOW && v == 7 ? 0 : v);
    if (first && star) {
        c->star[p->field] = true;
        c->star_step[p->field] = step;
    }
    return true;
}

static bool parse_field(cron_parser *p, const char *s, size_t len, cron_expr *c)
{
    char q[CRON_TEXT_MAX + 1];
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        if (j == i) {
            quote(s, len, q, sizeof(q));
            return field_fail(p, "empty item in list '%s'", q);
        }
        if (!parse_item(p, s + i, j - i, c, i == 0))
            return false;
        if (j == len)
            return true;
        i = j + 1;
        if (i == len) {
            quote(s, len, q, sizeof(q));
            return field_fail(p, "empty item in list '%s'", q);
        }
    }
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool parse_fields(const char *text, const char *shown, cron_expr *c, err *e)
{
    const char *starts[F_COUNT];
    size_t lens[F_COUNT];
    int n = 0;
    const char *s = text;
    for (;;) {
        while (is_blank(*s))
            s++;
        if (*s == '\0')
            break;
        const char *start = s;
        while (*s && !is_blank(*s))
            s++;
        if (n < F_COUNT) {
            starts[n] = start;
            lens[n] = (size_t)(s - start);
        }
        n++;
    }
    if (n != F_COUNT) {
        char q[CRON_TEXT_MAX + 1];
        quote(shown, strlen(shown), q, sizeof(q));
        return err_set(e, ERR_INVALID,
                       "invalid cron expression '%s': want 5 fields (minute hour day-of-month "
                       "month day-of-week) or a macro such as @daily, got %d",
                       q, n);
    }
    cron_parser p = {.text = shown, .e = e};
    for (p.field = 0; p.field < F_COUNT; p.field++) {
        /* Characters outside the syntax are refused inside parse_item; the
         * copy gives the item parser a NUL-terminated field. */
        char buf[CRON_TEXT_MAX + 1];
        memcpy(buf, starts[p.field], lens[p.field]);
        buf[lens[p.field]] = '\0';
        if (!parse_field(&p, buf, lens[p.field], c))
            return false;
    }
    return true;
}

bool cron_parse(const char *text, cron_expr **out, err *e)
{
    *out = NULL;
    size_t len = strnlen(text, CRON_TEXT_MAX + 1);
    if (len > CRON_TEXT_MAX) {
        char q[33];
        quote(text, 32, q, sizeof(q));
        return err_set(e, ERR_INVALID,
                       "invalid cron expression '%s...': too long (more than %d characters)", q,
                       CRON_TEXT_MAX);
    }
    /* Surrounding white space (a trailing newline from a file) is not part of it. */
    const char *start = text, *end = text + len;
    while (start < end && (is_blank(*start) || *start == '\n' || *start == '\r'))
        start++;
    while (end > start && (is_blank(end[-1]) || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    char body[CRON_TEXT_MAX + 1];
    memcpy(body, start, (size_t)(end - start));
    body[end - start] = '\0';

    cron_expr c = {0};
    if (body[0] == '@') {
        const char *expr = NULL;
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
            if (strcasecmp(body, macros[i].name) == 0)
                expr = macros[i].expr;
        if (!expr) {
            char q[CRON_TEXT_MAX + 1];
            quote(text, len, q, sizeof(q));
            if (strcasecmp(body, "@reboot") == 0)
                return err_set(e, ERR_INVALID,
                               "invalid cron expression '%s': @reboot is not supported "
                               "(schedules fire at times, not at start-up)",
                               q);
            return err_set(e, ERR_INVALID,
                           "invalid cron expression '%s': unknown macro (known: @yearly "
                           "@annually @monthly @weekly @daily @midnight @hourly)",
                           q);
        }
        if (!parse_fields(expr, text, &c, e))
            return false;
    } else if (!parse_fields(body, text, &c, e)) {
        return false;
    }
    *out = xmemdup(&c, sizeof(c));
    return true;
}

void cron_free(cron_expr *c)
{
    free(c);
}

/* ---- canonical text ---- */

static uint64_t field_all(int f)
{
    return (((uint64_t)1 << (fields[f].star_max + 1)) - 1) & ~(((uint64_t)1 << fields[f].min) - 1);
}

static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n += (size_t)w < cap - *n ? (size_t)w : cap - *n - 1;
}

/* Values as a list with runs of three or more written as ranges. */
static void append_list(char *buf, size_t cap, size_t *n, int f, uint64_t bits, bool comma)
{
    for (int v = fields[f].min; v <= fields[f].star_max; v++) {
        if (!(bits >> v & 1))
            continue;
        int end = v;
        while (end + 1 <= fields[f].star_max && (bits >> (end + 1) & 1))
            end++;
        const char *sep = comma ? "," : "";
        if (end - v >= 2) {
            append(buf, cap, n, "%s%d-%d", sep, v, end);
        } else {
            append(buf, cap, n, "%s%d", sep, v);
            if (end > v)
                append(buf, cap, n, ",%d", end);
        }
        comma = true;
        v = end;
    }
}

char *cron_text(const cron_expr *c)
{
    char buf[1024];
    size_t n = 0;
    for (int f = 0; f < F_COUNT; f++) {
        if (f > 0)
            append(buf, sizeof(buf), &n, " ");
        uint64_t bits = c->bits[f];
        if (c->star[f]) {
            int step = c->star_step[f];
            uint64_t pattern = 0;
            for (int v = fields[f].min; v <= fields[f].star_max; v += step)
                pattern |= (uint64_t)1 << v;
            if (bits == field_all(f) || step == 1) {
                append(buf, sizeof(buf), &n, "*");
                continue;
            }
            append(buf, sizeof(buf), &n, "*/%d", step);
            append_list(buf, sizeof(buf), &n, f, bits & ~pattern, true);
        } else {
            append_list(buf, sizeof(buf), &n, f, bits, false);
        }
    }
    return xstrdup(buf);
}

/* ---- next fire ---- */

/* Smallest allowed value >= v, or -1. */
static int next_bit(uint64_t bits, int v)
{
    if (v > 63)
        return -1;
    uint64_t rest = bits >> v;
    return rest ? v + __builtin_ctzll(rest) : -1;
}

static bool day_matches(const cron_expr *c, int64_t days, int dom)
{
    int wday = civil_weekday(days);
    bool dom_ok = c->bits[F_DOM] >> dom & 1, dow_ok = c->bits[F_DOW] >> wday & 1;
    if (c->star[F_DOM] || c->star[F_DOW])
        return dom_ok && dow_ok;
    return dom_ok || dow_ok;
}

/* First matching local minute >= l (local seconds since the epoch, as if the
 * zone were UTC), or false when there is none up to limit_year. */
static bool next_local(const cron_expr *c, int64_t l, int64_t limit_year, int64_t *out)
{
    timeutil_civil t;
    timeutil_civil_from_time((time_t)l, &t);
    int64_t y = t.year;
    int mo = t.month, d = t.day, h = t.hour, mi = t.min;
    while (y <= limit_year) {
        int m2 = next_bit(c->bits[F_MON], mo);
        if (m2 != mo) {
            if (m2 < 0) {
                y++;
                m2 = next_bit(c->bits[F_MON], 1);
            }
            mo = m2;
            d = 1;
            h = mi = 0;
            continue;
        }
        if (d > civil_month_days(y, mo)) {
            if (++mo > 12) {
                mo = 1;
                y++;
            }
            d = 1;
            h = mi = 0;
            continue;
        }
        int64_t days = timeutil_days_from_civil(y, mo, d);
        if (!day_matches(c, days, d)) {
            d++;
            h = mi = 0;
            continue;
        }
        int h2 = next_bit(c->bits[F_HOUR], h);
        if (h2 < 0 || h2 > 23) {
            d++;
            h = mi = 0;
            continue;
        }
        if (h2 != h) {
            h = h2;
            mi = 0;
        }
        int mi2 = next_bit(c->bits[F_MIN], mi);
        if (mi2 < 0 || mi2 > 59) {
            h++;
            mi = 0;
            if (h > 23) {
                d++;
                h = 0;
            }
            continue;
        }
        *out = days * 86400 + h * 3600 + mi2 * 60;
        return true;
    }
    return false;
}

static int64_t ceil_minute(int64_t l)
{
    return civil_floor_div(l + 59, 60) * 60;
}

/* Local times repeated by a fall-back fire once, at the first pass, unless the
 * minute or hour field starts with '*': such a schedule is periodic, and
 * skipping the second pass would leave a hole of real time in it (cronie and
 * Vixie cron treat these "wildcard" jobs the same way). */
static bool repeated_pass(const cron_expr *c, const tz_zone *z, int64_t local, int64_t cand)
{
    if (c->star[F_MIN] || c->star[F_HOUR])
        return false;
    timeutil_civil lc;
    timeutil_civil_from_time((time_t)local, &lc);
    struct tm tm = {.tm_year = (int)(lc.year - 1900),
                    .tm_mon = lc.month - 1,
                    .tm_mday = lc.day,
                    .tm_hour = lc.hour,
                    .tm_min = lc.min};
    time_t inst[2];
    int n = tz_from_local(z, &tm, inst);
    return n == 2 && inst[1] == (time_t)cand && inst[0] != inst[1];
}

bool cron_next(const cron_expr *c, const tz_zone *z, time_t after, time_t *next, err *e)
{
    if (after > (time_t)1 << 50 || after < -((time_t)1 << 50))
        return err_set(e, ERR_INVALID, "cron_next: time %lld is out of range", (long long)after);
    int64_t limit = (int64_t)after + CRON_HORIZON;
    int64_t t = (int64_t)after + 1;
    /* Walk spans of constant offset [t, change): within one, local time is UTC
     * shifted by off, so the field walk finds the span's first fire directly. */
    while (t <= limit) {
        time_t change;
        int off = tz_offset(z, (time_t)t, &change);
        int64_t end_local = change == INT64_MAX ? INT64_MAX : (int64_t)change + off;
        timeutil_civil lim;
        timeutil_civil_from_time((time_t)(limit + off), &lim);
        int64_t m;
        bool found = next_local(c, ceil_minute(t + off), lim.year, &m);
        if (found && m < end_local) {
            int64_t cand = m - off;
            if (cand > limit)
                break;
            if (repeated_pass(c, z, m, cand)) {
                t = cand + 1;
                continue;
            }
            *next = (time_t)cand;
            return true;
        }
        if (!found || change == INT64_MAX || change > limit)
            break;
        /* Spring-forward: local times in [change + off, change + off2) never
         * happen; one that should have fired fires once, when the gap ends. */
        int off2 = tz_offset(z, change, NULL);
        if (off2 > off && m < (int64_t)change + off2) {
            *next = change;
            return true;
        }
        t = change;
    }
    char *text = cron_text(c), when[TIMEUTIL_ISO8601_LEN];
    timeutil_format_iso8601(after, when);
    err_set(e, ERR_NOT_FOUND, "cron expression '%s' has no fire time in %s within 5 years after %s",
            text, tz_name(z), when);
    free(text);
    return false;
}
