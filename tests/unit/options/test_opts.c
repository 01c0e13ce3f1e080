/* opts: precedence, every type and its errors, suggestions, the config file
 * format, --help, and redaction in the effective-configuration dump. */
#include "core/opts.h"

#include "core/xmalloc.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

static const opts_def test_defs[] = {
    {.name = "port",
     .env = "TESTPROG_PORT",
     .type = OPTS_INT,
     .def = "8080",
     .min = 1,
     .max = 65535,
     .group = "Network",
     .help = "TCP port to listen on."},
    {.name = "listen",
     .env = "TESTPROG_LISTEN",
     .type = OPTS_STRING,
     .def = "127.0.0.1",
     .group = "Network",
     .metavar = "ADDRESS",
     .help = "Address to listen on."},
    {.name = "verbose",
     .env = "TESTPROG_VERBOSE",
     .type = OPTS_BOOL,
     .def = "false",
     .group = "Process",
     .help = "Say more."},
    {.name = "timeout",
     .env = "TESTPROG_TIMEOUT",
     .type = OPTS_DURATION,
     .def = "30s",
     .min = 1000,
     .max = 3600000,
     .group = "Network",
     .help = "Time allowed per request."},
    {.name = "log-level",
     .env = "TESTPROG_LOG_LEVEL",
     .type = OPTS_ENUM,
     .def = "info",
     .choices = levels,
     .group = "Process",
     .help = "Least severe level logged."},
    {.name = "api-key",
     .env = "TESTPROG_API_KEY",
     .type = OPTS_SECRET,
     .group = "Auth",
     .help = "Key that authenticates us."},
    {.name = "database-url",
     .env = "TESTPROG_DATABASE_URL",
     .type = OPTS_URL,
     .def = "postgresql:///escher",
     .group = "Storage",
     .help = "Where the data lives. This help text is deliberately long so that it has to be "
             "wrapped over several lines when printed by --help at eighty columns."},
    {.name = "region",
     .env = "TESTPROG_REGION",
     .type = OPTS_STRING,
     .check = opts_check_region,
     .group = "AWS",
     .help = "Default region."},
};

static const opts_program test_prog = {
    .name = "testprog",
    .version = "9.9.9",
    .summary = "A program for testing options.",
    .config_env = "TESTPROG_CONFIG",
    .defs = test_defs,
    .ndefs = sizeof test_defs / sizeof test_defs[0],
};

static const opts_program args_prog = {
    .name = "testcli",
    .version = "1.0",
    .summary = "A program that takes arguments.",
    .config_env = "TESTCLI_CONFIG",
    .args_usage = "COMMAND [ARGS...]",
    .defs = test_defs,
    .ndefs = 3,
};

static const char *const env_names[] = {
    "TESTPROG_PORT",      "TESTPROG_LISTEN",  "TESTPROG_VERBOSE",      "TESTPROG_TIMEOUT",
    "TESTPROG_LOG_LEVEL", "TESTPROG_API_KEY", "TESTPROG_DATABASE_URL", "TESTPROG_REGION",
    "TESTPROG_CONFIG",    "TESTCLI_CONFIG",
};

static int clean_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        unsetenv(env_names[i]);
    return 0;
}

