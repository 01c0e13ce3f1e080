/* The aws-c-auth SigV4 test suite (tests/data/aws-sigv4-test-suite/v4): every
 * case signed both ways, header and presigned query, and compared with the
 * suite's canonical request, string to sign, signature and signed request,
 * byte for byte. One cmocka test per case and variant. */
#include "aws/sigv4.h"
#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#define EXPECTED_CASES 38

typedef struct suite_case {
    char *name;
    char *dir;
} suite_case;

typedef struct http_text {
    char *request_line;
    char *method;
    char *path;
    char *query; /* NULL when the URI has no '?' */
    http_headers headers;
    char *body;
    size_t body_len;
} http_text;

static char *slurp(const char *dir, const char *file, size_t *len_out)
{
    char *path = xasprintf("%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    strbuf sb = STRBUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        strbuf_append(&sb, chunk, n);
    fclose(f);
    free(path);
    if (len_out)
        *len_out = sb.len;
    return strbuf_detach(&sb);
}

/* Request line, "Name:value" lines (a line starting with a space continues
 * the previous value, kept with its line break as on the wire), an empty
 * line, the body. */
static void parse_http(const char *raw, size_t raw_len, http_text *out)
{
    memset(out, 0, sizeof *out);
    const char *end = raw + raw_len;
    const char *nl = memchr(raw, '\n', raw_len);
    assert_non_null(nl);
    out->request_line = xstrndup(raw, (size_t)(nl - raw));
    const char *sp1 = strchr(out->request_line, ' ');
    const char *sp2 = strrchr(out->request_line, ' ');
    assert_non_null(sp1);
    assert_true(sp2 > sp1);
    out->method = xstrndup(out->request_line, (size_t)(sp1 - out->request_line));
    char *uri = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    char *q = strchr(uri, '?');
    if (q) {
        out->query = xstrdup(q + 1);
        *q = '\0';
    }
    out->path = uri;

    const char *p = nl + 1;
    strbuf name = STRBUF_INIT, value = STRBUF_INIT;
    bool have = false;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        size_t n = (size_t)(line_end - p);
        if (n == 0) {
            p = eol ? eol + 1 : end;
            break;
        }
        if (*p == ' ' || *p == '\t') {
            assert_true(have);
            strbuf_putc(&value, '\n');
            strbuf_append(&value, p, n);
        } else {
            if (have)
                http_headers_add(&out->headers, name.buf, strbuf_str(&value));
            const char *colon = memchr(p, ':', n);
            assert_non_null(colon);
            strbuf_reset(&name);
            strbuf_reset(&value);
            strbuf_append(&name, p, (size_t)(colon - p));
            strbuf_append(&value, colon + 1, (size_t)(line_end - colon - 1));
            have = true;
        }
        p = eol ? eol + 1 : end;
    }
    if (have)
        http_headers_add(&out->headers, name.buf, strbuf_str(&value));
    strbuf_free(&name);
    strbuf_free(&value);
    out->body_len = (size_t)(end - p);
    out->body = xmemdup(p, out->body_len);
}

static void http_text_free(http_text *t)
{
    free(t->request_line);
    free(t->method);
    free(t->path);
    free(t->query);
    http_headers_free(&t->headers);
    free(t->body);
}

/* Headers as sorted "lower-case-name:value" lines, to compare lists whose
 * order the suite does not define for added headers. */
static char *header_set(const http_headers *h)
{
    char **lines = xcalloc(h->count + 1, sizeof *lines);
    for (size_t i = 0; i < h->count; i++) {
        char *l = xasprintf("%s:%s", h->items[i].name, h->items[i].value);
        for (char *c = l; *c && *c != ':'; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32);
        lines[i] = l;
    }
    for (size_t i = 1; i < h->count; i++)
        for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
            char *t = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = t;
        }
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < h->count; i++) {
        strbuf_puts(&sb, lines[i]);
        strbuf_putc(&sb, '\n');
        free(lines[i]);
    }
    free(lines);
    return strbuf_detach(&sb);
}

