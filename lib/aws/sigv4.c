/* AWS Signature Version 4.
 *
 * The rules follow what AWS's own signers do, checked against the
 * aws-c-auth test suite and differentially against botocore:
 *  - canonical URI: optional dot-segment removal with duplicate slashes
 *    collapsed (botocore's remove_dot_segments), then, with double_encode,
 *    every byte but unreserved ones and '/' percent-encoded once more;
 *  - canonical query: each key and value percent-decoded and re-encoded
 *    (unreserved kept, the rest %XX upper-case), sorted by key then value;
 *  - canonical headers: lower-case names, values trimmed with whitespace
 *    runs collapsed to one space, repeated names joined with ',' in request
 *    order, sorted by name.
 *
 * Speed matters (every AWS call is signed): the texts are built in stack
 * buffers that spill to the heap only for unusually large requests, the
 * derived signing keys are cached, and the digest and MAC contexts are kept
 * per thread instead of being created for every signature. */
#include "aws/sigv4.h"

#include "core/secure.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALGORITHM   "AWS4-HMAC-SHA256"
#define SHA256_LEN  32
#define CACHE_SIZE  64
#define EXPIRES_MAX 604800
#define STACK_TEXT  2048
#define STACK_ITEMS 32

/* ---- character classes ---- */

static const char HEX_UPPER[] = "0123456789ABCDEF";
static const char HEX_LOWER[] = "0123456789abcdef";

/* Byte classes as tables: these tests run for every byte of every request. */
enum { UNRESERVED = 1, HEADER_SPACE = 2, NOT_HEX = 255 };

/* UNRESERVED: A-Z a-z 0-9 - _ . ~ (RFC 3986). HEADER_SPACE: what botocore's
 * str.split() collapses in header values, limited to ASCII as header values
 * are bytes here: space, \t \n \v \f \r and 0x1c-0x1f. */
static const unsigned char BYTE_CLASS[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2,
    2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static const unsigned char HEX_VALUE[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0,   1,   2,   3,   4,   5,   6,   7,   8,
    9,   255, 255, 255, 255, 255, 255, 255, 10,  11,  12,  13,  14,  15,  255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 10,  11,  12,  13,  14,  15,  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255,
};

static bool is_unreserved(unsigned char c)
{
    return BYTE_CLASS[c] & UNRESERVED;
}

/* ---- text buffer that starts on the caller's stack ---- */

typedef struct text {
    char *p;
    size_t len;
    size_t cap;
    bool heap;
} text;

static void text_init(text *t, char *stack, size_t cap)
{
    t->p = stack;
    t->len = 0;
    t->cap = cap;
    t->heap = false;
}

static void text_reserve(text *t, size_t extra)
{
    if (t->len + extra <= t->cap)
        return;
    size_t cap = t->cap * 2;
    while (cap < t->len + extra)
        cap *= 2;
    if (t->heap) {
        t->p = xrealloc(t->p, cap);
    } else {
        char *p = xmalloc(cap);
        memcpy(p, t->p, t->len);
        t->p = p;
        t->heap = true;
    }
    t->cap = cap;
}

static void text_put(text *t, const void *data, size_t n)
{
    text_reserve(t, n);
    memcpy(t->p + t->len, data, n);
    t->len += n;
}

static void text_puts(text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

static void text_putc(text *t, char c)
{
    text_reserve(t, 1);
    t->p[t->len++] = c;
}

static void text_hex(text *t, const unsigned char *data, size_t n)
{
    text_reserve(t, 2 * n);
    char *out = t->p + t->len;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX_LOWER[data[i] >> 4];
        out[2 * i + 1] = HEX_LOWER[data[i] & 0x0f];
    }
    t->len += 2 * n;
}

/* Percent-encodes every byte that is not unreserved (and not '/' when
 * keep_slash), upper-case hex as AWS requires. */
static void text_encode(text *t, const char *s, size_t n, bool keep_slash)
{
    text_reserve(t, 3 * n);
    char *out = t->p + t->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = HEX_UPPER[c >> 4];
            *out++ = HEX_UPPER[c & 0x0f];
        }
    }
    t->len = (size_t)(out - t->p);
}

/* Decodes %XX escapes, then encodes, so that a query parameter arrives in
 * one canonical form whether the caller encoded it, encoded it differently
 * (lower-case hex, escaped unreserved characters) or not at all. A '%' not
 * followed by two hex digits is taken literally. */
static void text_reencode(text *t, const char *s, size_t n)
{
    text_reserve(t, 3 * n);
    char *out = t->p + t->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n) {
            unsigned hi = HEX_VALUE[(unsigned char)s[i + 1]];
            unsigned lo = HEX_VALUE[(unsigned char)s[i + 2]];
            if (hi != NOT_HEX && lo != NOT_HEX) {
                c = (unsigned char)(hi << 4 | lo);
                i += 2;
            }
        }
        if (is_unreserved(c)) {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = HEX_UPPER[c >> 4];
            *out++ = HEX_UPPER[c & 0x0f];
        }
    }
    t->len = (size_t)(out - t->p);
}

static void text_free(text *t)
{
    if (t->heap)
        free(t->p);
    t->p = NULL;
    t->len = t->cap = 0;
    t->heap = false;
}

