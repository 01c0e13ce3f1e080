#include "aws/xml.h"
#include "core/strbuf.h"
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static xml_doc *parse_ok(const char *s)
{
    xml_doc *d = NULL;
    err e;
    err_clear(&e);
    bool ok = xml_parse(s, strlen(s), NULL, &d, &e);
    if (!ok)
        fail_msg("parse failed: %s", e.message);
    return d;
}

static void test_paths_and_text(void **state)
{
    (void)state;
    xml_doc *d = parse_ok("<?xml version=\"1.0\"?>\n<A xmlns=\"urn:x\"><B><C>one</C><C>two</C></B>"
                          "<D/><E>  padded  </E></A>");
    const xml_node *r = xml_root(d);
    assert_string_equal(r->name, "A");
    assert_null(r->parent);
    assert_string_equal(xml_find_text(r, "B/C"), "one");
    assert_string_equal(xml_find_text(r, "D"), "");
    /* Leaf text is kept exactly, whitespace included. */
    assert_string_equal(xml_find_text(r, "E"), "  padded  ");
    assert_null(xml_find_text(r, "B/X"));
    assert_null(xml_find_text(r, "Z/C"));
    assert_ptr_equal(xml_find(r, ""), r);
    assert_int_equal(xml_count(xml_child(r, "B"), "C"), 2);
    assert_int_equal(xml_count(r, NULL), 3);
    const xml_node *c = xml_find(r, "B/C");
    assert_ptr_equal(c->parent, xml_child(r, "B"));
    assert_string_equal(xml_next(c)->text, "two");
    assert_null(xml_next(xml_next(c)));
    assert_null(xml_find(NULL, "B"));
    assert_null(xml_child(NULL, "B"));
    assert_null(xml_next(NULL));
    xml_free(d);
}

static void test_entities_and_prefixes(void **state)
{
    (void)state;
    xml_doc *d = parse_ok("<s3:R xmlns:s3=\"urn:s3\"><s3:K>a &amp; b &lt;c&gt; &quot;d&quot; "
                          "&#233;&#x263A;</s3:K><CDATA><![CDATA[<raw>&amp;]]></CDATA></s3:R>");
    const xml_node *r = xml_root(d);
    assert_string_equal(r->name, "R");
    assert_string_equal(xml_find_text(r, "K"), "a & b <c> \"d\" \xc3\xa9\xe2\x98\xba");
    assert_string_equal(xml_find_text(r, "CDATA"), "<raw>&amp;");
    xml_free(d);
}

/* Whitespace between child elements is layout, not content. */
static void test_container_whitespace_dropped(void **state)
{
    (void)state;
    xml_doc *d = parse_ok("<A>\n  <B>x</B>\n</A>");
    assert_string_equal(xml_root(d)->text, "");
    assert_int_equal(xml_root(d)->text_len, 0);
    xml_free(d);
}

static void test_ec2_nested_iteration(void **state)
{
    (void)state;
    size_t len;
    char *body = fixture_load("paging/ec2_describe_instances_1.xml", &len);
    xml_doc *d = NULL;
    assert_true(xml_parse(body, len, NULL, &d, NULL));
    const xml_node *root = xml_root(d);
    strbuf ids = STRBUF_INIT;
    int reservations = 0;
    for (const xml_node *r = xml_find(root, "reservationSet/item"); r; r = xml_next(r)) {
        reservations++;
        for (const xml_node *i = xml_find(r, "instancesSet/item"); i; i = xml_next(i))
            strbuf_printf(&ids, "%s=%s,", xml_find_text(i, "instanceId"),
                          xml_find_text(i, "instanceState/name"));
    }
    assert_int_equal(reservations, 2);
    assert_string_equal(strbuf_str(&ids), "i-1234567890abcdef0=running,i-0598c7d356eba48d7=stopped,"
                                          "i-0fedcba9876543210=running,");
    assert_string_equal(
        xml_find_text(root, "reservationSet/item/instancesSet/item/tagSet/item/value"), "web-1");
    strbuf_free(&ids);
    xml_free(d);
    free(body);
}

