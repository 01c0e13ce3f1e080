#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/awsconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static awsconfig *parse_ok(const char *text)
{
    awsconfig *c = NULL;
    err e;
    err_clear(&e);
    bool ok = awsconfig_parse(text, strlen(text), "test.ini", &c, &e);
    if (!ok)
        fail_msg("parse failed: %s", e.message);
    return c;
}

static void parse_fails(const char *text, const char *expect)
{
    awsconfig *c = NULL;
    err e;
    err_clear(&e);
    assert_false(awsconfig_parse(text, strlen(text), "test.ini", &c, &e));
    assert_null(c);
    assert_int_equal(e.code, ERR_PARSE);
    assert_string_equal(e.message, expect);
}

static void test_sections_keys_comments(void **state)
{
    (void)state;
    awsconfig *c = parse_ok("# leading comment\n"
                            "; another\n"
                            "[default]\n"
                            "  Region   =   eu-west-1   \n"
                            "output: json\n"
                            "  # indented comment\n"
                            "note = keep # this\n"
                            "empty =\n"
                            "\n"
                            "[profile dev]\n"
                            "region=us-east-2\r\n");
    assert_int_equal(awsconfig_section_count(c), 2);
    assert_string_equal(awsconfig_section_name(c, 0), "default");
    assert_string_equal(awsconfig_section_name(c, 1), "profile dev");
    /* Keys are lower-cased like configparser's optionxform. */
    assert_string_equal(awsconfig_get(c, "default", "region"), "eu-west-1");
    assert_string_equal(awsconfig_get(c, "default", "REGION"), "eu-west-1");
    assert_string_equal(awsconfig_get(c, "default", "output"), "json");
    /* No inline comments in configparser's default mode. */
    assert_string_equal(awsconfig_get(c, "default", "note"), "keep # this");
    assert_string_equal(awsconfig_get(c, "default", "empty"), "");
    assert_string_equal(awsconfig_get(c, "profile dev", "region"), "us-east-2");
    assert_null(awsconfig_get(c, "default", "missing"));
    assert_null(awsconfig_get(c, "nosuch", "region"));
    assert_true(awsconfig_has_section(c, "profile dev"));
    assert_false(awsconfig_has_section(c, "dev"));
    awsconfig_free(c);
}

static void test_nested_and_continuation(void **state)
{
    (void)state;
    awsconfig *c = parse_ok("[profile p]\n"
                            "s3 =\n"
                            "    addressing_style = path\n"
                            "    signature_version=s3v4\n"
                            "\n"
                            "    max_concurrent_requests = 20\n"
                            "region = us-west-2\n"
                            "policy = line one\n"
                            "   line two\n"
                            "[next]\n"
                            "a = 1\n");
    assert_string_equal(awsconfig_get_nested(c, "profile p", "s3", "addressing_style"), "path");
    assert_string_equal(awsconfig_get_nested(c, "profile p", "s3", "signature_version"), "s3v4");
    assert_string_equal(awsconfig_get_nested(c, "profile p", "s3", "max_concurrent_requests"),
                        "20");
    assert_null(awsconfig_get_nested(c, "profile p", "s3", "nope"));
    assert_string_equal(awsconfig_get(c, "profile p", "region"), "us-west-2");
    /* A value continued on an indented line joins with a newline and is not nested. */
    assert_string_equal(awsconfig_get(c, "profile p", "policy"), "line one\nline two");
    assert_null(awsconfig_get_nested(c, "profile p", "policy", "line"));
    assert_string_equal(awsconfig_get(c, "next", "a"), "1");
    awsconfig_free(c);
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_fails("a = 1\n[default]\n", "test.ini: line 1: a setting before any [section] header");
    parse_fails("[default]\nregion us-east-1\n",
                "test.ini: line 2: expected 'name = value' in section [default]");
    parse_fails("[default]\n= value\n",
                "test.ini: line 2: expected 'name = value' in section [default]");
    parse_fails("[a]\nx=1\n[a]\n", "test.ini: line 3: section [a] appears twice");
    parse_fails("[a]\nKey=secretvalue1\nkey=secretvalue2\n",
                "test.ini: line 3: 'key' set twice in section [a]");
    parse_fails("[a]\ns3 =\n  novalue\n",
                "test.ini: section [a]: nested value of 's3' has a line without '='");
}

static void test_profile_sections(void **state)
{
    (void)state;
    awsconfig *c = parse_ok("[default]\nregion = d1\n"
                            "[profile   spaced]\nregion = s\n"
                            "[profile \"two words\"]\nregion = tw\n"
                            "[profilex]\nregion = no\n"
                            "[profile a b]\nregion = no\n"
                            "[sso-session x]\nregion = no\n"
                            "[plain]\nregion = no\n"
                            "[profile default]\nregion = d2\n");
    /* Later of [default] / [profile default] wins, as in botocore's dict. */
    assert_string_equal(awsconfig_profile_section(c, "default"), "profile default");
    assert_string_equal(awsconfig_profile_section(c, "spaced"), "profile   spaced");
    assert_string_equal(awsconfig_profile_section(c, "two words"), "profile \"two words\"");
    assert_null(awsconfig_profile_section(c, "x"));
    assert_null(awsconfig_profile_section(c, "plain"));
    assert_null(awsconfig_profile_section(c, "a"));
    assert_null(awsconfig_profile_section(NULL, "default"));
    awsconfig_free(c);
}

