/* The sandbox's IAM policy engine: AWS's evaluation logic on hand-made
 * principals, identity, session and trust policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCT  "111122223333"
#define OTHER "444455556666"

/* A user and an assumed-role session in ACCT, with policies set per test. */
typedef struct fixture {
    sbx_account acct;
    sbx_user user;
    sbx_role role;
    sbx_session session;
    sbx_principal as_user;
    sbx_principal as_session;
    char *user_pols[4];
    char *role_pols[4];
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->acct.id = ACCT;
    f->user.name = "alice";
    f->user.id = "AIDAEXAMPLEALICE0001";
    f->user.arn = "arn:aws:iam::" ACCT ":user/alice";
    f->user.policies = f->user_pols;
    f->role.name = "Ops";
    f->role.id = "AROAEXAMPLEOPS000001";
    f->role.arn = "arn:aws:iam::" ACCT ":role/Ops";
    f->role.policies = f->role_pols;
    f->session.account_id = ACCT;
    f->session.role_name = "Ops";
    f->session.role_arn = f->role.arn;
    f->session.session_name = "s1";
    f->session.assumed_role_id = "AROAEXAMPLEOPS000001:s1";
    f->as_user = (sbx_principal){.account = &f->acct, .user = &f->user, .arn = f->user.arn};
    f->as_session = (sbx_principal){.account = &f->acct,
                                    .session = &f->session,
                                    .role = &f->role,
                                    .arn = "arn:aws:sts::" ACCT ":assumed-role/Ops/s1"};
}

static void user_policy(fixture *f, const char *text)
{
    f->user_pols[f->user.npolicies++] = (char *)text;
}

static void role_policy(fixture *f, const char *text)
{
    f->role_pols[f->role.npolicies++] = (char *)text;
}

static const char *ALLOW_ALL =
    "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\","
    "\"Resource\":\"*\"}}";

static void test_default_deny(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    char why[256];
    assert_false(policy_authorize(&f.as_user, "ec2:DescribeInstances", "*", NULL, why, sizeof why));
    assert_string_equal(why,
                        "because no identity-based policy allows the ec2:DescribeInstances action");
    user_policy(&f, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                    "\"Action\":\"s3:ListAllMyBuckets\",\"Resource\":\"*\"}]}");
    assert_false(policy_authorize(&f.as_user, "ec2:DescribeInstances", "*", NULL, why, sizeof why));
    assert_true(policy_authorize(&f.as_user, "s3:ListAllMyBuckets", "*", NULL, why, sizeof why));
    assert_string_equal(why, "");
    assert_false(policy_authorize(NULL, "s3:ListAllMyBuckets", "*", NULL, NULL, 0));
}

static void test_explicit_deny_wins(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    user_policy(&f, ALLOW_ALL);
    user_policy(&f, "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\","
                    "\"Action\":\"ec2:Terminate*\",\"Resource\":\"*\"}}");
    char why[256];
    assert_true(policy_authorize(&f.as_user, "ec2:StopInstances", "*", NULL, why, sizeof why));
    assert_false(
        policy_authorize(&f.as_user, "ec2:TerminateInstances", "*", NULL, why, sizeof why));
    assert_string_equal(why, "with an explicit deny in an identity-based policy");
    /* Deny in the same document as the allow, listed first or last. */
    fixture g;
    fixture_init(&g);
    user_policy(&g, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                    "\"Action\":\"*\",\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Action\":"
                    "\"iam:*\",\"Resource\":\"*\"}]}");
    assert_false(policy_authorize(&g.as_user, "iam:ListUsers", "*", NULL, NULL, 0));
    assert_true(policy_authorize(&g.as_user, "sts:GetCallerIdentity", "*", NULL, NULL, 0));
}