typedef struct context {
    aws_creds *creds;
    sigv4_config cfg;
    bool sign_body;
} context;

static void load_context(const char *dir, context *ctx)
{
    char *path = xasprintf("%s/context.json", dir);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL)
        fail_msg("%s: %s", path, jerr.text);
    free(path);
    json_t *cr = json_object_get(root, "credentials");
    const char *token = json_string_value(json_object_get(cr, "token"));
    ctx->creds =
        creds_new(json_string_value(json_object_get(cr, "access_key_id")),
                  json_string_value(json_object_get(cr, "secret_access_key")), token, 0, "suite");
    memset(&ctx->cfg, 0, sizeof ctx->cfg);
    ctx->cfg.creds = ctx->creds;
    ctx->cfg.region = xstrdup(json_string_value(json_object_get(root, "region")));
    ctx->cfg.service = xstrdup(json_string_value(json_object_get(root, "service")));
    err e;
    assert_true(timeutil_parse_iso8601(json_string_value(json_object_get(root, "timestamp")),
                                       &ctx->cfg.when, &e));
    ctx->cfg.normalize_path = json_is_true(json_object_get(root, "normalize"));
    ctx->cfg.double_encode = true; /* as upstream's runner */
    ctx->sign_body = json_is_true(json_object_get(root, "sign_body"));
    ctx->cfg.add_content_sha256 = ctx->sign_body;
    ctx->cfg.omit_session_token = json_is_true(json_object_get(root, "omit_session_token"));
    ctx->cfg.expires = (int)json_integer_value(json_object_get(root, "expiration_in_seconds"));
    assert_true(ctx->cfg.expires > 0);
    json_decref(root);
}

static void context_free(context *ctx)
{
    creds_free(ctx->creds);
    free((char *)ctx->cfg.region);
    free((char *)ctx->cfg.service);
}

static void expect_file(const char *dir, const char *file, const char *got)
{
    char *want = slurp(dir, file, NULL);
    if (strcmp(want, got) != 0)
        fail_msg("%s/%s differs\n--- expected ---\n%s\n--- got ---\n%s\n---", dir, file, want, got);
    free(want);
}

