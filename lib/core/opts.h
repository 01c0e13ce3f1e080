/* Program options: one table of data per program, values from four sources.
 *
 * Each program describes its options as an array of opts_def (name, environment
 * variable, type, default, help) wrapped in an opts_program. Values are taken,
 * lowest precedence first, from: the default in the table, the config file,
 * the environment, the command line. The config file is named by `--config
 * FILE` or by the program's config variable (e.g. ESCHER_API_CONFIG); there is
 * no implicit path, so what a daemon reads is always visible in its unit file.
 *
 * Config file syntax, flat on purpose (one program, one file):
 *
 *     # a comment (whole lines only: values may contain '#', as passwords do)
 *     port = 8080
 *     database-url = "postgresql://escher@db/escher"   <- optional double quotes
 *
 * Command line: `--name value`, `--name=value`, `--name` / `--no-name` for
 * booleans, `--` ends options. Built in: --config FILE, --help, --version,
 * --check-config (print the effective configuration with sources, secrets
 * redacted) and --print-example-config (a commented file listing every option).
 *
 * Every error names the option, quotes the offending value (redacted when it
 * could hold a secret) and says where it came from:
 *     invalid value for 'port' from ESCHER_API_PORT: 'abc' is not an integer
 *     unknown option '--prot' (did you mean '--port'?)
 *     config file /x.conf line 3: unknown option 'prot' (did you mean 'port'?)
 */
#ifndef ESCHER_CORE_OPTS_H
#define ESCHER_CORE_OPTS_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum opts_type {
    OPTS_STRING,   /* any text */
    OPTS_INT,      /* decimal integer within [min, max] */
    OPTS_BOOL,     /* true/false, yes/no, on/off, 1/0 */
    OPTS_DURATION, /* "500ms", "30s", "5m", "1h", "1d", "1h30m"; "0" alone; range in ms */
    OPTS_ENUM,     /* one of `choices` (case-sensitive) */
    OPTS_SECRET,   /* text never printed: help, errors and dumps show "[REDACTED]" */
    OPTS_URL,      /* scheme://...; a password in it is redacted wherever it is shown */
} opts_type;

/* Where a value came from, lowest precedence first. */
typedef enum opts_source {
    OPTS_SRC_DEFAULT = 0,
    OPTS_SRC_FILE,
    OPTS_SRC_ENV,
    OPTS_SRC_FLAG,
} opts_source;

/* Extra check for a value that parsed by type; fills e with what is wrong
 * (the caller adds the option name and source). */
typedef bool (*opts_check_fn)(const char *value, err *e);

/* One option. Tables are static const data next to the program's code. */
typedef struct opts_def {
    const char *name; /* "log-level": lower case, digits, '-' */
    const char *env;  /* "ESCHER_API_LOG_LEVEL", or NULL for none */
    opts_type type;
    const char *def;            /* default as it would be written in the file; NULL: unset */
    const char *group;          /* heading in --help and the example file */
    const char *help;           /* one or more sentences; wrapped when printed */
    long long min, max;         /* OPTS_INT: bounds; OPTS_DURATION: bounds in ms (0,0: any) */
    const char *const *choices; /* OPTS_ENUM: NULL-terminated list */
    opts_check_fn check;        /* optional extra validation */
    const char *metavar;        /* word shown in --help ("ADDRESS"); NULL: from the type */
} opts_def;

typedef struct opts_program {
    const char *name;       /* "escher-api" */
    const char *version;    /* "0.1.0" */
    const char *summary;    /* one sentence for --help */
    const char *config_env; /* "ESCHER_API_CONFIG" */
    const char *args_usage; /* "COMMAND [ARGS...]" if the program takes arguments; NULL: none */
    const opts_def *defs;
    size_t ndefs;
} opts_program;

typedef struct opts opts;

/* What the command line asked for besides setting values. */
typedef enum opts_action {
    OPTS_RUN = 0,       /* carry on with the program's work */
    OPTS_HELP,          /* --help */
    OPTS_VERSION,       /* --version */
    OPTS_CHECK_CONFIG,  /* --check-config */
    OPTS_PRINT_EXAMPLE, /* --print-example-config */
} opts_action;

/* Creates the option set for `prog` (borrowed: it must outlive the result)
 * with every option at its default. Checks the table itself — names well
 * formed and unique, defaults valid for their type, enums with choices, secrets
 * without defaults — and fails with ERR_INTERNAL naming the bad entry, since a
 * bad table is a bug. The caller owns the result (opts_free). */