static void test_action_wildcards_case(void **state)
{
    (void)state;
    const char *pol = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":[\"EC2:describe*\",\"rds:Stop?BInstance\"],\"Resource\":\"*\"}}";
    assert_int_equal(policy_eval(pol, NULL, "ec2:DescribeInstances", "*", NULL), POLICY_ALLOW);
    assert_int_equal(policy_eval(pol, NULL, "ec2:describeregions", "*", NULL), POLICY_ALLOW);
    assert_int_equal(policy_eval(pol, NULL, "ec2:StopInstances", "*", NULL), POLICY_IMPLICIT_DENY);
    assert_int_equal(policy_eval(pol, NULL, "rds:StopDBInstance", "*", NULL), POLICY_ALLOW);
    assert_int_equal(policy_eval(pol, NULL, "rds:StopDBCluster", "*", NULL), POLICY_IMPLICIT_DENY);
    assert_true(policy_glob("a*b?c", "aXXbYc", false));
    assert_false(policy_glob("a*b?c", "aXXbc", false));
    assert_true(policy_glob("*", "", false));
    assert_true(policy_glob("A*", "abc", true));
    assert_false(policy_glob("A*", "abc", false));
}

static void test_resource_matching(void **state)
{
    (void)state;
    const char *pol =
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"ec2:*\","
        "\"Resource\":\"arn:aws:ec2:us-east-1:" ACCT ":instance/i-0abc*\"}}";
    assert_int_equal(policy_eval(pol, NULL, "ec2:StopInstances",
                                 "arn:aws:ec2:us-east-1:" ACCT ":instance/i-0abc123", NULL),
                     POLICY_ALLOW);
    /* Resources are case-sensitive. */
    assert_int_equal(policy_eval(pol, NULL, "ec2:StopInstances",
                                 "arn:aws:ec2:us-east-1:" ACCT ":instance/i-0ABC123", NULL),
                     POLICY_IMPLICIT_DENY);
    assert_int_equal(policy_eval(pol, NULL, "ec2:StopInstances",
                                 "arn:aws:ec2:eu-west-1:" ACCT ":instance/i-0abc123", NULL),
                     POLICY_IMPLICIT_DENY);
    /* An action without resource-level permissions is asked on "*". */
    assert_int_equal(policy_eval(pol, NULL, "ec2:DescribeInstances", "*", NULL),
                     POLICY_IMPLICIT_DENY);
    const char *notres =
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:*\","
        "\"NotResource\":[\"arn:aws:s3:::secret\",\"arn:aws:s3:::secret/*\"]}}";
    assert_int_equal(policy_eval(notres, NULL, "s3:GetObject", "arn:aws:s3:::public/x", NULL),
                     POLICY_ALLOW);
    assert_int_equal(policy_eval(notres, NULL, "s3:GetObject", "arn:aws:s3:::secret/x", NULL),
                     POLICY_IMPLICIT_DENY);
}

static void test_not_action(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    user_policy(&f, "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                    "\"NotAction\":[\"iam:*\",\"organizations:*\"],\"Resource\":\"*\"}}");
    assert_true(policy_authorize(&f.as_user, "ec2:StopInstances", "*", NULL, NULL, 0));
    assert_false(policy_authorize(&f.as_user, "IAM:ListUsers", "*", NULL, NULL, 0));
    assert_false(policy_authorize(&f.as_user, "organizations:ListAccounts", "*", NULL, NULL, 0));
    /* Deny with NotAction: everything but the listed actions is denied. */
    user_policy(&f, "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\","
                    "\"NotAction\":\"ec2:Describe*\",\"Resource\":\"*\"}}");
    assert_true(policy_authorize(&f.as_user, "ec2:DescribeVolumes", "*", NULL, NULL, 0));
    assert_false(policy_authorize(&f.as_user, "ec2:StopInstances", "*", NULL, NULL, 0));
}

