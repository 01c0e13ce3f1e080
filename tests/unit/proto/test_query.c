#include "aws/query.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_encode_rfc3986(void **state)
{
    (void)state;
    query_params q;
    query_init(&q, "AssumeRole", "2011-06-15");
    query_add(&q, "RoleSessionName", "a b+c=d,e.f@g-h_i~j");
    query_add(&q, "Policy", "{\"x\":\"/\xc3\xa9*&\"}");
    query_add(&q, "Empty", NULL);
    char *s = query_encode(&q);
    assert_string_equal(s, "Action=AssumeRole&Version=2011-06-15"
                           "&RoleSessionName=a%20b%2Bc%3Dd%2Ce.f%40g-h_i~j"
                           "&Policy=%7B%22x%22%3A%22%2F%C3%A9%2A%26%22%7D&Empty=");
    free(s);
    assert_string_equal(query_get(&q, "Version"), "2011-06-15");
    assert_null(query_get(&q, "Missing"));
    query_free(&q);
}

static void test_lists_and_maps(void **state)
{
    (void)state;
    const char *ids[] = {"i-1", "i-2"};
    query_params q;
    query_init(&q, "DescribeInstances", "2016-11-15");
    query_add_list(&q, AWS_PROTO_EC2, "InstanceId", ids, 2);
    query_add_list(&q, AWS_PROTO_EC2, "Nothing", ids, 0);
    query_add_list_field(&q, AWS_PROTO_EC2, "Filter", 1, "Name", "instance-state-name");
    query_add_list_field(&q, AWS_PROTO_EC2, "Filter", 1, "Value.1", "running");
    query_add_int(&q, "MaxResults", 1000);
    query_add_bool(&q, "DryRun", false);
    char *s = query_encode(&q);
    assert_string_equal(
        s, "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2"
           "&Filter.1.Name=instance-state-name&Filter.1.Value.1=running"
           "&MaxResults=1000&DryRun=false");
    free(s);
    query_free(&q);

    const char *keys[] = {"k1", "k 2"};
    const char *vals[] = {"v1", "v2"};
    query_init(&q, "ListUsers", "2010-05-08");
    query_add_list(&q, AWS_PROTO_QUERY, "PolicyArns", ids, 2);
    query_add_list(&q, AWS_PROTO_QUERY, "Empty", ids, 0);
    query_add_list_field(&q, AWS_PROTO_QUERY, "Tags", 3, "Key", "k");
    query_add_map(&q, "Attributes", NULL, NULL, keys, vals, 2);
    query_add_map(&q, "M", "Name", "Val", keys, vals, 1);
    query_addf(&q, "F", "%d-%s", 7, "x");
    s = query_encode(&q);
    assert_string_equal(s, "Action=ListUsers&Version=2010-05-08&PolicyArns.member.1=i-1"
                           "&PolicyArns.member.2=i-2&Empty=&Tags.member.3.Key=k"
                           "&Attributes.entry.1.key=k1&Attributes.entry.1.value=v1"
                           "&Attributes.entry.2.key=k%202&Attributes.entry.2.value=v2"
                           "&M.entry.1.Name=k1&M.entry.1.Val=v1&F=7-x");
    free(s);
    query_free(&q);
}

static void test_uri_encode_path(void **state)
{
    (void)state;
    strbuf sb = STRBUF_INIT;
    query_uri_encode(&sb, "logs/a b/c~d", 12, true);
    assert_string_equal(strbuf_str(&sb), "logs/a%20b/c~d");
    strbuf_reset(&sb);
    query_uri_encode(&sb, "logs/a", 6, false);
    assert_string_equal(strbuf_str(&sb), "logs%2Fa");
    strbuf_free(&sb);
}

static void test_to_request(void **state)
{
    (void)state;
    query_params q;
    query_init(&q, "GetCallerIdentity", "2011-06-15");
    aws_request req;
    query_to_request(&q, "sts", "GetCallerIdentity", AWS_PROTO_QUERY, &req);
    query_free(&q); /* the request must not depend on q */
    assert_string_equal(req.service, "sts");
    assert_string_equal(req.operation, "GetCallerIdentity");
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.path, "/");
    assert_null(req.query);
    assert_int_equal(req.protocol, AWS_PROTO_QUERY);
    assert_string_equal(http_headers_get(&req.headers, "content-type"),
                        "application/x-www-form-urlencoded; charset=utf-8");
    assert_string_equal(strbuf_str(&req.body), "Action=GetCallerIdentity&Version=2011-06-15");
    aws_request_free(&req);
}

static void test_parse_result(void **state)
{
    (void)state;
    const char *ok = "<ListUsersResponse><ListUsersResult><IsTruncated>false</IsTruncated>"
                     "</ListUsersResult></ListUsersResponse>";
    xml_doc *d = NULL;
    const xml_node *r = NULL;
    err e;
    assert_true(query_parse_result(ok, strlen(ok), "ListUsersResult", &d, &r, &e));
    assert_string_equal(xml_find_text(r, "IsTruncated"), "false");
    xml_free(d);
    assert_true(query_parse_result(ok, strlen(ok), NULL, &d, &r, &e));
    assert_string_equal(r->name, "ListUsersResponse");
    xml_free(d);
    assert_false(query_parse_result(ok, strlen(ok), "OtherResult", &d, &r, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "<ListUsersResponse> has no <OtherResult>"));
    assert_null(d);
    assert_false(query_parse_result("<x", 2, "R", &d, &r, &e));
    assert_int_equal(e.code, ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rfc3986),  cmocka_unit_test(test_lists_and_maps),
        cmocka_unit_test(test_uri_encode_path), cmocka_unit_test(test_to_request),
        cmocka_unit_test(test_parse_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
