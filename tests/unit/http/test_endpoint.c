/* Endpoint resolution: defaults per partition, global services, S3, region
 * validation, and every override in the SDKs' order, with a fake environment. */
#include "aws/endpoint.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* A fake environment: NULL-terminated name/value pairs. */
typedef struct fake_env {
    const char *pairs[16][2];
} fake_env;

static const char *fake_get(const char *name, void *arg)
{
    fake_env *f = arg;
    for (int i = 0; i < 16 && f->pairs[i][0]; i++)
        if (strcmp(f->pairs[i][0], name) == 0)
            return f->pairs[i][1];
    return NULL;
}

static void expect_default(const char *service, const char *region, const char *url,
                           const char *host, const char *signing_region)
{
    endpoint ep;
    err e;
    fake_env none = {{{NULL, NULL}}};
    if (!endpoint_resolve(service, region, NULL, fake_get, &none, &ep, &e))
        fail_msg("%s/%s: %s", service, region, e.message);
    assert_string_equal(ep.url, url);
    assert_string_equal(ep.host, host);
    assert_string_equal(ep.signing_region, signing_region);
    assert_string_equal(ep.signing_name, service);
    assert_string_equal(ep.base_path, "");
    assert_string_equal(ep.source, "default");
}

static void test_regional_defaults(void **state)
{
    (void)state;
    expect_default("ec2", "eu-west-1", "https://ec2.eu-west-1.amazonaws.com",
                   "ec2.eu-west-1.amazonaws.com", "eu-west-1");
    expect_default("rds", "ap-southeast-2", "https://rds.ap-southeast-2.amazonaws.com",
                   "rds.ap-southeast-2.amazonaws.com", "ap-southeast-2");
    expect_default("autoscaling", "us-west-2", "https://autoscaling.us-west-2.amazonaws.com",
                   "autoscaling.us-west-2.amazonaws.com", "us-west-2");
    expect_default("monitoring", "us-east-2", "https://monitoring.us-east-2.amazonaws.com",
                   "monitoring.us-east-2.amazonaws.com", "us-east-2");
    /* STS: regional endpoints are the modern default, also in us-east-1 */
    expect_default("sts", "us-east-1", "https://sts.us-east-1.amazonaws.com",
                   "sts.us-east-1.amazonaws.com", "us-east-1");
    expect_default("sts", "eu-central-1", "https://sts.eu-central-1.amazonaws.com",
                   "sts.eu-central-1.amazonaws.com", "eu-central-1");
    /* an endpoint prefix that differs from the signing name */
    expect_default("ecr", "us-east-1", "https://api.ecr.us-east-1.amazonaws.com",
                   "api.ecr.us-east-1.amazonaws.com", "us-east-1");
    /* unknown services follow the pattern */
    expect_default("newsvc", "sa-east-1", "https://newsvc.sa-east-1.amazonaws.com",
                   "newsvc.sa-east-1.amazonaws.com", "sa-east-1");
}

static void test_global_services(void **state)
{
    (void)state;
    expect_default("iam", "eu-west-1", "https://iam.amazonaws.com", "iam.amazonaws.com",
                   "us-east-1");
    expect_default("organizations", "ap-south-1", "https://organizations.us-east-1.amazonaws.com",
                   "organizations.us-east-1.amazonaws.com", "us-east-1");
    expect_default("ce", "eu-west-3", "https://ce.us-east-1.amazonaws.com",
                   "ce.us-east-1.amazonaws.com", "us-east-1");
    expect_default("route53", "us-west-1", "https://route53.amazonaws.com", "route53.amazonaws.com",
                   "us-east-1");
    /* their partition endpoints in China and GovCloud */
    expect_default("iam", "cn-northwest-1", "https://iam.cn-north-1.amazonaws.com.cn",
                   "iam.cn-north-1.amazonaws.com.cn", "cn-north-1");
    expect_default("ce", "cn-north-1", "https://ce.cn-northwest-1.amazonaws.com.cn",
                   "ce.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1");
    expect_default("organizations", "cn-north-1",
                   "https://organizations.cn-northwest-1.amazonaws.com.cn",
                   "organizations.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1");
    expect_default("iam", "us-gov-east-1", "https://iam.us-gov.amazonaws.com",
                   "iam.us-gov.amazonaws.com", "us-gov-west-1");
}

