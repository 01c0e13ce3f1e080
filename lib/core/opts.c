#include "core/opts.h"

#include "core/log.h"
#include "core/secure.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct opt_value {
    bool set;
    char *text;  /* STRING, ENUM, URL, SECRET; normalised text for the others */
    long long n; /* INT, BOOL (0/1), DURATION (ms) */
    opts_source src;
    char *where; /* "--port", "ESCHER_API_PORT", "/x.conf line 3"; NULL for defaults */
} opt_value;

struct opts {
    const opts_program *prog;
    opt_value *v;
    char *config_path;
    char *const *args;
    int nargs;
};

/* Built-in flags every program has; option tables may not reuse these names. */
static const char *const builtin_flags[] = {"config", "help", "version", "check-config",
                                            "print-example-config"};
#define NBUILTIN (sizeof builtin_flags / sizeof builtin_flags[0])

#define HELP_WIDTH 80

/* ------------------------------------------------------------- helpers */

static const opts_def *find_def(const opts_program *prog, const char *name, size_t *index)
{
    for (size_t i = 0; i < prog->ndefs; i++) {
        if (strcmp(prog->defs[i].name, name) == 0) {
            if (index)
                *index = i;
            return &prog->defs[i];
        }
    }
    return NULL;
}

/* Text safe to quote in an error or a dump: never a secret, URL passwords and
 * secret-looking substrings masked. Caller frees. */
static char *shown_value(const opts_def *d, const char *value)
{
    if (d->type == OPTS_SECRET || log_key_is_secret(d->name))
        return xstrdup(LOG_REDACTED);
    return log_redact_value(NULL, value);
}

/* Optimal string alignment distance: Levenshtein plus adjacent transposition,
 * so "prot" is one edit from "port". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

static void consider(const char *input, const char *candidate, size_t *best, char *out,
                     size_t outsz, const char *prefix)
{
    char full[160];
    snprintf(full, sizeof full, "%s%s", prefix, candidate);
    size_t dist = edit_distance(input, full);
    if (dist < *best) {
        *best = dist;
        snprintf(out, outsz, "%s", full);
    }
}

/* Finds the closest known name to `input` (without leading dashes), or ""
 * when nothing is close enough to be a plausible typo. */
static void suggest(const opts_program *prog, const char *input, bool flags, char *out,
                    size_t outsz)
{
    size_t best = SIZE_MAX;
    out[0] = '\0';
    for (size_t i = 0; i < prog->ndefs; i++) {
        consider(input, prog->defs[i].name, &best, out, outsz, "");
        if (flags && prog->defs[i].type == OPTS_BOOL)
            consider(input, prog->defs[i].name, &best, out, outsz, "no-");
    }
    if (flags)
        for (size_t i = 0; i < NBUILTIN; i++)
            consider(input, builtin_flags[i], &best, out, outsz, "");
    size_t limit = 1 + strlen(input) / 4;
    if (best > limit)
        out[0] = '\0';
}

static bool unknown_flag(const opts_program *prog, const char *name, err *e)
{
    char hint[160];
    suggest(prog, name, true, hint, sizeof hint);
    char *shown = log_redact_value(NULL, name);
    if (hint[0])
        err_set(e, ERR_CONFIG, "unknown option '--%s' (did you mean '--%s'?)", shown, hint);
    else
        err_set(e, ERR_CONFIG, "unknown option '--%s' (see %s --help)", shown, prog->name);
    free(shown);
    return false;
}

/* ---------------------------------------------------------- value parsing */

static bool parse_ll(const char *s, long long *out)
{
    if (*s == '\0' || isspace((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

bool opts_parse_duration(const char *s, int64_t *ms, err *e)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return true;
    }
    int64_t total = 0;
    const char *p = s;
    if (*p == '\0')
        goto bad;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            goto bad;
        int64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > (INT64_MAX - 9) / 10)
                goto bad;
            n = n * 10 + (*p++ - '0');
        }
        size_t best = 0;
        int64_t mult = 0;
        /* Longest matching unit, so "5ms" is not read as 5 minutes then "s". */
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t ul = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, ul) == 0 && ul > best && !isalpha((unsigned char)p[ul])) {
                best = ul;
                mult = units[i].ms;
            }
        }
        if (best == 0)
            goto bad;
        p += best;
        if (n > (INT64_MAX - total) / mult)
            goto bad;
        total += n * mult;
    }
    *ms = total;
    return true;
bad:;
    char *shown = log_redact_value(NULL, s);
    err_set(e, ERR_INVALID,
            "'%s' is not a duration (use a number and a unit: 500ms, 30s, 5m, 1h, 1d)", shown);
    free(shown);
    return false;
}