/* An array of fixed-size items that starts on the stack, like text. */
static void *items_grow(void *items, bool *heap, size_t *cap, size_t size)
{
    size_t ncap = *cap * 2;
    void *p;
    if (*heap) {
        p = xreallocarray(items, ncap, size);
    } else {
        p = xreallocarray(NULL, ncap, size);
        memcpy(p, items, *cap * size);
        *heap = true;
    }
    *cap = ncap;
    return p;
}

/* ---- crypto: process-wide algorithms, per-thread contexts ---- */

typedef struct crypto_ctx {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac; /* key derivation */
    /* Keyed with the signing key this thread used last: re-initialising
     * with the same key skips OpenSSL's key setup, a good part of the cost
     * of a signature when one thread signs for one account. */
    EVP_MAC_CTX *sig_mac;
    unsigned char sig_id[32]; /* cache id of that key */
    uint64_t sig_generation;  /* cache_generation when keyed; 0: not keyed */
} crypto_ctx;

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static EVP_MAC *hmac_mac;
static pthread_key_t crypto_key;
static bool crypto_ready;
/* Mixed into cache ids so they are not a stable fingerprint of a secret
 * across processes. */
static unsigned char cache_salt[16];
static _Thread_local crypto_ctx thread_crypto;

static void crypto_ctx_destroy(void *p)
{
    crypto_ctx *c = p;
    EVP_MD_CTX_free(c->md);
    EVP_MAC_CTX_free(c->mac);
    EVP_MAC_CTX_free(c->sig_mac);
    c->md = NULL;
    c->mac = NULL;
    c->sig_mac = NULL;
    c->sig_generation = 0;
}

static void crypto_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (sha256_md == NULL || hmac_mac == NULL)
        return;
    if (pthread_key_create(&crypto_key, crypto_ctx_destroy) != 0)
        return;
    if (!secure_random(cache_salt, sizeof cache_salt, NULL))
        return;
    crypto_ready = true;
}

/* The calling thread's contexts, created on first use and freed when the
 * thread exits (the pthread key's destructor). */
static crypto_ctx *crypto_get(err *e)
{
    pthread_once(&crypto_once, crypto_init);
    if (!crypto_ready) {
        err_set(e, ERR_INTERNAL, "sigv4: OpenSSL has no SHA256/HMAC or no random source");
        return NULL;
    }
    crypto_ctx *c = &thread_crypto;
    if (c->md == NULL) {
        c->md = EVP_MD_CTX_new();
        c->mac = EVP_MAC_CTX_new(hmac_mac);
        c->sig_mac = EVP_MAC_CTX_new(hmac_mac);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_end(),
        };
        if (c->md == NULL || c->mac == NULL || c->sig_mac == NULL ||
            !EVP_MAC_CTX_set_params(c->mac, params) ||
            !EVP_MAC_CTX_set_params(c->sig_mac, params)) {
            crypto_ctx_destroy(c);
            err_set(e, ERR_INTERNAL, "sigv4: cannot create OpenSSL digest/MAC contexts");
            return NULL;
        }
        pthread_setspecific(crypto_key, c);
    }
    return c;
}

typedef struct span {
    const void *p;
    size_t n;
} span;

/* SHA-256 over the concatenation of the pieces. */
static bool sha256_parts(crypto_ctx *c, const span *parts, size_t count,
                         unsigned char out[SHA256_LEN], err *e)
{
    unsigned int len = 0;
    if (!EVP_DigestInit_ex(c->md, sha256_md, NULL))
        return err_set(e, ERR_INTERNAL, "sigv4: SHA-256 init failed");
    for (size_t i = 0; i < count; i++)
        if (parts[i].n && !EVP_DigestUpdate(c->md, parts[i].p, parts[i].n))
            return err_set(e, ERR_INTERNAL, "sigv4: SHA-256 update failed");
    if (!EVP_DigestFinal_ex(c->md, out, &len) || len != SHA256_LEN)
        return err_set(e, ERR_INTERNAL, "sigv4: SHA-256 final failed");
    return true;
}

static bool hmac(crypto_ctx *c, const unsigned char *key, size_t key_len, const void *msg,
                 size_t msg_len, unsigned char out[SHA256_LEN], err *e)
{
    size_t len = 0;
    if (!EVP_MAC_init(c->mac, key, key_len, NULL) || !EVP_MAC_update(c->mac, msg, msg_len) ||
        !EVP_MAC_final(c->mac, out, &len, SHA256_LEN) || len != SHA256_LEN)
        return err_set(e, ERR_INTERNAL, "sigv4: HMAC-SHA256 failed");
    return true;
}

/* ---- signing-key cache ---- */

typedef struct cache_entry {
    unsigned char id[SHA256_LEN]; /* SHA-256(salt, secret, date, region, service) */
    unsigned char key[SHA256_LEN];
    uint64_t last_use; /* 0: slot empty */
} cache_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_entry cache[CACHE_SIZE];
static uint64_t cache_clock;
/* Bumped by sigv4_cache_clear so threads drop the key their sig_mac holds. */
static _Atomic uint64_t cache_generation = 1;

