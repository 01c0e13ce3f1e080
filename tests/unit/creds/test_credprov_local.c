/* Providers that need no network: environment, static profiles in the
 * shared files, credential_process, the role_arn configuration checks,
 * refreshing, and the chain's "nothing found" report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/credprov.h"
#include "core/strbuf.h"
#include "creds_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    scratch *s = calloc(1, sizeof *s);
    scratch_init(s);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    scratch_free(*state);
    free(*state);
    return 0;
}

/* Runs the default chain once; returns the credentials or NULL with *e set. */
static aws_creds *chain_get(scratch *s, err *e)
{
    err_clear(e);
    credprov *p = credprov_default_chain(&s->opts, e);
    assert_non_null(p);
    aws_creds *c = NULL;
    bool ok = credprov_get(p, &c, e);
    credprov_free(p);
    assert_true(ok == (c != NULL));
    return c;
}

static aws_creds *chain_ok(scratch *s)
{
    err e;
    aws_creds *c = chain_get(s, &e);
    if (c == NULL)
        fail_msg("expected credentials, got: %s", e.message);
    return c;
}

static void chain_fails(scratch *s, err_code code, const char *expect_substr)
{
    err e;
    aws_creds *c = chain_get(s, &e);
    if (c != NULL)
        fail_msg("expected an error containing \"%s\", got credentials from %s", expect_substr,
                 c->source);
    if (e.code != code || strstr(e.message, expect_substr) == NULL)
        fail_msg("expected %s error containing \"%s\", got %s: %s", err_code_name(code),
                 expect_substr, err_code_name(e.code), e.message);
}

static void assert_creds(const aws_creds *c, const char *id, const char *secret, const char *token)
{
    assert_string_equal(c->access_key_id, id);
    assert_string_equal(c->secret_access_key, secret);
    if (token)
        assert_string_equal(c->session_token, token);
    else
        assert_null(c->session_token);
}

/* ---- static and environment ---- */

static void test_static(void **state)
{
    (void)state;
    aws_creds *src = creds_new("AKIDSTATIC", "SECRET", "TOK", 0, NULL);
    credprov *p = credprov_static(src);
    creds_free(src); /* the provider keeps its own copy */
    aws_creds *c = NULL;
    err e;
    assert_true(credprov_get(p, &c, &e));
    assert_creds(c, "AKIDSTATIC", "SECRET", "TOK");
    assert_string_equal(c->source, "static");
    assert_string_equal(credprov_name(p), "static");
    creds_free(c);
    credprov_free(p);
    credprov_free(NULL);
}