char *opts_format_duration(int64_t ms, char *out, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    if (ms <= 0) {
        snprintf(out, size, "0s");
        return out;
    }
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof units / sizeof units[0] && ms > 0; i++) {
        if (ms >= units[i].ms) {
            int w = snprintf(out + len, len < size ? size - len : 0, "%lld%s",
                             (long long)(ms / units[i].ms), units[i].unit);
            if (w > 0)
                len += (size_t)w;
            ms %= units[i].ms;
        }
    }
    return out;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool looks_like_url(const char *s)
{
    if (!isalpha((unsigned char)*s))
        return false;
    const char *p = s;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return strncmp(p, "://", 3) == 0 && p[3] != '\0' && strpbrk(s, " \t\r\n") == NULL;
}

static void range_text(const opts_def *d, char *out, size_t size)
{
    if (d->type == OPTS_DURATION) {
        char lo[48], hi[48];
        snprintf(out, size, "%s to %s", opts_format_duration(d->min, lo, sizeof lo),
                 opts_format_duration(d->max, hi, sizeof hi));
    } else {
        snprintf(out, size, "%lld to %lld", d->min, d->max);
    }
}

static bool has_range(const opts_def *d)
{
    return d->type == OPTS_INT || (d->type == OPTS_DURATION && (d->min != 0 || d->max != 0));
}

/* Parses `text` for d into *out (text copied). On failure fills e with what is
 * wrong with the value, quoted; the caller adds the option and source. */
static bool parse_value(const opts_def *d, const char *text, opt_value *out, err *e)
{
    char *shown = NULL;
    bool ok = false;
    out->n = 0;
    out->text = NULL;
    switch (d->type) {
    case OPTS_STRING:
    case OPTS_SECRET:
        ok = true;
        break;
    case OPTS_URL:
        ok = looks_like_url(text);
        if (!ok) {
            shown = shown_value(d, text);
            err_set(e, ERR_INVALID, "'%s' is not a URL (expected scheme://host...)", shown);
        }
        break;
    case OPTS_INT:
        if (!parse_ll(text, &out->n)) {
            shown = shown_value(d, text);
            err_set(e, ERR_INVALID, "'%s' is not an integer", shown);
        } else if (out->n < d->min || out->n > d->max) {
            char r[128];
            range_text(d, r, sizeof r);
            shown = shown_value(d, text);
            err_set(e, ERR_INVALID, "'%s' is out of range (%s)", shown, r);
        } else {
            ok = true;
        }
        break;
    case OPTS_BOOL: {
        bool b = false;
        ok = parse_bool(text, &b);
        out->n = b;
        if (!ok) {
            shown = shown_value(d, text);
            err_set(e, ERR_INVALID, "'%s' is not a boolean (use true/false, yes/no, on/off or 1/0)",
                    shown);
        }
        break;
    }
    case OPTS_DURATION: {
        int64_t ms;
        if (!opts_parse_duration(text, &ms, e))
            break;
        out->n = ms;
        if (has_range(d) && (ms < d->min || ms > d->max)) {
            char r[128];
            range_text(d, r, sizeof r);
            shown = shown_value(d, text);
            err_set(e, ERR_INVALID, "'%s' is out of range (%s)", shown, r);
            break;
        }
        ok = true;
        break;
    }
    case OPTS_ENUM:
        for (size_t i = 0; d->choices && d->choices[i]; i++)
            if (strcmp(text, d->choices[i]) == 0)
                ok = true;
        if (!ok) {
            strbuf list = STRBUF_INIT;
            for (size_t i = 0; d->choices && d->choices[i]; i++)
                strbuf_printf(&list, "%s%s", i ? ", " : "", d->choices[i]);
            shown = shown_value(d, text);
            err_set(e, ERR_INVALID, "'%s' is not one of: %s", shown, strbuf_str(&list));
            strbuf_free(&list);
        }
        break;
    }
    free(shown);
    if (ok && d->check != NULL && !d->check(text, e))
        ok = false;
    if (!ok)
        return false;
    if (d->type == OPTS_DURATION) {
        char buf[64];
        out->text = xstrdup(opts_format_duration(out->n, buf, sizeof buf));
    } else if (d->type == OPTS_BOOL) {
        out->text = xstrdup(out->n ? "true" : "false");
    } else {
        out->text = xstrdup(text);
    }
    return true;
}

static void value_clear(const opts_def *d, opt_value *v)
{
    if (d->type == OPTS_SECRET)
        secure_free_string(v->text);
    else
        free(v->text);
    free(v->where);
    *v = (opt_value){0};
}