static bool cache_get(const unsigned char id[SHA256_LEN], unsigned char key[SHA256_LEN])
{
    bool found = false;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        if (cache[i].last_use != 0 && memcmp(cache[i].id, id, SHA256_LEN) == 0) {
            memcpy(key, cache[i].key, SHA256_LEN);
            cache[i].last_use = ++cache_clock;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return found;
}

static void cache_put(const unsigned char id[SHA256_LEN], const unsigned char key[SHA256_LEN])
{
    pthread_mutex_lock(&cache_lock);
    size_t victim = 0;
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        /* Another thread may have derived the same key meanwhile. */
        if (cache[i].last_use != 0 && memcmp(cache[i].id, id, SHA256_LEN) == 0) {
            victim = i;
            break;
        }
        if (cache[i].last_use < cache[victim].last_use)
            victim = i;
    }
    secure_wipe(&cache[victim], sizeof cache[victim]);
    memcpy(cache[victim].id, id, SHA256_LEN);
    memcpy(cache[victim].key, key, SHA256_LEN);
    cache[victim].last_use = ++cache_clock;
    pthread_mutex_unlock(&cache_lock);
}

void sigv4_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    secure_wipe(cache, sizeof cache);
    cache_clock = 0;
    cache_generation++;
    pthread_mutex_unlock(&cache_lock);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service), "aws4_request"),
 * from the cache when possible. */
static bool signing_key(crypto_ctx *c, const unsigned char id[SHA256_LEN], const char *secret,
                        const char *date8, const char *region, const char *service,
                        unsigned char key[SHA256_LEN], err *e)
{
    if (cache_get(id, key))
        return true;
    char stack[128];
    text k;
    text_init(&k, stack, sizeof stack);
    text_puts(&k, "AWS4");
    text_puts(&k, secret);
    unsigned char a[SHA256_LEN], b[SHA256_LEN];
    bool ok = hmac(c, (const unsigned char *)k.p, k.len, date8, 8, a, e) &&
              hmac(c, a, SHA256_LEN, region, strlen(region), b, e) &&
              hmac(c, b, SHA256_LEN, service, strlen(service), a, e) &&
              hmac(c, a, SHA256_LEN, "aws4_request", 12, key, e);
    secure_wipe(k.p, k.cap);
    text_free(&k);
    secure_wipe(a, sizeof a);
    secure_wipe(b, sizeof b);
    if (ok)
        cache_put(id, key);
    return ok;
}

/* HMAC(kSigning, string to sign) into sig. */
static bool sign_string(crypto_ctx *c, const sigv4_config *cfg, const char *date8, const text *sts,
                        unsigned char sig[SHA256_LEN], err *e)
{
    const char *secret = cfg->creds->secret_access_key;
    const span id_parts[] = {
        {cache_salt, sizeof cache_salt},
        {secret, strlen(secret) + 1}, /* the NULs keep the fields apart */
        {date8, 9},
        {cfg->region, strlen(cfg->region) + 1},
        {cfg->service, strlen(cfg->service) + 1},
    };
    unsigned char id[SHA256_LEN];
    if (!sha256_parts(c, id_parts, sizeof id_parts / sizeof id_parts[0], id, e))
        return false;
    uint64_t generation = cache_generation;
    bool ok;
    if (c->sig_generation == generation && memcmp(c->sig_id, id, SHA256_LEN) == 0) {
        ok = EVP_MAC_init(c->sig_mac, NULL, 0, NULL);
    } else {
        unsigned char key[SHA256_LEN];
        c->sig_generation = 0;
        if (!signing_key(c, id, secret, date8, cfg->region, cfg->service, key, e))
            return false;
        ok = EVP_MAC_init(c->sig_mac, key, SHA256_LEN, NULL);
        secure_wipe(key, sizeof key);
        if (ok) {
            memcpy(c->sig_id, id, SHA256_LEN);
            c->sig_generation = generation;
        }
    }
    size_t len = 0;
    if (!ok || !EVP_MAC_update(c->sig_mac, (const unsigned char *)sts->p, sts->len) ||
        !EVP_MAC_final(c->sig_mac, sig, &len, SHA256_LEN) || len != SHA256_LEN) {
        c->sig_generation = 0;
        return err_set(e, ERR_INTERNAL, "sigv4: HMAC-SHA256 failed");
    }
    return true;
}

/* ---- validation ---- */

static bool check_scope_part(const char *what, const char *s, err *e)
{
    if (s == NULL || *s == '\0')
        return err_set(e, ERR_INVALID, "sigv4: %s is missing", what);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!is_unreserved(c))
            return err_set(e, ERR_INVALID,
                           "sigv4: %s \"%s\" has a character other than "
                           "A-Z a-z 0-9 - _ . ~",
                           what, s);
    }
    return true;
}

/* SigV4's YYYYMMDDTHHMMSSZ without gmtime_r/strftime, which cost more than
 * the rest of the string handling together. */