/* Writes text to a new temporary file; returns its path (caller unlinks, frees). */
static char *temp_file(const char *text)
{
    char *path = xstrdup("/tmp/escher-opts-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static opts *new_opts(const opts_program *p)
{
    err e;
    opts *o = opts_new(p, &e);
    if (o == NULL)
        fail_msg("opts_new: %s", e.message);
    return o;
}

/* Runs opts_load with a NULL-terminated argument list (argv[0] supplied). */
static bool load(opts *o, opts_action *action, err *e, ...)
{
    char *argv[32] = {"testprog"};
    int argc = 1;
    va_list ap;
    va_start(ap, e);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    opts_action dummy;
    return opts_load(o, argc, argv, action ? action : &dummy, e);
}

static char *capture(void (*fn)(const opts_program *, FILE *), const opts_program *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(p, f);
    fclose(f);
    return buf;
}

static char *capture_effective(const opts *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    opts_print_effective(o, f);
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------------ tests */

static void test_defaults(void **state)
{
    (void)state;
    opts *o = new_opts(&test_prog);
    assert_int_equal(opts_get_int(o, "port"), 8080);
    assert_string_equal(opts_get_string(o, "listen"), "127.0.0.1");
    assert_false(opts_get_bool(o, "verbose"));
    assert_int_equal(opts_get_duration_ms(o, "timeout"), 30000);
    assert_string_equal(opts_get_string(o, "log-level"), "info");
    assert_null(opts_get_secret(o, "api-key"));
    assert_false(opts_is_set(o, "api-key"));
    assert_null(opts_get_string(o, "region"));
    const char *where = "x";
    assert_int_equal(opts_get_source(o, "port", &where), OPTS_SRC_DEFAULT);
    assert_null(where);
    opts_free(o);
}

static void test_precedence_file_env_flag(void **state)
{
    (void)state;
    char *path = temp_file("# comment\n\nport = 1111\nlisten = 10.0.0.1\nverbose = yes\n"
                           "timeout = 5m\n");
    setenv("TESTPROG_CONFIG", path, 1);
    setenv("TESTPROG_PORT", "2222", 1);
    setenv("TESTPROG_LISTEN", "10.0.0.2", 1);
    opts *o = new_opts(&test_prog);
    err e;
    opts_action action;
    assert_true(load(o, &action, &e, "--port", "3333", NULL));
    assert_int_equal(action, OPTS_RUN);
    /* flag beats env beats file beats default */
    assert_int_equal(opts_get_int(o, "port"), 3333);
    assert_string_equal(opts_get_string(o, "listen"), "10.0.0.2");
    assert_true(opts_get_bool(o, "verbose"));
    assert_int_equal(opts_get_duration_ms(o, "timeout"), 300000);
    assert_string_equal(opts_get_string(o, "log-level"), "info");
    const char *where;
    assert_int_equal(opts_get_source(o, "port", &where), OPTS_SRC_FLAG);
    assert_string_equal(where, "--port");
    assert_int_equal(opts_get_source(o, "listen", &where), OPTS_SRC_ENV);
    assert_string_equal(where, "TESTPROG_LISTEN");
    assert_int_equal(opts_get_source(o, "verbose", &where), OPTS_SRC_FILE);
    char *expect = xasprintf("%s line 5", path);
    assert_string_equal(where, expect);
    free(expect);
    assert_int_equal(opts_get_source(o, "log-level", NULL), OPTS_SRC_DEFAULT);
    assert_string_equal(opts_config_path(o), path);
    opts_free(o);
    unlink(path);
    free(path);
}

static void test_config_flag_beats_config_env(void **state)
{
    (void)state;
    char *a = temp_file("port = 1\n");
    char *b = temp_file("port = 2\n");
    setenv("TESTPROG_CONFIG", a, 1);
    opts *o = new_opts(&test_prog);
    err e;
    assert_true(load(o, NULL, &e, "--config", b, NULL));
    assert_int_equal(opts_get_int(o, "port"), 2);
    opts_free(o);
    o = new_opts(&test_prog);
    char *flag = xasprintf("--config=%s", b);
    assert_true(load(o, NULL, &e, flag, NULL));
    assert_int_equal(opts_get_int(o, "port"), 2);
    opts_free(o);
    free(flag);
    unlink(a);
    unlink(b);
    free(a);
    free(b);
}

static void test_empty_env_is_unset(void **state)
{
    (void)state;
    setenv("TESTPROG_PORT", "", 1);
    opts *o = new_opts(&test_prog);
    err e;
    assert_true(load(o, NULL, &e, NULL));
    assert_int_equal(opts_get_int(o, "port"), 8080);
    assert_int_equal(opts_get_source(o, "port", NULL), OPTS_SRC_DEFAULT);
    opts_free(o);
}

static void test_flag_forms(void **state)
{
    (void)state;
    opts *o = new_opts(&test_prog);
    err e;
    assert_true(load(o, NULL, &e, "--port=81", "--listen", "::1", "--verbose", "--timeout", "45m",
                     "--log-level=debug", NULL));
    assert_int_equal(opts_get_int(o, "port"), 81);
    assert_string_equal(opts_get_string(o, "listen"), "::1");
    assert_true(opts_get_bool(o, "verbose"));
    assert_int_equal(opts_get_duration_ms(o, "timeout"), 2700000);
    assert_string_equal(opts_get_string(o, "log-level"), "debug");
    opts_free(o);

    o = new_opts(&test_prog);
    setenv("TESTPROG_VERBOSE", "true", 1);
    assert_true(load(o, NULL, &e, "--no-verbose", NULL));
    assert_false(opts_get_bool(o, "verbose"));
    opts_free(o);

    o = new_opts(&test_prog);
    assert_true(load(o, NULL, &e, "--verbose=off", "--port", "1", "--port", "2", NULL));
    assert_false(opts_get_bool(o, "verbose"));
    assert_int_equal(opts_get_int(o, "port"), 2); /* the last flag wins */
    opts_free(o);
}

static void expect_load_error(const char *message, ...)
{
    char *argv[16] = {"testprog"};
    int argc = 1;
    va_list ap;
    va_start(ap, message);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 15;)
        argv[argc++] = a;
    va_end(ap);
    opts *o = new_opts(&test_prog);
    err e;
    err_clear(&e);
    opts_action action;
    assert_false(opts_load(o, argc, argv, &action, &e));
    assert_int_equal(e.code, ERR_CONFIG);
    assert_string_equal(e.message, message);
    opts_free(o);
}

static void test_flag_errors(void **state)
{
    (void)state;
    expect_load_error("unknown option '--prot' (did you mean '--port'?)", "--prot", "1", NULL);
    expect_load_error("unknown option '--lsiten' (did you mean '--listen'?)", "--lsiten=x", NULL);
    expect_load_error("unknown option '--no-verbos' (did you mean '--no-verbose'?)", "--no-verbos",
                      NULL);
    expect_load_error("unknown option '--chek-config' (did you mean '--check-config'?)",
                      "--chek-config", NULL);
    expect_load_error("unknown option '--frobnicate' (see testprog --help)", "--frobnicate", NULL);
    expect_load_error("option '--port' needs a value", "--port", NULL);
    expect_load_error("option '--config' needs a value (a file path)", "--config", NULL);
    expect_load_error("option '--port' is not a yes/no option, so '--no-port' is not valid",
                      "--no-port", NULL);
    expect_load_error("option '--no-verbose' takes no value", "--no-verbose=1", NULL);
    expect_load_error("option '--check-config' takes no value", "--check-config=yes", NULL);
    expect_load_error("unknown option '-p': options are long, like '--name value'", "-p", "1",
                      NULL);
    expect_load_error("unknown option '-h' (did you mean '--help'?): options are long, like "
                      "'--name value'",
                      "-h", NULL);
    expect_load_error("unexpected argument 'serve' (testprog takes only options)", "serve", NULL);
    expect_load_error("invalid value for 'port' from --port: 'abc' is not an integer", "--port",
                      "abc", NULL);
}

static void expect_env_error(const char *var, const char *value, const char *message)
{
    setenv(var, value, 1);
    opts *o = new_opts(&test_prog);
    err e;
    assert_false(load(o, NULL, &e, NULL));
    assert_int_equal(e.code, ERR_CONFIG);
    assert_string_equal(e.message, message);
    opts_free(o);
    unsetenv(var);
}

static void test_type_errors(void **state)
{
    (void)state;
    expect_env_error("TESTPROG_PORT", "abc",
                     "invalid value for 'port' from TESTPROG_PORT: 'abc' is not an integer");
    expect_env_error("TESTPROG_PORT", "80x",
                     "invalid value for 'port' from TESTPROG_PORT: '80x' is not an integer");
    expect_env_error("TESTPROG_PORT", "70000",
                     "invalid value for 'port' from TESTPROG_PORT: '70000' is out of range "
                     "(1 to 65535)");
    expect_env_error("TESTPROG_PORT", "99999999999999999999999",
                     "invalid value for 'port' from TESTPROG_PORT: '99999999999999999999999' is "
                     "not an integer");
    expect_env_error("TESTPROG_VERBOSE", "maybe",
                     "invalid value for 'verbose' from TESTPROG_VERBOSE: 'maybe' is not a boolean "
                     "(use true/false, yes/no, on/off or 1/0)");
    expect_env_error("TESTPROG_TIMEOUT", "30",
                     "invalid value for 'timeout' from TESTPROG_TIMEOUT: '30' is not a duration "
                     "(use a number and a unit: 500ms, 30s, 5m, 1h, 1d)");
    expect_env_error("TESTPROG_TIMEOUT", "5x",
                     "invalid value for 'timeout' from TESTPROG_TIMEOUT: '5x' is not a duration "
                     "(use a number and a unit: 500ms, 30s, 5m, 1h, 1d)");
    expect_env_error("TESTPROG_TIMEOUT", "2h",
                     "invalid value for 'timeout' from TESTPROG_TIMEOUT: '2h' is out of range "
                     "(1s to 1h)");
    expect_env_error("TESTPROG_LOG_LEVEL", "verbose",
                     "invalid value for 'log-level' from TESTPROG_LOG_LEVEL: 'verbose' is not one "
                     "of: debug, info, warn, error");
    expect_env_error("TESTPROG_DATABASE_URL", "db.example.com:5432",
                     "invalid value for 'database-url' from TESTPROG_DATABASE_URL: "
                     "'db.example.com:5432' is not a URL (expected scheme://host...)");
    expect_env_error("TESTPROG_REGION", "us-east1",
                     "invalid value for 'region' from TESTPROG_REGION: 'us-east1' is not an AWS "
                     "region name (like us-east-1)");
}

static void test_errors_never_quote_secrets(void **state)
{
    (void)state;
    /* A malformed URL still carrying a password must not be echoed with it. */
    setenv("TESTPROG_DATABASE_URL", "postgresql://u:hunter2@db/x y", 1);
    opts *o = new_opts(&test_prog);
    err e;
    assert_false(load(o, NULL, &e, NULL));
    assert_null(strstr(e.message, "hunter2"));
    assert_non_null(strstr(e.message, "[REDACTED]"));
    opts_free(o);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
        const char *canon;
    } cases[] = {
        {"0", 0, "0s"},          {"250ms", 250, "250ms"},     {"30s", 30000, "30s"},
        {"5m", 300000, "5m"},    {"1h", 3600000, "1h"},       {"1d", 86400000, "1d"},
        {"90s", 90000, "1m30s"}, {"1h30m", 5400000, "1h30m"}, {"1s500ms", 1500, "1s500ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        err e;
        if (!opts_parse_duration(cases[i].text, &ms, &e))
            fail_msg("%s: %s", cases[i].text, e.message);
        assert_int_equal(ms, cases[i].ms);
        char buf[64];
        assert_string_equal(opts_format_duration(ms, buf, sizeof buf), cases[i].canon);
    }
    static const char *const bad[] = {
        "", "s", "-5s", "5", "5 s", "1.5h", "5sec", "1h 30m", "99999999999999999999d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        err e;
        if (opts_parse_duration(bad[i], &ms, &e))
            fail_msg("'%s' parsed as %lld ms", bad[i], (long long)ms);
        assert_non_null(strstr(e.message, "is not a duration"));
    }
}

static void test_bool_spellings(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool value;
    } cases[] = {{"true", true},   {"YES", true}, {"on", true},   {"1", true},
                 {"false", false}, {"No", false}, {"off", false}, {"0", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        opts *o = new_opts(&test_prog);
        err e;
        assert_true(opts_set(o, "verbose", cases[i].value ? "false" : "true", OPTS_SRC_FLAG,
                             "--verbose", &e));
        if (!opts_set(o, "verbose", cases[i].text, OPTS_SRC_FLAG, "--verbose", &e))
            fail_msg("%s: %s", cases[i].text, e.message);
        assert_int_equal(opts_get_bool(o, "verbose"), cases[i].value);
        opts_free(o);
    }
}

static void test_config_file_syntax(void **state)
{
    (void)state;
    char *path = temp_file("# leading comment\n"
                           "   # indented comment\n"
                           "\n"
                           "listen   =   \" spaced \"   \n"
                           "api-key = s3cr#t=value\r\n"
                           "database-url =\n"
                           "log-level=warn\n");
    opts *o = new_opts(&test_prog);
    err e;
    if (!opts_load_file(o, path, &e))
        fail_msg("%s", e.message);
    assert_string_equal(opts_get_string(o, "listen"), " spaced ");
    /* '#' inside a value is data, not a comment: passwords contain it. */
    assert_string_equal(opts_get_secret(o, "api-key"), "s3cr#t=value");
    /* An empty value unsets a text option rather than keeping the default. */
    assert_null(opts_get_string(o, "database-url"));
    assert_string_equal(opts_get_string(o, "log-level"), "warn");
    opts_free(o);
    unlink(path);
    free(path);
}

static void expect_file_error(const char *text, const char *message_after_path)
{
    char *path = temp_file(text);
    opts *o = new_opts(&test_prog);
    err e;
    assert_false(opts_load_file(o, path, &e));
    assert_int_equal(e.code, ERR_CONFIG);
    /* The expected text names the file as "%s"; substitute by hand to keep -Wformat=2. */
    const char *at = strstr(message_after_path, "%s");
    assert_non_null(at);
    char *expect =
        xasprintf("%.*s%s%s", (int)(at - message_after_path), message_after_path, path, at + 2);
    assert_string_equal(e.message, expect);
    free(expect);
    opts_free(o);
    unlink(path);
    free(path);
}

static void test_config_file_errors(void **state)
{
    (void)state;
    expect_file_error("port = 1\n\nprot = 2\n",
                      "config file %s line 3: unknown option 'prot' (did you mean 'port'?)");
    expect_file_error("colour = blue\n", "config file %s line 1: unknown option 'colour'");
    expect_file_error("# ok\nport = abc\n",
                      "invalid value for 'port' from config file %s line 2: 'abc' is not an "
                      "integer");
    expect_file_error("[api]\nport = 1\n",
                      "config file %s line 1: sections like '[api]' are not supported (the file "
                      "is a flat list of 'name = value')");
    expect_file_error("port 8080\n", "config file %s line 1: expected 'name = value', got 'port "
                                     "8080'");
    expect_file_error("= 8080\n", "config file %s line 1: expected 'name = value', got '= 8080'");
    expect_file_error("port = 1\nlisten = x\nport = 2\n",
                      "config file %s line 3: 'port' is already set on line 1");
    /* A stray secret on a line of its own is shown redacted, not quoted. */
    expect_file_error("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
                      "config file %s line 1: expected 'name = value', got '[REDACTED]'");

    opts *o = new_opts(&test_prog);
    err e;
    assert_false(opts_load_file(o, "/nonexistent/escher.conf", &e));
    assert_string_equal(e.message, "config file /nonexistent/escher.conf: No such file or "
                                   "directory");
    opts_free(o);
}

static void test_config_env_missing_file(void **state)
{
    (void)state;
    setenv("TESTPROG_CONFIG", "/nonexistent/x.conf", 1);
    opts *o = new_opts(&test_prog);
    err e;
    assert_false(load(o, NULL, &e, NULL));
    assert_string_equal(e.message, "config file /nonexistent/x.conf: No such file or directory");
    opts_free(o);
}

static void test_actions(void **state)
{
    (void)state;
    /* --help and --version must work even when the configuration is broken. */
    setenv("TESTPROG_PORT", "abc", 1);
    setenv("TESTPROG_CONFIG", "/nonexistent/x.conf", 1);
    opts *o = new_opts(&test_prog);
    err e;
    opts_action action;
    assert_true(load(o, &action, &e, "--port", "1", "--help", NULL));
    assert_int_equal(action, OPTS_HELP);
    assert_true(load(o, &action, &e, "--version", NULL));
    assert_int_equal(action, OPTS_VERSION);
    assert_true(load(o, &action, &e, "--print-example-config", NULL));
    assert_int_equal(action, OPTS_PRINT_EXAMPLE);
    /* --check-config loads everything, so it reports the broken value. */
    assert_false(load(o, &action, &e, "--check-config", NULL));
    opts_free(o);
    clean_env(NULL);
    o = new_opts(&test_prog);
    assert_true(load(o, &action, &e, "--check-config", NULL));
    assert_int_equal(action, OPTS_CHECK_CONFIG);
    opts_free(o);
}

static void test_positional_args(void **state)
{
    (void)state;
    opts *o = new_opts(&args_prog);
    err e;
    char *argv[] = {"testcli", "--port", "9", "stop", "i-0abc", "--port", "10", NULL};
    opts_action action;
    assert_true(opts_load(o, 7, argv, &action, &e));
    assert_int_equal(opts_get_int(o, "port"), 9); /* options after the command are its own */
    int n;
    char *const *args = opts_args(o, &n);
    assert_int_equal(n, 4);
    assert_string_equal(args[0], "stop");
    assert_string_equal(args[3], "10");
    opts_free(o);

    o = new_opts(&args_prog);
    char *argv2[] = {"testcli", "--", "--port", NULL};
    assert_true(opts_load(o, 3, argv2, &action, &e));
    args = opts_args(o, &n);
    assert_int_equal(n, 1);
    assert_string_equal(args[0], "--port");
    assert_int_equal(opts_get_int(o, "port"), 8080);
    opts_free(o);
}

static void test_help_content(void **state)
{
    (void)state;
    char *help = capture(opts_print_help, &test_prog);
    const char *want[] = {
        "Usage: testprog [OPTIONS]\n",
        "A program for testing options.",
        "Network:\n",
        "Process:\n",
        "Auth:\n",
        "  --port N\n      TCP port to listen on. Range: 1 to 65535.\n"
        "      [env: TESTPROG_PORT; default: 8080]\n",
        "  --listen ADDRESS\n",
        "  --[no-]verbose\n",
        "  --timeout DURATION\n      Time allowed per request. Range: 1s to 1h.\n",
        "One of: debug, info, warn, error.",
        "  --api-key SECRET\n",
        "      [env: TESTPROG_API_KEY]\n",
        "[env: TESTPROG_REGION; default: (unset)]",
        "--config FILE",
        "[env: TESTPROG_CONFIG]",
        "--check-config",
        "--print-example-config",
        "--version",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(help, want[i]) == NULL)
            fail_msg("--help lacks '%s':\n%s", want[i], help);
    /* Groups keep table order: Network before Process before Auth. */
    assert_true(strstr(help, "Network:") < strstr(help, "Process:"));
    assert_true(strstr(help, "Process:") < strstr(help, "Auth:"));
    /* The timeout option is listed under Network though defined after verbose. */
    assert_true(strstr(help, "--timeout") < strstr(help, "Process:"));
    /* Wrapped at 80 columns. */
    for (const char *line = help; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > 80)
            fail_msg("line longer than 80 columns: %.*s", (int)len, line);
        line += len + (line[len] == '\n');
    }
    free(help);

    char *usage = capture(opts_print_help, &args_prog);
    assert_non_null(strstr(usage, "Usage: testcli [OPTIONS] COMMAND [ARGS...]\n"));
    free(usage);

    char *version = capture(opts_print_version, &test_prog);
    assert_string_equal(version, "testprog 9.9.9\n");
    free(version);
}

static void test_effective_redacts_secrets(void **state)
{
    (void)state;
    setenv("TESTPROG_API_KEY", "hunter2-the-api-key", 1);
    setenv("TESTPROG_DATABASE_URL", "postgresql://escher:pa55word@db.internal:5432/escher", 1);
    opts *o = new_opts(&test_prog);
    err e;
    assert_true(load(o, NULL, &e, "--port", "9000", NULL));
    /* The program still gets the real values. */
    assert_string_equal(opts_get_secret(o, "api-key"), "hunter2-the-api-key");
    char *dump = capture_effective(o);
    assert_null(strstr(dump, "hunter2"));
    assert_null(strstr(dump, "pa55word"));
    const char *want[] = {
        "env TESTPROG_API_KEY ",
        "api-key = [REDACTED]\n",
        "database-url = postgresql://escher:[REDACTED]@db.internal:5432/escher\n",
        "flag --port",
        "port = 9000\n",
        "default",
        "listen = 127.0.0.1\n",
        "timeout = 30s\n",
        "unset",
        "region =\n",
        "config file: none",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(dump, want[i]) == NULL)
            fail_msg("effective configuration lacks '%s':\n%s", want[i], dump);
    free(dump);
    opts_free(o);
}

static void test_example_round_trip(void **state)
{
    (void)state;
    char *example = capture(opts_print_example, &test_prog);
    assert_non_null(strstr(example, "\n# TCP port to listen on. Range: 1 to 65535.\n"
                                    "# Environment: TESTPROG_PORT\n#port = 8080\n"));
    assert_non_null(strstr(example, "\n#api-key =\n"));
    assert_non_null(strstr(example, "## Network\n"));
    /* As written, every line is a comment: loading changes nothing. */
    char *path = temp_file(example);
    opts *o = new_opts(&test_prog);
    err e;
    if (!opts_load_file(o, path, &e))
        fail_msg("%s", e.message);
    assert_int_equal(opts_get_source(o, "port", NULL), OPTS_SRC_DEFAULT);
    opts_free(o);
    unlink(path);
    free(path);
    /* Uncommented, every line parses and gives back the default. */
    char *uncommented = xstrdup(example);
    for (char *p = uncommented; (p = strstr(p, "\n#")) != NULL; p++)
        if (p[2] >= 'a' && p[2] <= 'z')
            memmove(p + 1, p + 2, strlen(p + 2) + 1);
    path = temp_file(uncommented);
    o = new_opts(&test_prog);
    if (!opts_load_file(o, path, &e))
        fail_msg("%s", e.message);
    assert_int_equal(opts_get_source(o, "port", NULL), OPTS_SRC_FILE);
    assert_int_equal(opts_get_int(o, "port"), 8080);
    assert_int_equal(opts_get_duration_ms(o, "timeout"), 30000);
    assert_null(opts_get_secret(o, "api-key"));
    opts_free(o);
    unlink(path);
    free(path);
    free(uncommented);
    free(example);
}

static void expect_bad_table(const opts_def *defs, size_t n, const char *fragment)
{
    opts_program p = {.name = "bad",
                      .version = "1",
                      .summary = "s",
                      .config_env = "BAD_CONFIG",
                      .defs = defs,
                      .ndefs = n};
    err e;
    opts *o = opts_new(&p, &e);
    if (o != NULL) {
        opts_free(o);
        fail_msg("table accepted, expected '%s'", fragment);
    }
    assert_int_equal(e.code, ERR_INTERNAL);
    if (strstr(e.message, fragment) == NULL)
        fail_msg("'%s' lacks '%s'", e.message, fragment);
}

static void test_table_validation(void **state)
{
    (void)state;
    const opts_def secret_default[] = {
        {.name = "token", .type = OPTS_SECRET, .def = "x", .help = "h"}};
    expect_bad_table(secret_default, 1, "secret 'token' has a default");
    const opts_def twice[] = {{.name = "a", .type = OPTS_STRING, .help = "h"},
                              {.name = "a", .type = OPTS_STRING, .help = "h"}};
    expect_bad_table(twice, 2, "option 'a' listed twice");
    const opts_def bad_default[] = {
        {.name = "n", .type = OPTS_INT, .def = "x", .min = 0, .max = 1, .help = "h"}};
    expect_bad_table(bad_default, 1, "default of 'n': 'x' is not an integer");
    const opts_def no_default[] = {{.name = "n", .type = OPTS_INT, .max = 1, .help = "h"}};
    expect_bad_table(no_default, 1, "'n' needs a default");
    const opts_def no_choices[] = {{.name = "c", .type = OPTS_ENUM, .def = "x", .help = "h"}};
    expect_bad_table(no_choices, 1, "enum 'c' has no choices");
    const opts_def bad_name[] = {{.name = "Port", .type = OPTS_STRING, .help = "h"}};
    expect_bad_table(bad_name, 1, "bad option name 'Port'");
    const opts_def no_prefix[] = {{.name = "no-color", .type = OPTS_BOOL, .def = "0", .help = "h"}};
    expect_bad_table(no_prefix, 1, "bad option name 'no-color'");
    const opts_def builtin[] = {{.name = "help", .type = OPTS_STRING, .help = "h"}};
    expect_bad_table(builtin, 1, "'help' is a built-in flag");
    const opts_def no_help[] = {{.name = "x", .type = OPTS_STRING}};
    expect_bad_table(no_help, 1, "'x' has no help");
    const opts_def shared_env[] = {{.name = "a", .env = "X", .type = OPTS_STRING, .help = "h"},
                                   {.name = "b", .env = "X", .type = OPTS_STRING, .help = "h"}};
    expect_bad_table(shared_env, 2, "'a' and 'b' share X");
    const opts_def config_env[] = {
        {.name = "a", .env = "BAD_CONFIG", .type = OPTS_STRING, .help = "h"}};
    expect_bad_table(config_env, 1, "option 'a' has bad variable 'BAD_CONFIG'");
}

static void test_startup(void **state)
{
    (void)state;
    char *out = NULL, *errs = NULL;
    size_t ol = 0, el = 0;
    FILE *fo = open_memstream(&out, &ol), *fe = open_memstream(&errs, &el);
    opts *o = (opts *)1;
    char *bad[] = {"testprog", "--prot", "1", NULL};
    assert_int_equal(opts_startup(&test_prog, 3, bad, fo, fe, &o), 1);
    assert_null(o);
    char *check[] = {"testprog", "--check-config", NULL};
    assert_int_equal(opts_startup(&test_prog, 2, check, fo, fe, &o), 0);
    char *run[] = {"testprog", "--port", "7", NULL};
    assert_int_equal(opts_startup(&test_prog, 3, run, fo, fe, &o), -1);
    assert_non_null(o);
    assert_int_equal(opts_get_int(o, "port"), 7);
    opts_free(o);
    fclose(fo);
    fclose(fe);
    assert_string_equal(errs, "testprog: unknown option '--prot' (did you mean '--port'?)\n");
    assert_non_null(strstr(out, "# configuration OK\n"));
    free(out);
    free(errs);
}

static void test_region_checks(void **state)
{
    (void)state;
    err e;
    const char *good[] = {"us-east-1",      "eu-west-2",  "us-gov-west-1",
                          "ap-southeast-4", "cn-north-1", "il-central-1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!opts_check_region(good[i], &e))
            fail_msg("%s: %s", good[i], e.message);
    const char *bad[] = {"us-east1", "useast-1", "US-EAST-1", "us-east-", "us--1", "", "us-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (opts_check_region(bad[i], &e))
            fail_msg("'%s' accepted", bad[i]);
    assert_true(opts_check_region_list("us-east-1,eu-west-1", &e));
    assert_false(opts_check_region_list("us-east-1,,eu-west-1", &e));
    assert_false(opts_check_region_list("us-east-1,eu-west", &e));
    assert_string_equal(e.message, "'eu-west' in 'us-east-1,eu-west' is not an AWS region name "
                                   "(like us-east-1)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clean_env),
        cmocka_unit_test_setup(test_precedence_file_env_flag, clean_env),
        cmocka_unit_test_setup(test_config_flag_beats_config_env, clean_env),
        cmocka_unit_test_setup(test_empty_env_is_unset, clean_env),
        cmocka_unit_test_setup(test_flag_forms, clean_env),
        cmocka_unit_test_setup(test_flag_errors, clean_env),
        cmocka_unit_test_setup(test_type_errors, clean_env),
        cmocka_unit_test_setup(test_errors_never_quote_secrets, clean_env),
        cmocka_unit_test_setup(test_durations, clean_env),
        cmocka_unit_test_setup(test_bool_spellings, clean_env),
        cmocka_unit_test_setup(test_config_file_syntax, clean_env),
        cmocka_unit_test_setup(test_config_file_errors, clean_env),
        cmocka_unit_test_setup(test_config_env_missing_file, clean_env),
        cmocka_unit_test_setup(test_actions, clean_env),
        cmocka_unit_test_setup(test_positional_args, clean_env),
        cmocka_unit_test_setup(test_help_content, clean_env),
        cmocka_unit_test_setup(test_effective_redacts_secrets, clean_env),
        cmocka_unit_test_setup(test_example_round_trip, clean_env),
        cmocka_unit_test_setup(test_table_validation, clean_env),
        cmocka_unit_test_setup(test_startup, clean_env),
        cmocka_unit_test_setup(test_region_checks, clean_env),
    };
    return cmocka_run_group_tests_name("opts", tests, NULL, NULL);
}
