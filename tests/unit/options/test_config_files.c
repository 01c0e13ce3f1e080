/* config/<program>.conf against each program's options table, so the example
 * files cannot drift: every option present once with its default and help,
 * no unknown option, the file loads as-is and uncommented, and it is exactly
 * what `<program> --print-example-config` prints. The source tree comes from
 * ESCHER_SOURCE_DIR (set by escher_unit_test). */
#include "api_options.h"
#include "client_options.h"
#include "sandbox_options.h"
#include "scheduler_options.h"
#include "worker_options.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    strbuf sb = STRBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_append(&sb, buf, n);
    fclose(f);
    return strbuf_detach(&sb);
}

static char *config_path(const opts_program *p)
{
    const char *src = getenv("ESCHER_SOURCE_DIR");
    if (src == NULL)
        fail_msg("ESCHER_SOURCE_DIR is not set (run through ctest)");
    return xasprintf("%s/config/%s.conf", src, p->name);
}

/* Collapses runs of whitespace and drops "# " line prefixes so wrapped help
 * compares equal to the one-line table text. */
static char *unwrap_comment(const char *block)
{
    strbuf sb = STRBUF_INIT;
    for (const char *line = block; *line;) {
        size_t len = strcspn(line, "\n");
        const char *p = line;
        if (*p == '#')
            p++;
        while (p < line + len && *p == ' ')
            p++;
        if (sb.len && p < line + len)
            strbuf_putc(&sb, ' ');
        strbuf_append(&sb, p, (size_t)(line + len - p));
        line += len + (line[len] == '\n');
    }
    return strbuf_detach(&sb);
}

/* Semantic check first, so a failure names the option that drifted. Returns
 * NULL when the text matches the table, else what is wrong (caller frees). */
static char *drift(const opts_program *p, const char *text, const char *path)
{
    for (size_t i = 0; i < p->ndefs; i++) {
        const opts_def *d = &p->defs[i];
        char *needle = xasprintf("\n#%s =", d->name);
        const char *at = strstr(text, needle);
        char *problem = NULL;
        if (at == NULL)
            problem = xasprintf("%s: option '%s' is missing (regenerate with %s "
                                "--print-example-config)",
                                path, d->name, p->name);
        else if (strstr(at + 1, needle) != NULL)
            problem = xasprintf("%s: option '%s' is listed twice", path, d->name);
        free(needle);
        if (problem)
            return problem;
        /* Default on the assignment line. */
        const char *value = at + 2 + strlen(d->name) + 2;
        char *got = xstrndup(value, strcspn(value, "\n"));
        char *trimmed = got;
        while (*trimmed == ' ')
            trimmed++;
        const char *want = d->type == OPTS_SECRET || d->def == NULL ? "" : d->def;
        if (strcmp(trimmed, want) != 0)
            problem = xasprintf("%s: option '%s' shows default '%s', the table says '%s'", path,
                                d->name, trimmed, want);
        free(got);
        if (problem)
            return problem;
        /* Help and variable in the comment block just above (after the blank line). */
        const char *block = at;
        while (block > text && !(block[-1] == '\n' && block[0] == '\n'))
            block--;
        char *raw = xstrndup(block, (size_t)(at - block));
        char *comment = unwrap_comment(raw);
        free(raw);
        char *env = d->env ? xasprintf("Environment: %s", d->env) : NULL;
        if (strstr(comment, d->help) == NULL)
            problem = xasprintf("%s: help of '%s' differs from the table:\n  file:  %s\n  "
                                "table: %s",
                                path, d->name, comment, d->help);
        else if (env && strstr(comment, env) == NULL)
            problem = xasprintf("%s: option '%s' does not name %s", path, d->name, d->env);
        free(env);
        free(comment);
        if (problem)
            return problem;
    }
    /* No assignment line for an option the program does not have. */
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        if (line[0] == '#' && islower((unsigned char)line[1])) {
            char *name = xstrndup(line + 1, strcspn(line + 1, " ="));
            bool known = false;
            for (size_t i = 0; i < p->ndefs; i++)
                known |= strcmp(p->defs[i].name, name) == 0;
            char *problem =
                known ? NULL : xasprintf("%s: '%s' is not an option of %s", path, name, p->name);
            free(name);
            if (problem)
                return problem;
        } else if (line[0] != '#' && len > 0) {
            return xasprintf("%s: example files keep every line commented, found '%.*s'", path,
                             (int)len, line);
        }
        line += len + (line[len] == '\n');
    }
    return NULL;
}

