#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/strbuf.h"

#include <stdlib.h>
#include <string.h>

static void test_append_and_grow(void **state)
{
    (void)state;
    strbuf sb = STRBUF_INIT;
    assert_string_equal(strbuf_str(&sb), "");
    for (int i = 0; i < 1000; i++)
        strbuf_printf(&sb, "%d,", i);
    assert_true(sb.len > 3000);
    assert_int_equal(strlen(sb.buf), sb.len);
    assert_memory_equal(sb.buf, "0,1,2,", 6);
    strbuf_truncate(&sb, 2);
    assert_string_equal(strbuf_str(&sb), "0,");
    strbuf_putc(&sb, 'x');
    strbuf_append(&sb, "\0y", 2); /* binary-safe */
    assert_int_equal(sb.len, 5);
    strbuf_free(&sb);
    assert_null(sb.buf);
}

static void test_grow_terminates(void **state)
{
    (void)state;
    /* Growing an empty buffer without appending must still leave a string. */
    strbuf sb = STRBUF_INIT;
    strbuf_grow(&sb, 100);
    assert_non_null(sb.buf);
    assert_int_equal(sb.buf[0], '\0');
    assert_int_equal(strlen(sb.buf), 0);
    strbuf_append(&sb, "", 0);
    assert_string_equal(sb.buf, "");
    strbuf_free(&sb);
}

static void test_form_decode(void **state)
{
    (void)state;
    strbuf sb = STRBUF_INIT;
    const char in[] = "a%2Fb+c%zz%4";
    strbuf_form_decode(&sb, in, strlen(in));
    assert_string_equal(strbuf_str(&sb), "a/b c%zz%4");
    strbuf_reset(&sb);
    strbuf_form_decode(&sb, "%e2%9C%93%00x", 13); /* bytes, NUL included */
    assert_int_equal(sb.len, 5);
    assert_memory_equal(sb.buf, "\xe2\x9c\x93\0x", 5);
    strbuf_free(&sb);
}

static void test_hex_and_detach(void **state)
{
    (void)state;
    strbuf sb = STRBUF_INIT;
    const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    strbuf_hex(&sb, bytes, sizeof bytes);
    assert_string_equal(strbuf_str(&sb), "000fa5ff");
    char *s = strbuf_detach(&sb);
    assert_string_equal(s, "000fa5ff");
    assert_null(sb.buf);
    free(s);
    s = strbuf_detach(&sb); /* empty buffer still yields a string */
    assert_string_equal(s, "");
    free(s);
    strbuf_puts(&sb, "secret");
    strbuf_free_secret(&sb);
    assert_int_equal(sb.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_grow),
        cmocka_unit_test(test_grow_terminates),
        cmocka_unit_test(test_form_decode),
        cmocka_unit_test(test_hex_and_detach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
