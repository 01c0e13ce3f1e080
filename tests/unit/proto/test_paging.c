#include "aws/awsjson.h"
#include "aws/credprov.h"
#include "aws/paging.h"
#include "core/xmalloc.h"
#include "support/responder.h"
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static bool feed(paginator *p, const char *fixture, err *e)
{
    http_response r = HTTP_RESPONSE_INIT;
    r.status = 200;
    size_t len;
    char *b = fixture_load(fixture, &len);
    strbuf_append(&r.body, b, len);
    free(b);
    bool ok = paginator_feed(p, &r, e);
    if (ok)
        assert_int_equal(r.body.len, 0); /* the body was taken */
    http_response_free(&r);
    return ok;
}

static void test_ec2_next_token(void **state)
{
    (void)state;
    paginator *p = paginator_new(&PAGING_EC2_DESCRIBE_INSTANCES);
    assert_null(paginator_token(p));
    assert_false(paginator_done(p));
    assert_true(feed(p, "paging/ec2_describe_instances_1.xml", NULL));
    assert_string_equal(paginator_token(p), "eyJ2IjoiMiIsImMiOiJwYWdlMiIsInMiOjF9");
    assert_false(paginator_done(p));
    assert_int_equal(xml_count(xml_child(paginator_xml(p), "reservationSet"), "item"), 2);
    assert_non_null(strstr(paginator_body(p), "<DescribeInstancesResponse"));
    assert_true(feed(p, "paging/ec2_describe_instances_2.xml", NULL));
    assert_null(paginator_token(p));
    assert_true(paginator_done(p));
    assert_false(paginator_truncated(p));
    assert_int_equal(paginator_pages(p), 2);
    assert_string_equal(xml_find_text(paginator_xml(p), "reservationSet/item/reservationId"),
                        "r-0123456789abcdef1");
    err e;
    assert_false(feed(p, "paging/ec2_describe_instances_2.xml", &e));
    assert_int_equal(e.code, ERR_INTERNAL);
    paginator_free(p);
}

static void test_iam_is_truncated_marker(void **state)
{
    (void)state;
    paginator *p = paginator_new(&PAGING_IAM_LIST_USERS);
    assert_true(feed(p, "paging/iam_list_users_1.xml", NULL));
    assert_string_equal(paginator_token(p), "AAIAAZ3VybGV4YW1wbGVtYXJrZXI=");
    assert_true(feed(p, "paging/iam_list_users_2.xml", NULL));
    assert_true(paginator_done(p));
    assert_false(paginator_truncated(p));
    paginator_free(p);

    /* IsTruncated=false ends paging even when a Marker is present. */
    p = paginator_new(&PAGING_IAM_LIST_USERS);
    http_response r = HTTP_RESPONSE_INIT;
    strbuf_puts(&r.body, "<ListUsersResponse><ListUsersResult><IsTruncated>false</IsTruncated>"
                         "<Marker>stale</Marker></ListUsersResult></ListUsersResponse>");
    assert_true(paginator_feed(p, &r, NULL));
    assert_true(paginator_done(p));
    assert_null(paginator_token(p));
    paginator_free(p);

    /* IsTruncated=true without a Marker: done, but the listing is partial. */
    p = paginator_new(&PAGING_IAM_LIST_USERS);
    strbuf_puts(&r.body, "<ListUsersResponse><ListUsersResult><IsTruncated>true</IsTruncated>"
                         "</ListUsersResult></ListUsersResponse>");
    assert_true(paginator_feed(p, &r, NULL));
    assert_true(paginator_done(p));
    assert_true(paginator_truncated(p));
    paginator_free(p);

    /* A flag that is not a boolean is a malformed answer. */
    p = paginator_new(&PAGING_IAM_LIST_USERS);
    strbuf_puts(&r.body, "<ListUsersResponse><ListUsersResult><IsTruncated>maybe</IsTruncated>"
                         "<Marker>m</Marker></ListUsersResult></ListUsersResponse>");
    err e;
    assert_false(paginator_feed(p, &r, &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "maybe"));
    assert_true(paginator_done(p));
    paginator_free(p);
    http_response_free(&r);
}