static bool format_amz_date(time_t when, char out[TIMEUTIL_AMZ_LEN], err *e)
{
    if (when < 0 || when > (time_t)253402300799) /* 9999-12-31T23:59:59Z */
        return err_set(e, ERR_INVALID, "sigv4: signing time %lld is outside years 1970-9999",
                       (long long)when);
    timeutil_civil c;
    timeutil_civil_from_time(when, &c);
    int64_t fields[6] = {c.year, c.month, c.day, c.hour, c.min, c.sec};
    static const int widths[6] = {4, 2, 2, 2, 2, 2};
    char *p = out;
    for (int f = 0; f < 6; f++) {
        if (f == 3)
            *p++ = 'T';
        int64_t v = fields[f];
        for (int i = widths[f] - 1; i >= 0; i--) {
            p[i] = (char)('0' + v % 10);
            v /= 10;
        }
        p += widths[f];
    }
    *p++ = 'Z';
    *p = '\0';
    return true;
}

static bool check_common(const sigv4_request *req, const sigv4_config *cfg, err *e)
{
    if (req == NULL || cfg == NULL)
        return err_set(e, ERR_INVALID, "sigv4: request or config is NULL");
    if (req->method == NULL || *req->method == '\0')
        return err_set(e, ERR_INVALID, "sigv4: request method is missing");
    for (const char *p = req->method; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return err_set(e, ERR_INVALID,
                           "sigv4: method \"%s\" has a space or control "
                           "character",
                           req->method);
    if (req->path == NULL || req->path[0] != '/')
        return err_set(e, ERR_INVALID, "sigv4: path \"%s\" does not start with '/'",
                       req->path ? req->path : "(null)");
    if (req->body == NULL && req->body_len != 0)
        return err_set(e, ERR_INVALID, "sigv4: body is NULL but body_len is %zu", req->body_len);
    if (req->payload_hash != NULL) {
        if (*req->payload_hash == '\0')
            return err_set(e, ERR_INVALID, "sigv4: payload_hash is empty");
        for (const char *p = req->payload_hash; *p; p++)
            if ((unsigned char)*p <= ' ')
                return err_set(e, ERR_INVALID, "sigv4: payload_hash \"%s\" has whitespace",
                               req->payload_hash);
    }
    const aws_creds *cr = cfg->creds;
    if (cr == NULL || cr->access_key_id == NULL || *cr->access_key_id == '\0')
        return err_set(e, ERR_INVALID, "sigv4: no access key id");
    for (const char *p = cr->access_key_id; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '/' || *p == ',')
            return err_set(e, ERR_INVALID, "sigv4: access key id \"%s\" has whitespace, '/' or ','",
                           cr->access_key_id);
    if (cr->secret_access_key == NULL || *cr->secret_access_key == '\0')
        return err_set(e, ERR_INVALID, "sigv4: no secret access key for \"%s\"", cr->access_key_id);
    return check_scope_part("region", cfg->region, e) &&
           check_scope_part("service", cfg->service, e);
}

/* ---- canonical URI ---- */

typedef struct seg {
    const char *p;
    size_t n;
} seg;

/* botocore's remove_dot_segments: drops empty and "." segments, ".." removes
 * the previous one (never above the root), and a trailing '/' survives only
 * when something is left. The suite's get-slash* and get-relative* cases. */
static void canonical_uri(text *out, const char *path, bool normalize, bool double_encode)
{
    size_t len = strlen(path);
    if (!normalize) {
        if (double_encode)
            text_encode(out, path, len, true);
        else
            text_put(out, path, len);
        return;
    }
    seg stack[STACK_ITEMS];
    seg *segs = stack;
    size_t count = 0, cap = STACK_ITEMS;
    bool heap = false;
    const char *p = path, *end = path + len;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        size_t n = (size_t)(stop - p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (count)
                count--;
        } else if (n != 0 && !(n == 1 && p[0] == '.')) {
            if (count == cap)
                segs = items_grow(segs, &heap, &cap, sizeof *segs);
            segs[count].p = p;
            segs[count].n = n;
            count++;
        }
        p = stop + 1;
    }
    text_putc(out, '/');
    for (size_t i = 0; i < count; i++) {
        if (i)
            text_putc(out, '/');
        if (double_encode)
            text_encode(out, segs[i].p, segs[i].n, false);
        else
            text_put(out, segs[i].p, segs[i].n);
    }
    if (count && path[len - 1] == '/')
        text_putc(out, '/');
    if (heap)
        free(segs);
}

/* ---- canonical query ---- */

typedef struct param {
    size_t key, key_len; /* offsets into the encoded-parameter text */
    size_t val, val_len;
} param;

typedef struct params {
    param stack[STACK_ITEMS];
    param *items;
    size_t count, cap;
    bool heap;
    char text_stack[STACK_TEXT];
    text enc; /* every key and value, encoded, back to back */
} params;

static void params_init(params *ps)
{
    ps->items = ps->stack;
    ps->count = 0;
    ps->cap = STACK_ITEMS;
    ps->heap = false;
    text_init(&ps->enc, ps->text_stack, sizeof ps->text_stack);
}

static void params_free(params *ps)
{
    if (ps->heap)
        free(ps->items);
    text_free(&ps->enc);
}

static param *params_next(params *ps)
{
    if (ps->count == ps->cap)
        ps->items = items_grow(ps->items, &ps->heap, &ps->cap, sizeof *ps->items);
    return &ps->items[ps->count++];
}

