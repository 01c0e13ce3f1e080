#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/secure.h"
#include "core/xmalloc.h"

#include <string.h>

static void test_random(void **state)
{
    (void)state;
    unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_true(secure_random(a, sizeof a, NULL));
    assert_true(secure_random(b, sizeof b, NULL));
    assert_memory_not_equal(a, zero, sizeof a);
    assert_memory_not_equal(a, b, sizeof a);
}

static void test_random_string_alphabet(void **state)
{
    (void)state;
    const char *alpha = "abc";
    char out[3001];
    int counts[3] = {0};
    assert_true(secure_random_string(out, 3000, alpha, NULL));
    assert_int_equal(strlen(out), 3000);
    for (int i = 0; i < 3000; i++) {
        const char *p = strchr(alpha, out[i]);
        assert_non_null(p);
        counts[p - alpha]++;
    }
    /* Unbiased: each letter near 1000; a 6-sigma band keeps this from flaking. */
    for (int i = 0; i < 3; i++)
        assert_in_range(counts[i], 850, 1150);
    err e;
    assert_false(secure_random_string(out, 4, "", &e));
    assert_int_equal(e.code, ERR_INVALID);
}

static void test_wipe_and_equal(void **state)
{
    (void)state;
    char buf[16] = "topsecretvalue!";
    secure_wipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    assert_true(secure_equal("abcd", "abcd", 4));
    assert_false(secure_equal("abcd", "abce", 4));
    secure_free_string(xstrdup("gone"));
    secure_free_string(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_random_string_alphabet),
        cmocka_unit_test(test_wipe_and_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
