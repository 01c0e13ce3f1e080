/* Shared rate limits against the private test Redis (ESCHER_TEST_REDIS_URL),
 * plus the fallback to local buckets against a port nothing listens on and a
 * redis-server this test starts there itself to show recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "ratelimit/ratelimit.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned run_id;

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The test Redis URL, or skips the test saying why: never pass silently. */
static const char *redis_url_or_skip(void)
{
    const char *url = getenv("ESCHER_TEST_REDIS_URL");
    if (!url || !*url) {
        print_message("ESCHER_TEST_REDIS_URL is unset: skipping (run through tests/run.sh)\n");
        skip();
    }
    return url;
}

/* A key prefix no other run or test shares. */
static char *prefix_for(const char *test)
{
    return xasprintf("escher-test:%d:%u:%s:", (int)getpid(), run_id, test);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A direct connection to the test Redis for inspecting and poking it. */
static redisContext *direct_connect(const char *url)
{
    char host[256];
    int port = 6379;
    assert_true(sscanf(url, "redis://%255[^:/]:%d", host, &port) >= 1);
    redisContext *c = redisConnect(host, port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

/* Counts lines of the log file containing needle. */
static int count_in_log(int fd, const char *needle)
{
    char buf[65536];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    int count = 0;
    for (const char *p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        count++;
    return count;
}

static void test_arguments(void **state)
{
    (void)state;
    err e;
    const char *bad[] = {"http://localhost", "redis://",     "redis://h:0",    "redis://h:99999",
                         "redis://h:x",      "redis://h/db", "redis://u:pw@h", "redis://[::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&e);
        assert_null(ratelimit_new(bad[i], "p:", NULL, NULL, &e));
        assert_int_equal(e.code, ERR_CONFIG);
        assert_non_null(strstr(e.message, bad[i]));
    }
    ratelimit_limits l;
    ratelimit_limits_default(&l);
    assert_true(l.rates[RATELIMIT_DESCRIBE].burst == 100 &&
                l.rates[RATELIMIT_DESCRIBE].per_sec == 20);
    assert_true(l.rates[RATELIMIT_MUTATE].burst == 50 && l.rates[RATELIMIT_MUTATE].per_sec == 5);
    l.rates[RATELIMIT_MUTATE].per_sec = 0;
    assert_null(ratelimit_new("redis://127.0.0.1:1", "p:", &l, NULL, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "mutate"));

    ratelimit_class c;
    assert_true(ratelimit_class_parse("mutate", &c, &e));
    assert_int_equal(c, RATELIMIT_MUTATE);
    assert_false(ratelimit_class_parse("write", &c, &e));
    assert_non_null(strstr(e.message, "'write'"));
    assert_string_equal(ratelimit_class_name(RATELIMIT_DESCRIBE), "describe");

    /* Argument errors are ERR_INVALID with wait -1, whatever Redis does. */
    ratelimit_limits_default(&l);
    l.connect_timeout_ms = 50;
    ratelimit *rl = ratelimit_new("redis://127.0.0.1:1/3", "p:", &l, NULL, &e);
    assert_non_null(rl);
    int64_t w = 0;
    assert_false(ratelimit_take(rl, "111122223333", "us-east-1", RATELIMIT_MUTATE, 51, &w, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_int_equal(w, -1);
    assert_false(ratelimit_take(rl, "111122223333", "us-east-1", RATELIMIT_MUTATE, 0, &w, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_false(ratelimit_take(rl, "", "us-east-1", RATELIMIT_MUTATE, 1, &w, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_false(ratelimit_take(rl, "1", "us-east-1", (ratelimit_class)7, 1, &w, &e));
    assert_int_equal(e.code, ERR_INVALID);
    ratelimit_free(rl);
}

static void test_burst_then_refusal(void **state)
{
    (void)state;
    const char *url = redis_url_or_skip();
    char *prefix = prefix_for("burst");
    err e;
    ratelimit *rl = ratelimit_new(url, prefix, NULL, NULL, &e);
    assert_non_null(rl);
    char reason[256];
    assert_false(ratelimit_degraded(rl, reason, sizeof reason));
    assert_string_equal(reason, "");
    int64_t w = -5;
    for (int i = 0; i < 100; i++) {
        assert_true(ratelimit_take(rl, "111122223333", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
        assert_int_equal(w, 0);
    }
    assert_false(ratelimit_take(rl, "111122223333", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_int_equal(e.code, ERR_LIMIT);
    /* One token at 20 per second is at most 50 ms away. */
    assert_true(w >= 1 && w <= 50);
    assert_non_null(strstr(e.message, "retry in"));
    sleep_ms(w + 5);
    assert_true(ratelimit_take(rl, "111122223333", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    /* Asking for more waits proportionally longer: 10 tokens at 20/s ~ 500 ms. */
    assert_false(ratelimit_take(rl, "111122223333", "us-east-1", RATELIMIT_DESCRIBE, 10, &w, &e));
    assert_true(w > 400 && w <= 500);
    assert_false(ratelimit_degraded(rl, NULL, 0));
    ratelimit_free(rl);
    free(prefix);
}

static void test_refill(void **state)
{
    (void)state;
    const char *url = redis_url_or_skip();
    char *prefix = prefix_for("refill");
    ratelimit_limits l;
    ratelimit_limits_default(&l);
    l.rates[RATELIMIT_DESCRIBE] = (ratelimit_rate){.burst = 10, .per_sec = 10};
    err e;
    ratelimit *rl = ratelimit_new(url, prefix, &l, NULL, &e);
    assert_non_null(rl);
    int64_t w;
    assert_true(ratelimit_take(rl, "a", "eu-west-1", RATELIMIT_DESCRIBE, 10, &w, &e));
    assert_false(ratelimit_take(rl, "a", "eu-west-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    sleep_ms(300);
    int admitted = 0;
    while (ratelimit_take(rl, "a", "eu-west-1", RATELIMIT_DESCRIBE, 1, &w, &e))
        admitted++;
    /* 300 ms at 10/s is 3 tokens; a loaded machine oversleeps a little. */
    assert_true(admitted >= 3 && admitted <= 5);
    /* Refill stops at burst. */
    sleep_ms(1500);
    admitted = 0;
    while (ratelimit_take(rl, "a", "eu-west-1", RATELIMIT_DESCRIBE, 1, &w, &e))
        admitted++;
    assert_int_equal(admitted, 10);
    assert_false(ratelimit_degraded(rl, NULL, 0));
    ratelimit_free(rl);
    free(prefix);
}

static void test_separate_buckets(void **state)
{
    (void)state;
    const char *url = redis_url_or_skip();
    char *prefix = prefix_for("separate");
    ratelimit_limits l;
    ratelimit_limits_default(&l);
    l.rates[RATELIMIT_DESCRIBE] = (ratelimit_rate){.burst = 3, .per_sec = 0.01};
    l.rates[RATELIMIT_MUTATE] = (ratelimit_rate){.burst = 3, .per_sec = 0.01};
    err e;
    ratelimit *rl = ratelimit_new(url, prefix, &l, NULL, &e);
    assert_non_null(rl);
    int64_t w;
    assert_true(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_DESCRIBE, 3, &w, &e));
    assert_false(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_true(w > 90000); /* 0.01/s: about 100 s for one token */
    assert_true(ratelimit_take(rl, "A", "us-west-2", RATELIMIT_DESCRIBE, 3, &w, &e));
    assert_true(ratelimit_take(rl, "B", "us-east-1", RATELIMIT_DESCRIBE, 3, &w, &e));
    assert_true(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_MUTATE, 3, &w, &e));
    assert_false(ratelimit_take(rl, "A", "us-west-2", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_false(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_MUTATE, 1, &w, &e));

    /* The buckets live in Redis: a second limiter (another worker) sees them. */
    ratelimit *rl2 = ratelimit_new(url, prefix, &l, NULL, &e);
    assert_non_null(rl2);
    assert_false(ratelimit_take(rl2, "B", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_true(ratelimit_take(rl2, "B", "us-east-1", RATELIMIT_MUTATE, 1, &w, &e));
    /* Keys expire once idle long enough to be full: burst/rate + 1 s. */
    redisContext *c = direct_connect(url);
    redisReply *r = redisCommand(c, "PTTL %srl:A:us-east-1:mutate", prefix);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer > 290000 && r->integer <= 301000);
    freeReplyObject(r);
    redisFree(c);
    ratelimit_free(rl2);
    ratelimit_free(rl);
    free(prefix);
}

enum { HAMMER_PROCS = 4, HAMMER_MS = 2000 };

static void hammer_child(const char *url, const char *prefix, const ratelimit_limits *l,
                         uint64_t start, int out_fd)
{
    err e;
    ratelimit *rl = ratelimit_new(url, prefix, l, NULL, &e);
    long result[2] = {-1, 1};
    if (rl) {
        long admitted = 0;
        while (timeutil_mono_ms() < start + HAMMER_MS) {
            int64_t w;
            if (ratelimit_take(rl, "999988887777", "ap-south-1", RATELIMIT_MUTATE, 1, &w, &e))
                admitted++;
            else
                sleep_ms(w < 10 ? w : 10);
        }
        result[0] = admitted;
        result[1] = ratelimit_degraded(rl, NULL, 0) ? 1 : 0;
        ratelimit_free(rl);
    }
    ssize_t wr = write(out_fd, result, sizeof result);
    _exit(wr == (ssize_t)sizeof result ? 0 : 1);
}

/* The property the issue asks for: workers together stay under the limit. */
static void test_processes_share_one_bucket(void **state)
{
    (void)state;
    const char *url = redis_url_or_skip();
    char *prefix = prefix_for("hammer");
    ratelimit_limits l;
    ratelimit_limits_default(&l);
    l.rates[RATELIMIT_MUTATE] = (ratelimit_rate){.burst = 10, .per_sec = 20};
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    uint64_t start = timeutil_mono_ms();
    pid_t pids[HAMMER_PROCS];
    for (int i = 0; i < HAMMER_PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(fds[0]);
            hammer_child(url, prefix, &l, start, fds[1]);
        }
    }
    close(fds[1]);
    long total = 0;
    for (int i = 0; i < HAMMER_PROCS; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    double elapsed = (double)(timeutil_mono_ms() - start) / 1000.0;
    for (int i = 0; i < HAMMER_PROCS; i++) {
        long result[2];
        assert_int_equal(read(fds[0], result, sizeof result), (ssize_t)sizeof result);
        assert_true(result[0] >= 0);
        assert_int_equal(result[1], 0); /* used Redis throughout */
        total += result[0];
    }
    close(fds[0]);
    double bound = 10 + 20 * elapsed;
    print_message("%d processes admitted %ld in %.2f s (bound %.1f)\n", HAMMER_PROCS, total,
                  elapsed, bound);
    assert_true((double)total <= bound + 2);
    /* And they did use the limit rather than idle (so the bound means something). */
    assert_true((double)total >= 10 + 20 * (HAMMER_MS / 1000.0) * 0.75);
    free(prefix);
}

static pid_t start_redis(int port, const char *dir)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char portbuf[16];
        snprintf(portbuf, sizeof portbuf, "%d", port);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("redis-server", "redis-server", "--port", portbuf, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        redisContext *c = redisConnect("127.0.0.1", port);
        bool up = c && !c->err;
        if (c)
            redisFree(c);
        if (up)
            return pid;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("redis-server did not start on port %d", port);
    return -1;
}

static void stop_redis(pid_t pid)
{
    kill(pid, SIGTERM);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void test_noscript_recovery(void **state)
{
    (void)state;
    /* SCRIPT FLUSH is server-wide: use a private server so tests of other
     * areas sharing the test Redis never see their scripts vanish. */
    char dir[] = "/tmp/escher-rl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int port = free_port();
    pid_t redis = start_redis(port, dir);
    char *url = xasprintf("redis://127.0.0.1:%d", port);
    char *prefix = prefix_for("noscript");
    err e;
    ratelimit *rl = ratelimit_new(url, prefix, NULL, NULL, &e);
    assert_non_null(rl);
    int64_t w;
    assert_true(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_MUTATE, 1, &w, &e));
    redisContext *c = direct_connect(url);
    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    assert_true(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_MUTATE, 1, &w, &e));
    assert_false(ratelimit_degraded(rl, NULL, 0));
    /* The script ran in Redis: the shared bucket lost both tokens (rate 5/s
     * refills a fraction at most in between). */
    r = redisCommand(c, "HGET %srl:A:us-east-1:mutate tokens", prefix);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    double tokens = strtod(r->str, NULL);
    assert_true(tokens >= 48.0 && tokens < 49.0);
    freeReplyObject(r);
    /* ...and is cached again, so the next call needs no EVAL: on this
     * private server exactly one EVAL ran (the NOSCRIPT fallback). */
    assert_true(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_MUTATE, 1, &w, &e));
    r = redisCommand(c, "INFO commandstats");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_non_null(strstr(r->str, "cmdstat_eval:calls=1,"));
    assert_non_null(strstr(r->str, "cmdstat_evalsha:calls=3,"));
    freeReplyObject(r);
    redisFree(c);
    ratelimit_free(rl);
    free(prefix);
    free(url);
    stop_redis(redis);
    char *rm = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
    free(rm);
}

static void test_unreachable_fallback_and_recovery(void **state)
{
    (void)state;
    char dir[] = "/tmp/escher-rl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char logpath[64];
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    int logfd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(logfd >= 0);
    logger *log = log_new("test", LOG_LEVEL_DEBUG, logfd);

    int port = free_port();
    char *url = xasprintf("redis://127.0.0.1:%d", port);
    ratelimit_limits l;
    ratelimit_limits_default(&l);
    l.rates[RATELIMIT_DESCRIBE] = (ratelimit_rate){.burst = 5, .per_sec = 1};
    l.reconnect_interval_ms = 100;
    l.connect_timeout_ms = 100;
    err e;
    ratelimit *rl = ratelimit_new(url, "fallback:", &l, log, &e);
    assert_non_null(rl);
    char reason[256];
    assert_true(ratelimit_degraded(rl, reason, sizeof reason));
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", port);
    assert_non_null(strstr(reason, where));
    assert_non_null(strstr(reason, "refused"));

    /* Local buckets with the same rates keep limiting. */
    int64_t w;
    for (int i = 0; i < 5; i++)
        assert_true(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_false(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_true(w >= 900 && w <= 1000);
    sleep_ms(250); /* past several reconnect intervals: each attempt fails quietly */
    assert_false(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    sleep_ms(150);
    assert_false(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_true(ratelimit_degraded(rl, NULL, 0));
    assert_int_equal(count_in_log(logfd, "Redis unavailable"), 1);
    assert_int_equal(count_in_log(logfd, where), 1); /* the reason is logged */

    /* Redis appears on that port: the next call after the interval uses it. */
    pid_t redis = start_redis(port, dir);
    sleep_ms(150);
    /* The readiness probe alone notices recovery (an idle worker takes nothing). */
    assert_false(ratelimit_degraded(rl, reason, sizeof reason));
    assert_string_equal(reason, "");
    assert_true(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_true(ratelimit_take(rl, "A", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_int_equal(count_in_log(logfd, "Redis available again"), 1);
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "EXISTS fallback:rl:A:us-east-1:describe");
    assert_non_null(r);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);

    /* Redis goes away mid-run: one more warning, local buckets again. */
    stop_redis(redis);
    assert_true(ratelimit_take(rl, "B", "us-east-1", RATELIMIT_DESCRIBE, 5, &w, &e));
    assert_false(ratelimit_take(rl, "B", "us-east-1", RATELIMIT_DESCRIBE, 1, &w, &e));
    assert_true(ratelimit_degraded(rl, reason, sizeof reason));
    assert_non_null(strstr(reason, where));
    assert_int_equal(count_in_log(logfd, "Redis unavailable"), 2);
    assert_int_equal(count_in_log(logfd, "Redis available again"), 1);

    ratelimit_free(rl);
    log_free(log);
    close(logfd);
    unlink(logpath);
    char *rm = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
    free(rm);
    free(url);
}

int main(void)
{
    run_id = (unsigned)timeutil_now_ms() ^ ((unsigned)getpid() << 16);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_refill),
        cmocka_unit_test(test_separate_buckets),
        cmocka_unit_test(test_processes_share_one_bucket),
        cmocka_unit_test(test_noscript_recovery),
        cmocka_unit_test(test_unreachable_fallback_and_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