static void test_conditions_strings(void **state)
{
    (void)state;
    policy_kv kv[] = {{"ec2:ResourceTag/env", "dev"}};
    policy_context dev = {.region = "eu-west-1", .kv = kv, .nkv = 1};
    policy_context none = {.region = "us-east-1"};
    const char *pol = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":\"ec2:StopInstances\",\"Resource\":\"*\",\"Condition\":{"
                      "\"StringEquals\":{\"EC2:resourcetag/env\":[\"dev\",\"test\"]},"
                      "\"StringLike\":{\"aws:RequestedRegion\":\"eu-*\"}}}}";
    assert_int_equal(policy_eval(pol, NULL, "ec2:StopInstances", "*", &dev), POLICY_ALLOW);
    assert_int_equal(policy_eval(pol, NULL, "ec2:StopInstances", "*", &none), POLICY_IMPLICIT_DENY);
    kv[0].value = "prod";
    assert_int_equal(policy_eval(pol, NULL, "ec2:StopInstances", "*", &dev), POLICY_IMPLICIT_DENY);
    /* Negated operators are true when the key is absent. */
    const char *neg = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\","
                      "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                      "\"StringNotEquals\":{\"ec2:Region\":[\"us-east-1\",\"eu-west-1\"]}}}}";
    policy_context west2 = {.region = "us-west-2"};
    assert_int_equal(policy_eval(neg, NULL, "ec2:RunInstances", "*", &west2), POLICY_EXPLICIT_DENY);
    assert_int_equal(policy_eval(neg, NULL, "ec2:RunInstances", "*", &none), POLICY_IMPLICIT_DENY);
    assert_int_equal(policy_eval(neg, NULL, "ec2:RunInstances", "*", NULL), POLICY_EXPLICIT_DENY);
    const char *notlike = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                          "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                          "\"StringNotLike\":{\"aws:RequestedRegion\":\"ap-*\"}}}}";
    assert_int_equal(policy_eval(notlike, NULL, "x:Y", "*", &none), POLICY_ALLOW);
    policy_context ap = {.region = "ap-south-1"};
    assert_int_equal(policy_eval(notlike, NULL, "x:Y", "*", &ap), POLICY_IMPLICIT_DENY);
    const char *ic = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                     "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                     "\"StringEqualsIgnoreCase\":{\"aws:RequestedRegion\":\"US-EAST-1\"}}}}";
    assert_int_equal(policy_eval(ic, NULL, "x:Y", "*", &none), POLICY_ALLOW);
}