static void test_typed_reads(void **state)
{
    (void)state;
    xml_doc *d =
        parse_ok("<A><T>true</T><F>false</F><X>yes</X><N>-42</N><Big>9223372036854775807</Big>"
                 "<Over>9223372036854775808</Over><Bad>12a</Bad><Empty/></A>");
    const xml_node *r = xml_root(d);
    bool b = false;
    int64_t n = 0;
    err e;
    assert_true(xml_find_bool(r, "T", &b, &e));
    assert_true(b);
    assert_true(xml_find_bool(r, "F", &b, &e));
    assert_false(b);
    assert_false(xml_find_bool(r, "X", &b, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "\"yes\""));
    assert_false(xml_find_bool(r, "Missing", &b, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_true(xml_find_int64(r, "N", &n, &e));
    assert_int_equal(n, -42);
    assert_true(xml_find_int64(r, "Big", &n, &e));
    assert_true(n == INT64_MAX);
    assert_false(xml_find_int64(r, "Over", &n, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_false(xml_find_int64(r, "Bad", &n, &e));
    assert_non_null(strstr(e.message, "12a"));
    assert_false(xml_find_int64(r, "Empty", &n, &e));
    char *s = xml_find_strdup(r, "N");
    assert_string_equal(s, "-42");
    free(s);
    assert_null(xml_find_strdup(r, "Nope"));
    xml_free(d);
}

static void test_malformed_line_column(void **state)
{
    (void)state;
    size_t len;
    char *body = fixture_load("malformed/mismatched.xml", &len);
    xml_doc *d = (xml_doc *)1;
    err e;
    assert_false(xml_parse(body, len, NULL, &d, &e));
    assert_null(d);
    assert_int_equal(e.code, ERR_PARSE);
    /* </Credential> closes <Credentials> on line 5, column 7. */
    assert_non_null(strstr(e.message, "line 5 column 7"));
    assert_non_null(strstr(e.message, "mismatched tag"));
    free(body);

    body = fixture_load("malformed/truncated.xml", &len);
    assert_false(xml_parse(body, len, NULL, &d, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "line 1"));
    free(body);

    assert_false(xml_parse("", 0, NULL, &d, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_false(xml_parse(NULL, 0, NULL, &d, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_false(xml_parse("<a></a><b/>", 11, NULL, &d, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_false(xml_parse("<a>&bogus;</a>", 14, NULL, &d, &e));
    assert_int_equal(e.code, ERR_PARSE);
}

static void test_doctype_refused(void **state)
{
    (void)state;
    size_t len;
    char *body = fixture_load("malformed/doctype_entities.xml", &len);
    xml_doc *d = NULL;
    err e;
    assert_false(xml_parse(body, len, NULL, &d, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "DOCTYPE"));
    assert_non_null(strstr(e.message, "line 2"));
    free(body);
}

static void test_limits(void **state)
{
    (void)state;
    strbuf sb = STRBUF_INIT;
    for (int i = 0; i < 65; i++)
        strbuf_puts(&sb, "<a>");
    for (int i = 0; i < 65; i++)
        strbuf_puts(&sb, "</a>");
    xml_doc *d = NULL;
    err e;
    assert_false(xml_parse(sb.buf, sb.len, NULL, &d, &e));
    assert_int_equal(e.code, ERR_LIMIT);
    assert_non_null(strstr(e.message, "nested"));
    /* Exactly at the limit is fine. */
    strbuf_reset(&sb);
    for (int i = 0; i < 64; i++)
        strbuf_puts(&sb, "<a>");
    for (int i = 0; i < 64; i++)
        strbuf_puts(&sb, "</a>");
    assert_true(xml_parse(sb.buf, sb.len, NULL, &d, &e));
    xml_free(d);

    strbuf_reset(&sb);
    strbuf_puts(&sb, "<r>");
    for (int i = 0; i < 100; i++)
        strbuf_puts(&sb, "<i/>");
    strbuf_puts(&sb, "</r>");
    xml_limits lim = {0, 0, 100};
    assert_false(xml_parse(sb.buf, sb.len, &lim, &d, &e));
    assert_int_equal(e.code, ERR_LIMIT);
    lim.max_nodes = 101;
    assert_true(xml_parse(sb.buf, sb.len, &lim, &d, &e));
    assert_int_equal(xml_count(xml_root(d), "i"), 100);
    xml_free(d);

    xml_limits small = {sb.len - 1, 0, 0};
    assert_false(xml_parse(sb.buf, sb.len, &small, &d, &e));
    assert_int_equal(e.code, ERR_LIMIT);
    assert_null(d);
    strbuf_free(&sb);
}

/* A multi-megabyte answer crosses the 1 MiB feeding slices and the arena's
 * chunk size; every element must survive. */
static void test_large_document(void **state)
{
    (void)state;
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "<r>");
    const int n = 60000;
    for (int i = 0; i < n; i++)
        strbuf_printf(&sb, "<item><id>i-%08d</id><v>%s</v></item>", i,
                      i % 1000 ? "" : "xxxxxxxxxx");
    strbuf_puts(&sb, "</r>");
    assert_true(sb.len > ((size_t)2 << 20));
    xml_doc *d = NULL;
    assert_true(xml_parse(sb.buf, sb.len, NULL, &d, NULL));
    int k = 0;
    const xml_node *last = NULL;
    for (const xml_node *i = xml_find(xml_root(d), "item"); i; i = xml_next(i), k++)
        last = i;
    assert_int_equal(k, n);
    assert_string_equal(xml_find_text(last, "id"), "i-00059999");
    xml_free_secret(d);
    strbuf_free(&sb);
}

static void test_escape(void **state)
{
    (void)state;
    char *s = xml_escape("a<b>&\"c'");
    assert_string_equal(s, "a&lt;b&gt;&amp;&quot;c&apos;");
    free(s);
    s = xml_escape("");
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_and_text),
        cmocka_unit_test(test_entities_and_prefixes),
        cmocka_unit_test(test_container_whitespace_dropped),
        cmocka_unit_test(test_ec2_nested_iteration),
        cmocka_unit_test(test_typed_reads),
        cmocka_unit_test(test_malformed_line_column),
        cmocka_unit_test(test_doctype_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_large_document),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