static const char *source_word(opts_source s)
{
    switch (s) {
    case OPTS_SRC_DEFAULT:
        return "default";
    case OPTS_SRC_FILE:
        return "config file";
    case OPTS_SRC_ENV:
        return "env";
    case OPTS_SRC_FLAG:
        return "flag";
    }
    return "?";
}

/* Empty text unsets a text option (so `#url =` uncommented keeps it unset);
 * typed options treat it as a value to validate. */
static bool empty_unsets(const opts_def *d)
{
    return d->type == OPTS_STRING || d->type == OPTS_URL || d->type == OPTS_SECRET;
}

static bool set_index(opts *o, size_t idx, const char *value, opts_source source, const char *where,
                      err *e)
{
    const opts_def *d = &o->prog->defs[idx];
    opt_value nv = {0};
    if (!(value[0] == '\0' && empty_unsets(d))) {
        if (!parse_value(d, value, &nv, e)) {
            if (source == OPTS_SRC_FILE)
                err_prefix(e, "invalid value for '%s' from config file %s", d->name, where);
            else
                err_prefix(e, "invalid value for '%s' from %s", d->name,
                           where ? where : source_word(source));
            if (e)
                e->code = ERR_CONFIG;
            return false;
        }
        nv.set = true;
    }
    value_clear(d, &o->v[idx]);
    nv.src = source;
    nv.where = where ? xstrdup(where) : NULL;
    o->v[idx] = nv;
    return true;
}

bool opts_set(opts *o, const char *name, const char *value, opts_source source, const char *where,
              err *e)
{
    size_t idx;
    if (find_def(o->prog, name, &idx) == NULL) {
        char hint[160];
        suggest(o->prog, name, false, hint, sizeof hint);
        char *shown = log_redact_value(NULL, name);
        if (hint[0])
            err_set(e, ERR_CONFIG, "unknown option '%s' (did you mean '%s'?)", shown, hint);
        else
            err_set(e, ERR_CONFIG, "unknown option '%s'", shown);
        free(shown);
        return false;
    }
    return set_index(o, idx, value, source, where, e);
}

/* -------------------------------------------------------- table checking */