static void test_partitions_and_s3(void **state)
{
    (void)state;
    expect_default("ec2", "cn-north-1", "https://ec2.cn-north-1.amazonaws.com.cn",
                   "ec2.cn-north-1.amazonaws.com.cn", "cn-north-1");
    expect_default("sts", "cn-northwest-1", "https://sts.cn-northwest-1.amazonaws.com.cn",
                   "sts.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1");
    expect_default("ec2", "us-gov-west-1", "https://ec2.us-gov-west-1.amazonaws.com",
                   "ec2.us-gov-west-1.amazonaws.com", "us-gov-west-1");
    expect_default("ec2", "us-iso-east-1", "https://ec2.us-iso-east-1.c2s.ic.gov",
                   "ec2.us-iso-east-1.c2s.ic.gov", "us-iso-east-1");
    expect_default("ec2", "us-isob-east-1", "https://ec2.us-isob-east-1.sc2s.sgov.gov",
                   "ec2.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1");
    expect_default("s3", "us-east-1", "https://s3.us-east-1.amazonaws.com",
                   "s3.us-east-1.amazonaws.com", "us-east-1");
    expect_default("s3", "cn-north-1", "https://s3.cn-north-1.amazonaws.com.cn",
                   "s3.cn-north-1.amazonaws.com.cn", "cn-north-1");
    endpoint ep;
    assert_true(endpoint_resolve("s3", "eu-west-1", NULL, NULL, NULL, &ep, NULL));
    assert_true(ep.path_style);
    assert_true(endpoint_resolve("ec2", "eu-west-1", NULL, NULL, NULL, &ep, NULL));
    assert_false(ep.path_style);
}

static void test_region_validation(void **state)
{
    (void)state;
    static const char *bad[] = {"",         "US-EAST-1",          "us_east_1", "us-east-1/../x",
                                "1us-east", "us-east-1-",         "us east",   "a.b",
                                "évil",     "us-east-1.evil.com", "-us"};
    err e;
    endpoint ep;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(endpoint_region_valid(bad[i], &e));
        assert_int_equal(e.code, ERR_INVALID);
        if (bad[i][0])
            assert_non_null(strstr(e.message, bad[i]));
        assert_false(endpoint_resolve("ec2", bad[i], NULL, NULL, NULL, &ep, &e));
        assert_int_equal(e.code, ERR_INVALID);
    }
    assert_false(endpoint_region_valid(NULL, &e));
    char longr[80];
    memset(longr, 'a', 70);
    longr[70] = '\0';
    assert_false(endpoint_region_valid(longr, &e));
    assert_true(endpoint_region_valid("us-east-1", &e));
    assert_true(endpoint_region_valid("local", &e));
    /* service names are checked too */
    assert_false(endpoint_resolve("EC2/..", "us-east-1", NULL, NULL, NULL, &ep, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "EC2/.."));
}

static void test_env_names(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"ce", "AWS_ENDPOINT_URL_COST_EXPLORER"},
        {"sts", "AWS_ENDPOINT_URL_STS"},
        {"ec2", "AWS_ENDPOINT_URL_EC2"},
        {"organizations", "AWS_ENDPOINT_URL_ORGANIZATIONS"},
        {"s3", "AWS_ENDPOINT_URL_S3"},
        {"iam", "AWS_ENDPOINT_URL_IAM"},
        {"rds", "AWS_ENDPOINT_URL_RDS"},
        {"autoscaling", "AWS_ENDPOINT_URL_AUTO_SCALING"},
        {"monitoring", "AWS_ENDPOINT_URL_CLOUDWATCH"},
        {"logs", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"},
        {"secretsmanager", "AWS_ENDPOINT_URL_SECRETS_MANAGER"},
        {"some-thing", "AWS_ENDPOINT_URL_SOME_THING"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[96];
        endpoint_env_name(cases[i][0], name, sizeof name);
        assert_string_equal(name, cases[i][1]);
    }
    char tiny[8];
    endpoint_env_name("ce", tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 7);
}