/* Adds one parameter from the request's query, normalising its encoding. */
static void params_add_raw(params *ps, const char *k, size_t kn, const char *v, size_t vn)
{
    param *pa = params_next(ps);
    pa->key = ps->enc.len;
    text_reencode(&ps->enc, k, kn);
    pa->key_len = ps->enc.len - pa->key;
    pa->val = ps->enc.len;
    text_reencode(&ps->enc, v, vn);
    pa->val_len = ps->enc.len - pa->val;
}

/* Adds one of our X-Amz-* parameters: the key is already canonical and the
 * value is plain text. */
static void params_add(params *ps, const char *k, const char *v, size_t vn)
{
    param *pa = params_next(ps);
    pa->key = ps->enc.len;
    text_puts(&ps->enc, k);
    pa->key_len = ps->enc.len - pa->key;
    pa->val = ps->enc.len;
    text_encode(&ps->enc, v, vn, false);
    pa->val_len = ps->enc.len - pa->val;
}

/* Splits on '&' and at the first '='; empty pieces ("a=1&&b=2") carry no
 * parameter and are skipped, a piece without '=' is a key with empty value. */
static void params_parse(params *ps, const char *query)
{
    if (query == NULL)
        return;
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n) {
            const char *eq = memchr(p, '=', n);
            if (eq)
                params_add_raw(ps, p, (size_t)(eq - p), eq + 1, n - (size_t)(eq - p) - 1);
            else
                params_add_raw(ps, p, n, "", 0);
        }
        if (!amp)
            break;
        p = amp + 1;
    }
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int param_cmp(const char *base, const param *a, const param *b)
{
    int c = bytes_cmp(base + a->key, a->key_len, base + b->key, b->key_len);
    if (c)
        return c;
    return bytes_cmp(base + a->val, a->val_len, base + b->val, b->val_len);
}

/* Insertion sort: requests carry a handful of parameters, and it needs no
 * context pointer (qsort has none). Quadratic only for absurd queries. */
static void params_sort(params *ps)
{
    const char *base = ps->enc.p;
    for (size_t i = 1; i < ps->count; i++) {
        param x = ps->items[i];
        size_t j = i;
        while (j > 0 && param_cmp(base, &ps->items[j - 1], &x) > 0) {
            ps->items[j] = ps->items[j - 1];
            j--;
        }
        ps->items[j] = x;
    }
}

static void params_write(const params *ps, text *out)
{
    for (size_t i = 0; i < ps->count; i++) {
        const param *pa = &ps->items[i];
        if (i)
            text_putc(out, '&');
        text_put(out, ps->enc.p + pa->key, pa->key_len);
        text_putc(out, '=');
        text_put(out, ps->enc.p + pa->val, pa->val_len);
    }
}

/* ---- canonical headers ---- */

typedef struct hdr {
    size_t name; /* offset of the lower-cased name in the names text */
    size_t name_len;
    const char *value;
    size_t order; /* position in the request: repeated names keep it */
} hdr;

typedef struct hdrs {
    hdr stack[STACK_ITEMS];
    hdr *items;
    size_t count, cap;
    bool heap;
    char names_stack[512];
    text names;
} hdrs;

static void hdrs_init(hdrs *hs)
{
    hs->items = hs->stack;
    hs->count = 0;
    hs->cap = STACK_ITEMS;
    hs->heap = false;
    text_init(&hs->names, hs->names_stack, sizeof hs->names_stack);
}

static void hdrs_free(hdrs *hs)
{
    if (hs->heap)
        free(hs->items);
    text_free(&hs->names);
}

/* Appends a header whose lower-cased name the caller has just written at
 * the end of the names text (n bytes, not yet counted in its length). */
static void hdrs_commit(hdrs *hs, size_t n, const char *value)
{
    if (hs->count == hs->cap)
        hs->items = items_grow(hs->items, &hs->heap, &hs->cap, sizeof *hs->items);
    hdr *h = &hs->items[hs->count];
    h->name = hs->names.len;
    h->name_len = n;
    hs->names.len += n;
    h->value = value;
    h->order = hs->count++;
}

static void hdrs_add(hdrs *hs, const char *lname, size_t n, const char *value)
{
    text_reserve(&hs->names, n);
    memcpy(hs->names.p + hs->names.len, lname, n);
    hdrs_commit(hs, n, value);
}

static bool name_is(const char *lname, size_t n, const char *what)
{
    return strlen(what) == n && memcmp(lname, what, n) == 0;
}

/* Which request headers are signed: all but those botocore leaves out
 * (expect, user-agent, x-amzn-trace-id: proxies and SDKs change them), the
 * Authorization being replaced, and the ones this signature adds itself,
 * whose old values (a retry's) would be stale. */