static bool name_ok(const char *s)
{
    if (s == NULL || !islower((unsigned char)s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
            return false;
    return strncmp(s, "no-", 3) != 0 && s[strlen(s) - 1] != '-';
}

static bool env_ok(const char *s)
{
    if (s == NULL || !isupper((unsigned char)s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

static bool check_table(const opts_program *prog, err *e)
{
    if (prog->name == NULL || prog->version == NULL || prog->summary == NULL)
        return err_set(e, ERR_INTERNAL, "options table: program name, version and summary needed");
    if (prog->config_env && !env_ok(prog->config_env))
        return err_set(e, ERR_INTERNAL, "options table %s: bad config variable '%s'", prog->name,
                       prog->config_env);
    for (size_t i = 0; i < prog->ndefs; i++) {
        const opts_def *d = &prog->defs[i];
        if (!name_ok(d->name))
            return err_set(e, ERR_INTERNAL, "options table %s: bad option name '%s'", prog->name,
                           d->name ? d->name : "(null)");
        for (size_t b = 0; b < NBUILTIN; b++)
            if (strcmp(d->name, builtin_flags[b]) == 0)
                return err_set(e, ERR_INTERNAL, "options table %s: '%s' is a built-in flag",
                               prog->name, d->name);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(prog->defs[j].name, d->name) == 0)
                return err_set(e, ERR_INTERNAL, "options table %s: option '%s' listed twice",
                               prog->name, d->name);
            if (d->env && prog->defs[j].env && strcmp(prog->defs[j].env, d->env) == 0)
                return err_set(e, ERR_INTERNAL, "options table %s: '%s' and '%s' share %s",
                               prog->name, prog->defs[j].name, d->name, d->env);
        }
        if (d->env &&
            (!env_ok(d->env) || (prog->config_env && strcmp(d->env, prog->config_env) == 0)))
            return err_set(e, ERR_INTERNAL, "options table %s: option '%s' has bad variable '%s'",
                           prog->name, d->name, d->env);
        if (d->help == NULL || d->help[0] == '\0')
            return err_set(e, ERR_INTERNAL, "options table %s: option '%s' has no help", prog->name,
                           d->name);
        if (d->type == OPTS_SECRET && d->def != NULL)
            return err_set(e, ERR_INTERNAL, "options table %s: secret '%s' has a default",
                           prog->name, d->name);
        if (d->type == OPTS_ENUM && (d->choices == NULL || d->choices[0] == NULL))
            return err_set(e, ERR_INTERNAL, "options table %s: enum '%s' has no choices",
                           prog->name, d->name);
        if ((d->type == OPTS_INT || d->type == OPTS_DURATION) && d->min > d->max)
            return err_set(e, ERR_INTERNAL, "options table %s: '%s' has min > max", prog->name,
                           d->name);
        bool needs_default = d->type == OPTS_INT || d->type == OPTS_BOOL ||
                             d->type == OPTS_DURATION || d->type == OPTS_ENUM;
        if (needs_default && d->def == NULL)
            return err_set(e, ERR_INTERNAL, "options table %s: '%s' needs a default", prog->name,
                           d->name);
        if (d->def != NULL && !(d->def[0] == '\0' && empty_unsets(d))) {
            opt_value v = {0};
            if (!parse_value(d, d->def, &v, e))
                return err_prefix(e, "options table %s: default of '%s'", prog->name, d->name);
            free(v.text);
        }
    }
    return true;
}

/* ------------------------------------------------------------ lifecycle */

opts *opts_new(const opts_program *prog, err *e)
{
    if (!check_table(prog, e)) {
        if (e)
            e->code = ERR_INTERNAL;
        return NULL;
    }
    opts *o = xcalloc(1, sizeof *o);
    o->prog = prog;
    o->v = xcalloc(prog->ndefs ? prog->ndefs : 1, sizeof *o->v);
    for (size_t i = 0; i < prog->ndefs; i++) {
        const opts_def *d = &prog->defs[i];
        if (d->def != NULL && !set_index(o, i, d->def, OPTS_SRC_DEFAULT, NULL, e)) {
            opts_free(o);
            return NULL;
        }
    }
    return o;
}

void opts_free(opts *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->prog->ndefs; i++)
        value_clear(&o->prog->defs[i], &o->v[i]);
    free(o->v);
    free(o->config_path);
    free(o);
}

/* ------------------------------------------------------------- loading */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

bool opts_load_file(opts *o, const char *path, err *e)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return err_set(e, ERR_CONFIG, "config file %s: %s", path, strerror(errno));
    int *seen = xcalloc(o->prog->ndefs ? o->prog->ndefs : 1, sizeof *seen);
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    bool ok = true;
    while (ok && getline(&line, &cap, f) != -1) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (*s == '[') {
            char *shown = log_redact_value(NULL, s);
            ok = err_set(e, ERR_CONFIG,
                         "config file %s line %d: sections like '%s' are not supported "
                         "(the file is a flat list of 'name = value')",
                         path, lineno, shown);
            free(shown);
            break;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL || eq == s) {
            /* The line may be a misplaced secret: show only its redacted form. */
            char *shown = log_redact_value(NULL, s);
            ok = err_set(e, ERR_CONFIG, "config file %s line %d: expected 'name = value', got '%s'",
                         path, lineno, shown);
            free(shown);
            break;
        }
        *eq = '\0';
        char *name = trim(s);
        char *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        size_t idx;
        if (find_def(o->prog, name, &idx) == NULL) {
            char hint[160];
            suggest(o->prog, name, false, hint, sizeof hint);
            char *shown = log_redact_value(NULL, name);
            if (hint[0])
                err_set(e, ERR_CONFIG,
                        "config file %s line %d: unknown option '%s' (did you mean '%s'?)", path,
                        lineno, shown, hint);
            else
                err_set(e, ERR_CONFIG, "config file %s line %d: unknown option '%s'", path, lineno,
                        shown);
            free(shown);
            ok = false;
            break;
        }
        if (seen[idx]) {
            ok = err_set(e, ERR_CONFIG, "config file %s line %d: '%s' is already set on line %d",
                         path, lineno, name, seen[idx]);
            break;
        }
        seen[idx] = lineno;
        char *where = xasprintf("%s line %d", path, lineno);
        ok = opts_set(o, name, value, OPTS_SRC_FILE, where, e);
        free(where);
    }
    if (line)
        secure_wipe(line, cap); /* the buffer held secret lines too */
    free(line);
    free(seen);
    fclose(f);
    return ok;
}

bool opts_load_env(opts *o, err *e)
{
    for (size_t i = 0; i < o->prog->ndefs; i++) {
        const opts_def *d = &o->prog->defs[i];
        if (d->env == NULL)
            continue;
        const char *v = getenv(d->env);
        if (v == NULL || v[0] == '\0')
            continue;
        if (!set_index(o, i, v, OPTS_SRC_ENV, d->env, e))
            return false;
    }
    return true;
}

