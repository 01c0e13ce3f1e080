/* SigV4 beyond the aws-c-auth suite: AWS's published S3 examples (header and
 * presigned, the S3 configuration with neither normalisation nor double
 * encoding), query normalisation, input validation, and the signing-key
 * cache (keyed by secret, eviction, concurrent use). */
#include "aws/sigv4.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define WHEN_2013 1369353600 /* 2013-05-24T00:00:00Z */

static const char *line_of(const char *text, int n, char *out, size_t cap)
{
    const char *p = text;
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    assert_non_null(p);
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    assert_true(len < cap);
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static const char *signature_of(const http_headers *add)
{
    const char *auth = http_headers_get(add, "Authorization");
    assert_non_null(auth);
    const char *sig = strstr(auth, "Signature=");
    assert_non_null(sig);
    return sig + strlen("Signature=");
}

/* docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "GET Object". */
static void test_s3_header_example(void **state)
{
    (void)state;
    aws_creds *c = creds_new("AKIAIOSFODNN7EXAMPLE", S3_SECRET, NULL, 0, "test");
    http_headers h = HTTP_HEADERS_INIT, add = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Host", "examplebucket.s3.amazonaws.com");
    http_headers_add(&h, "Range", "bytes=0-9");
    sigv4_request r = {.method = "GET", .path = "/test.txt", .headers = &h};
    sigv4_config cfg = {.creds = c,
                        .region = "us-east-1",
                        .service = "s3",
                        .when = WHEN_2013,
                        .add_content_sha256 = true};
    strbuf canon = STRBUF_INIT;
    err e;
    assert_true(sigv4_sign_headers(&r, &cfg, &add, &canon, NULL, &e));
    assert_string_equal(strbuf_str(&canon),
                        "GET\n/test.txt\n\n"
                        "host:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                        "x-amz-content-sha256:" SIGV4_EMPTY_PAYLOAD_SHA256 "\n"
                        "x-amz-date:20130524T000000Z\n\n"
                        "host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_PAYLOAD_SHA256);
    assert_string_equal(
        http_headers_get(&add, "Authorization"),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
        "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_string_equal(http_headers_get(&add, "X-Amz-Content-Sha256"), SIGV4_EMPTY_PAYLOAD_SHA256);
    assert_string_equal(http_headers_get(&add, "X-Amz-Date"), "20130524T000000Z");
    assert_null(http_headers_get(&add, "X-Amz-Security-Token"));
    strbuf_free(&canon);
    http_headers_free(&h);
    http_headers_free(&add);
    creds_free(c);
}

/* docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html. */
static void test_s3_presign_example(void **state)
{
    (void)state;
    aws_creds *c = creds_new("AKIAIOSFODNN7EXAMPLE", S3_SECRET, NULL, 0, "test");
    http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Host", "examplebucket.s3.amazonaws.com");
    sigv4_request r = {.method = "GET",
                       .path = "/test.txt",
                       .headers = &h,
                       .payload_hash = SIGV4_UNSIGNED_PAYLOAD};
    sigv4_config cfg = {
        .creds = c, .region = "us-east-1", .service = "s3", .when = WHEN_2013, .expires = 86400};
    strbuf q = STRBUF_INIT;
    err e;
    assert_true(sigv4_presign(&r, &cfg, &q, NULL, NULL, &e));
    assert_string_equal(
        strbuf_str(&q),
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"
        "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-"
        "Expires=86400&X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    strbuf_free(&q);
    http_headers_free(&h);
    creds_free(c);
}

/* The same S3-style request signed both ways must present the same
 * canonical URI (the key exactly as sent: S3 object keys may contain "//",
 * "." and ".." and must not be rewritten) and the same headers block; for
 * other services both ways normalise and double-encode alike. */
static void test_header_vs_presign_paths(void **state)
{
    (void)state;
    static const char *path = "/my%20bucket//a/../b%2Fc/./d~/";
    aws_creds *c = creds_new("AKIDEXAMPLE", "secret", "token/with+chars=", 0, "test");
    http_headers h = HTTP_HEADERS_INIT, add = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Host", "bucket.s3.amazonaws.com");
    http_headers_add(&h, "X-Amz-Meta-Note", "  two   spaces ");
    sigv4_request r = {.method = "PUT",
                       .path = path,
                       .query = "uploads&partNumber=2",
                       .headers = &h,
                       .payload_hash = SIGV4_UNSIGNED_PAYLOAD};
    for (int s3 = 1; s3 >= 0; s3--) {
        sigv4_config cfg = {.creds = c,
                            .region = "eu-west-3",
                            .service = s3 ? "s3" : "svc",
                            .when = WHEN_2013,
                            .normalize_path = !s3,
                            .double_encode = !s3,
                            .expires = 900};
        strbuf hc = STRBUF_INIT, pc = STRBUF_INIT, q = STRBUF_INIT;
        err e;
        assert_true(sigv4_sign_headers(&r, &cfg, &add, &hc, NULL, &e));
        assert_true(sigv4_presign(&r, &cfg, &q, &pc, NULL, &e));
        char a[256], b[256];
        const char *want = s3 ? path : "/my%2520bucket/b%252Fc/d~/";
        assert_string_equal(line_of(strbuf_str(&hc), 1, a, sizeof a), want);
        assert_string_equal(line_of(strbuf_str(&pc), 1, b, sizeof b), want);
        /* Header signing adds x-amz-date and the token as headers, presigning as parameters. */
        assert_string_equal(line_of(strbuf_str(&hc), 2, a, sizeof a), "partNumber=2&uploads=");
        /* Upper case sorts first: our X-Amz-* parameters precede the request's. */
        assert_non_null(strstr(strbuf_str(&pc), "\nX-Amz-Algorithm=AWS4-HMAC-SHA256&"));
        assert_non_null(
            strstr(strbuf_str(&pc),
                   "&X-Amz-SignedHeaders=host%3Bx-amz-meta-note&partNumber=2&uploads=\n"));
        assert_non_null(strstr(strbuf_str(&pc), "&X-Amz-Security-Token=token%2Fwith%2Bchars%3D"));
        assert_non_null(strstr(strbuf_str(&hc), "\nx-amz-meta-note:two spaces\n"));
        assert_non_null(strstr(strbuf_str(&pc), "\nx-amz-meta-note:two spaces\n"));
        assert_non_null(strstr(strbuf_str(&hc), "\nx-amz-security-token:token/with+chars=\n"));
        static const char prefix[] = "uploads&partNumber=2&X-Amz-Algorithm=AWS4-HMAC-SHA256&";
        assert_true(strncmp(strbuf_str(&q), prefix, sizeof prefix - 1) == 0);
        http_headers_free(&add);
        strbuf_free(&hc);
        strbuf_free(&pc);
        strbuf_free(&q);
    }
    http_headers_free(&h);
    creds_free(c);
}

static void test_query_normalised(void **state)
{
    (void)state;
    aws_creds *c = creds_new("AKID", "secret", NULL, 0, "test");
    http_headers h = HTTP_HEADERS_INIT, add = HTTP_HEADERS_INIT;
    http_headers_add(&h, "host", "h");
    sigv4_request r = {.method = "GET",
                       .path = "/",
                       .query = "b=%41%2f&a=%7e&A=1&&c&=x&d=100%&a=%7E0&e=a+b",
                       .headers = &h};
    sigv4_config cfg = {.creds = c, .region = "r", .service = "s", .when = 0};
    strbuf canon = STRBUF_INIT;
    err e;
    assert_true(sigv4_sign_headers(&r, &cfg, &add, &canon, NULL, &e));
    char line[256];
    assert_string_equal(line_of(strbuf_str(&canon), 2, line, sizeof line),
                        "=x&A=1&a=~&a=~0&b=A%2F&c=&d=100%25&e=a%2Bb");
    assert_string_equal(http_headers_get(&add, "X-Amz-Date"), "19700101T000000Z");
    strbuf_free(&canon);
    http_headers_free(&h);
    http_headers_free(&add);
    creds_free(c);
}

static void test_dates(void **state)
{
    (void)state;
    static const struct {
        time_t when;
        const char *amz;
    } cases[] = {
        {951868799, "20000229T235959Z"},    {951868800, "20000301T000000Z"},
        {2147483648, "20380119T031408Z"},   {4107542400, "21000301T000000Z"},
        {253402300799, "99991231T235959Z"},
    };
    aws_creds *c = creds_new("AKID", "secret", NULL, 0, "test");
    http_headers h = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Host", "h");
    sigv4_request r = {.method = "GET", .path = "/", .headers = &h};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sigv4_config cfg = {.creds = c, .region = "r", .service = "s", .when = cases[i].when};
        http_headers add = HTTP_HEADERS_INIT;
        err e;
        assert_true(sigv4_sign_headers(&r, &cfg, &add, NULL, NULL, &e));
        assert_string_equal(http_headers_get(&add, "X-Amz-Date"), cases[i].amz);
        http_headers_free(&add);
    }
    http_headers_free(&h);
    creds_free(c);
}

static void expect_invalid(const sigv4_request *r, const sigv4_config *cfg, bool presign,
                           const char *needle)
{
    http_headers add = HTTP_HEADERS_INIT;
    strbuf q = STRBUF_INIT;
    err e;
    err_clear(&e);
    bool ok = presign ? sigv4_presign(r, cfg, &q, NULL, NULL, &e)
                      : sigv4_sign_headers(r, cfg, &add, NULL, NULL, &e);
    assert_false(ok);
    assert_int_equal(e.code, ERR_INVALID);
    if (strstr(e.message, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", e.message, needle);
    assert_int_equal(add.count, 0);
    assert_int_equal(q.len, 0);
    http_headers_free(&add);
    strbuf_free(&q);
}

static void test_invalid_input(void **state)
{
    (void)state;
    aws_creds *c = creds_new("AKID", "secret", NULL, 0, "test");
    aws_creds *no_secret = creds_new("AKID", "", NULL, 0, "test");
    http_headers h = HTTP_HEADERS_INIT, no_host = HTTP_HEADERS_INIT, bad = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Host", "h");
    http_headers_add(&no_host, "X-Other", "v");
    http_headers_add(&bad, "Host", "h");
    http_headers_add(&bad, "Bad Name", "v");
    sigv4_request r = {.method = "GET", .path = "/", .headers = &h};
    sigv4_config cfg = {
        .creds = c, .region = "us-east-1", .service = "s", .when = 1, .expires = 60};

    sigv4_request r2 = r;
    r2.headers = &no_host;
    expect_invalid(&r2, &cfg, false, "Host");
    expect_invalid(&r2, &cfg, true, "Host");
    r2.headers = NULL;
    expect_invalid(&r2, &cfg, false, "Host");
    r2 = r;
    r2.headers = &bad;
    expect_invalid(&r2, &cfg, false, "\"Bad Name\"");
    r2 = r;
    r2.path = "example/x";
    expect_invalid(&r2, &cfg, false, "\"example/x\"");
    r2.path = "";
    expect_invalid(&r2, &cfg, true, "\"\"");
    r2 = r;
    r2.method = "";
    expect_invalid(&r2, &cfg, false, "method");
    r2 = r;
    r2.body_len = 3;
    expect_invalid(&r2, &cfg, false, "body");
    r2 = r;
    r2.payload_hash = "abc\ndef";
    expect_invalid(&r2, &cfg, false, "payload_hash");

    sigv4_config c2 = cfg;
    c2.expires = 0;
    expect_invalid(&r, &c2, true, "expires 0");
    c2.expires = 604801;
    expect_invalid(&r, &c2, true, "expires 604801");
    c2 = cfg;
    c2.region = "us/east";
    expect_invalid(&r, &c2, false, "\"us/east\"");
    c2.region = NULL;
    expect_invalid(&r, &c2, true, "region");
    c2 = cfg;
    c2.service = "";
    expect_invalid(&r, &c2, false, "service");
    c2 = cfg;
    c2.creds = NULL;
    expect_invalid(&r, &c2, false, "access key");
    c2.creds = no_secret;
    expect_invalid(&r, &c2, false, "secret");
    c2 = cfg;
    c2.when = -1;
    expect_invalid(&r, &c2, false, "-1");
    expect_invalid(NULL, &cfg, false, "NULL");

    http_headers_free(&h);
    http_headers_free(&no_host);
    http_headers_free(&bad);
    creds_free(c);
    creds_free(no_secret);
}

/* The signature for (secret, region) with an empty cache. */
static void fresh_signature(const char *secret, const char *region, char out[65])
{
    sigv4_cache_clear();
    aws_creds *c = creds_new("AKID", secret, NULL, 0, "test");
    http_headers h = HTTP_HEADERS_INIT, add = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Host", "h");
    sigv4_request r = {.method = "GET", .path = "/", .headers = &h};
    sigv4_config cfg = {.creds = c, .region = region, .service = "s", .when = WHEN_2013};
    err e;
    assert_true(sigv4_sign_headers(&r, &cfg, &add, NULL, NULL, &e));
    snprintf(out, 65, "%s", signature_of(&add));
    http_headers_free(&h);
    http_headers_free(&add);
    creds_free(c);
}

static void sign_with(const char *secret, const char *region, char out[65])
{
    aws_creds *c = creds_new("AKID", secret, NULL, 0, "test");
    http_headers h = HTTP_HEADERS_INIT, add = HTTP_HEADERS_INIT;
    http_headers_add(&h, "Host", "h");
    sigv4_request r = {.method = "GET", .path = "/", .headers = &h};
    sigv4_config cfg = {.creds = c, .region = region, .service = "s", .when = WHEN_2013};
    err e;
    assert_true(sigv4_sign_headers(&r, &cfg, &add, NULL, NULL, &e));
    snprintf(out, 65, "%s", signature_of(&add));
    http_headers_free(&h);
    http_headers_free(&add);
    creds_free(c);
}

/* A cached key must never serve another secret, and evictions (more
 * (secret, region) pairs than slots) must not corrupt what stays. */
static void test_cache(void **state)
{
    (void)state;
    char a[65], b[65], fresh_a[65], fresh_b[65];
    fresh_signature("secret-a", "r", fresh_a);
    fresh_signature("secret-b", "r", fresh_b);
    assert_string_not_equal(fresh_a, fresh_b);
    sigv4_cache_clear();
    sign_with("secret-a", "r", a);
    sign_with("secret-b", "r", b);
    assert_string_equal(a, fresh_a);
    assert_string_equal(b, fresh_b);
    sign_with("secret-a", "r", a); /* a cache hit */
    assert_string_equal(a, fresh_a);

    enum { N = 150 };
    char(*want)[65] = xcalloc(N, sizeof *want);
    for (int i = 0; i < N; i++) {
        char region[16];
        snprintf(region, sizeof region, "r%d", i);
        fresh_signature(i % 2 ? "secret-a" : "secret-b", region, want[i]);
    }
    sigv4_cache_clear();
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) {
            char region[16], got[65];
            int k = (i * 7 + round) % N;
            snprintf(region, sizeof region, "r%d", k);
            sign_with(k % 2 ? "secret-a" : "secret-b", region, got);
            assert_string_equal(got, want[k]);
        }
    free(want);
}

typedef struct worker {
    int id;
    char (*want)[65];
    int bad;
} worker;

enum { THREADS = 4, KEYS = 80, ROUNDS = 20 };

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int round = 0; round < ROUNDS; round++)
        for (int i = 0; i < KEYS; i++) {
            int k = (i + w->id * 13 + round) % KEYS;
            char secret[32], got[65];
            snprintf(secret, sizeof secret, "secret-%d", k);
            sign_with(secret, "us-east-1", got);
            if (strcmp(got, w->want[k]) != 0)
                w->bad++;
        }
    return NULL;
}

/* Threads sharing the cache (more keys than slots, so they evict each
 * other's entries) still get the right signatures; under ASan this also
 * checks the per-thread OpenSSL contexts are released at thread exit. */
static void test_threads(void **state)
{
    (void)state;
    char(*want)[65] = xcalloc(KEYS, sizeof *want);
    for (int k = 0; k < KEYS; k++) {
        char secret[32];
        snprintf(secret, sizeof secret, "secret-%d", k);
        fresh_signature(secret, "us-east-1", want[k]);
    }
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){i, want, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_header_example),
        cmocka_unit_test(test_s3_presign_example),
        cmocka_unit_test(test_header_vs_presign_paths),
        cmocka_unit_test(test_query_normalised),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("sigv4", tests, NULL, NULL);
}