static void test_env(void **state)
{
    scratch *s = *state;
    fake_env_set(&s->env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    fake_env_set(&s->env, "AWS_SECRET_ACCESS_KEY", "envsecret");
    fake_env_set(&s->env, "AWS_SESSION_TOKEN", "envtoken");
    /* The environment comes before the files. */
    scratch_write(s, ".aws/credentials",
                  "[default]\naws_access_key_id = AKIDFILE\n"
                  "aws_secret_access_key = filesecret\n");
    aws_creds *c = chain_ok(s);
    assert_creds(c, "AKIDENV", "envsecret", "envtoken");
    assert_string_equal(c->source, "environment");
    assert_int_equal(c->expiration, 0);
    creds_free(c);

    /* botocore looks at the legacy AWS_SECURITY_TOKEN first. */
    fake_env_set(&s->env, "AWS_SECURITY_TOKEN", "legacytoken");
    c = chain_ok(s);
    assert_creds(c, "AKIDENV", "envsecret", "legacytoken");
    creds_free(c);

    fake_env_set(&s->env, "AWS_CREDENTIAL_EXPIRATION", "2023-11-14T23:00:00Z");
    c = chain_ok(s);
    assert_int_equal(c->expiration, 1700002800);
    creds_free(c);

    fake_env_set(&s->env, "AWS_CREDENTIAL_EXPIRATION", "tomorrow");
    chain_fails(s, ERR_PARSE, "environment: AWS_CREDENTIAL_EXPIRATION: ");

    /* A named profile in options skips the environment (botocore's explicit profile). */
    fake_env_unset(&s->env, "AWS_CREDENTIAL_EXPIRATION");
    s->opts.profile = "default";
    c = chain_ok(s);
    assert_creds(c, "AKIDFILE", "filesecret", NULL);
    creds_free(c);
}

static void test_env_partial(void **state)
{
    scratch *s = *state;
    fake_env_set(&s->env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    chain_fails(s, ERR_CONFIG,
                "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    fake_env_unset(&s->env, "AWS_ACCESS_KEY_ID");
    fake_env_set(&s->env, "AWS_SECRET_ACCESS_KEY", "sekrit-value");
    err e;
    aws_creds *c = chain_get(s, &e);
    assert_null(c);
    assert_int_equal(e.code, ERR_CONFIG);
    assert_string_equal(e.message,
                        "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    /* Empty counts as unset, like botocore. */
    fake_env_set(&s->env, "AWS_SECRET_ACCESS_KEY", "");
    chain_fails(s, ERR_NO_CREDENTIALS, "environment (AWS_ACCESS_KEY_ID not set)");
}

/* ---- shared files ---- */

static void test_profiles(void **state)
{
    scratch *s = *state;
    scratch_write(s, ".aws/credentials",
                  "# comment\n[default]\naws_access_key_id = AKIDDEF\n"
                  "aws_secret_access_key = defsecret\n\n"
                  "[dev]\n  aws_access_key_id=AKIDDEV  \naws_secret_access_key=devsecret\n"
                  "aws_session_token = devtoken\n"
                  "[both]\naws_access_key_id = AKIDCREDFILE\naws_secret_access_key = s1\n");
    scratch_write(s, ".aws/config",
                  "[default]\nregion = us-east-1\n"
                  "[profile cfg]\n; comment\naws_access_key_id = AKIDCFG\n"
                  "aws_secret_access_key = cfgsecret\naws_security_token = cfgtoken\n"
                  "s3 =\n  addressing_style = path\n"
                  "[profile both]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = s2\n");
    aws_creds *c = chain_ok(s);
    assert_creds(c, "AKIDDEF", "defsecret", NULL);
    assert_string_equal(c->source, "shared credentials file");
    creds_free(c);

    fake_env_set(&s->env, "AWS_PROFILE", "dev");
    c = chain_ok(s);
    assert_creds(c, "AKIDDEV", "devsecret", "devtoken");
    creds_free(c);

    /* botocore reads AWS_DEFAULT_PROFILE before AWS_PROFILE. */
    fake_env_set(&s->env, "AWS_DEFAULT_PROFILE", "cfg");
    c = chain_ok(s);
    assert_creds(c, "AKIDCFG", "cfgsecret", "cfgtoken");
    assert_string_equal(c->source, "config file");
    creds_free(c);

    /* The credentials file comes before the config file. */
    s->opts.profile = "both";
    c = chain_ok(s);
    assert_creds(c, "AKIDCREDFILE", "s1", NULL);
    creds_free(c);
}

static void test_file_locations_from_env(void **state)
{
    scratch *s = *state;
    const char *p = scratch_write(s, "mycreds",
                                  "[default]\naws_access_key_id = AKIDALT\n"
                                  "aws_secret_access_key = alt\n");
    fake_env_set(&s->env, "AWS_SHARED_CREDENTIALS_FILE", p);
    p = scratch_write(s, "myconfig",
                      "[profile x]\naws_access_key_id = AKIDX\n"
                      "aws_secret_access_key = xs\n");
    fake_env_set(&s->env, "AWS_CONFIG_FILE", p);
    aws_creds *c = chain_ok(s);
    assert_creds(c, "AKIDALT", "alt", NULL);
    creds_free(c);
    fake_env_set(&s->env, "AWS_PROFILE", "x");
    c = chain_ok(s);
    assert_creds(c, "AKIDX", "xs", NULL);
    creds_free(c);
    /* "~/" expands with HOME. */
    scratch_write(s, "tilde",
                  "[default]\naws_access_key_id = AKIDTILDE\n"
                  "aws_secret_access_key = t\n");
    fake_env_set(&s->env, "AWS_SHARED_CREDENTIALS_FILE", "~/tilde");
    fake_env_unset(&s->env, "AWS_PROFILE");
    c = chain_ok(s);
    assert_creds(c, "AKIDTILDE", "t", NULL);
    creds_free(c);
}

static void test_named_profile_missing(void **state)
{
    scratch *s = *state;
    scratch_write(s, ".aws/config", "[profile other]\nregion = x\n");
    fake_env_set(&s->env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    fake_env_set(&s->env, "AWS_SECRET_ACCESS_KEY", "envsecret");
    fake_env_set(&s->env, "AWS_PROFILE", "nosuch");
    char want[1024];
    snprintf(want, sizeof want, "profile 'nosuch' not found in %s/credentials or %s/config", s->aws,
             s->aws);
    err e;
    assert_null(chain_get(s, &e));
    assert_int_equal(e.code, ERR_CONFIG);
    assert_string_equal(e.message, want);
    /* [other] in the config file is not "profile other". */
    fake_env_set(&s->env, "AWS_PROFILE", "other");
    aws_creds *c = chain_ok(s); /* exists: the environment answers */
    creds_free(c);
    s->opts.profile = "nosuch";
    assert_null(chain_get(s, &e));
    assert_string_equal(e.message, want);
}

static void test_partial_and_parse_errors(void **state)
{
    scratch *s = *state;
    scratch_write(s, ".aws/credentials", "[default]\naws_access_key_id = AKIDONLY\n");
    char want[1024];
    snprintf(want, sizeof want,
             "profile 'default' in %s/credentials has aws_access_key_id but no "
             "aws_secret_access_key",
             s->aws);
    err e;
    assert_null(chain_get(s, &e));
    assert_int_equal(e.code, ERR_CONFIG);
    assert_string_equal(e.message, want);

    scratch_write(s, ".aws/credentials",
                  "[default]\naws_secret_access_key = TOPSECRET\n"
                  "aws_secret_access_key = TOPSECRET2\n");
    assert_null(chain_get(s, &e));
    assert_int_equal(e.code, ERR_PARSE);
    snprintf(want, sizeof want,
             "shared AWS config files: %s/credentials: line 3: 'aws_secret_access_key' set "
             "twice in section [default]",
             s->aws);
    assert_string_equal(e.message, want);
    assert_null(strstr(e.message, "TOPSECRET"));
}

/* ---- nothing found ---- */

static void test_nothing_found(void **state)
{
    scratch *s = *state;
    const char *imds = closed_port_url();
    fake_env_set(&s->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", imds);
    err e;
    assert_null(chain_get(s, &e));
    assert_int_equal(e.code, ERR_NO_CREDENTIALS);
    char want[1024];
    snprintf(want, sizeof want,
             "no AWS credentials found; tried: environment (AWS_ACCESS_KEY_ID not set), shared "
             "files (profile 'default' not found in %s/credentials or %s/config), web identity "
             "(AWS_WEB_IDENTITY_TOKEN_FILE not set), container (AWS_CONTAINER_CREDENTIALS_* not "
             "set), instance metadata (%s: ",
             s->aws, s->aws, imds);
    if (strncmp(e.message, want, strlen(want)) != 0)
        fail_msg("got: %s\nwant prefix: %s", e.message, want);
    assert_non_null(strstr(e.message, "onnect")); /* curl: "Couldn't connect" / refused */
    assert_int_equal(e.message[strlen(e.message) - 1], ')');

    /* A profile without credentials says so; IMDS disabled says so. */
    scratch_write(s, ".aws/config", "[default]\nregion = eu-west-1\n");
    fake_env_set(&s->env, "AWS_EC2_METADATA_DISABLED", "TRUE");
    assert_null(chain_get(s, &e));
    snprintf(want, sizeof want,
             "no AWS credentials found; tried: environment (AWS_ACCESS_KEY_ID not set), shared "
             "files (profile 'default' has no credentials in %s/credentials or %s/config), web "
             "identity (AWS_WEB_IDENTITY_TOKEN_FILE not set), container "
             "(AWS_CONTAINER_CREDENTIALS_* not set), instance metadata (disabled by "
             "AWS_EC2_METADATA_DISABLED)",
             s->aws, s->aws);
    assert_string_equal(e.message, want);
}

/* ---- credential_process ---- */

static void set_process(scratch *s, const char *profile_section, const char *command)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "[%s]\ncredential_process = %s\n", profile_section, command);
    scratch_write(s, ".aws/config", cfg);
}

static void test_process(void **state)
{
    scratch *s = *state;
    char cmd[1024];
    /* The script echoes its arguments so the test sees the shlex split. */
    const char *script = scratch_write_exec(
        s, "proc.sh",
        "#!/bin/sh\n"
        "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": "
        "\"%s|%s|%s\", \"SessionToken\": \"ptok\", \"Expiration\": "
        "\"2030-01-01T00:00:00Z\"}' \"$1\" \"$2\" \"$#\"\n");
    /* No shell: $HOME stays literal. */
    snprintf(cmd, sizeof cmd, "%s 'one arg' \"two $HOME\"", script);
    set_process(s, "default", cmd);
    aws_creds *c = chain_ok(s);
    assert_creds(c, "AKIDPROC", "one arg|two $HOME|2", "ptok");
    assert_int_equal(c->expiration, 1893456000);
    assert_string_equal(c->source, "credential_process");
    creds_free(c);

    /* Without Expiration and token. */
    script = scratch_write_exec(s, "proc2.sh",
                                "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKID2\", "
                                "\"SecretAccessKey\": \"s2\"}'\n");
    set_process(s, "profile p2", script);
    s->opts.profile = "p2";
    c = chain_ok(s);
    assert_creds(c, "AKID2", "s2", NULL);
    assert_int_equal(c->expiration, 0);
    creds_free(c);

    /* Shared credentials file static keys come before credential_process. */
    scratch_write(s, ".aws/credentials",
                  "[p2]\naws_access_key_id = AKIDSTATIC\n"
                  "aws_secret_access_key = st\n");
    c = chain_ok(s);
    assert_creds(c, "AKIDSTATIC", "st", NULL);
    creds_free(c);
}

static void test_process_errors(void **state)
{
    scratch *s = *state;
    char script_path[600];
    snprintf(script_path, sizeof script_path, "%s",
             scratch_write_exec(s, "fail.sh",
                                "#!/bin/sh\necho 'token expired, run login' >&2\nexit 3\n"));
    set_process(s, "default", script_path);
    const char *script = script_path;
    char want[1024];
    snprintf(want, sizeof want,
             "credential_process of profile 'default' ('%s') exited with status 3: token "
             "expired, run login",
             script);
    err e;
    assert_null(chain_get(s, &e));
    assert_string_equal(e.message, want);

    script = scratch_write_exec(s, "v2.sh", "#!/bin/sh\necho '{\"Version\": 2}'\n");
    set_process(s, "default", script);
    chain_fails(s, ERR_PARSE,
                "credential_process of profile 'default': unsupported version '2' for credential "
                "process provider, supported versions: 1");

    script = scratch_write_exec(s, "nov.sh", "#!/bin/sh\necho '{\"AccessKeyId\": \"A\"}'\n");
    set_process(s, "default", script);
    chain_fails(s, ERR_PARSE, "unsupported version '<Version key not provided>'");

    script = scratch_write_exec(s, "nosecret.sh",
                                "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"A\"}'\n");
    set_process(s, "default", script);
    chain_fails(s, ERR_PARSE,
                "credential_process of profile 'default': missing required key in response: "
                "'SecretAccessKey'");

    /* Invalid JSON is reported by position only: the text might be a secret. */
    script = scratch_write_exec(s, "bad.sh", "#!/bin/sh\necho 'SUPERSECRET-not-json'\n");
    set_process(s, "default", script);
    assert_null(chain_get(s, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "output is not valid JSON (line 1"));
    assert_null(strstr(e.message, "SUPERSECRET"));

    script = scratch_write_exec(
        s, "badexp.sh",
        "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", "
        "\"Expiration\": \"soon\"}'\n");
    set_process(s, "default", script);
    chain_fails(s, ERR_PARSE, "credential_process of profile 'default': Expiration: ");

    set_process(s, "default", "/nonexistent/escher-helper --flag");
    chain_fails(s, ERR_IO,
                "credential_process of profile 'default': cannot run '/nonexistent/escher-helper'");

    set_process(s, "default", "tool 'unclosed");
    chain_fails(s, ERR_PARSE, "credential_process of profile 'default': no closing quotation");

    /* Killed by a signal. */
    script = scratch_write_exec(s, "kill.sh", "#!/bin/sh\nkill -9 $$\n");
    set_process(s, "default", script);
    chain_fails(s, ERR_AUTH, "was killed by signal 9");
}

/* ---- refreshing ---- */

/* credential_process whose key counts the runs and that fails while
 * <dir>/fail exists; its credentials expire at 1700003600 (T0 + 1 h). */
static void write_counting_process(scratch *s)
{
    char script[2048];
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "d='%s'\n"
             "if [ -e \"$d/fail\" ]; then echo 'refresh broken' >&2; exit 1; fi\n"
             "n=$(cat \"$d/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$d/count\"\n"
             "echo \"{\\\"Version\\\": 1, \\\"AccessKeyId\\\": \\\"AKID$n\\\", "
             "\\\"SecretAccessKey\\\": \\\"s\\\", \\\"Expiration\\\": "
             "\\\"$(cat \"$d/exp\")\\\"}\"\n",
             s->dir);
    const char *p = scratch_write_exec(s, "count.sh", script);
    set_process(s, "default", p);
    scratch_write(s, "exp", "2023-11-14T23:13:20Z\n"); /* 1700003600 */
}

static void expect_key(credprov *p, const char *id)
{
    aws_creds *c = NULL;
    err e;
    if (!credprov_get(p, &c, &e))
        fail_msg("expected %s, got error: %s", id, e.message);
    assert_string_equal(c->access_key_id, id);
    creds_free(c);
}

static void test_refresh_margins(void **state)
{
    scratch *s = *state;
    write_counting_process(s);
    err e;
    credprov *p = credprov_default_chain(&s->opts, &e);
    assert_non_null(p);
    assert_string_equal(credprov_name(p), "default chain");
    const time_t exp = 1700003600;

    expect_key(p, "AKID1");
    assert_string_equal(credprov_name(p), "credential_process");
    s->clock.now = exp - 16 * 60; /* outside both margins: cached */
    expect_key(p, "AKID1");
    s->clock.now = exp - 14 * 60; /* advisory: refreshes */
    expect_key(p, "AKID2");
    scratch_write(s, "fail", "");
    s->clock.now = exp - 11 * 60; /* advisory refresh fails: keep the valid ones */
    expect_key(p, "AKID2");
    s->clock.now = exp - 9 * 60; /* mandatory refresh fails: error */
    aws_creds *c = NULL;
    assert_false(credprov_get(p, &c, &e));
    assert_null(c);
    assert_non_null(strstr(e.message, "exited with status 1: refresh broken"));
    /* Working again, with a later expiry. */
    char rm[600];
    snprintf(rm, sizeof rm, "%s/fail", s->dir);
    remove(rm);
    scratch_write(s, "exp", "2023-11-15T00:13:20Z\n");
    expect_key(p, "AKID3");
    s->clock.now = exp + 30 * 60; /* new expiry is exp + 1 h: cached */
    expect_key(p, "AKID3");

    /* A refresh that yields already-expired credentials is an error. */
    s->clock.now = exp + 2 * 3600;
    assert_false(credprov_get(p, &c, &e));
    assert_int_equal(e.code, ERR_AUTH);
    assert_non_null(strstr(e.message, "already expired (2023-11-15T00:13:20Z)"));
    credprov_free(p);
}

static void test_env_refresh(void **state)
{
    scratch *s = *state;
    fake_env_set(&s->env, "AWS_ACCESS_KEY_ID", "AKIDA");
    fake_env_set(&s->env, "AWS_SECRET_ACCESS_KEY", "sa");
    fake_env_set(&s->env, "AWS_CREDENTIAL_EXPIRATION", "2023-11-14T23:13:20Z");
    err e;
    credprov *p = credprov_default_chain(&s->opts, &e);
    expect_key(p, "AKIDA");
    /* Inside the advisory window the environment is read again. */
    fake_env_set(&s->env, "AWS_ACCESS_KEY_ID", "AKIDB");
    fake_env_set(&s->env, "AWS_CREDENTIAL_EXPIRATION", "2023-11-15T23:13:20Z");
    s->clock.now = 1700003600 - 30 * 60;
    expect_key(p, "AKIDA");
    s->clock.now = 1700003600 - 12 * 60;
    expect_key(p, "AKIDB");
    credprov_free(p);
}

/* ---- role_arn configuration checks (before any STS call) ---- */

static void role_fails(scratch *s, const char *config, err_code code, const char *msg)
{
    scratch_write(s, ".aws/config", config);
    err e;
    assert_null(chain_get(s, &e));
    if (e.code != code || strcmp(e.message, msg) != 0)
        fail_msg("got %s: %s\nwant %s: %s", err_code_name(e.code), e.message, err_code_name(code),
                 msg);
}

static void test_role_config_errors(void **state)
{
    scratch *s = *state;
    const char *arn = "role_arn = arn:aws:iam::123456789012:role/r\n";
    char cfg[2048];

    snprintf(cfg, sizeof cfg,
             "[default]\n%smfa_serial = arn:aws:iam::123456789012:mfa/me\n"
             "source_profile = base\n[profile base]\naws_access_key_id = A\n"
             "aws_secret_access_key = S\n",
             arn);
    role_fails(s, cfg, ERR_CONFIG,
               "profile 'default' sets mfa_serial 'arn:aws:iam::123456789012:mfa/me': roles that "
               "need an MFA token code are not supported (there is no way to prompt for one); "
               "use credentials from a session that already passed MFA");

    snprintf(cfg, sizeof cfg,
             "[default]\n%ssource_profile = base\ncredential_source = "
             "Environment\n",
             arn);
    role_fails(s, cfg, ERR_CONFIG,
               "profile 'default' contains both source_profile and credential_source");

    snprintf(cfg, sizeof cfg, "[default]\n%s", arn);
    role_fails(s, cfg, ERR_CONFIG,
               "profile 'default' sets role_arn but neither source_profile nor credential_source");

    snprintf(cfg, sizeof cfg, "[default]\n%ssource_profile = ghost\n", arn);
    role_fails(s, cfg, ERR_CONFIG,
               "source_profile 'ghost' referenced in profile 'default' does not exist");

    snprintf(cfg, sizeof cfg,
             "[default]\n%ssource_profile = a\n[profile a]\n%ssource_profile = b\n"
             "[profile b]\n%ssource_profile = a\n",
             arn, arn, arn);
    role_fails(s, cfg, ERR_CONFIG,
               "infinite loop in source_profile chain: profile 'a' was already visited "
               "(visited: 'default', 'a', 'b')");

    /* A profile naming itself without static keys is a loop too. */
    snprintf(cfg, sizeof cfg, "[default]\n%ssource_profile = default\n", arn);
    role_fails(s, cfg, ERR_CONFIG,
               "infinite loop in source_profile chain: profile 'default' was already visited "
               "(visited: 'default')");

    /* A chain of 20 distinct profiles hits the depth limit. */
    strbuf sb = STRBUF_INIT;
    strbuf_printf(&sb, "[default]\n%ssource_profile = p1\n", arn);
    for (int i = 1; i < 20; i++)
        strbuf_printf(&sb, "[profile p%d]\n%ssource_profile = p%d\n", i, arn, i + 1);
    strbuf_printf(&sb, "[profile p20]\naws_access_key_id = A\naws_secret_access_key = S\n");
    scratch_write(s, ".aws/config", strbuf_str(&sb));
    strbuf_free(&sb);
    chain_fails(s, ERR_LIMIT,
                "source_profile chain longer than 16 profiles (visited: 'default', "
                "'p1', ");

    snprintf(cfg, sizeof cfg, "[default]\n%scredential_source = Ec2Config\n", arn);
    role_fails(s, cfg, ERR_CONFIG,
               "profile 'default': credential_source 'Ec2Config' is not valid (use Environment, "
               "Ec2InstanceMetadata or EcsContainer)");

    snprintf(cfg, sizeof cfg, "[default]\n%scredential_source = environment\n", arn);
    role_fails(s, cfg, ERR_NO_CREDENTIALS,
               "profile 'default': no credentials found in credential_source 'environment' "
               "(AWS_ACCESS_KEY_ID not set)");

    snprintf(cfg, sizeof cfg,
             "[default]\n%ssource_profile = empty\nduration_seconds = 1h\n"
             "[profile empty]\nregion = x\n",
             arn);
    role_fails(s, cfg, ERR_CONFIG,
               "profile 'default': duration_seconds '1h' is not a number of seconds "
               "(900..43200)");

    snprintf(cfg, sizeof cfg,
             "[default]\n%ssource_profile = empty\n[profile empty]\n"
             "region = x\n",
             arn);
    role_fails(s, cfg, ERR_CONFIG,
               "source profile 'empty' (of profile 'default') has no credentials");

    /* Web identity needs a role ARN. */
    scratch_write(s, ".aws/config", "[default]\nregion = x\n");
    fake_env_set(&s->env, "AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token");
    chain_fails(s, ERR_CONFIG,
                "web identity: AWS_WEB_IDENTITY_TOKEN_FILE sets the token file '/var/run/token' "
                "but no role ARN; set role_arn in the profile or AWS_ROLE_ARN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static),
        cmocka_unit_test_setup_teardown(test_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_locations_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_profile_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_and_parse_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_margins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_config_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