typedef struct pending_flag {
    size_t idx;
    const char *value; /* borrowed from argv or a literal */
    char *where;
} pending_flag;

static int builtin_index(const char *name)
{
    for (size_t i = 0; i < NBUILTIN; i++)
        if (strcmp(name, builtin_flags[i]) == 0)
            return (int)i;
    return -1;
}

/* Actions that must work whatever else is on the line or in the environment.
 * Without knowing which flags take values, a value spelled "--help" would be
 * taken for the flag; that is the price of --help always working. */
static bool early_action(const opts_program *prog, int argc, char *const *argv, opts_action *action)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0 || (a[0] != '-' && prog->args_usage != NULL))
            return false; /* the rest belongs to the program's command */
        if (strcmp(a, "--help") == 0) {
            *action = OPTS_HELP;
            return true;
        }
        if (strcmp(a, "--version") == 0) {
            *action = OPTS_VERSION;
            return true;
        }
        if (strcmp(a, "--print-example-config") == 0) {
            *action = OPTS_PRINT_EXAMPLE;
            return true;
        }
    }
    return false;
}

bool opts_load(opts *o, int argc, char *const *argv, opts_action *action, err *e)
{
    *action = OPTS_RUN;
    o->args = NULL;
    o->nargs = 0;
    if (early_action(o->prog, argc, argv, action))
        return true;

    const opts_program *prog = o->prog;
    pending_flag *flags = xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *flags);
    size_t nflags = 0;
    const char *config = NULL;
    bool ok = true;
    int i = 1;
    for (; ok && i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break; /* first argument */
        if (a[1] != '-') {
            const char *hint = strcmp(a, "-h") == 0 ? " (did you mean '--help'?)"
                               : strcmp(a, "-v") == 0 || strcmp(a, "-V") == 0
                                   ? " (did you mean '--version'?)"
                                   : "";
            char *shown = log_redact_value(NULL, a);
            ok = err_set(e, ERR_CONFIG,
                         "unknown option '%s'%s: options are long, like '--name value'", shown,
                         hint);
            free(shown);
            break;
        }
        const char *body = a + 2;
        const char *eq = strchr(body, '=');
        char name[128];
        size_t nl = eq ? (size_t)(eq - body) : strlen(body);
        if (nl >= sizeof name)
            nl = sizeof name - 1;
        memcpy(name, body, nl);
        name[nl] = '\0';
        const char *inline_value = eq ? eq + 1 : NULL;

        int b = builtin_index(name);
        if (b >= 0) {
            if (strcmp(name, "config") == 0) {
                if (inline_value)
                    config = inline_value;
                else if (i + 1 < argc)
                    config = argv[++i];
                else
                    ok = err_set(e, ERR_CONFIG, "option '--config' needs a value (a file path)");
            } else if (inline_value) {
                ok = err_set(e, ERR_CONFIG, "option '--%s' takes no value", name);
            } else if (strcmp(name, "check-config") == 0) {
                *action = OPTS_CHECK_CONFIG;
            }
            continue;
        }

        size_t idx;
        const opts_def *d = find_def(prog, name, &idx);
        const char *value = NULL;
        if (d == NULL && strncmp(name, "no-", 3) == 0) {
            d = find_def(prog, name + 3, &idx);
            if (d == NULL || d->type != OPTS_BOOL) {
                ok = d ? err_set(e, ERR_CONFIG,
                                 "option '--%s' is not a yes/no option, so '--%s' is not valid",
                                 name + 3, name)
                       : unknown_flag(prog, name, e);
                break;
            }
            if (inline_value) {
                ok = err_set(e, ERR_CONFIG, "option '--%s' takes no value", name);
                break;
            }
            value = "false";
        } else if (d == NULL) {
            ok = unknown_flag(prog, name, e);
            break;
        } else if (inline_value) {
            value = inline_value;
        } else if (d->type == OPTS_BOOL) {
            value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            ok = err_set(e, ERR_CONFIG, "option '--%s' needs a value", name);
            break;
        }
        flags[nflags].idx = idx;
        flags[nflags].value = value;
        flags[nflags].where = xasprintf("--%s", name);
        nflags++;
    }
    if (ok && i < argc) {
        if (prog->args_usage == NULL) {
            char *shown = log_redact_value(NULL, argv[i]);
            ok = err_set(e, ERR_CONFIG, "unexpected argument '%s' (%s takes only options)", shown,
                         prog->name);
            free(shown);
        } else {
            o->args = argv + i;
            o->nargs = argc - i;
        }
    }

    if (ok && config == NULL && prog->config_env) {
        const char *env = getenv(prog->config_env);
        if (env && env[0])
            config = env;
    }
    if (ok && config) {
        free(o->config_path);
        o->config_path = xstrdup(config);
        ok = opts_load_file(o, config, e);
    }
    if (ok)
        ok = opts_load_env(o, e);
    for (size_t k = 0; ok && k < nflags; k++)
        ok = set_index(o, flags[k].idx, flags[k].value, OPTS_SRC_FLAG, flags[k].where, e);
    for (size_t k = 0; k < nflags; k++)
        free(flags[k].where);
    free(flags);
    return ok;
}