static bool skip_header(const char *lname, size_t n, const sigv4_config *cfg, bool presign)
{
    switch (n) {
    case 6:
        return memcmp(lname, "expect", 6) == 0;
    case 10:
        return memcmp(lname, "user-agent", 10) == 0 ||
               (!presign && memcmp(lname, "x-amz-date", 10) == 0);
    case 13:
        return memcmp(lname, "authorization", 13) == 0;
    case 15:
        return memcmp(lname, "x-amzn-trace-id", 15) == 0;
    case 20:
        return !presign &&
               ((cfg->creds->session_token && memcmp(lname, "x-amz-security-token", 20) == 0) ||
                (cfg->add_content_sha256 && memcmp(lname, "x-amz-content-sha256", 20) == 0));
    default:
        return false;
    }
}

static int hdr_cmp(const char *base, const hdr *a, const hdr *b)
{
    int c = bytes_cmp(base + a->name, a->name_len, base + b->name, b->name_len);
    if (c)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void hdrs_sort(hdrs *hs)
{
    const char *base = hs->names.p;
    for (size_t i = 1; i < hs->count; i++) {
        hdr x = hs->items[i];
        size_t j = i;
        while (j > 0 && hdr_cmp(base, &hs->items[j - 1], &x) > 0) {
            hs->items[j] = hs->items[j - 1];
            j--;
        }
        hs->items[j] = x;
    }
}

/* Collects the request headers to sign with lower-cased names. Fails on
 * names that would corrupt the canonical text and when Host is absent. */
static bool hdrs_collect(hdrs *hs, const http_headers *in, const sigv4_config *cfg, bool presign,
                         err *e)
{
    bool host = false;
    for (size_t i = 0; in && i < in->count; i++) {
        const char *name = in->items[i].name;
        size_t n = name ? strlen(name) : 0;
        if (n == 0)
            return err_set(e, ERR_INVALID, "sigv4: header %zu has an empty name", i);
        text_reserve(&hs->names, n);
        char *lower = hs->names.p + hs->names.len;
        for (size_t j = 0; j < n; j++) {
            unsigned char c = (unsigned char)name[j];
            if (c <= ' ' || c == ':' || c == ';' || c >= 0x7f)
                return err_set(e, ERR_INVALID,
                               "sigv4: header name \"%s\" has a space, ':', ';' or a "
                               "non-ASCII/control character",
                               name);
            lower[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        if (skip_header(lower, n, cfg, presign))
            continue;
        if (name_is(lower, n, "host"))
            host = true;
        hdrs_commit(hs, n, in->items[i].value ? in->items[i].value : "");
    }
    if (!host)
        return err_set(e, ERR_INVALID, "sigv4: the request has no Host header");
    return true;
}

/* Trimmed, with each run of whitespace (line breaks of folded values
 * included) turned into one space. */
static void put_header_value(text *out, const char *v)
{
    size_t n = strlen(v);
    text_reserve(out, n);
    char *o = out->p + out->len;
    bool pending_space = false, any = false;
    for (const unsigned char *p = (const unsigned char *)v, *end = p + n; p < end; p++) {
        if (BYTE_CLASS[*p] & HEADER_SPACE) {
            pending_space = any;
            continue;
        }
        if (pending_space) {
            *o++ = ' ';
            pending_space = false;
        }
        *o++ = (char)*p;
        any = true;
    }
    out->len = (size_t)(o - out->p);
}

/* Writes "name:v1,v2\n" per distinct name to *canon and "a;b;c" to *signed_list. */
static void hdrs_write(const hdrs *hs, text *canon, text *signed_list)
{
    const char *base = hs->names.p;
    for (size_t i = 0; i < hs->count; i++) {
        const hdr *h = &hs->items[i];
        bool same = i > 0 && bytes_cmp(base + h->name, h->name_len, base + hs->items[i - 1].name,
                                       hs->items[i - 1].name_len) == 0;
        if (same) {
            text_putc(canon, ',');
        } else {
            if (i) {
                text_putc(canon, '\n');
                text_putc(signed_list, ';');
            }
            text_put(canon, base + h->name, h->name_len);
            text_putc(canon, ':');
            text_put(signed_list, base + h->name, h->name_len);
        }
        put_header_value(canon, h->value);
    }
    if (hs->count)
        text_putc(canon, '\n');
}

/* ---- the signature ---- */

typedef struct signing {
    char amz_date[TIMEUTIL_AMZ_LEN];
    char scope[256]; /* date/region/service/aws4_request */
    size_t scope_len;
    char payload[SHA256_LEN * 2 + 1]; /* body hash when computed here */
    const char *payload_hash;
    char signature[SHA256_LEN * 2 + 1];
    crypto_ctx *crypto;
} signing;

static bool signing_start(signing *s, const sigv4_request *req, const sigv4_config *cfg, err *e)
{
    if (!check_common(req, cfg, e) || !format_amz_date(cfg->when, s->amz_date, e))
        return false;
    size_t rn = strlen(cfg->region), sn = strlen(cfg->service);
    if (rn + sn + 24 > sizeof s->scope)
        return err_set(e, ERR_INVALID, "sigv4: region \"%s\" and service \"%s\" are too long",
                       cfg->region, cfg->service);
    char *p = s->scope;
    memcpy(p, s->amz_date, 8);
    p += 8;
    *p++ = '/';
    memcpy(p, cfg->region, rn);
    p += rn;
    *p++ = '/';
    memcpy(p, cfg->service, sn);
    p += sn;
    memcpy(p, "/aws4_request", 14);
    s->scope_len = (size_t)(p - s->scope) + 13;

    s->crypto = crypto_get(e);
    if (s->crypto == NULL)
        return false;
    if (req->payload_hash) {
        s->payload_hash = req->payload_hash;
    } else if (req->body_len == 0) {
        s->payload_hash = SIGV4_EMPTY_PAYLOAD_SHA256;
    } else {
        unsigned char digest[SHA256_LEN];
        span body = {req->body, req->body_len};
        if (!sha256_parts(s->crypto, &body, 1, digest, e))
            return false;
        for (size_t i = 0; i < SHA256_LEN; i++) {
            s->payload[2 * i] = HEX_LOWER[digest[i] >> 4];
            s->payload[2 * i + 1] = HEX_LOWER[digest[i] & 0x0f];
        }
        s->payload[2 * SHA256_LEN] = '\0';
        s->payload_hash = s->payload;
    }
    return true;
}

/* From the canonical request to the hex signature; also fills the
 * caller's canonical/string_to_sign copies when asked. */
static bool signing_finish(signing *s, const sigv4_config *cfg, const text *canon,
                           strbuf *canonical, strbuf *string_to_sign, err *e)
{
    unsigned char digest[SHA256_LEN];
    span whole = {canon->p, canon->len};
    if (!sha256_parts(s->crypto, &whole, 1, digest, e))
        return false;

    char sts_stack[512];
    text sts;
    text_init(&sts, sts_stack, sizeof sts_stack);
    text_puts(&sts, ALGORITHM "\n");
    text_put(&sts, s->amz_date, TIMEUTIL_AMZ_LEN - 1);
    text_putc(&sts, '\n');
    text_put(&sts, s->scope, s->scope_len);
    text_putc(&sts, '\n');
    text_hex(&sts, digest, SHA256_LEN);

    unsigned char sig[SHA256_LEN];
    char date8[9];
    memcpy(date8, s->amz_date, 8);
    date8[8] = '\0';
    bool ok = sign_string(s->crypto, cfg, date8, &sts, sig, e);
    if (ok) {
        for (size_t i = 0; i < SHA256_LEN; i++) {
            s->signature[2 * i] = HEX_LOWER[sig[i] >> 4];
            s->signature[2 * i + 1] = HEX_LOWER[sig[i] & 0x0f];
        }
        s->signature[2 * SHA256_LEN] = '\0';
        if (canonical) {
            strbuf_reset(canonical);
            strbuf_append(canonical, canon->p, canon->len);
        }
        if (string_to_sign) {
            strbuf_reset(string_to_sign);
            strbuf_append(string_to_sign, sts.p, sts.len);
        }
    }
    text_free(&sts);
    return ok;
}

/* method \n uri \n query \n headers \n signed \n payload */
static void canonical_request(text *out, const sigv4_request *req, const sigv4_config *cfg,
                              const params *ps, const text *canon_headers, const text *signed_list,
                              const char *payload_hash)
{
    text_puts(out, req->method);
    text_putc(out, '\n');
    canonical_uri(out, req->path, cfg->normalize_path, cfg->double_encode);
    text_putc(out, '\n');
    params_write(ps, out);
    text_putc(out, '\n');
    text_put(out, canon_headers->p, canon_headers->len);
    text_putc(out, '\n');
    text_put(out, signed_list->p, signed_list->len);
    text_putc(out, '\n');
    text_puts(out, payload_hash);
}

typedef struct work {
    hdrs hs;
    params ps;
    char canon_headers_stack[1024];
    text canon_headers;
    char signed_stack[256];
    text signed_list;
    char canon_stack[STACK_TEXT];
    text canon;
} work;

static void work_init(work *w)
{
    hdrs_init(&w->hs);
    params_init(&w->ps);
    text_init(&w->canon_headers, w->canon_headers_stack, sizeof w->canon_headers_stack);
    text_init(&w->signed_list, w->signed_stack, sizeof w->signed_stack);
    text_init(&w->canon, w->canon_stack, sizeof w->canon_stack);
}

static void work_free(work *w)
{
    hdrs_free(&w->hs);
    params_free(&w->ps);
    text_free(&w->canon_headers);
    text_free(&w->signed_list);
    text_free(&w->canon);
}

bool sigv4_sign_headers(const sigv4_request *req, const sigv4_config *cfg, http_headers *add,
                        strbuf *canonical, strbuf *string_to_sign, err *e)
{
    signing s;
    if (!signing_start(&s, req, cfg, e))
        return false;
    if (add == NULL)
        return err_set(e, ERR_INVALID, "sigv4: no header list to add the signature to");
    const char *token = cfg->creds->session_token;
    bool sign_token = token && !cfg->omit_session_token;

    work wk;
    work *w = &wk;
    work_init(w);
    bool ok = hdrs_collect(&w->hs, req->headers, cfg, false, e);
    if (ok) {
        hdrs_add(&w->hs, "x-amz-date", 10, s.amz_date);
        if (sign_token)
            hdrs_add(&w->hs, "x-amz-security-token", 20, token);
        if (cfg->add_content_sha256)
            hdrs_add(&w->hs, "x-amz-content-sha256", 20, s.payload_hash);
        hdrs_sort(&w->hs);
        hdrs_write(&w->hs, &w->canon_headers, &w->signed_list);
        params_parse(&w->ps, req->query);
        params_sort(&w->ps);
        canonical_request(&w->canon, req, cfg, &w->ps, &w->canon_headers, &w->signed_list,
                          s.payload_hash);
        ok = signing_finish(&s, cfg, &w->canon, canonical, string_to_sign, e);
    }
    if (ok) {
        char auth_stack[512];
        text auth;
        text_init(&auth, auth_stack, sizeof auth_stack);
        text_puts(&auth, ALGORITHM " Credential=");
        text_puts(&auth, cfg->creds->access_key_id);
        text_putc(&auth, '/');
        text_put(&auth, s.scope, s.scope_len);
        text_puts(&auth, ", SignedHeaders=");
        text_put(&auth, w->signed_list.p, w->signed_list.len);
        text_puts(&auth, ", Signature=");
        text_put(&auth, s.signature, SHA256_LEN * 2);
        text_putc(&auth, '\0');

        http_headers_add(add, "X-Amz-Date", s.amz_date);
        if (token)
            http_headers_add(add, "X-Amz-Security-Token", token);
        if (cfg->add_content_sha256)
            http_headers_add(add, "X-Amz-Content-Sha256", s.payload_hash);
        http_headers_add(add, "Authorization", auth.p);
        text_free(&auth);
    }
    work_free(w);
    return ok;
}

bool sigv4_presign(const sigv4_request *req, const sigv4_config *cfg, strbuf *query_out,
                   strbuf *canonical, strbuf *string_to_sign, err *e)
{
    signing s;
    if (!signing_start(&s, req, cfg, e))
        return false;
    if (query_out == NULL)
        return err_set(e, ERR_INVALID, "sigv4: no buffer for the presigned query");
    if (cfg->expires < 1 || cfg->expires > EXPIRES_MAX)
        return err_set(e, ERR_INVALID, "sigv4: expires %d is outside 1..%d seconds", cfg->expires,
                       EXPIRES_MAX);
    const char *token = cfg->creds->session_token;
    bool sign_token = token && !cfg->omit_session_token;

    work wk;
    work *w = &wk;
    work_init(w);
    bool ok = hdrs_collect(&w->hs, req->headers, cfg, true, e);
    char credential[512];
    char expires[16];
    size_t credential_len = 0, expires_len = 0;
    if (ok) {
        hdrs_sort(&w->hs);
        hdrs_write(&w->hs, &w->canon_headers, &w->signed_list);
        credential_len = (size_t)snprintf(credential, sizeof credential, "%s/%.*s",
                                          cfg->creds->access_key_id, (int)s.scope_len, s.scope);
        if (credential_len >= sizeof credential)
            ok = err_set(e, ERR_INVALID, "sigv4: access key id \"%s\" is too long",
                         cfg->creds->access_key_id);
        expires_len = (size_t)snprintf(expires, sizeof expires, "%d", cfg->expires);
    }
    if (ok) {
        params_parse(&w->ps, req->query);
        params_add(&w->ps, "X-Amz-Algorithm", ALGORITHM, sizeof ALGORITHM - 1);
        params_add(&w->ps, "X-Amz-Credential", credential, credential_len);
        params_add(&w->ps, "X-Amz-Date", s.amz_date, TIMEUTIL_AMZ_LEN - 1);
        params_add(&w->ps, "X-Amz-Expires", expires, expires_len);
        params_add(&w->ps, "X-Amz-SignedHeaders", w->signed_list.p, w->signed_list.len);
        if (sign_token)
            params_add(&w->ps, "X-Amz-Security-Token", token, strlen(token));
        params_sort(&w->ps);
        canonical_request(&w->canon, req, cfg, &w->ps, &w->canon_headers, &w->signed_list,
                          s.payload_hash);
        ok = signing_finish(&s, cfg, &w->canon, canonical, string_to_sign, e);
    }
    if (ok) {
        /* The request's own parameters go out as the caller wrote them; the
         * order of ours follows the aws-c-auth suite. */
        char q_stack[1024];
        text q;
        text_init(&q, q_stack, sizeof q_stack);
        if (req->query && *req->query) {
            text_puts(&q, req->query);
            text_putc(&q, '&');
        }
        text_puts(&q, "X-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=");
        text_encode(&q, credential, credential_len, false);
        text_puts(&q, "&X-Amz-Date=");
        text_puts(&q, s.amz_date);
        text_puts(&q, "&X-Amz-SignedHeaders=");
        text_encode(&q, w->signed_list.p, w->signed_list.len, false);
        text_puts(&q, "&X-Amz-Expires=");
        text_put(&q, expires, expires_len);
        if (token) {
            text_puts(&q, "&X-Amz-Security-Token=");
            text_encode(&q, token, strlen(token), false);
        }
        text_puts(&q, "&X-Amz-Signature=");
        text_put(&q, s.signature, SHA256_LEN * 2);
        strbuf_reset(query_out);
        strbuf_append(query_out, q.p, q.len);
        text_free(&q);
    }
    work_free(w);
    return ok;
}
