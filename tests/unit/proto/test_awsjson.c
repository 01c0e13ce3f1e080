#include "aws/awsjson.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_request(void **state)
{
    (void)state;
    json_t *body = json_pack("{s:s,s:i}", "NextToken", "abc", "MaxResults", 20);
    aws_request req;
    awsjson_request(&AWSJSON_ORGANIZATIONS, "ListAccounts", body, &req);
    json_decref(body);
    assert_string_equal(req.service, "organizations");
    assert_string_equal(req.operation, "ListAccounts");
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.path, "/");
    assert_int_equal(req.protocol, AWS_PROTO_JSON);
    assert_string_equal(http_headers_get(&req.headers, "X-Amz-Target"),
                        "AWSOrganizationsV20161128.ListAccounts");
    assert_string_equal(http_headers_get(&req.headers, "Content-Type"),
                        "application/x-amz-json-1.1");
    json_t *back = json_loads(strbuf_str(&req.body), 0, NULL);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "NextToken")), "abc");
    assert_int_equal(json_integer_value(json_object_get(back, "MaxResults")), 20);
    json_decref(back);
    aws_request_free(&req);

    awsjson_service v10 = {"dynamodb", "1.0", "DynamoDB_20120810"};
    awsjson_request(&v10, "ListTables", NULL, &req);
    assert_string_equal(http_headers_get(&req.headers, "Content-Type"),
                        "application/x-amz-json-1.0");
    assert_string_equal(http_headers_get(&req.headers, "X-Amz-Target"),
                        "DynamoDB_20120810.ListTables");
    assert_string_equal(strbuf_str(&req.body), "{}");
    aws_request_free(&req);

    awsjson_request(&AWSJSON_CE, "GetCostAndUsage", NULL, &req);
    assert_string_equal(req.service, "ce");
    assert_string_equal(http_headers_get(&req.headers, "X-Amz-Target"),
                        "AWSInsightsIndexService.GetCostAndUsage");
    aws_request_free(&req);
}

static void test_parse(void **state)
{
    (void)state;
    json_t *v = NULL;
    err e;
    const char *doc = "{\"Credentials\":{\"AccessKeyId\":\"AK\",\"Expiration\":1700000000.5},"
                      "\"When\":\"2024-01-02T03:04:05Z\",\"N\":null,\"B\":true}";
    assert_true(awsjson_parse(doc, strlen(doc), &v, &e));
    assert_string_equal(json_string_value(awsjson_find(v, "Credentials.AccessKeyId")), "AK");
    assert_null(awsjson_find(v, "Credentials.Nope"));
    assert_null(awsjson_find(v, "B.x"));
    assert_null(awsjson_get_string(v, "B"));
    time_t t = 0;
    assert_true(awsjson_get_time(awsjson_find(v, "Credentials"), "Expiration", &t, &e));
    assert_int_equal(t, 1700000000);
    assert_true(awsjson_get_time(v, "When", &t, &e));
    assert_int_equal(t, 1704164645);
    assert_false(awsjson_get_time(v, "N", &t, &e));
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_false(awsjson_get_time(v, "B", &t, &e));
    assert_int_equal(e.code, ERR_PARSE);
    json_decref(v);

    assert_true(awsjson_parse(" \n", 2, &v, &e));
    assert_true(json_is_object(v) && json_object_size(v) == 0);
    json_decref(v);

    assert_false(awsjson_parse("{\"a\":\n  [1,}", 12, &v, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "line 2"));
    assert_null(v);
    assert_false(awsjson_parse("[1]", 3, &v, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "not an object"));
    assert_false(awsjson_parse("{\"a\":1,\"a\":2}", 13, &v, &e));
    assert_int_equal(e.code, ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