opts *opts_new(const opts_program *prog, err *e);

/* Frees o, wiping secret values. NULL is accepted. */
void opts_free(opts *o);

/* Loads values in precedence order: config file (from --config or the
 * program's config variable), then environment (an empty variable counts as
 * unset), then flags. argv[0] is skipped. Sets *action from --help, --version,
 * --check-config, --print-example-config; for --help, --version and
 * --print-example-config nothing else is loaded, so they work with a broken
 * configuration. Arguments after the options (program with args_usage only)
 * are kept for opts_args. Fails with ERR_CONFIG and a message naming the
 * option, the quoted value and its source; o may then hold partial values. */
bool opts_load(opts *o, int argc, char *const *argv, opts_action *action, err *e);

/* Loads one config file at `path` (the step opts_load takes). A missing file
 * is an error. Exposed for tests and for programs that reload. */
bool opts_load_file(opts *o, const char *path, err *e);

/* Loads values from the environment (the step opts_load takes). */
bool opts_load_env(opts *o, err *e);

/* Sets option `name` from text as if read from `source`; `where` describes the
 * source in errors ("ESCHER_API_PORT", "--port", "config file /x line 3").
 * Fails with ERR_CONFIG for an unknown name or an invalid value. */
bool opts_set(opts *o, const char *name, const char *value, opts_source source, const char *where,
              err *e);

/* Typed getters. Asking for a name not in the table, or with the wrong type,
 * is a bug and aborts with a message. Strings are owned by o and live until
 * the value changes or o is freed; unset strings give NULL. */
const char *opts_get_string(const opts *o, const char *name); /* STRING, ENUM, URL */
const char *opts_get_secret(const opts *o, const char *name); /* SECRET only: greppable */
long long opts_get_int(const opts *o, const char *name);
bool opts_get_bool(const opts *o, const char *name);
int64_t opts_get_duration_ms(const opts *o, const char *name);
/* True when the option has a value (a default counts). */
bool opts_is_set(const opts *o, const char *name);
/* Where the current value came from; `where` (may be NULL) gets the detail
 * ("ESCHER_API_PORT", "--port", "/x.conf line 3"), owned by o. */
opts_source opts_get_source(const opts *o, const char *name, const char **where);

/* Arguments left after the options (argv elements, borrowed); *argc gets their count. */
char *const *opts_args(const opts *o, int *argc);
/* The config file opts_load read, or NULL. Owned by o. */
const char *opts_config_path(const opts *o);

/* Writes --help: usage, summary, where values come from, then each group of
 * options with its metavar, help (wrapped to 80 columns), environment variable
 * and default (never a secret's). */
void opts_print_help(const opts_program *prog, FILE *out);

/* Writes "<name> <version>\n". */
void opts_print_version(const opts_program *prog, FILE *out);

/* Writes a config file in which every option appears, commented out, as
 * `#name = default` (or `#name =` when unset) after its help, group headings
 * and environment variable, so uncommenting a line keeps the default. */
void opts_print_example(const opts_program *prog, FILE *out);

/* Writes the effective configuration, one `name = value  # source` line per
 * option, secrets shown as [REDACTED] and passwords in URLs masked. */
void opts_print_effective(const opts *o, FILE *out);

/* Canonical text for a duration in ms ("1h30m", "250ms", "0s"); returns out. */
char *opts_format_duration(int64_t ms, char *out, size_t size);

/* Parses a duration ("30s", "1h30m", "0") into ms. Fails with ERR_INVALID
 * quoting s. */
bool opts_parse_duration(const char *s, int64_t *ms, err *e);

/* opts_check_fn for AWS region names ("us-east-1", "us-gov-west-1",
 * "ap-southeast-4"): letters, a dash-separated area and a number. Catches typos
 * like "us-east1" at start-up instead of at the first AWS call. */
bool opts_check_region(const char *value, err *e);

/* opts_check_fn for a comma-separated list of region names (no empty items). */
bool opts_check_region_list(const char *value, err *e);

/* The standard start of every Escher program: make the option set, load it,
 * and act on --help, --version, --check-config, --print-example-config. Returns
 * -1 with *out set (caller owns, opts_free) when the program should go on to
 * its work; otherwise the exit status to return from main, having printed
 * what was asked (to `out_stream`) or the error (to `err_stream`):
 * 0 after help/version/check/example, 1 on a configuration error. */
int opts_startup(const opts_program *prog, int argc, char *const *argv, FILE *out_stream,
                 FILE *err_stream, opts **out);

#endif