/* ------------------------------------------------------------- getters */

static const opt_value *get(const opts *o, const char *name, unsigned types, const opts_def **dp)
{
    size_t idx;
    const opts_def *d = find_def(o->prog, name, &idx);
    if (d == NULL || !(types & (1u << d->type))) {
        fprintf(stderr, "opts: %s has no option '%s' of the requested type\n", o->prog->name, name);
        abort(); /* a getter asking for the wrong name is a bug caught on first run */
    }
    if (dp)
        *dp = d;
    return &o->v[idx];
}

const char *opts_get_string(const opts *o, const char *name)
{
    const opt_value *v =
        get(o, name, (1u << OPTS_STRING) | (1u << OPTS_ENUM) | (1u << OPTS_URL), NULL);
    return v->set ? v->text : NULL;
}

const char *opts_get_secret(const opts *o, const char *name)
{
    const opt_value *v = get(o, name, 1u << OPTS_SECRET, NULL);
    return v->set ? v->text : NULL;
}

long long opts_get_int(const opts *o, const char *name)
{
    return get(o, name, 1u << OPTS_INT, NULL)->n;
}

bool opts_get_bool(const opts *o, const char *name)
{
    return get(o, name, 1u << OPTS_BOOL, NULL)->n != 0;
}

int64_t opts_get_duration_ms(const opts *o, const char *name)
{
    return get(o, name, 1u << OPTS_DURATION, NULL)->n;
}

bool opts_is_set(const opts *o, const char *name)
{
    return get(o, name, ~0u, NULL)->set;
}

opts_source opts_get_source(const opts *o, const char *name, const char **where)
{
    const opt_value *v = get(o, name, ~0u, NULL);
    if (where)
        *where = v->where;
    return v->src;
}

char *const *opts_args(const opts *o, int *argc)
{
    *argc = o->nargs;
    return o->args;
}

const char *opts_config_path(const opts *o)
{
    return o->config_path;
}

/* ------------------------------------------------------------- printing */

/* Writes text word-wrapped to HELP_WIDTH, each line starting with `prefix`. */
static void wrap(FILE *out, const char *prefix, const char *text)
{
    size_t plen = strlen(prefix), col = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        size_t wl = strcspn(p, " ");
        if (col > 0 && col + 1 + wl > HELP_WIDTH) {
            fputc('\n', out);
            col = 0;
        }
        if (col == 0) {
            fputs(prefix, out);
            col = plen;
        } else {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, wl, out);
        col += wl;
        p += wl;
    }
    if (col > 0)
        fputc('\n', out);
}

static const char *metavar(const opts_def *d)
{
    if (d->metavar)
        return d->metavar;
    switch (d->type) {
    case OPTS_STRING:
        return "TEXT";
    case OPTS_INT:
        return "N";
    case OPTS_BOOL:
        return "";
    case OPTS_DURATION:
        return "DURATION";
    case OPTS_ENUM:
        return "CHOICE";
    case OPTS_SECRET:
        return "SECRET";
    case OPTS_URL:
        return "URL";
    }
    return "VALUE";
}

/* Help text plus what the type allows, shared by --help and the example file
 * so the two always agree. Caller frees. */
static char *full_help(const opts_def *d)
{
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, d->help);
    if (d->type == OPTS_ENUM) {
        strbuf_puts(&sb, " One of:");
        for (size_t i = 0; d->choices[i]; i++)
            strbuf_printf(&sb, "%s %s", i ? "," : "", d->choices[i]);
        strbuf_puts(&sb, ".");
    } else if (has_range(d)) {
        char r[128];
        range_text(d, r, sizeof r);
        strbuf_printf(&sb, " Range: %s.", r);
    } else if (d->type == OPTS_SECRET) {
        strbuf_puts(&sb, " Secret: never printed; prefer the config file or environment to a "
                         "flag, which other users can see in the process list.");
    }
    return strbuf_detach(&sb);
}

static const char *group_of(const opts_def *d)
{
    return d->group ? d->group : "Options";
}

