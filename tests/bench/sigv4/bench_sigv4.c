/* Signs the requests of a JSON-lines file (tests/unit/sigv4/sigv4_reqjson.h)
 * over and over on one thread for at least the given time and prints the
 * rate. Before timing, every signature is checked against the file's
 * "expect_signature" (botocore's) so a broken signer cannot look fast.
 *
 * usage: bench_sigv4 REQUESTS.jsonl MIN_SECONDS */
#include "sigv4_reqjson.h"

#include "core/strbuf.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A client holds one credentials object and its region and service as
 * configuration, not a copy per request: share them as it would, so that
 * only the per-request data (method, path, query, headers, body) is new to
 * the cache for each request, as it is for a request just serialized. */
typedef struct shared {
    aws_creds **creds;
    size_t ncreds;
    char **strings;
    size_t nstrings;
} shared;

static const char *intern(shared *sh, const char *s)
{
    for (size_t i = 0; i < sh->nstrings; i++)
        if (strcmp(sh->strings[i], s) == 0)
            return sh->strings[i];
    sh->strings = xreallocarray(sh->strings, sh->nstrings + 1, sizeof *sh->strings);
    return sh->strings[sh->nstrings++] = xstrdup(s);
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void share(shared *sh, jreq *r)
{
    const aws_creds *c = r->creds, *found = NULL;
    for (size_t i = 0; i < sh->ncreds && !found; i++)
        if (same(sh->creds[i]->access_key_id, c->access_key_id) &&
            same(sh->creds[i]->secret_access_key, c->secret_access_key) &&
            same(sh->creds[i]->session_token, c->session_token))
            found = sh->creds[i];
    if (found == NULL) {
        sh->creds = xreallocarray(sh->creds, sh->ncreds + 1, sizeof *sh->creds);
        found = sh->creds[sh->ncreds++] = creds_dup(c);
    }
    r->cfg.creds = found;
    r->cfg.region = intern(sh, r->cfg.region);
    r->cfg.service = intern(sh, r->cfg.service);
}

static bool sign(const jreq *r, http_headers *add, strbuf *query, err *e)
{
    return r->presign ? sigv4_presign(&r->req, &r->cfg, query, NULL, NULL, e)
                      : sigv4_sign_headers(&r->req, &r->cfg, add, NULL, NULL, e);
}

static const char *signature_in(const jreq *r, const http_headers *add, const strbuf *query)
{
    const char *s = r->presign ? strstr(strbuf_str(query), "X-Amz-Signature=")
                               : strstr(http_headers_get(add, "Authorization"), "Signature=");
    return s ? strchr(s, '=') + 1 : "";
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_sigv4 REQUESTS.jsonl MIN_SECONDS\n");
        return 2;
    }
    double min_seconds = atof(argv[2]);
    FILE *f = fopen(argv[1], "r");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    shared sh = {0};
    jreq **reqs = NULL; /* pointers: a jreq points into itself and must not move */
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t *obj = json_loadb(line, (size_t)len, 0, &jerr);
        err e;
        reqs = xreallocarray(reqs, n + 1, sizeof *reqs);
        reqs[n] = xcalloc(1, sizeof **reqs);
        if (obj == NULL || !jreq_from_json(obj, reqs[n], &e)) {
            fprintf(stderr, "request %zu: %s\n", n, obj ? e.message : jerr.text);
            return 1;
        }
        share(&sh, reqs[n]);
        const char *want = json_string_value(json_object_get(obj, "expect_signature"));
        http_headers add = HTTP_HEADERS_INIT;
        strbuf query = STRBUF_INIT;
        if (!sign(reqs[n], &add, &query, &e)) {
            fprintf(stderr, "request %zu: %s\n", n, e.message);
            return 1;
        }
        if (want == NULL || strcmp(want, signature_in(reqs[n], &add, &query)) != 0) {
            fprintf(stderr, "request %zu: signature %s, botocore's %s\n", n,
                    signature_in(reqs[n], &add, &query), want ? want : "(missing)");
            return 1;
        }
        http_headers_free(&add);
        strbuf_free(&query);
        json_decref(obj);
        n++;
    }
    free(line);
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "%s: no requests\n", argv[1]);
        return 1;
    }

    /* Each signature includes freeing what it produced, as a caller would. */
    uint64_t start = timeutil_mono_ns(), elapsed;
    size_t signed_count = 0, passes = 0;
    strbuf query = STRBUF_INIT;
    do {
        for (size_t i = 0; i < n; i++) {
            http_headers add = HTTP_HEADERS_INIT;
            err e;
            if (!sign(reqs[i], &add, &query, &e)) {
                fprintf(stderr, "request %zu: %s\n", i, e.message);
                return 1;
            }
            http_headers_free(&add);
        }
        signed_count += n;
        passes++;
        elapsed = timeutil_mono_ns() - start;
    } while ((double)elapsed / 1e9 < min_seconds);
    strbuf_free(&query);
    double seconds = (double)elapsed / 1e9;
    printf("requests=%zu passes=%zu seconds=%.3f rate=%.0f\n", n, passes, seconds,
           (double)signed_count / seconds);
    for (size_t i = 0; i < n; i++) {
        jreq_free(reqs[i]);
        free(reqs[i]);
    }
    free(reqs);
    for (size_t i = 0; i < sh.ncreds; i++)
        creds_free(sh.creds[i]);
    for (size_t i = 0; i < sh.nstrings; i++)
        free(sh.strings[i]);
    free(sh.creds);
    free(sh.strings);
    return 0;
}
