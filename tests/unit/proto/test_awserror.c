#include "aws/awserror.h"
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Runs awserror_from_response on a fixture (or literal body when fixture is
 * NULL) with optional "Name: value" headers (NULL-terminated). */
static err run(aws_protocol p, long status, const char *fixture, const char *literal, ...)
{
    http_response r = HTTP_RESPONSE_INIT;
    r.status = status;
    if (fixture) {
        size_t len;
        char *b = fixture_load(fixture, &len);
        strbuf_append(&r.body, b, len);
        free(b);
    } else if (literal) {
        strbuf_puts(&r.body, literal);
    }
    va_list ap;
    va_start(ap, literal);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL)
        http_headers_add(&r.headers, name, va_arg(ap, const char *));
    va_end(ap);
    err e;
    err_clear(&e);
    assert_false(awserror_from_response(p, &r, &e));
    http_response_free(&r);
    assert_int_equal(e.code, ERR_AWS);
    assert_int_equal(e.http_status, status);
    return e;
}

static void test_protocol_names(void **state)
{
    (void)state;
    assert_string_equal(awserror_protocol_name(AWS_PROTO_QUERY), "query");
    assert_string_equal(awserror_protocol_name(AWS_PROTO_EC2), "ec2");
    assert_string_equal(awserror_protocol_name(AWS_PROTO_JSON), "json");
    assert_string_equal(awserror_protocol_name(AWS_PROTO_REST_XML), "rest-xml");
    assert_string_equal(awserror_protocol_name(AWS_PROTO_REST_JSON), "rest-json");
}

