/* log: every line is one valid JSON object with the fixed members, levels
 * filter, fields keep their types, context fields repeat, and secrets are
 * redacted by field name and by value shape. Lines are read back from a
 * temporary file and parsed with jansson. */
#include "core/log.h"

#include "core/xmalloc.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An AWS documentation example secret key and a session-token-shaped string. */
#define SECRET_KEY "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SESSION_TOKEN                                                                              \
    "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDl9ZVZ7Ovbp1Mp0q5X8sZrH3pY2fW0u6s7K"    \
    "Lp9YbQ7mAIgRt7c0hV8Qxk3N2pA5jYfU1ZXq8bGkz4W9sTnE6yJ7eUqmwIIe1ABGgw0NTY3ODkwMTIzNDUiDPq7"

typedef struct sink {
    FILE *file;
    int fd;
} sink;

static sink sink_open(void)
{
    sink s;
    s.file = tmpfile();
    assert_non_null(s.file);
    s.fd = fileno(s.file);
    return s;
}

/* Reads everything written so far; caller frees. */
static char *sink_read(sink *s)
{
    long end = lseek(s->fd, 0, SEEK_END);
    assert_true(end >= 0);
    char *buf = xmalloc((size_t)end + 1);
    assert_int_equal(pread(s->fd, buf, (size_t)end, 0), end);
    buf[end] = '\0';
    return buf;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* Parses line number `index` (0-based) as a JSON object. */
static json_t *line_json(const char *text, size_t index)
{
    const char *p = text;
    for (size_t i = 0; i < index; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    size_t len = strcspn(p, "\n");
    assert_int_equal(p[len], '\n');
    json_error_t je;
    json_t *obj = json_loadb(p, len, 0, &je);
    if (obj == NULL)
        fail_msg("line %zu is not JSON (%s): %.*s", index, je.text, (int)len, p);
    assert_true(json_is_object(obj));
    return obj;
}

static const char *str_member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("member '%s' is missing or not a string", key);
    return json_string_value(v);
}

static void test_line_shape(void **state)
{
    (void)state;
    sink s = sink_open();
    logger *l = log_new("escher-test", LOG_LEVEL_DEBUG, s.fd);
    log_info(l, "job leased", LOG_STR("job_id", "j-42"), LOG_INT("attempt", 2),
             LOG_BOOL("retry", true), LOG_INT("big", INT64_C(9007199254740993)),
             LOG_STR("nothing", NULL));
    log_free(l);
    char *text = sink_read(&s);
    assert_int_equal(count_lines(text), 1);
    json_t *obj = line_json(text, 0);
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    assert_int_equal(regexec(&re, str_member(obj, "ts"), 0, NULL, 0), 0);
    regfree(&re);
    assert_string_equal(str_member(obj, "level"), "info");
    assert_string_equal(str_member(obj, "service"), "escher-test");
    assert_string_equal(str_member(obj, "msg"), "job leased");
    assert_string_equal(str_member(obj, "job_id"), "j-42");
    assert_int_equal(json_integer_value(json_object_get(obj, "attempt")), 2);
    assert_true(json_is_true(json_object_get(obj, "retry")));
    assert_int_equal(json_integer_value(json_object_get(obj, "big")), INT64_C(9007199254740993));
    assert_true(json_is_null(json_object_get(obj, "nothing")));
    /* Fixed members first, in this order, so lines read well with plain tools too. */
    assert_non_null(strstr(text, "{\"ts\":\""));
    assert_true(strstr(text, "\"level\"") < strstr(text, "\"service\""));
    assert_true(strstr(text, "\"service\"") < strstr(text, "\"msg\""));
    assert_true(strstr(text, "\"msg\"") < strstr(text, "\"job_id\""));
    json_decref(obj);
    free(text);
    fclose(s.file);
}

static void test_escaping(void **state)
{
    (void)state;
    sink s = sink_open();
    logger *l = log_new("escher-test", LOG_LEVEL_DEBUG, s.fd);
    log_warn(l, "quote \" backslash \\ newline \n tab \t bell \a end",
             LOG_STR("bad utf8", "caf\xc3\xa9 \xff\xfe ok \xe2\x82"),
             LOG_STR("emoji", "\xf0\x9f\x99\x82"), LOG_STR("ke\ny", "v"));
    log_free(l);
    char *text = sink_read(&s);
    assert_int_equal(count_lines(text), 1); /* the newline in msg did not split the line */
    json_t *obj = line_json(text, 0);
    assert_string_equal(str_member(obj, "msg"),
                        "quote \" backslash \\ newline \n tab \t bell \a end");
    assert_string_equal(str_member(obj, "bad utf8"),
                        "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd ok \xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(str_member(obj, "emoji"), "\xf0\x9f\x99\x82");
    assert_string_equal(str_member(obj, "ke\ny"), "v");
    json_decref(obj);
    free(text);
    fclose(s.file);
}

static void test_levels(void **state)
{
    (void)state;
    sink s = sink_open();
    logger *l = log_new("escher-test", LOG_LEVEL_WARN, s.fd);
    assert_false(log_enabled(l, LOG_LEVEL_INFO));
    assert_true(log_enabled(l, LOG_LEVEL_ERROR));
    log_debug(l, "d");
    log_info(l, "i");
    log_warn(l, "w");
    log_error(l, "e");
    log_set_level(l, LOG_LEVEL_DEBUG);
    assert_int_equal(log_get_level(l), LOG_LEVEL_DEBUG);
    log_debug(l, "d2");
    log_free(l);
    char *text = sink_read(&s);
    assert_int_equal(count_lines(text), 3);
    const char *want[][2] = {{"warn", "w"}, {"error", "e"}, {"debug", "d2"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *obj = line_json(text, i);
        assert_string_equal(str_member(obj, "level"), want[i][0]);
        assert_string_equal(str_member(obj, "msg"), want[i][1]);
        json_decref(obj);
    }
    free(text);
    fclose(s.file);

    log_level lv;
    err e;
    assert_true(log_level_parse("WARNING", &lv, &e));
    assert_int_equal(lv, LOG_LEVEL_WARN);
    assert_true(log_level_parse("debug", &lv, &e));
    assert_int_equal(lv, LOG_LEVEL_DEBUG);
    assert_false(log_level_parse("loud", &lv, &e));
    assert_string_equal(e.message, "'loud' is not a log level (debug, info, warn, error)");
    assert_string_equal(log_level_name(LOG_LEVEL_ERROR), "error");
}

static void test_context_fields(void **state)
{
    (void)state;
    sink s = sink_open();
    logger *root = log_new("escher-worker", LOG_LEVEL_INFO, s.fd);
    logger *job = log_child(root, LOG_STR("job_id", "j-7"), LOG_INT("tenant", 3));
    logger *step =
        log_child(job, LOG_STR("step", "ec2.stop"), LOG_STR("session_token", SESSION_TOKEN));
    log_info(root, "root line");
    /* The parent can go first: children keep the shared output alive. */
    log_free(root);
    log_info(job, "job line", LOG_STR("extra", "x"));
    log_info(step, "step line");
    log_set_level(step, LOG_LEVEL_ERROR); /* shared: silences the job logger too */
    log_info(job, "dropped");
    log_free(job);
    log_free(step);
    char *text = sink_read(&s);
    assert_int_equal(count_lines(text), 3);
    json_t *a = line_json(text, 0), *b = line_json(text, 1), *c = line_json(text, 2);
    assert_null(json_object_get(a, "job_id"));
    assert_string_equal(str_member(b, "job_id"), "j-7");
    assert_int_equal(json_integer_value(json_object_get(b, "tenant")), 3);
    assert_string_equal(str_member(b, "extra"), "x");
    assert_null(json_object_get(b, "step"));
    assert_string_equal(str_member(c, "job_id"), "j-7");
    assert_string_equal(str_member(c, "step"), "ec2.stop");
    assert_string_equal(str_member(c, "session_token"), "[REDACTED]");
    assert_string_equal(str_member(c, "service"), "escher-worker");
    assert_null(strstr(text, "IQoJb3JpZ2lu"));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    free(text);
    fclose(s.file);
}

static void test_reserved_keys(void **state)
{
    (void)state;
    sink s = sink_open();
    logger *l = log_new("svc", LOG_LEVEL_INFO, s.fd);
    log_info(l, "real", LOG_STR("level", "error"), LOG_STR("msg", "forged"));
    log_free(l);
    char *text = sink_read(&s);
    json_t *obj = line_json(text, 0);
    assert_string_equal(str_member(obj, "level"), "info");
    assert_string_equal(str_member(obj, "msg"), "real");
    assert_string_equal(str_member(obj, "_level"), "error");
    assert_string_equal(str_member(obj, "_msg"), "forged");
    json_decref(obj);
    free(text);
    fclose(s.file);
}

static void test_redaction_by_name(void **state)
{
    (void)state;
    sink s = sink_open();
    logger *l = log_new("svc", LOG_LEVEL_INFO, s.fd);
    log_info(l, "names", LOG_STR("password", "hunter2"), LOG_STR("DB_PASSWORD", "hunter3"),
             LOG_STR("Authorization", "Bearer abc"), LOG_STR("x-webhook-secret", "whsec"),
             LOG_STR("SecretAccessKey", "k1"), LOG_STR("aws_session_token", "t1"),
             LOG_STR("credentials", "c1"), LOG_STR("private key", "pk"), LOG_INT("token", 12345),
             LOG_BOOL("secret", true), LOG_STR("user", "alice"),
             LOG_STR("access_key_id", "AKIAIOSFODNN7EXAMPLE"));
    log_free(l);
    char *text = sink_read(&s);
    json_t *obj = line_json(text, 0);
    const char *secret_keys[] = {"password",        "DB_PASSWORD",
                                 "Authorization",   "x-webhook-secret",
                                 "SecretAccessKey", "aws_session_token",
                                 "credentials",     "private key",
                                 "token",           "secret"};
    for (size_t i = 0; i < sizeof secret_keys / sizeof secret_keys[0]; i++)
        assert_string_equal(str_member(obj, secret_keys[i]), "[REDACTED]");
    assert_string_equal(str_member(obj, "user"), "alice");
    /* Key ids identify, they do not authenticate: kept for debugging. */
    assert_string_equal(str_member(obj, "access_key_id"), "AKIAIOSFODNN7EXAMPLE");
    const char *leaks[] = {"hunter2", "hunter3", "Bearer", "whsec", "12345",
                           "\"k1\"",  "\"t1\"",  "\"c1\"", "\"pk\""};
    for (size_t i = 0; i < sizeof leaks / sizeof leaks[0]; i++)
        if (strstr(text, leaks[i]))
            fail_msg("'%s' leaked: %s", leaks[i], text);
    json_decref(obj);
    free(text);
    fclose(s.file);
}

static void test_redaction_by_value(void **state)
{
    (void)state;
    sink s = sink_open();
    logger *l = log_new("svc", LOG_LEVEL_INFO, s.fd);
    log_error(l, "loaded key " SECRET_KEY " from env", LOG_STR("note", SECRET_KEY),
              LOG_STR("blob", SESSION_TOKEN), LOG_STR("dsn", "postgresql://escher:pw1@db/escher"),
              LOG_STR("query", "Action=X&X-Amz-Security-Token=abc123&Version=1"),
              LOG_STR("commit", "0123456789abcdef0123456789abcdef01234567"));
    log_free(l);
    char *text = sink_read(&s);
    json_t *obj = line_json(text, 0);
    assert_string_equal(str_member(obj, "msg"), "loaded key [REDACTED] from env");
    assert_string_equal(str_member(obj, "note"), "[REDACTED]");
    assert_string_equal(str_member(obj, "blob"), "[REDACTED]");
    assert_string_equal(str_member(obj, "dsn"), "postgresql://escher:[REDACTED]@db/escher");
    assert_string_equal(str_member(obj, "query"),
                        "Action=X&X-Amz-Security-Token=[REDACTED]&Version=1");
    /* Hex digests are 40 characters too but not secrets. */
    assert_string_equal(str_member(obj, "commit"), "0123456789abcdef0123456789abcdef01234567");
    assert_null(strstr(text, "EXAMPLEKEY"));
    assert_null(strstr(text, "pw1"));
    json_decref(obj);
    free(text);
    fclose(s.file);
}

static void expect_redacted(const char *key, const char *in, const char *out)
{
    char *got = log_redact_value(key, in);
    if (strcmp(got, out) != 0)
        fail_msg("log_redact_value(%s, \"%s\") = \"%s\", want \"%s\"", key ? key : "NULL", in, got,
                 out);
    free(got);
}

static void test_redact_value(void **state)
{
    (void)state;
    assert_null(log_redact_value("x", NULL));
    expect_redacted("password", "anything", "[REDACTED]");
    expect_redacted(NULL, "plain text stays", "plain text stays");
    expect_redacted(NULL, "", "");
    expect_redacted(NULL, SECRET_KEY, "[REDACTED]");
    expect_redacted(NULL, "key=" SECRET_KEY ";", "key=[REDACTED];");
    expect_redacted(NULL, "a " SESSION_TOKEN " b", "a [REDACTED] b");
    expect_redacted(NULL, "tok eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl end",
                    "tok [REDACTED] end");
    expect_redacted(NULL, "redis://:pw@cache:6379/0", "redis://:[REDACTED]@cache:6379/0");
    expect_redacted(NULL, "https://user@host/path", "https://user@host/path");
    expect_redacted(NULL, "https://host/a:b@c", "https://host/a:b@c");
    expect_redacted(NULL, "host=db user=escher password=s3cret dbname=x",
                    "host=db user=escher password=[REDACTED] dbname=x");
    expect_redacted(NULL, "{\"client_secret\": \"abc def\"}",
                    "{\"client_secret\": \"[REDACTED]\"}");
    expect_redacted(NULL, "Authorization: Bearer abc.def\nnext", "Authorization: [REDACTED]\nnext");
    expect_redacted(NULL, "/usr/local/share/escher/templates/default",
                    "/usr/local/share/escher/templates/default");
    expect_redacted(NULL, "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE");
    /* 39 and 41 characters are not secret-key shaped. */
    expect_redacted(NULL, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE");
    expect_redacted(NULL, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYZ",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYZ");

    assert_true(log_key_is_secret("WEBHOOK_SECRET"));
    assert_true(log_key_is_secret("aws-secret-access-key"));
    assert_true(log_key_is_secret("Private-Key"));
    assert_true(log_key_is_secret("X-Api-Key"));
    assert_false(log_key_is_secret("job_id"));
    assert_false(log_key_is_secret("region"));
    assert_false(log_key_is_secret(NULL));
}

static void test_default_is_stderr(void **state)
{
    (void)state;
    sink s = sink_open();
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(s.fd, STDERR_FILENO), STDERR_FILENO);
    logger *l = log_new("svc", LOG_LEVEL_INFO, -1);
    log_info(l, "to stderr");
    log_free(l);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *text = sink_read(&s);
    json_t *obj = line_json(text, 0);
    assert_string_equal(str_member(obj, "msg"), "to stderr");
    json_decref(obj);
    free(text);
    fclose(s.file);
}

typedef struct thread_arg {
    logger *l;
    int id;
} thread_arg;

#define THREADS          4
#define LINES_PER_THREAD 400

static void *writer(void *p)
{
    thread_arg *a = p;
    char pad[600];
    memset(pad, 'a' + a->id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    logger *mine = log_child(a->l, LOG_INT("thread", a->id));
    for (int i = 0; i < LINES_PER_THREAD; i++)
        log_info(mine, "concurrent", LOG_INT("i", i), LOG_STR("pad", pad));
    log_free(mine);
    return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
    (void)state;
    sink s = sink_open();
    logger *l = log_new("svc", LOG_LEVEL_INFO, s.fd);
    pthread_t t[THREADS];
    thread_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (thread_arg){l, i};
        assert_int_equal(pthread_create(&t[i], NULL, writer, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    log_free(l);
    char *text = sink_read(&s);
    assert_int_equal(count_lines(text), THREADS * LINES_PER_THREAD);
    int next[THREADS] = {0};
    const char *p = text;
    for (size_t n = 0; n < THREADS * LINES_PER_THREAD; n++) {
        size_t len = strcspn(p, "\n");
        json_error_t je;
        json_t *obj = json_loadb(p, len, 0, &je);
        if (obj == NULL)
            fail_msg("line %zu is not JSON: %s", n, je.text);
        int id = (int)json_integer_value(json_object_get(obj, "thread"));
        assert_true(id >= 0 && id < THREADS);
        /* Each thread's lines arrive whole and in its own order. */
        assert_int_equal(json_integer_value(json_object_get(obj, "i")), next[id]++);
        assert_int_equal(strlen(str_member(obj, "pad")), 599);
        json_decref(obj);
        p += len + 1;
    }
    free(text);
    fclose(s.file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_shape),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_context_fields),
        cmocka_unit_test(test_reserved_keys),
        cmocka_unit_test(test_redaction_by_name),
        cmocka_unit_test(test_redaction_by_value),
        cmocka_unit_test(test_redact_value),
        cmocka_unit_test(test_default_is_stderr),
        cmocka_unit_test(test_threads_do_not_interleave),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