static void test_conditions_if_exists_bool_numeric(void **state)
{
    (void)state;
    const char *ifx = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                      "\"StringEqualsIfExists\":{\"ec2:InstanceType\":\"t3.micro\"}}}}";
    policy_kv small[] = {{"ec2:InstanceType", "t3.micro"}};
    policy_kv big[] = {{"ec2:InstanceType", "m5.24xlarge"}};
    policy_context c_small = {.kv = small, .nkv = 1}, c_big = {.kv = big, .nkv = 1};
    assert_int_equal(policy_eval(ifx, NULL, "ec2:RunInstances", "*", NULL), POLICY_ALLOW);
    assert_int_equal(policy_eval(ifx, NULL, "ec2:RunInstances", "*", &c_small), POLICY_ALLOW);
    assert_int_equal(policy_eval(ifx, NULL, "ec2:RunInstances", "*", &c_big), POLICY_IMPLICIT_DENY);

    const char *boolp = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\","
                        "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                        "\"Bool\":{\"aws:SecureTransport\":false}}}}";
    policy_context tls = {.secure_transport = true}, plain = {.secure_transport = false};
    assert_int_equal(policy_eval(boolp, NULL, "s3:GetObject", "*", &tls), POLICY_IMPLICIT_DENY);
    assert_int_equal(policy_eval(boolp, NULL, "s3:GetObject", "*", &plain), POLICY_EXPLICIT_DENY);

    const char *num = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                      "\"NumericLessThanEquals\":{\"s3:max-keys\":\"10\"},"
                      "\"DateGreaterThan\":{\"aws:CurrentTime\":\"2024-01-01T00:00:00Z\"}}}}";
    policy_kv k5[] = {{"s3:max-keys", "5"}}, k50[] = {{"s3:max-keys", "50"}};
    policy_context ok = {.kv = k5, .nkv = 1, .now = 1735689600}; /* 2025-01-01 */
    policy_context toomany = {.kv = k50, .nkv = 1, .now = 1735689600};
    policy_context early = {.kv = k5, .nkv = 1, .now = 1672531200}; /* 2023-01-01 */
    assert_int_equal(policy_eval(num, NULL, "s3:ListBucket", "*", &ok), POLICY_ALLOW);
    assert_int_equal(policy_eval(num, NULL, "s3:ListBucket", "*", &toomany), POLICY_IMPLICIT_DENY);
    assert_int_equal(policy_eval(num, NULL, "s3:ListBucket", "*", &early), POLICY_IMPLICIT_DENY);

    const char *ip = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                     "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                     "\"IpAddress\":{\"aws:SourceIp\":[\"10.0.0.0/8\",\"192.0.2.7\"]}}}}";
    policy_context in = {.source_ip = "10.1.2.3"}, out = {.source_ip = "11.1.2.3"},
                   exact = {.source_ip = "192.0.2.7"};
    assert_int_equal(policy_eval(ip, NULL, "x:Y", "*", &in), POLICY_ALLOW);
    assert_int_equal(policy_eval(ip, NULL, "x:Y", "*", &out), POLICY_IMPLICIT_DENY);
    assert_int_equal(policy_eval(ip, NULL, "x:Y", "*", &exact), POLICY_ALLOW);

    const char *null = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\","
                       "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                       "\"Null\":{\"aws:SourceIp\":\"true\"}}}}";
    assert_int_equal(policy_eval(null, NULL, "x:Y", "*", NULL), POLICY_EXPLICIT_DENY);
    assert_int_equal(policy_eval(null, NULL, "x:Y", "*", &in), POLICY_IMPLICIT_DENY);
}

static void test_conditions_sets_and_principal_keys(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    const char *all = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                      "\"ForAllValues:StringEquals\":{\"aws:TagKeys\":[\"env\",\"team\"]}}}}";
    policy_kv two[] = {{"aws:TagKeys", "env"}, {"aws:TagKeys", "team"}};
    policy_kv bad[] = {{"aws:TagKeys", "env"}, {"aws:TagKeys", "owner"}};
    policy_context c2 = {.kv = two, .nkv = 2}, cb = {.kv = bad, .nkv = 2};
    assert_int_equal(policy_eval(all, NULL, "ec2:CreateTags", "*", &c2), POLICY_ALLOW);
    assert_int_equal(policy_eval(all, NULL, "ec2:CreateTags", "*", &cb), POLICY_IMPLICIT_DENY);
    assert_int_equal(policy_eval(all, NULL, "ec2:CreateTags", "*", NULL), POLICY_ALLOW);
    const char *any = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                      "\"ForAnyValue:StringEquals\":{\"aws:TagKeys\":\"owner\"}}}}";
    assert_int_equal(policy_eval(any, NULL, "ec2:CreateTags", "*", &cb), POLICY_ALLOW);
    assert_int_equal(policy_eval(any, NULL, "ec2:CreateTags", "*", &c2), POLICY_IMPLICIT_DENY);
    assert_int_equal(policy_eval(any, NULL, "ec2:CreateTags", "*", NULL), POLICY_IMPLICIT_DENY);

    /* Keys that come from the caller. */
    const char *mine = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                       "\"Action\":\"iam:*AccessKey*\",\"Resource\":"
                       "\"arn:aws:iam::" ACCT ":user/${aws:username}\",\"Condition\":{"
                       "\"StringEquals\":{\"AWS:PrincipalAccount\":\"" ACCT "\"},"
                       "\"ArnLike\":{\"aws:PrincipalArn\":\"arn:aws:iam::*:user/*\"}}}}";
    user_policy(&f, mine);
    assert_true(policy_authorize(&f.as_user, "iam:ListAccessKeys",
                                 "arn:aws:iam::" ACCT ":user/alice", NULL, NULL, 0));
    assert_false(policy_authorize(&f.as_user, "iam:ListAccessKeys",
                                  "arn:aws:iam::" ACCT ":user/bob", NULL, NULL, 0));
    role_policy(&f, mine);
    /* A session has no aws:username and its PrincipalArn is the role's. */
    assert_false(policy_authorize(&f.as_session, "iam:ListAccessKeys",
                                  "arn:aws:iam::" ACCT ":user/alice", NULL, NULL, 0));
    const char *src = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
                      "\"StringEquals\":{\"aws:SourceIdentity\":\"escher\","
                      "\"aws:PrincipalType\":\"AssumedRole\"}}}}";
    assert_int_equal(policy_eval(src, &f.as_session, "ec2:StopInstances", "*", NULL),
                     POLICY_IMPLICIT_DENY);
    f.session.source_identity = "escher";
    assert_int_equal(policy_eval(src, &f.as_session, "ec2:StopInstances", "*", NULL), POLICY_ALLOW);
    assert_int_equal(policy_eval(src, &f.as_user, "ec2:StopInstances", "*", NULL),
                     POLICY_IMPLICIT_DENY);
}

