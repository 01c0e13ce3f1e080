#include "aws/credprov.h"
#include "aws/sts.h"
#include "core/xmalloc.h"
#include "fixture.h"
#include "support/responder.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ARN "arn:aws:iam::123456789012:role/demo"

static sts_assume_role_params base_params(void)
{
    sts_assume_role_params p = {0};
    p.role_arn = ARN;
    p.session_name = "John";
    return p;
}

static void expect_invalid(const sts_assume_role_params *p, const char *needle)
{
    aws_request req;
    err e;
    err_clear(&e);
    if (sts_assume_role_request(p, &req, &e)) {
        aws_request_free(&req);
        fail_msg("accepted; expected an error containing %s", needle);
    }
    assert_int_equal(e.code, ERR_INVALID);
    if (strstr(e.message, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.message, needle);
}

static void expect_valid(const sts_assume_role_params *p)
{
    aws_request req;
    err e;
    err_clear(&e);
    if (!sts_assume_role_request(p, &req, &e))
        fail_msg("rejected: %s", e.message);
    aws_request_free(&req);
}

static void test_role_arn_validation(void **state)
{
    (void)state;
    sts_assume_role_params p = base_params();
    const char *good[] = {ARN, "arn:aws-cn:iam::123456789012:role/x",
                          "arn:aws-us-gov:iam::123456789012:role/path/to/Role+=,.@-_9",
                          "arn:aws-iso-b:iam::123456789012:role/r"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        p.role_arn = good[i];
        expect_valid(&p);
    }
    struct {
        const char *arn, *needle;
    } bad[] = {
        {NULL, "RoleArn is required"},
        {"", "RoleArn is required"},
        {"arn:aws:iam::1234", "has 17 characters"},
        {"arn:aws:iam::123456789012:user/demo",
         "\"arn:aws:iam::123456789012:user/demo\" is not an IAM role ARN"},
        {"arn:aws:sts::123456789012:role/demo", "not an IAM role ARN"},
        {"arn:aws:iam::12345678901:role/demo", "not an IAM role ARN"},
        {"arn:aws:iam::1234567890123:role/demo", "not an IAM role ARN"},
        {"arn:azure:iam::123456789012:role/demo", "not an IAM role ARN"},
        {"arn:aws:iam::123456789012:role/", "not an IAM role ARN"},
        {"arn:aws:iam::123456789012:role/de mo", "contains ' '"},
        {"arn:aws:iam::123456789012:role/de*mo", "not an IAM role ARN"},
        {"arn:aws:iam::123456789012:role/"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "not an IAM role ARN"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p.role_arn = bad[i].arn;
        expect_invalid(&p, bad[i].needle);
    }
}

static void test_session_name_duration(void **state)
{
    (void)state;
    sts_assume_role_params p = base_params();
    char name64[65], name65[66];
    memset(name64, 'a', 64);
    name64[64] = '\0';
    memset(name65, 'a', 65);
    name65[65] = '\0';
    p.session_name = "ab";
    expect_valid(&p);
    p.session_name = name64;
    expect_valid(&p);
    p.session_name = "w+=,.@-_9Z";
    expect_valid(&p);
    p.session_name = "a";
    expect_invalid(&p, "RoleSessionName \"a\" has 1 characters; it must have 2 to 64");
    p.session_name = name65;
    expect_invalid(&p, "has 65 characters");
    p.session_name = "bad name";
    expect_invalid(&p, "RoleSessionName \"bad name\" contains ' '");
    p.session_name = "bad:name";
    expect_invalid(&p, "contains ':'");
    p.session_name = "caf\xc3\xa9";
    expect_invalid(&p, "contains U+00E9");
    p.session_name = "bad\xff";
    expect_invalid(&p, "not valid UTF-8");
    p.session_name = NULL;
    expect_invalid(&p, "RoleSessionName is required");
    p.session_name = "John";

    int okd[] = {0, 900, 3600, 43200};
    for (size_t i = 0; i < 4; i++) {
        p.duration_seconds = okd[i];
        expect_valid(&p);
    }
    p.duration_seconds = 899;
    expect_invalid(&p, "DurationSeconds 899 is outside 900..43200");
    p.duration_seconds = 43201;
    expect_invalid(&p, "DurationSeconds 43201");
    p.duration_seconds = -1;
    expect_invalid(&p, "DurationSeconds -1");
}

static void test_optional_fields(void **state)
{
    (void)state;
    sts_assume_role_params p = base_params();
    p.external_id = "ab";
    expect_valid(&p);
    p.external_id = "x:y/z+=,.@-_";
    expect_valid(&p);
    p.external_id = "a";
    expect_invalid(&p, "ExternalId \"a\" has 1 characters; it must have 2 to 1224");
    char *big = xmalloc(1226);
    memset(big, 'e', 1225);
    big[1225] = '\0';
    p.external_id = big;
    expect_invalid(&p, "has 1225 characters");
    big[1224] = '\0';
    expect_valid(&p);
    p.external_id = "has space";
    expect_invalid(&p, "ExternalId \"has space\" contains ' '");
    p.external_id = NULL;

    p.source_identity = "DevUser123";
    expect_valid(&p);
    p.source_identity = "x";
    expect_invalid(&p, "SourceIdentity \"x\" has 1 characters");
    p.source_identity = "aws:x";
    expect_invalid(&p, "SourceIdentity \"aws:x\" contains ':'");
    p.source_identity = NULL;

    /* Policy: 1..2048 characters of tab/LF/CR/U+0020..U+00FF (counted as characters, not bytes). */
    p.policy = "{\"Version\":\"2012-10-17\",\n\t\"Statement\":[]}\r";
    expect_valid(&p);
    p.policy = "";
    expect_invalid(&p, "Policy \"\" has 0 characters");
    p.policy = "{\"a\":\"\xe2\x82\xac\"}";
    expect_invalid(&p, "contains U+20AC");
    p.policy = "{\x01}";
    expect_invalid(&p, "contains U+0001");
    char *pol = xmalloc(2 * 2048 + 3);
    for (int i = 0; i < 2048; i++)
        memcpy(pol + 2 * i, "\xc3\xa9", 2); /* 4096 bytes, 2048 characters */
    pol[4096] = '\0';
    p.policy = pol;
    expect_valid(&p);
    memcpy(pol + 4096, "x", 2);
    expect_invalid(&p, "has 2049 characters");
    p.policy = NULL;

    sts_tag tags[51];
    for (int i = 0; i < 51; i++)
        tags[i] = (sts_tag){"Project", "Escher 2024: a/b=c+d-e@f_g."};
    p.tags = tags;
    p.ntags = 50;
    expect_valid(&p);
    p.ntags = 51;
    expect_invalid(&p, "51 session tags");
    p.ntags = 1;
    tags[0].key = "";
    expect_invalid(&p, "tag key \"\" has 0 characters");
    tags[0].key = "bad*key";
    expect_invalid(&p, "tag key \"bad*key\" contains '*'");
    tags[0].key = "k";
    tags[0].value = "";
    expect_valid(&p);
    tags[0].value = NULL;
    expect_invalid(&p, "session tag 1 has no value");
    free(big);
    free(pol);
}

static void test_assume_role_request_body(void **state)
{
    (void)state;
    sts_tag tags[] = {{"Project", "Escher"}, {"Team", "Ops+Infra @ HQ"}};
    sts_assume_role_params p = base_params();
    p.session_name = "escher@ops";
    p.external_id = "ext-123";
    p.duration_seconds = 1800;
    p.policy = "{\"Version\":\"2012-10-17\"}";
    p.source_identity = "alice";
    p.tags = tags;
    p.ntags = 2;
    aws_request req;
    err e;
    assert_true(sts_assume_role_request(&p, &req, &e));
    assert_string_equal(req.service, "sts");
    assert_string_equal(req.operation, "AssumeRole");
    assert_int_equal(req.protocol, AWS_PROTO_QUERY);
    assert_string_equal(req.method, "POST");
    assert_string_equal(strbuf_str(&req.body),
                        "Action=AssumeRole&Version=2011-06-15"
                        "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
                        "&RoleSessionName=escher%40ops&DurationSeconds=1800&ExternalId=ext-123"
                        "&Policy=%7B%22Version%22%3A%222012-10-17%22%7D&SourceIdentity=alice"
                        "&Tags.member.1.Key=Project&Tags.member.1.Value=Escher"
                        "&Tags.member.2.Key=Team&Tags.member.2.Value=Ops%2BInfra%20%40%20HQ");
    aws_request_free(&req);

    assert_true(
        sts_assume_role_with_web_identity_request(ARN, "pod-1", "eyJhbGciOi.x.y", 0, &req, &e));
    assert_string_equal(req.operation, "AssumeRoleWithWebIdentity");
    assert_string_equal(strbuf_str(&req.body),
                        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
                        "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
                        "&RoleSessionName=pod-1&WebIdentityToken=eyJhbGciOi.x.y");
    aws_request_free(&req);
    assert_false(sts_assume_role_with_web_identity_request(ARN, "pod-1", "abc", 0, &req, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "WebIdentityToken has 3 characters"));
    assert_null(strstr(e.message, "abc")); /* secrets are not quoted */
    assert_false(sts_assume_role_with_web_identity_request(ARN, "pod-1", NULL, 0, &req, &e));
    assert_false(sts_assume_role_with_web_identity_request(ARN, "p", "token", 0, &req, &e));
    assert_false(sts_assume_role_with_web_identity_request(ARN, "pod", "token", 100, &req, &e));
    assert_false(sts_assume_role_with_web_identity_request("arn:x", "pod", "token", 0, &req, &e));

    sts_get_caller_identity_request(&req);
    assert_string_equal(strbuf_str(&req.body), "Action=GetCallerIdentity&Version=2011-06-15");
    assert_string_equal(req.operation, "GetCallerIdentity");
    aws_request_free(&req);
}

static void test_parse_answers(void **state)
{
    (void)state;
    size_t len;
    char *b = fixture_load("sts/assume_role.xml", &len);
    aws_creds *c = NULL;
    err e;
    assert_true(sts_assume_role_parse(b, len, "test-src", &c, &e));
    assert_string_equal(c->access_key_id, "ASIAIOSFODNN7EXAMPLE");
    assert_string_equal(c->secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    assert_true(strncmp(c->session_token, "AQoDYXdzEPT//////////wEXAMPLEtc764", 34) == 0);
    assert_true(strlen(c->session_token) > 300);
    assert_int_equal(c->expiration, 1573306481); /* 2019-11-09T13:34:41Z */
    assert_string_equal(c->source, "test-src");
    creds_free(c);
    /* An AssumeRole answer is not a web identity answer. */
    assert_false(sts_assume_role_with_web_identity_parse(b, len, NULL, &c, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_null(c);
    free(b);

    b = fixture_load("sts/assume_role_with_web_identity.xml", &len);
    assert_true(sts_assume_role_with_web_identity_parse(b, len, NULL, &c, &e));
    assert_string_equal(c->access_key_id, "ASIAWEBIDENTEXAMPLE1");
    assert_string_equal(c->session_token, "IQoJb3JpZ2luX2VjEXAMPLEwebidentitytoken");
    assert_int_equal(c->expiration, 1709289000); /* 2024-03-01T10:30:00.123Z */
    assert_string_equal(c->source, "sts");
    creds_free(c);
    free(b);

    b = fixture_load("sts/assume_role_no_token.xml", &len);
    assert_false(sts_assume_role_parse(b, len, NULL, &c, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "AssumeRoleResult/Credentials/SessionToken"));
    assert_null(c);
    free(b);

    const char *badexp =
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
        "<SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
        "<Expiration>next tuesday</Expiration></Credentials></AssumeRoleResult>"
        "</AssumeRoleResponse>";
    assert_false(sts_assume_role_parse(badexp, strlen(badexp), NULL, &c, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "next tuesday"));

    b = fixture_load("errors/query_throttling.xml", &len);
    assert_false(sts_assume_role_parse(b, len, NULL, &c, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "<ErrorResponse> has no <AssumeRoleResult>"));
    free(b);
    b = fixture_load("malformed/mismatched.xml", &len);
    assert_false(sts_assume_role_parse(b, len, NULL, &c, &e));
    assert_non_null(strstr(e.message, "line 5"));
    free(b);

    b = fixture_load("sts/get_caller_identity.xml", &len);
    sts_identity id;
    assert_true(sts_get_caller_identity_parse(b, len, &id, &e));
    assert_string_equal(id.account, "123456789012");
    assert_string_equal(id.arn, "arn:aws:iam::123456789012:user/Alice");
    assert_string_equal(id.user_id, "AIDACKCEVSQ6C2EXAMPLE");
    sts_identity_free(&id);
    free(b);
    const char *noacct = "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>a</Arn>"
                         "<UserId>u</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>";
    assert_false(sts_get_caller_identity_parse(noacct, strlen(noacct), &id, &e));
    assert_non_null(strstr(e.message, "GetCallerIdentityResult/Account"));
    assert_null(id.account);
}

/* ---- end to end through aws_client against the local responder ---- */

typedef struct seen {
    char method[16];
    char uri[64];
    char body[2048];
    char content_type[128];
    char authorization[512];
    char amz_date[32];
    int status_to_send;
} seen;

static void sts_handler(const responder_req *req, responder_reply *reply, int n, void *arg)
{
    (void)n;
    seen *s = arg;
    snprintf(s->method, sizeof s->method, "%s", req->method);
    snprintf(s->uri, sizeof s->uri, "%s", req->uri);
    snprintf(s->body, sizeof s->body, "%s", req->body);
    const char *h = req->header(req, "Content-Type");
    snprintf(s->content_type, sizeof s->content_type, "%s", h ? h : "");
    h = req->header(req, "Authorization");
    snprintf(s->authorization, sizeof s->authorization, "%s", h ? h : "");
    h = req->header(req, "X-Amz-Date");
    snprintf(s->amz_date, sizeof s->amz_date, "%s", h ? h : "");
    if (s->status_to_send != 200) {
        reply->status = s->status_to_send;
        reply->body = xstrdup("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                              "<Error><Type>Sender</Type><Code>AccessDenied</Code>"
                              "<Message>User is not authorized to perform: sts:AssumeRole</Message>"
                              "</Error><RequestId>e2e-rid</RequestId></ErrorResponse>");
        return;
    }
    const char *fx = strstr(req->body, "Action=AssumeRole&") ? "sts/assume_role.xml"
                     : strstr(req->body, "Action=GetCallerIdentity")
                         ? "sts/get_caller_identity.xml"
                         : "sts/assume_role_with_web_identity.xml";
    reply->body = fixture_load(fx, NULL);
    snprintf(reply->headers, sizeof reply->headers, "Content-Type: text/xml\n");
}

static void test_end_to_end(void **state)
{
    (void)state;
    seen s;
    memset(&s, 0, sizeof s);
    s.status_to_send = 200;
    responder *r = responder_start(sts_handler, &s);
    aws_creds *base = creds_new("AKIDEXAMPLE", "secretkey", NULL, 0, "test");
    credprov *cp = credprov_static(base);
    creds_free(base);
    aws_client_options o = {0};
    o.region = "eu-west-1";
    o.endpoint_url = responder_url(r);
    o.max_attempts = 1;
    err e;
    aws_client *c = aws_client_new(&o, cp, NULL, &e);
    if (c == NULL)
        fail_msg("aws_client_new: %s", e.message);

    sts_assume_role_params p = base_params();
    p.external_id = "ext-1";
    p.duration_seconds = 900;
    aws_creds *out = NULL;
    if (!sts_assume_role(c, &p, &out, &e))
        fail_msg("sts_assume_role: %s", e.message);
    assert_string_equal(s.method, "POST");
    assert_string_equal(s.uri, "/");
    assert_string_equal(s.body, "Action=AssumeRole&Version=2011-06-15"
                                "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
                                "&RoleSessionName=John&DurationSeconds=900&ExternalId=ext-1");
    assert_string_equal(s.content_type, "application/x-www-form-urlencoded; charset=utf-8");
    assert_true(strncmp(s.authorization, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 40) == 0);
    assert_non_null(strstr(s.authorization, "/eu-west-1/sts/aws4_request"));
    assert_int_equal(strlen(s.amz_date), 16);
    assert_string_equal(out->access_key_id, "ASIAIOSFODNN7EXAMPLE");
    assert_int_equal(out->expiration, 1573306481);
    assert_non_null(strstr(out->source, ARN));
    creds_free(out);

    sts_identity id;
    assert_true(sts_get_caller_identity(c, &id, &e));
    assert_string_equal(s.body, "Action=GetCallerIdentity&Version=2011-06-15");
    assert_string_equal(id.account, "123456789012");
    sts_identity_free(&id);

    /* An error answer arrives as ERR_AWS with the query error's fields. */
    s.status_to_send = 403;
    assert_false(sts_assume_role(c, &p, &out, &e));
    assert_null(out);
    assert_int_equal(e.code, ERR_AWS);
    assert_int_equal(e.http_status, 403);
    assert_string_equal(e.remote_code, "AccessDenied");
    assert_string_equal(e.request_id, "e2e-rid");
    assert_non_null(strstr(e.message, "User is not authorized"));
    aws_client_free(c);

    /* Web identity goes unsigned through an anonymous client. */
    s.status_to_send = 200;
    c = aws_client_new(&o, NULL, NULL, &e);
    assert_non_null(c);
    assert_true(sts_assume_role_with_web_identity(c, ARN, "pod-1", "token-abc", 0, &out, &e));
    assert_string_equal(s.authorization, "");
    assert_non_null(strstr(s.body, "WebIdentityToken=token-abc"));
    assert_string_equal(out->access_key_id, "ASIAWEBIDENTEXAMPLE1");
    creds_free(out);
    /* Invalid parameters fail before anything is sent. */
    int before = responder_count(r);
    p.session_name = "x";
    assert_false(sts_assume_role(c, &p, &out, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_int_equal(responder_count(r), before);
    aws_client_free(c);
    credprov_free(cp);
    responder_stop(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_arn_validation), cmocka_unit_test(test_session_name_duration),
        cmocka_unit_test(test_optional_fields),     cmocka_unit_test(test_assume_role_request_body),
        cmocka_unit_test(test_parse_answers),       cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