static void test_override_order(void **state)
{
    (void)state;
    endpoint ep;
    err e;
    fake_env env = {{{"AWS_ENDPOINT_URL_COST_EXPLORER", "http://ce.local:4566/"},
                     {"AWS_ENDPOINT_URL", "https://all.local"},
                     {NULL, NULL}}};
    /* 1. the program option beats both variables */
    assert_true(endpoint_resolve("ce", "eu-west-1", "http://opt.local:9000/base/", fake_get, &env,
                                 &ep, &e));
    assert_string_equal(ep.url, "http://opt.local:9000/base");
    assert_string_equal(ep.host, "opt.local:9000");
    assert_string_equal(ep.base_path, "/base");
    assert_string_equal(ep.source, "the endpoint_url option");
    assert_string_equal(ep.signing_region,
                        "eu-west-1"); /* overrides sign for the caller's region */
    assert_string_equal(ep.signing_name, "ce");
    /* 2. the service-specific variable beats the generic one */
    assert_true(endpoint_resolve("ce", "eu-west-1", NULL, fake_get, &env, &ep, &e));
    assert_string_equal(ep.url, "http://ce.local:4566");
    assert_string_equal(ep.host, "ce.local:4566");
    assert_string_equal(ep.source, "AWS_ENDPOINT_URL_COST_EXPLORER");
    /* 3. the generic one for services without their own */
    assert_true(endpoint_resolve("ec2", "eu-west-1", "", fake_get, &env, &ep, &e));
    assert_string_equal(ep.url, "https://all.local");
    assert_string_equal(ep.host, "all.local");
    assert_string_equal(ep.source, "AWS_ENDPOINT_URL");
    /* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns both variables off, not the option */
    fake_env ignore = {{{"AWS_ENDPOINT_URL_COST_EXPLORER", "http://ce.local:4566/"},
                        {"AWS_ENDPOINT_URL", "https://all.local"},
                        {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"},
                        {NULL, NULL}}};
    assert_true(endpoint_resolve("ce", "eu-west-1", NULL, fake_get, &ignore, &ep, &e));
    assert_string_equal(ep.url, "https://ce.us-east-1.amazonaws.com");
    assert_string_equal(ep.signing_region, "us-east-1");
    assert_true(
        endpoint_resolve("ce", "eu-west-1", "http://opt.local", fake_get, &ignore, &ep, &e));
    assert_string_equal(ep.url, "http://opt.local");
    /* "false" does not ignore; empty values count as unset */
    fake_env notignore = {{{"AWS_ENDPOINT_URL_STS", ""},
                           {"AWS_ENDPOINT_URL", "https://all.local"},
                           {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false"},
                           {NULL, NULL}}};
    assert_true(endpoint_resolve("sts", "us-west-2", NULL, fake_get, &notignore, &ep, &e));
    assert_string_equal(ep.url, "https://all.local");
    /* each service's own variable */
    static const char *svc[][2] = {
        {"sts", "AWS_ENDPOINT_URL_STS"},
        {"ec2", "AWS_ENDPOINT_URL_EC2"},
        {"organizations", "AWS_ENDPOINT_URL_ORGANIZATIONS"},
        {"s3", "AWS_ENDPOINT_URL_S3"},
        {"iam", "AWS_ENDPOINT_URL_IAM"},
        {"rds", "AWS_ENDPOINT_URL_RDS"},
        {"autoscaling", "AWS_ENDPOINT_URL_AUTO_SCALING"},
        {"monitoring", "AWS_ENDPOINT_URL_CLOUDWATCH"},
    };
    for (size_t i = 0; i < sizeof svc / sizeof svc[0]; i++) {
        fake_env one = {{{svc[i][1], "http://127.0.0.1:4566"}, {NULL, NULL}}};
        assert_true(endpoint_resolve(svc[i][0], "us-west-2", NULL, fake_get, &one, &ep, &e));
        assert_string_equal(ep.url, "http://127.0.0.1:4566");
        assert_string_equal(ep.source, svc[i][1]);
        /* and it does not leak to another service */
        const char *other = strcmp(svc[i][0], "ec2") == 0 ? "rds" : "ec2";
        assert_true(endpoint_resolve(other, "us-west-2", NULL, fake_get, &one, &ep, &e));
        assert_string_equal(ep.source, "default");
    }
}

static void test_bad_override_urls(void **state)
{
    (void)state;
    static const char *bad[] = {"ftp://x",       "localhost:4566", "http://",
                                "http://u:p@h/", "http://h/?q=1",  "http://h/a b",
                                "https:///path", "http://h#frag"};
    endpoint ep;
    err e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (endpoint_resolve("ec2", "us-east-1", bad[i], NULL, NULL, &ep, &e))
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(e.code, ERR_INVALID);
        assert_non_null(strstr(e.message, bad[i]));
        assert_non_null(strstr(e.message, "endpoint_url option"));
    }
    fake_env env = {{{"AWS_ENDPOINT_URL_EC2", "bogus"}, {NULL, NULL}}};
    assert_false(endpoint_resolve("ec2", "us-east-1", NULL, fake_get, &env, &ep, &e));
    assert_non_null(strstr(e.message, "AWS_ENDPOINT_URL_EC2"));
    assert_non_null(strstr(e.message, "bogus"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regional_defaults), cmocka_unit_test(test_global_services),
        cmocka_unit_test(test_partitions_and_s3), cmocka_unit_test(test_region_validation),
        cmocka_unit_test(test_env_names),         cmocka_unit_test(test_override_order),
        cmocka_unit_test(test_bad_override_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