static void test_session_policy_intersection(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    role_policy(&f, "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                    "\"Action\":\"ec2:*\",\"Resource\":\"*\"}}");
    char why[256];
    assert_true(policy_authorize(&f.as_session, "ec2:StopInstances", "*", NULL, why, sizeof why));
    f.session.policy = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                       "\"Action\":[\"ec2:DescribeInstances\",\"s3:*\"],\"Resource\":\"*\"}}";
    assert_true(
        policy_authorize(&f.as_session, "ec2:DescribeInstances", "*", NULL, why, sizeof why));
    assert_false(policy_authorize(&f.as_session, "ec2:StopInstances", "*", NULL, why, sizeof why));
    assert_string_equal(why, "because no session policy allows the ec2:StopInstances action");
    /* The session policy cannot grant what the role lacks. */
    assert_false(
        policy_authorize(&f.as_session, "s3:ListAllMyBuckets", "*", NULL, why, sizeof why));
    assert_string_equal(why,
                        "because no identity-based policy allows the s3:ListAllMyBuckets action");
    f.session.policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                       "\"Action\":\"*\",\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Action\":"
                       "\"ec2:Stop*\",\"Resource\":\"*\"}]}";
    assert_false(policy_authorize(&f.as_session, "ec2:StopInstances", "*", NULL, why, sizeof why));
    assert_string_equal(why, "with an explicit deny in a session policy");
    assert_true(policy_authorize(&f.as_session, "ec2:StartInstances", "*", NULL, NULL, 0));
    /* A session policy that does not parse allows nothing. */
    f.session.policy = "{not json";
    assert_false(policy_authorize(&f.as_session, "ec2:DescribeInstances", "*", NULL, NULL, 0));
}

static const char *TRUST_HUB =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
    "\"arn:aws:iam::" OTHER ":user/escher-hub\"},\"Action\":\"sts:AssumeRole\",\"Condition\":{"
    "\"StringEquals\":{\"sts:ExternalId\":\"test-external-id-0123456789\"}}}]}";

