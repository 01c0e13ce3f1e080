/* lib/core/seal: AES-256-GCM sealing of channel secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/seal.h"

#include <stdlib.h>
#include <string.h>

static const char *const HEX_KEY =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char *const TENANT = "11111111-2222-3333-4444-555555555555";
static const char *const ROW = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
static const char *const SECRET = "https://hooks.slack.com/services/T000/B000/XXXXXXXX";

static seal_key key_of(const char *text)
{
    seal_key k;
    err e = {0};
    assert_true(seal_key_parse(text, &k, &e));
    return k;
}

static void sealed(const seal_key *k, unsigned char **out, size_t *n)
{
    unsigned char ad[SEAL_IDS_AD_LEN];
    assert_true(seal_ids_ad(TENANT, ROW, ad));
    err e = {0};
    assert_true(seal_encrypt(k, ad, sizeof ad, SECRET, strlen(SECRET), out, n, &e));
    assert_int_equal(*n, strlen(SECRET) + SEAL_OVERHEAD);
}

/* Opens with the row's additional data; true when it opened to SECRET. */
static bool opens(const seal_key *k, const char *tenant, const char *row, const unsigned char *s,
                  size_t n, err *e)
{
    unsigned char ad[SEAL_IDS_AD_LEN];
    assert_true(seal_ids_ad(tenant, row, ad));
    unsigned char *pt;
    size_t ptn;
    if (!seal_decrypt(k, ad, sizeof ad, s, n, &pt, &ptn, e))
        return false;
    bool same = ptn == strlen(SECRET) && memcmp(pt, SECRET, ptn) == 0 && pt[ptn] == '\0';
    seal_free(pt, ptn + 1);
    assert_true(same);
    return true;
}

static void test_key_forms(void **state)
{
    (void)state;
    seal_key a = key_of(HEX_KEY), b = key_of("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    assert_memory_equal(a.bytes, b.bytes, SEAL_KEY_LEN);
    assert_int_equal(a.bytes[31], 0x1f);
    static const char *const bad[] = {
        "",
        "00",
        "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err e = {0};
        seal_key k;
        assert_false(seal_key_parse(bad[i], &k, &e));
        assert_int_equal(e.code, ERR_CONFIG);
        assert_null(strstr(e.message, bad[i][0] ? bad[i] : "\x01"));
        assert_false(seal_key_check(bad[i], &e));
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    seal_key k = key_of(HEX_KEY);
    unsigned char *s;
    size_t n;
    sealed(&k, &s, &n);
    assert_null(memmem(s, n, "hooks.slack.com", 15));
    err e = {0};
    assert_true(opens(&k, TENANT, ROW, s, n, &e));
    free(s);
    /* An empty plaintext seals too. */
    unsigned char *z, *pt;
    size_t zn, ptn;
    assert_true(seal_encrypt(&k, NULL, 0, "", 0, &z, &zn, &e));
    assert_int_equal(zn, SEAL_OVERHEAD);
    assert_true(seal_decrypt(&k, NULL, 0, z, zn, &pt, &ptn, &e));
    assert_int_equal(ptn, 0);
    seal_free(pt, 1);
    free(z);
    seal_key_wipe(&k);
    static const unsigned char zero[SEAL_KEY_LEN];
    assert_memory_equal(k.bytes, zero, SEAL_KEY_LEN);
}

static void test_wrong_key(void **state)
{
    (void)state;
    seal_key k = key_of(HEX_KEY),
             other = key_of("ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    unsigned char *s;
    size_t n;
    sealed(&k, &s, &n);
    err e = {0};
    assert_false(opens(&other, TENANT, ROW, s, n, &e));
    assert_int_equal(e.code, ERR_AUTH);
    assert_null(strstr(e.message, "hooks"));
    free(s);
}

static void test_tampering(void **state)
{
    (void)state;
    seal_key k = key_of(HEX_KEY);
    unsigned char *s;
    size_t n;
    sealed(&k, &s, &n);
    /* Every byte matters: nonce, ciphertext and tag alike. */
    size_t where[] = {0, SEAL_NONCE_LEN - 1, SEAL_NONCE_LEN, n / 2, n - SEAL_TAG_LEN, n - 1};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        s[where[i]] ^= 0x01;
        err e = {0};
        assert_false(opens(&k, TENANT, ROW, s, n, &e));
        assert_int_equal(e.code, ERR_AUTH);
        s[where[i]] ^= 0x01;
    }
    err e = {0};
    assert_false(opens(&k, TENANT, ROW, s, n - 1, &e)); /* truncated */
    assert_false(opens(&k, TENANT, ROW, s, SEAL_OVERHEAD - 1, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_true(opens(&k, TENANT, ROW, s, n, &e));
    free(s);
}

static void test_wrong_row(void **state)
{
    (void)state;
    seal_key k = key_of(HEX_KEY);
    unsigned char *s;
    size_t n;
    sealed(&k, &s, &n);
    err e = {0};
    assert_false(opens(&k, TENANT, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeef", s, n, &e));
    assert_int_equal(e.code, ERR_AUTH);
    assert_false(opens(&k, "11111111-2222-3333-4444-555555555556", ROW, s, n, &e));
    assert_false(opens(&k, ROW, TENANT, s, n, &e)); /* swapped */
    free(s);
    unsigned char ad[SEAL_IDS_AD_LEN];
    assert_false(seal_ids_ad("not-a-uuid", ROW, ad));
    assert_false(seal_ids_ad(TENANT, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeeg", ad));
    assert_false(seal_ids_ad(TENANT, "aaaaaaaa+bbbb-cccc-dddd-eeeeeeeeeeee", ad));
}

static void test_nonces_differ(void **state)
{
    (void)state;
    seal_key k = key_of(HEX_KEY);
    unsigned char *a, *b;
    size_t an, bn;
    sealed(&k, &a, &an);
    sealed(&k, &b, &bn);
    assert_memory_not_equal(a, b, SEAL_NONCE_LEN);
    assert_memory_not_equal(a + SEAL_NONCE_LEN, b + SEAL_NONCE_LEN, an - SEAL_NONCE_LEN);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_forms), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wrong_key), cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_wrong_row), cmocka_unit_test(test_nonces_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