static void check_loads(const opts_program *p, const char *text, const char *path)
{
    err e;
    opts *o = opts_new(p, &e);
    if (o == NULL)
        fail_msg("%s options table: %s", p->name, e.message);
    if (!opts_load_file(o, path, &e))
        fail_msg("%s as written: %s", path, e.message);
    opts_free(o);

    /* Uncommenting every assignment must keep every default. */
    strbuf sb = STRBUF_INIT;
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        if (line[0] == '#' && islower((unsigned char)line[1]))
            strbuf_append(&sb, line + 1, len - 1);
        else
            strbuf_append(&sb, line, len);
        strbuf_putc(&sb, '\n');
        line += len + (line[len] == '\n');
    }
    char tmp[] = "/tmp/escher-config-test-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, sb.buf, sb.len), (ssize_t)sb.len);
    close(fd);
    strbuf_free(&sb);
    opts *defaults = opts_new(p, &e);
    o = opts_new(p, &e);
    if (!opts_load_file(o, tmp, &e))
        fail_msg("%s uncommented: %s", path, e.message);
    for (size_t i = 0; i < p->ndefs; i++) {
        const opts_def *d = &p->defs[i];
        assert_int_equal(opts_is_set(o, d->name), opts_is_set(defaults, d->name));
        switch (d->type) {
        case OPTS_INT:
            assert_int_equal(opts_get_int(o, d->name), opts_get_int(defaults, d->name));
            break;
        case OPTS_DURATION:
            assert_int_equal(opts_get_duration_ms(o, d->name),
                             opts_get_duration_ms(defaults, d->name));
            break;
        case OPTS_BOOL:
            assert_int_equal(opts_get_bool(o, d->name), opts_get_bool(defaults, d->name));
            break;
        case OPTS_SECRET:
            assert_null(opts_get_secret(o, d->name));
            break;
        default:
            if (opts_is_set(o, d->name))
                assert_string_equal(opts_get_string(o, d->name),
                                    opts_get_string(defaults, d->name));
        }
    }
    opts_free(o);
    opts_free(defaults);
    unlink(tmp);
}

static void check_program(const opts_program *p)
{
    char *path = config_path(p);
    char *text = read_text(path);
    char *problem = drift(p, text, path);
    if (problem)
        fail_msg("%s", problem);
    check_loads(p, text, path);

    char *gen = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&gen, &len);
    opts_print_example(p, f);
    fclose(f);
    if (strcmp(gen, text) != 0)
        fail_msg("%s differs from `%s --print-example-config`; regenerate it:\n"
                 "  %s --print-example-config > config/%s.conf",
                 path, p->name, p->name, p->name);
    free(gen);
    free(text);
    free(path);
}

static void test_api(void **state)
{
    (void)state;
    check_program(api_options());
}

static void test_scheduler(void **state)
{
    (void)state;
    check_program(scheduler_options());
}

static void test_worker(void **state)
{
    (void)state;
    check_program(worker_options());
}

static void test_client(void **state)
{
    (void)state;
    check_program(client_options());
}

static void test_sandbox(void **state)
{
    (void)state;
    check_program(sandbox_options());
}

/* The checker itself must notice drift, or the tests above prove nothing. */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    return xasprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

static void expect_drift(const opts_program *p, const char *text, const char *fragment)
{
    char *problem = drift(p, text, "x.conf");
    if (problem == NULL)
        fail_msg("drift not detected, expected '%s' in:\n%s", fragment, text);
    if (strstr(problem, fragment) == NULL)
        fail_msg("'%s' lacks '%s'", problem, fragment);
    free(problem);
}

static void test_checker_detects_drift(void **state)
{
    (void)state;
    static const opts_def defs[] = {
        {.name = "port",
         .env = "X_PORT",
         .type = OPTS_INT,
         .def = "1",
         .min = 0,
         .max = 9,
         .help = "The port."},
        {.name = "name", .env = "X_NAME", .type = OPTS_STRING, .help = "A name."},
    };
    static const opts_program p = {
        .name = "x", .version = "1", .summary = "s", .defs = defs, .ndefs = 2};
    char *gen = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&gen, &len);
    opts_print_example(&p, f);
    fclose(f);
    char *problem = drift(&p, gen, "x.conf");
    if (problem)
        fail_msg("generated text flagged: %s", problem);

    char *t = replaced(gen, "#port = 1\n", "#port = 2\n");
    expect_drift(&p, t, "option 'port' shows default '2', the table says '1'");
    free(t);
    t = replaced(gen, "#port = 1\n", "");
    expect_drift(&p, t, "option 'port' is missing");
    free(t);
    t = replaced(gen, "The port.", "The prot.");
    expect_drift(&p, t, "help of 'port' differs");
    free(t);
    t = replaced(gen, "# Environment: X_NAME", "# Environment: X_NAM");
    expect_drift(&p, t, "option 'name' does not name X_NAME");
    free(t);
    t = xasprintf("%s\n#colour = blue\n", gen);
    expect_drift(&p, t, "'colour' is not an option of x");
    free(t);
    t = xasprintf("%s\nport = 3\n", gen);
    expect_drift(&p, t, "keep every line commented, found 'port = 3'");
    free(t);
    t = xasprintf("%s\n#port = 1\n", gen);
    expect_drift(&p, t, "option 'port' is listed twice");
    free(t);
    free(gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api),     cmocka_unit_test(test_scheduler),
        cmocka_unit_test(test_worker),  cmocka_unit_test(test_client),
        cmocka_unit_test(test_sandbox), cmocka_unit_test(test_checker_detects_drift),
    };
    return cmocka_run_group_tests_name("config_files", tests, NULL, NULL);
}