static void split_is(const char *line, const char *const *want, size_t n)
{
    char **argv = NULL;
    size_t argc = 99;
    err e;
    if (!awsconfig_shell_split(line, &argv, &argc, &e))
        fail_msg("split '%s': %s", line, e.message);
    assert_int_equal(argc, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(argv[i], want[i]);
    assert_null(argv[n]);
    awsconfig_free_words(argv);
}

static void test_shell_split(void **state)
{
    (void)state;
    split_is("", NULL, 0);
    split_is("   ", NULL, 0);
    split_is("/bin/tool --a b", (const char *const[]){"/bin/tool", "--a", "b"}, 3);
    split_is("  tool   'single quoted arg'  ", (const char *const[]){"tool", "single quoted arg"},
             2);
    split_is("t \"dq \\\" \\\\ \\n $x\"", (const char *const[]){"t", "dq \" \\ \\n $x"}, 2);
    split_is("t a\\ b \\'q", (const char *const[]){"t", "a b", "'q"}, 3);
    split_is("t ab'cd'\"ef\" ''", (const char *const[]){"t", "abcdef", ""}, 3);
    split_is("t '#notcomment' a#b", (const char *const[]){"t", "#notcomment", "a#b"}, 3);

    char **argv = NULL;
    err e;
    assert_false(awsconfig_shell_split("t 'open", &argv, NULL, &e));
    assert_string_equal(e.message, "no closing quotation");
    assert_false(awsconfig_shell_split("t \"open", &argv, NULL, &e));
    assert_string_equal(e.message, "no closing quotation");
    assert_false(awsconfig_shell_split("t end\\", &argv, NULL, &e));
    assert_string_equal(e.message, "no escaped character after a final backslash");
    assert_null(argv);
}

static char tmpdir[256];

static const char *write_tmp(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_load_and_merge(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/escher-awsconfig-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char cfg[512], cred[512], missing[512];
    snprintf(cfg, sizeof cfg, "%s",
             write_tmp("config", "[default]\nregion = eu-west-1\n"
                                 "aws_access_key_id = FROMCONFIG\n"
                                 "[profile only-config]\nregion = x\n"
                                 "[creds-section-in-config]\na = 1\n"));
    snprintf(cred, sizeof cred, "%s",
             write_tmp("credentials", "[default]\naws_access_key_id = FROMCREDS\n"
                                      "[profile literal]\naws_access_key_id = L\n"
                                      "[only-creds]\naws_access_key_id = C\n"));
    snprintf(missing, sizeof missing, "%s/nope", tmpdir);

    awsconfig *c = (awsconfig *)1;
    err e;
    assert_true(awsconfig_load(missing, &c, &e));
    assert_null(c);
    assert_false(awsconfig_load(tmpdir, &c, &e));
    assert_int_equal(e.code, ERR_IO);
    assert_non_null(strstr(e.message, "is a directory"));

    aws_shared_files f;
    assert_true(aws_shared_files_load(cfg, cred, &f, &e));
    assert_true(aws_shared_files_has_profile(&f, "default"));
    assert_true(aws_shared_files_has_profile(&f, "only-config"));
    assert_true(aws_shared_files_has_profile(&f, "only-creds"));
    /* In the credentials file, section names are profile names verbatim. */
    assert_true(aws_shared_files_has_profile(&f, "profile literal"));
    assert_false(aws_shared_files_has_profile(&f, "literal"));
    assert_false(aws_shared_files_has_profile(&f, "creds-section-in-config"));
    assert_string_equal(aws_shared_files_get(&f, "default", "aws_access_key_id"), "FROMCREDS");
    assert_string_equal(aws_shared_files_where(&f, "default", "aws_access_key_id"), cred);
    assert_string_equal(aws_shared_files_get(&f, "default", "region"), "eu-west-1");
    assert_string_equal(aws_shared_files_where(&f, "default", "region"), cfg);
    assert_null(aws_shared_files_get(&f, "default", "nothing"));
    assert_null(aws_shared_files_where(&f, "default", "nothing"));
    aws_shared_files_free(&f);

    /* Missing files are empty, not errors. */
    assert_true(aws_shared_files_load(missing, missing, &f, &e));
    assert_false(aws_shared_files_has_profile(&f, "default"));
    aws_shared_files_free(&f);

    /* A parse error names the file and line. */
    const char *bad = write_tmp("bad", "[default]\nnot a setting\n");
    char badpath[512];
    snprintf(badpath, sizeof badpath, "%s", bad);
    assert_false(aws_shared_files_load(badpath, missing, &f, &e));
    assert_int_equal(e.code, ERR_PARSE);
    char want[700];
    snprintf(want, sizeof want, "%s: line 2: expected 'name = value' in section [default]",
             badpath);
    assert_string_equal(e.message, want);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sections_keys_comments),
        cmocka_unit_test(test_nested_and_continuation),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_profile_sections),
        cmocka_unit_test(test_shell_split),
        cmocka_unit_test(test_load_and_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