static void test_trust_external_id(void **state)
{
    (void)state;
    sbx_account hub = {.id = OTHER};
    sbx_user hubuser = {.name = "escher-hub", .arn = "arn:aws:iam::" OTHER ":user/escher-hub"};
    sbx_principal p = {.account = &hub, .user = &hubuser, .arn = hubuser.arn};
    policy_kv right[] = {{"sts:ExternalId", "test-external-id-0123456789"}};
    policy_kv wrong[] = {{"sts:ExternalId", "nope"}};
    policy_context cr = {.kv = right, .nkv = 1}, cw = {.kv = wrong, .nkv = 1};
    char why[128];
    assert_true(policy_trust_allows(TRUST_HUB, &p, "sts:AssumeRole", &cr, why, sizeof why));
    assert_false(policy_trust_allows(TRUST_HUB, &p, "sts:AssumeRole", &cw, why, sizeof why));
    assert_string_equal(why, "the role's trust policy does not allow it");
    assert_false(policy_trust_allows(TRUST_HUB, &p, "sts:AssumeRole", NULL, why, sizeof why));
    assert_false(policy_trust_allows(TRUST_HUB, &p, "sts:TagSession", &cr, why, sizeof why));
    /* Another user of the hub account is not named. */
    sbx_user other = {.name = "mallory", .arn = "arn:aws:iam::" OTHER ":user/mallory"};
    sbx_principal q = {.account = &hub, .user = &other, .arn = other.arn};
    assert_false(policy_trust_allows(TRUST_HUB, &q, "sts:AssumeRole", &cr, why, sizeof why));
}

static void test_trust_principal_forms(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    const char *root = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                       "\"Principal\":{\"AWS\":[\"arn:aws:iam::" ACCT ":root\"]},"
                       "\"Action\":\"sts:AssumeRole\"}}";
    const char *bare = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                       "\"Principal\":{\"AWS\":\"" ACCT "\"},\"Action\":\"sts:*\"}}";
    const char *star = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                       "\"Principal\":\"*\",\"Action\":\"sts:AssumeRole\"}}";
    const char *role = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                       "\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCT ":role/Ops\"},"
                       "\"Action\":\"sts:AssumeRole\"}}";
    const char *sess = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                       "\"Principal\":{\"AWS\":\"arn:aws:sts::" ACCT ":assumed-role/Ops/s1\"},"
                       "\"Action\":\"sts:AssumeRole\"}}";
    const char *svc = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},"
                      "\"Action\":\"sts:AssumeRole\"}}";
    const char *deny = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                       "\"Principal\":\"*\",\"Action\":\"sts:AssumeRole\"},{\"Effect\":\"Deny\","
                       "\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCT ":user/alice\"},"
                       "\"Action\":\"sts:AssumeRole\"}]}";
    assert_true(policy_trust_allows(root, &f.as_user, "sts:AssumeRole", NULL, NULL, 0));
    assert_true(policy_trust_allows(root, &f.as_session, "sts:AssumeRole", NULL, NULL, 0));
    assert_true(policy_trust_allows(bare, &f.as_user, "STS:assumerole", NULL, NULL, 0));
    assert_true(policy_trust_allows(star, &f.as_user, "sts:AssumeRole", NULL, NULL, 0));
    assert_false(policy_trust_allows(role, &f.as_user, "sts:AssumeRole", NULL, NULL, 0));
    assert_true(policy_trust_allows(role, &f.as_session, "sts:AssumeRole", NULL, NULL, 0));
    assert_true(policy_trust_allows(sess, &f.as_session, "sts:AssumeRole", NULL, NULL, 0));
    assert_false(policy_trust_allows(svc, &f.as_user, "sts:AssumeRole", NULL, NULL, 0));
    char why[128];
    assert_false(policy_trust_allows(deny, &f.as_user, "sts:AssumeRole", NULL, why, sizeof why));
    assert_string_equal(why, "the role's trust policy explicitly denies it");
    assert_true(policy_trust_allows(deny, &f.as_session, "sts:AssumeRole", NULL, NULL, 0));
    sbx_account other = {.id = OTHER};
    sbx_principal stranger = {.account = &other, .user = &f.user, .arn = f.user.arn};
    f.user.arn = "arn:aws:iam::" OTHER ":user/alice";
    stranger.arn = f.user.arn;
    assert_false(policy_trust_allows(root, &stranger, "sts:AssumeRole", NULL, NULL, 0));
    assert_false(policy_trust_allows(NULL, &stranger, "sts:AssumeRole", NULL, NULL, 0));
}