/* Groups print in order of first appearance; later members join the first. */
static bool group_seen_before(const opts_program *prog, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(group_of(&prog->defs[j]), group_of(&prog->defs[i])) == 0)
            return true;
    return false;
}

void opts_print_version(const opts_program *prog, FILE *out)
{
    fprintf(out, "%s %s\n", prog->name, prog->version);
}

void opts_print_help(const opts_program *prog, FILE *out)
{
    fprintf(out, "Usage: %s [OPTIONS]%s%s\n\n", prog->name, prog->args_usage ? " " : "",
            prog->args_usage ? prog->args_usage : "");
    wrap(out, "", prog->summary);
    fputc('\n', out);
    char *where = xasprintf(
        "Each option is taken from, highest precedence first: its command-line flag, its "
        "environment variable, the config file (--config FILE%s%s), the built-in default. "
        "Durations are written like 500ms, 30s, 5m, 1h, 1d or 1h30m.",
        prog->config_env ? " or $" : "", prog->config_env ? prog->config_env : "");
    wrap(out, "", where);
    free(where);
    for (size_t i = 0; i < prog->ndefs; i++) {
        if (group_seen_before(prog, i))
            continue;
        const char *group = group_of(&prog->defs[i]);
        fprintf(out, "\n%s:\n", group);
        for (size_t k = i; k < prog->ndefs; k++) {
            const opts_def *d = &prog->defs[k];
            if (strcmp(group_of(d), group) != 0)
                continue;
            if (d->type == OPTS_BOOL)
                fprintf(out, "  --[no-]%s\n", d->name);
            else
                fprintf(out, "  --%s %s\n", d->name, metavar(d));
            char *h = full_help(d);
            wrap(out, "      ", h);
            free(h);
            strbuf meta = STRBUF_INIT;
            if (d->env)
                strbuf_printf(&meta, "env: %s", d->env);
            if (d->type != OPTS_SECRET)
                strbuf_printf(&meta, "%sdefault: %s", meta.len ? "; " : "",
                              d->def && d->def[0] ? d->def : "(unset)");
            if (meta.len) {
                char *m = xasprintf("[%s]", strbuf_str(&meta));
                wrap(out, "      ", m);
                free(m);
            }
            strbuf_free(&meta);
        }
    }
    fprintf(out, "\nProgram:\n");
    static const struct {
        const char *flag, *help;
    } builtins[] = {
        {"--config FILE", "Read options from FILE (flat 'name = value' lines, '#' comments)."},
        {"--check-config",
         "Load and validate the configuration, print each option's effective value and where it "
         "came from (secrets redacted), then exit."},
        {"--print-example-config",
         "Print a config file listing every option with its default and help, then exit."},
        {"--help", "Print this help and exit."},
        {"--version", "Print the version and exit."},
    };
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        fprintf(out, "  %s\n", builtins[i].flag);
        wrap(out, "      ", builtins[i].help);
        if (i == 0 && prog->config_env) {
            char *m = xasprintf("[env: %s]", prog->config_env);
            wrap(out, "      ", m);
            free(m);
        }
    }
}

/* Quotes a value for the config file when trimming would change it. */
static void put_file_value(FILE *out, const char *v)
{
    size_t n = strlen(v);
    bool quote = n > 0 && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]) ||
                           (v[0] == '"' && v[n - 1] == '"'));
    fprintf(out, quote ? "\"%s\"" : "%s", v);
}

void opts_print_example(const opts_program *prog, FILE *out)
{
    fprintf(out, "# %s configuration file.\n", prog->name);
    fprintf(out, "#\n");
    char *gen = xasprintf("Generated by `%s --print-example-config`: regenerate it rather than "
                          "editing, a test compares it with the program's options table.",
                          prog->name);
    wrap(out, "# ", gen);
    free(gen);
    fprintf(out, "#\n");
    wrap(out, "# ",
         "Every option is listed, commented out, with its default: uncomment a line to change "
         "it. Syntax: 'name = value', one per line; '#' starts a comment line; no sections; "
         "double quotes keep leading or trailing spaces. An empty value leaves a text option "
         "unset.");
    char *use =
        xasprintf("Use with: %s --config FILE%s%s%s. An option's environment variable "
                  "or command-line flag (--name value) overrides this file.",
                  prog->name, prog->config_env ? ", or " : "",
                  prog->config_env ? prog->config_env : "", prog->config_env ? "=FILE" : "");
    wrap(out, "# ", use);
    free(use);
    for (size_t i = 0; i < prog->ndefs; i++) {
        if (group_seen_before(prog, i))
            continue;
        const char *group = group_of(&prog->defs[i]);
        fprintf(out, "\n## %s\n", group);
        for (size_t k = i; k < prog->ndefs; k++) {
            const opts_def *d = &prog->defs[k];
            if (strcmp(group_of(d), group) != 0)
                continue;
            fputc('\n', out);
            char *h = full_help(d);
            wrap(out, "# ", h);
            free(h);
            if (d->env)
                fprintf(out, "# Environment: %s\n", d->env);
            fprintf(out, "#%s =", d->name);
            if (d->def && d->def[0] && d->type != OPTS_SECRET) {
                fputc(' ', out);
                put_file_value(out, d->def);
            }
            fputc('\n', out);
        }
    }
}