static void run_case(const suite_case *c, bool presign)
{
    size_t raw_len;
    char *raw = slurp(c->dir, "request.txt", &raw_len);
    http_text req;
    parse_http(raw, raw_len, &req);
    context ctx;
    load_context(c->dir, &ctx);

    sigv4_request r = {
        .method = req.method,
        .path = req.path,
        .query = req.query,
        .headers = &req.headers,
        .body = req.body,
        .body_len = req.body_len,
        /* upstream signs the empty payload's hash unless sign_body */
        .payload_hash = ctx.sign_body ? NULL : SIGV4_EMPTY_PAYLOAD_SHA256,
    };
    strbuf canonical = STRBUF_INIT, sts = STRBUF_INIT, query = STRBUF_INIT;
    http_headers add = HTTP_HEADERS_INIT;
    err e;
    const char *prefix = presign ? "query" : "header";
    bool ok = presign ? sigv4_presign(&r, &ctx.cfg, &query, &canonical, &sts, &e)
                      : sigv4_sign_headers(&r, &ctx.cfg, &add, &canonical, &sts, &e);
    if (!ok)
        fail_msg("%s (%s): %s", c->name, prefix, e.message);

    char file[64];
    snprintf(file, sizeof file, "%s-canonical-request.txt", prefix);
    expect_file(c->dir, file, strbuf_str(&canonical));
    snprintf(file, sizeof file, "%s-string-to-sign.txt", prefix);
    expect_file(c->dir, file, strbuf_str(&sts));

    /* The signature is the tail of the Authorization header or of the query. */
    const char *sig;
    if (presign) {
        sig = strstr(strbuf_str(&query), "X-Amz-Signature=");
        assert_non_null(sig);
        sig += strlen("X-Amz-Signature=");
    } else {
        const char *auth = http_headers_get(&add, "Authorization");
        assert_non_null(auth);
        sig = strstr(auth, "Signature=");
        assert_non_null(sig);
        sig += strlen("Signature=");
    }
    snprintf(file, sizeof file, "%s-signature.txt", prefix);
    expect_file(c->dir, file, sig);

    /* The signed request: what the caller would send. */
    snprintf(file, sizeof file, "%s-signed-request.txt", prefix);
    size_t signed_len;
    char *signed_raw = slurp(c->dir, file, &signed_len);
    http_text want;
    parse_http(signed_raw, signed_len, &want);
    http_headers sent = HTTP_HEADERS_INIT;
    http_headers_copy(&sent, &req.headers);
    char *line;
    if (presign) {
        line = xasprintf("%s %s?%s HTTP/1.1", req.method, req.path, strbuf_str(&query));
    } else {
        line = xstrdup(req.request_line);
        for (size_t i = 0; i < add.count; i++)
            http_headers_add(&sent, add.items[i].name, add.items[i].value);
    }
    assert_string_equal(want.request_line, line);
    char *want_set = header_set(&want.headers), *got_set = header_set(&sent);
    assert_string_equal(want_set, got_set);
    assert_int_equal(want.body_len, req.body_len);
    assert_memory_equal(want.body, req.body, req.body_len);

    free(want_set);
    free(got_set);
    free(line);
    http_headers_free(&sent);
    http_text_free(&want);
    free(signed_raw);
    http_headers_free(&add);
    strbuf_free(&canonical);
    strbuf_free(&sts);
    strbuf_free(&query);
    context_free(&ctx);
    http_text_free(&req);
    free(raw);
}

static void test_header(void **state)
{
    run_case(*state, false);
}

static void test_query(void **state)
{
    run_case(*state, true);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const suite_case *)a)->name, ((const suite_case *)b)->name);
}

int main(void)
{
    const char *data = getenv("ESCHER_TEST_DATA");
    if (data == NULL) {
        fprintf(stderr, "ESCHER_TEST_DATA is not set\n");
        return 1;
    }
    char *root = xasprintf("%s/aws-sigv4-test-suite/v4", data);
    DIR *d = opendir(root);
    if (d == NULL) {
        fprintf(stderr, "cannot open %s\n", root);
        return 1;
    }
    suite_case *cases = NULL;
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        cases = xreallocarray(cases, count + 1, sizeof *cases);
        cases[count].name = xstrdup(de->d_name);
        cases[count].dir = xasprintf("%s/%s", root, de->d_name);
        count++;
    }
    closedir(d);
    qsort(cases, count, sizeof *cases, name_cmp);
    if (count != EXPECTED_CASES) {
        fprintf(stderr, "found %zu suite cases in %s, expected %d\n", count, root, EXPECTED_CASES);
        return 1;
    }

    struct CMUnitTest *tests = xcalloc(2 * count, sizeof *tests);
    char **names = xcalloc(2 * count, sizeof *names);
    for (size_t i = 0; i < count; i++) {
        names[2 * i] = xasprintf("%s/header", cases[i].name);
        names[2 * i + 1] = xasprintf("%s/query", cases[i].name);
        tests[2 * i] = (struct CMUnitTest){names[2 * i], test_header, NULL, NULL, &cases[i]};
        tests[2 * i + 1] = (struct CMUnitTest){names[2 * i + 1], test_query, NULL, NULL, &cases[i]};
    }
    int failed = _cmocka_run_group_tests("sigv4_suite", tests, 2 * count, NULL, NULL);

    for (size_t i = 0; i < count; i++) {
        free(cases[i].name);
        free(cases[i].dir);
        free(names[2 * i]);
        free(names[2 * i + 1]);
    }
    free(cases);
    free(names);
    free(tests);
    free(root);
    return failed;
}