static void test_validate(void **state)
{
    (void)state;
    err e;
    assert_true(policy_validate(ALLOW_ALL, POLICY_KIND_IDENTITY, &e));
    assert_true(policy_validate(TRUST_HUB, POLICY_KIND_TRUST, &e));
    assert_false(policy_validate("{\"Version\":", POLICY_KIND_IDENTITY, &e));
    assert_string_equal(e.message, "The policy is not in the valid JSON format.");
    assert_false(policy_validate("[1]", POLICY_KIND_IDENTITY, &e));
    assert_string_equal(e.message, "The policy is not in the valid JSON format.");
    const char *bad[] = {
        "{\"Version\":\"2012-10-17\"}",
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Permit\",\"Action\":\"*\","
        "\"Resource\":\"*\"}}",
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Resource\":\"*\"}}",
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\"}}",
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":5,"
        "\"Resource\":\"*\"}}",
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":[],"
        "\"Resource\":\"*\"}}",
        "{\"Version\":\"2020-01-01\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\","
        "\"Resource\":\"*\"}}",
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\","
        "\"Resource\":\"*\",\"Condition\":{\"StringSortOf\":{\"a:b\":\"c\"}}}}",
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\","
        "\"Resource\":\"*\",\"Extra\":1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(policy_validate(bad[i], POLICY_KIND_IDENTITY, &e));
        assert_string_equal(e.message, "Syntax errors in policy.");
    }
    assert_false(policy_validate(TRUST_HUB, POLICY_KIND_IDENTITY, &e));
    assert_string_equal(e.message, "Policy document should not specify a principal.");
    assert_false(policy_validate(ALLOW_ALL, POLICY_KIND_TRUST, &e));
}

static void test_cache_parses_once(void **state)
{
    (void)state;
    policy_cache_clear();
    assert_int_equal(policy_cache_size(), 0);
    fixture f;
    fixture_init(&f);
    /* Two copies of the same text at different addresses share one parse. */
    char *a = strdup(ALLOW_ALL), *b = strdup(ALLOW_ALL);
    user_policy(&f, a);
    for (int i = 0; i < 1000; i++)
        assert_true(policy_authorize(&f.as_user, "ec2:DescribeInstances", "*", NULL, NULL, 0));
    assert_int_equal(policy_cache_size(), 1);
    f.user_pols[0] = b;
    free(a);
    assert_true(policy_authorize(&f.as_user, "ec2:DescribeInstances", "*", NULL, NULL, 0));
    assert_int_equal(policy_cache_size(), 1);
    /* A different text at a reused address is parsed afresh, never confused. */
    strcpy(b, "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"*\","
              "\"Resource\":\"*\"}}");
    assert_false(policy_authorize(&f.as_user, "ec2:DescribeInstances", "*", NULL, NULL, 0));
    assert_int_equal(policy_cache_size(), 2);
    free(b);
    /* The cache is bounded. */
    for (int i = 0; i < POLICY_CACHE_MAX + 10; i++) {
        char text[200];
        snprintf(text, sizeof text,
                 "{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"s%d\",\"Effect\":"
                 "\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}",
                 i);
        assert_int_equal(policy_eval(text, NULL, "a:b", "*", NULL), POLICY_ALLOW);
    }
    assert_true(policy_cache_size() <= POLICY_CACHE_MAX);
    policy_cache_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_deny),
        cmocka_unit_test(test_explicit_deny_wins),
        cmocka_unit_test(test_action_wildcards_case),
        cmocka_unit_test(test_resource_matching),
        cmocka_unit_test(test_not_action),
        cmocka_unit_test(test_conditions_strings),
        cmocka_unit_test(test_conditions_if_exists_bool_numeric),
        cmocka_unit_test(test_conditions_sets_and_principal_keys),
        cmocka_unit_test(test_session_policy_intersection),
        cmocka_unit_test(test_trust_external_id),
        cmocka_unit_test(test_trust_principal_forms),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_cache_parses_once),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    policy_cache_clear();
    return rc;
}