void opts_print_effective(const opts *o, FILE *out)
{
    const opts_program *prog = o->prog;
    char **src = xcalloc(prog->ndefs ? prog->ndefs : 1, sizeof *src);
    size_t width = 0;
    for (size_t i = 0; i < prog->ndefs; i++) {
        const opt_value *v = &o->v[i];
        if (v->src == OPTS_SRC_DEFAULT)
            src[i] = xstrdup(v->set ? "default" : "unset");
        else if (v->src == OPTS_SRC_FILE)
            src[i] = xasprintf("file %s", v->where ? v->where : "?");
        else
            src[i] = xasprintf("%s %s", source_word(v->src), v->where ? v->where : "?");
        size_t l = strlen(src[i]);
        if (l > width)
            width = l;
    }
    fprintf(out, "# %s %s effective configuration (config file: %s)\n", prog->name, prog->version,
            o->config_path ? o->config_path : "none");
    fprintf(out, "# %-*s  %s\n", (int)width, "SOURCE", "OPTION = VALUE");
    for (size_t i = 0; i < prog->ndefs; i++) {
        const opts_def *d = &prog->defs[i];
        const opt_value *v = &o->v[i];
        char *shown = v->set ? shown_value(d, v->text) : xstrdup("");
        fprintf(out, "  %-*s  %s =%s%s\n", (int)width, src[i], d->name, shown[0] ? " " : "", shown);
        free(shown);
        free(src[i]);
    }
    free(src);
}

/* ------------------------------------------------------------ checkers */

static bool region_ok(const char *s, size_t n)
{
    /* partition prefix "xx", then "-word" parts, the last one all digits */
    if (n < 4 || !islower((unsigned char)s[0]) || !islower((unsigned char)s[1]) || s[2] != '-')
        return false;
    size_t parts = 0, i = 2;
    bool last_digits = false;
    while (i < n) {
        if (s[i] != '-')
            return false;
        size_t start = ++i;
        bool digits = true, letters = true;
        while (i < n && s[i] != '-') {
            digits &= isdigit((unsigned char)s[i]) != 0;
            letters &= islower((unsigned char)s[i]) != 0;
            i++;
        }
        if (i == start || (!digits && !letters))
            return false;
        last_digits = digits;
        parts++;
    }
    return parts >= 2 && last_digits;
}

bool opts_check_region(const char *value, err *e)
{
    if (region_ok(value, strlen(value)))
        return true;
    return err_set(e, ERR_INVALID, "'%s' is not an AWS region name (like us-east-1)", value);
}

bool opts_check_region_list(const char *value, err *e)
{
    const char *p = value;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (!region_ok(p, n))
            return err_set(e, ERR_INVALID,
                           "'%.*s' in '%s' is not an AWS region name (like "
                           "us-east-1)",
                           (int)n, p, value);
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

/* ------------------------------------------------------------- startup */

int opts_startup(const opts_program *prog, int argc, char *const *argv, FILE *out_stream,
                 FILE *err_stream, opts **out)
{
    *out = NULL;
    err e;
    err_clear(&e);
    opts *o = opts_new(prog, &e);
    if (o == NULL) {
        fprintf(err_stream, "%s: %s\n", prog->name, e.message);
        return 1;
    }
    opts_action action;
    if (!opts_load(o, argc, argv, &action, &e)) {
        fprintf(err_stream, "%s: %s\n", prog->name, e.message);
        opts_free(o);
        return 1;
    }
    switch (action) {
    case OPTS_HELP:
        opts_print_help(prog, out_stream);
        break;
    case OPTS_VERSION:
        opts_print_version(prog, out_stream);
        break;
    case OPTS_PRINT_EXAMPLE:
        opts_print_example(prog, out_stream);
        break;
    case OPTS_CHECK_CONFIG:
        opts_print_effective(o, out_stream);
        fprintf(out_stream, "# configuration OK\n");
        break;
    case OPTS_RUN:
        *out = o;
        return -1;
    }
    opts_free(o);
    return 0;
}