static void test_query(void **state)
{
    (void)state;
    err e = run(AWS_PROTO_QUERY, 400, "errors/query_throttling.xml", NULL, "x-amzn-RequestId",
                "header-id", NULL);
    assert_string_equal(e.remote_code, "Throttling");
    /* The body's id wins: it is the one AWS support asks for. */
    assert_string_equal(e.request_id, "c6104cbe-af31-11e0-8154-cbc7ccf896c7");
    assert_string_equal(e.message, "Throttling: Rate exceeded (HTTP 400)");

    e = run(AWS_PROTO_QUERY, 404, "errors/query_no_such_entity.xml", NULL, NULL);
    assert_string_equal(e.remote_code, "NoSuchEntity");
    assert_string_equal(
        e.message, "NoSuchEntity: The user with name bob & co <test> cannot be found. (HTTP 404)");
    assert_string_equal(e.request_id, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
}

static void test_ec2(void **state)
{
    (void)state;
    err e = run(AWS_PROTO_EC2, 400, "errors/ec2_malformed_instance.xml", NULL, NULL);
    assert_string_equal(e.remote_code, "InvalidInstanceID.Malformed");
    assert_string_equal(e.request_id, "ea966190-f9aa-478e-9ede-example");
    assert_string_equal(e.message, "InvalidInstanceID.Malformed: Invalid id: \"i-123\" (HTTP 400)");
    e = run(AWS_PROTO_EC2, 503, "errors/ec2_request_limit.xml", NULL, NULL);
    assert_string_equal(e.remote_code, "RequestLimitExceeded");
    assert_string_equal(e.request_id, "5d2d1a8a-1f5c-4a4c-9a5b-3c2d1e0f9a8b");
}

static void test_json(void **state)
{
    (void)state;
    err e = run(AWS_PROTO_JSON, 400, "errors/json_namespaced.json", NULL, "x-amzn-RequestId",
                "b6f3a6a4-0000-1111-2222-333344445555", NULL);
    assert_string_equal(e.remote_code, "TooManyRequestsException");
    assert_string_equal(e.request_id, "b6f3a6a4-0000-1111-2222-333344445555");
    assert_non_null(
        strstr(e.message, "TooManyRequestsException: AWS Organizations can't complete"));

    e = run(AWS_PROTO_JSON, 400, "errors/json_plain.json", NULL, "X-AMZN-REQUESTID", "rid-2", NULL);
    assert_string_equal(e.remote_code, "LimitExceededException");
    assert_string_equal(e.request_id, "rid-2");
    assert_string_equal(e.message, "LimitExceededException: You have exceeded the rate limit for "
                                   "Cost Explorer API requests. (HTTP 400)");

    e = run(AWS_PROTO_JSON, 400, "errors/json_coral_suffix.json", NULL, NULL);
    assert_string_equal(e.remote_code, "ValidationException");
    assert_string_equal(e.request_id, "");
}

/* Query-compatible JSON services keep their query-era code in a header. */
static void test_json_query_error_header(void **state)
{
    (void)state;
    err e = run(AWS_PROTO_JSON, 400, NULL,
                "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\",\"message\":\"gone\"}",
                "x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender", NULL);
    assert_string_equal(e.remote_code, "AWS.SimpleQueueService.NonExistentQueue");
    /* Malformed header (no ';' part): ignored, as botocore does. */
    e = run(AWS_PROTO_JSON, 400, NULL, "{\"__type\":\"A#Real\",\"message\":\"m\"}",
            "x-amzn-query-error", "JustACode", NULL);
    assert_string_equal(e.remote_code, "Real");
    e = run(AWS_PROTO_JSON, 400, NULL, "{\"__type\":\"A#Real\"}", "x-amzn-query-error", ";Sender",
            NULL);
    assert_string_equal(e.remote_code, "Real");
    assert_string_equal(e.message, "Real (HTTP 400)");
}

static void test_rest_xml(void **state)
{
    (void)state;
    err e = run(AWS_PROTO_REST_XML, 404, "errors/restxml_no_such_key.xml", NULL, "x-amz-request-id",
                "ignored-header-id", "x-amz-id-2", "host", NULL);
    assert_string_equal(e.remote_code, "NoSuchKey");
    assert_string_equal(e.request_id, "4442587FB7D0A2F9");
    assert_string_equal(e.message, "NoSuchKey: The specified key does not exist. (HTTP 404)");
    e = run(AWS_PROTO_REST_XML, 503, "errors/restxml_slow_down.xml", NULL, NULL);
    assert_string_equal(e.remote_code, "SlowDown");
}

/* HEAD answers carry no body: the code comes from the status. */
static void test_rest_xml_empty_body(void **state)
{
    (void)state;
    err e = run(AWS_PROTO_REST_XML, 404, NULL, NULL, "x-amz-request-id", "0A49CE4060975EAC", NULL);
    assert_string_equal(e.remote_code, "NotFound");
    assert_string_equal(e.request_id, "0A49CE4060975EAC");
    assert_string_equal(e.message, "NotFound (HTTP 404, empty body)");
    e = run(AWS_PROTO_REST_XML, 403, NULL, "  \n", NULL);
    assert_string_equal(e.remote_code, "Forbidden");
    e = run(AWS_PROTO_REST_XML, 301, NULL, NULL, NULL);
    assert_string_equal(e.remote_code, "MovedPermanently");
    e = run(AWS_PROTO_REST_XML, 412, NULL, NULL, NULL);
    assert_string_equal(e.remote_code, "PreconditionFailed");
    e = run(AWS_PROTO_QUERY, 503, NULL, NULL, NULL);
    assert_string_equal(e.remote_code, "ServiceUnavailable");
    e = run(AWS_PROTO_JSON, 599, NULL, NULL, NULL);
    assert_string_equal(e.remote_code, "HTTP599");
}

static void test_rest_json(void **state)
{
    (void)state;
    err e =
        run(AWS_PROTO_REST_JSON, 429, "errors/restjson_body.json", NULL, "x-amzn-ErrorType",
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
            "x-amzn-RequestId", "rj-1", NULL);
    assert_string_equal(e.remote_code, "ThrottlingException");
    assert_string_equal(e.request_id, "rj-1");
    assert_string_equal(e.message, "ThrottlingException: Rate exceeded (HTTP 429)");
    e = run(AWS_PROTO_REST_JSON, 404, "errors/restjson_code_body.json", NULL, NULL);
    assert_string_equal(e.remote_code, "ResourceNotFoundException");
    /* Header with an empty body still names the code. */
    e = run(AWS_PROTO_REST_JSON, 400, NULL, NULL, "x-amzn-ErrorType", "ValidationException:", NULL);
    assert_string_equal(e.remote_code, "ValidationException");
    /* Body without any code: from the status, message kept. */
    e = run(AWS_PROTO_REST_JSON, 500, "errors/restjson_body.json", NULL, NULL);
    assert_string_equal(e.remote_code, "InternalServerError");
    assert_string_equal(e.message, "InternalServerError: Rate exceeded (HTTP 500)");
}

static void test_garbage_bodies(void **state)
{
    (void)state;
    err e = run(AWS_PROTO_QUERY, 502, "malformed/gateway.html", NULL, NULL);
    assert_string_equal(e.remote_code, "BadGateway");
    assert_non_null(strstr(e.message, "HTTP 502"));
    assert_non_null(strstr(e.message, "unrecognised query error body"));
    /* Newlines of the body are not copied into the message. */
    assert_non_null(strstr(e.message, "\"<html>?<head><title>502 Bad Gateway"));
    assert_null(strchr(e.message, '\n'));

    e = run(AWS_PROTO_EC2, 500, "malformed/truncated.xml", NULL, NULL);
    assert_string_equal(e.remote_code, "InternalServerError");
    assert_non_null(strstr(e.message, "<ErrorResponse>"));

    e = run(AWS_PROTO_JSON, 500, "malformed/truncated.json", NULL, NULL);
    assert_string_equal(e.remote_code, "InternalServerError");
    assert_non_null(strstr(e.message, "unrecognised json error body"));

    e = run(AWS_PROTO_JSON, 400, NULL, "[1,2,3]", NULL);
    assert_string_equal(e.remote_code, "BadRequest");
    e = run(AWS_PROTO_JSON, 400, NULL, "{\"__type\":42,\"message\":[]}", NULL);
    assert_string_equal(e.remote_code, "BadRequest");

    /* XML without a Code, or with a blank one. */
    e = run(AWS_PROTO_QUERY, 400, NULL,
            "<ErrorResponse><Error><Message>m</Message></Error></ErrorResponse>", NULL);
    assert_string_equal(e.remote_code, "BadRequest");
    e = run(AWS_PROTO_QUERY, 400, NULL,
            "<ErrorResponse><Error><Code> </Code></Error></ErrorResponse>", NULL);
    assert_string_equal(e.remote_code, "BadRequest");

    /* Binary junk with NULs and high bytes. */
    http_response r = HTTP_RESPONSE_INIT;
    r.status = 500;
    strbuf_append(&r.body, "\x00\xff\x01garbage\x7f", 11);
    err e2;
    assert_false(awserror_from_response(AWS_PROTO_REST_XML, &r, &e2));
    assert_string_equal(e2.remote_code, "InternalServerError");
    assert_non_null(strstr(e2.message, "???garbage?"));
    http_response_free(&r);
}

/* Hostile values must not overflow the fixed fields or smuggle control characters. */
static void test_oversized_and_control_characters(void **state)
{
    (void)state;
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "<ErrorResponse><Error><Code>");
    for (int i = 0; i < 500; i++)
        strbuf_putc(&sb, 'C');
    strbuf_puts(&sb, "</Code><Message>line1&#10;line2&#13;&#9;[31m</Message></Error><RequestId>");
    for (int i = 0; i < 500; i++)
        strbuf_putc(&sb, 'r');
    strbuf_puts(&sb, "</RequestId></ErrorResponse>");
    err e = run(AWS_PROTO_QUERY, 400, NULL, sb.buf, NULL);
    assert_int_equal(strlen(e.remote_code), ERR_FIELD_MAX - 1);
    assert_int_equal(strlen(e.request_id), ERR_FIELD_MAX - 1);
    assert_non_null(strstr(e.message, "line1 line2  [31m"));
    strbuf_free(&sb);
    /* NULL e is accepted. */
    http_response r = HTTP_RESPONSE_INIT;
    r.status = 500;
    assert_false(awserror_from_response(AWS_PROTO_QUERY, &r, NULL));
}

/* Proxies and S3-compatible stores mix shapes; each protocol accepts all three. */
static void test_cross_shapes(void **state)
{
    (void)state;
    err e = run(AWS_PROTO_QUERY, 400, "errors/ec2_request_limit.xml", NULL, NULL);
    assert_string_equal(e.remote_code, "RequestLimitExceeded");
    e = run(AWS_PROTO_EC2, 403, "errors/restxml_slow_down.xml", NULL, NULL);
    assert_string_equal(e.remote_code, "SlowDown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol_names),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_ec2),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_query_error_header),
        cmocka_unit_test(test_rest_xml),
        cmocka_unit_test(test_rest_xml_empty_body),
        cmocka_unit_test(test_rest_json),
        cmocka_unit_test(test_garbage_bodies),
        cmocka_unit_test(test_oversized_and_control_characters),
        cmocka_unit_test(test_cross_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