static void test_rds_marker(void **state)
{
    (void)state;
    paginator *p = paginator_new(&PAGING_RDS_DESCRIBE_DB_INSTANCES);
    http_response r = HTTP_RESPONSE_INIT;
    strbuf_puts(&r.body,
                "<DescribeDBInstancesResponse><DescribeDBInstancesResult><Marker>m1</Marker>"
                "<DBInstances/></DescribeDBInstancesResult></DescribeDBInstancesResponse>");
    assert_true(paginator_feed(p, &r, NULL));
    assert_string_equal(paginator_token(p), "m1");
    /* An empty token means the end, as for the SDKs. */
    strbuf_puts(&r.body, "<DescribeDBInstancesResponse><DescribeDBInstancesResult><Marker/>"
                         "</DescribeDBInstancesResult></DescribeDBInstancesResponse>");
    assert_true(paginator_feed(p, &r, NULL));
    assert_true(paginator_done(p));
    http_response_free(&r);
    paginator_free(p);
}

static void test_s3_continuation(void **state)
{
    (void)state;
    paginator *p = paginator_new(&PAGING_S3_LIST_OBJECTS_V2);
    assert_true(feed(p, "paging/s3_list_objects_v2_1.xml", NULL));
    assert_string_equal(paginator_token(p), "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    const xml_node *c = xml_child(paginator_xml(p), "Contents");
    assert_string_equal(xml_find_text(xml_next(c), "Key"), "logs/2024/01/b & c.gz");
    assert_true(feed(p, "paging/s3_list_objects_v2_2.xml", NULL));
    assert_true(paginator_done(p));
    paginator_free(p);
}

static void test_json_tokens(void **state)
{
    (void)state;
    paginator *p = paginator_new(&PAGING_ORGANIZATIONS_LIST_ACCOUNTS);
    assert_true(feed(p, "paging/organizations_list_accounts_1.json", NULL));
    assert_string_equal(paginator_token(p), "AAEAAQoDdGVzdBAAGhIKEGV4YW1wbGUtbmV4dC10b2tlbg==");
    assert_int_equal(json_array_size(json_object_get(paginator_json(p), "Accounts")), 2);
    assert_null(paginator_xml(p));
    assert_true(feed(p, "paging/organizations_list_accounts_2.json", NULL));
    assert_true(paginator_done(p));
    paginator_free(p);

    p = paginator_new(&PAGING_CE_GET_COST_AND_USAGE);
    assert_true(feed(p, "paging/ce_get_cost_and_usage_1.json", NULL));
    assert_string_equal(paginator_token(p), "eyJwYWdlIjoyfQ==");
    assert_true(feed(p, "paging/ce_get_cost_and_usage_2.json", NULL));
    assert_true(paginator_done(p));
    assert_int_equal(paginator_pages(p), 2);
    paginator_free(p);

    /* A token of the wrong type is malformed; null means absent. */
    p = paginator_new(&PAGING_ORGANIZATIONS_LIST_ACCOUNTS);
    http_response r = HTTP_RESPONSE_INIT;
    strbuf_puts(&r.body, "{\"Accounts\":[],\"NextToken\":null}");
    assert_true(paginator_feed(p, &r, NULL));
    assert_true(paginator_done(p));
    paginator_free(p);
    p = paginator_new(&PAGING_ORGANIZATIONS_LIST_ACCOUNTS);
    strbuf_puts(&r.body, "{\"NextToken\":5}");
    err e;
    assert_false(paginator_feed(p, &r, &e));
    assert_int_equal(e.code, ERR_PARSE);
    paginator_free(p);
    http_response_free(&r);
}

static void test_repeated_token_stops(void **state)
{
    (void)state;
    paginator *p = paginator_new(&PAGING_EC2_DESCRIBE_INSTANCES);
    assert_true(feed(p, "paging/ec2_describe_instances_1.xml", NULL));
    assert_false(paginator_done(p));
    assert_true(feed(p, "paging/ec2_describe_instances_1.xml", NULL));
    assert_true(paginator_done(p));
    assert_true(paginator_truncated(p));
    paginator_free(p);

    /* A cycle longer than one page is caught too: a, b, a. */
    p = paginator_new(&PAGING_ORGANIZATIONS_LIST_ACCOUNTS);
    const char *seq[] = {"{\"NextToken\":\"a\"}", "{\"NextToken\":\"b\"}", "{\"NextToken\":\"a\"}"};
    http_response r = HTTP_RESPONSE_INIT;
    for (int i = 0; i < 3; i++) {
        assert_false(paginator_done(p));
        strbuf_puts(&r.body, seq[i]);
        assert_true(paginator_feed(p, &r, NULL));
    }
    assert_true(paginator_done(p));
    assert_true(paginator_truncated(p));
    assert_int_equal(paginator_pages(p), 3);
    http_response_free(&r);
    paginator_free(p);
}

static void test_page_limit(void **state)
{
    (void)state;
    paging_spec spec = PAGING_ORGANIZATIONS_LIST_ACCOUNTS;
    spec.max_pages = 3;
    paginator *p = paginator_new(&spec);
    http_response r = HTTP_RESPONSE_INIT;
    int pages = 0;
    while (!paginator_done(p)) {
        strbuf_printf(&r.body, "{\"NextToken\":\"t%d\"}", pages);
        assert_true(paginator_feed(p, &r, NULL));
        pages++;
        assert_true(pages <= 3);
    }
    assert_int_equal(pages, 3);
    assert_true(paginator_truncated(p));
    http_response_free(&r);
    paginator_free(p);
}

static void test_malformed_page(void **state)
{
    (void)state;
    paginator *p = paginator_new(&PAGING_EC2_DESCRIBE_INSTANCES);
    err e;
    assert_false(feed(p, "malformed/truncated.xml", &e));
    assert_int_equal(e.code, ERR_PARSE);
    assert_non_null(strstr(e.message, "page 1"));
    assert_true(paginator_done(p));
    paginator_free(p);
    p = paginator_new(&PAGING_CE_GET_COST_AND_USAGE);
    assert_false(feed(p, "malformed/truncated.json", &e));
    assert_int_equal(e.code, ERR_PARSE);
    paginator_free(p);
}

/* ---- blocking fetch through aws_client against the responder ---- */

typedef struct org_seen {
    char target[128];
    char bodies[2][256];
} org_seen;

static void org_handler(const responder_req *req, responder_reply *reply, int n, void *arg)
{
    org_seen *s = arg;
    const char *t = req->header(req, "X-Amz-Target");
    snprintf(s->target, sizeof s->target, "%s", t ? t : "");
    if (n <= 2)
        snprintf(s->bodies[n - 1], sizeof s->bodies[0], "%s", req->body);
    reply->body = fixture_load(n == 1 ? "paging/organizations_list_accounts_1.json"
                                      : "paging/organizations_list_accounts_2.json",
                               NULL);
}

static bool build_list_accounts(void *arg, const char *token, aws_request *req, err *e)
{
    (void)arg, (void)e;
    json_t *body = json_object();
    if (token)
        json_object_set_new(body, "NextToken", json_string(token));
    awsjson_request(&AWSJSON_ORGANIZATIONS, "ListAccounts", body, req);
    json_decref(body);
    return true;
}

static void test_fetch_end_to_end(void **state)
{
    (void)state;
    org_seen s;
    memset(&s, 0, sizeof s);
    responder *r = responder_start(org_handler, &s);
    aws_creds *base = creds_new("AKIDEXAMPLE", "secretkey", NULL, 0, "test");
    credprov *cp = credprov_static(base);
    creds_free(base);
    aws_client_options o = {0};
    o.endpoint_url = responder_url(r);
    o.max_attempts = 1;
    err e;
    aws_client *c = aws_client_new(&o, cp, NULL, &e);
    assert_non_null(c);
    paginator *p = paginator_new(&PAGING_ORGANIZATIONS_LIST_ACCOUNTS);
    size_t accounts = 0;
    bool got = false;
    int pages = 0;
    err_clear(&e);
    while (paginator_fetch(p, c, build_list_accounts, NULL, &got, &e) && got) {
        accounts += json_array_size(json_object_get(paginator_json(p), "Accounts"));
        pages++;
    }
    if (e.code != ERR_OK && !got && pages < 2)
        fail_msg("fetch: %s", e.message);
    assert_int_equal(pages, 2);
    assert_int_equal(accounts, 3);
    assert_int_equal(responder_count(r), 2);
    assert_string_equal(s.target, "AWSOrganizationsV20161128.ListAccounts");
    assert_string_equal(s.bodies[0], "{}");
    assert_string_equal(s.bodies[1],
                        "{\"NextToken\":\"AAEAAQoDdGVzdBAAGhIKEGV4YW1wbGUtbmV4dC10b2tlbg==\"}");
    paginator_free(p);
    aws_client_free(c);
    credprov_free(cp);
    responder_stop(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ec2_next_token),   cmocka_unit_test(test_iam_is_truncated_marker),
        cmocka_unit_test(test_rds_marker),       cmocka_unit_test(test_s3_continuation),
        cmocka_unit_test(test_json_tokens),      cmocka_unit_test(test_repeated_token_stops),
        cmocka_unit_test(test_page_limit),       cmocka_unit_test(test_malformed_page),
        cmocka_unit_test(test_fetch_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
