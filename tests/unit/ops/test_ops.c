/* lib/ops without AWS or a database: the catalog's entries, parameter
 * validation with its messages, target parsing with its messages, the EC2
 * executors' requests and answers, and docs/operations.md equal to
 * ops_catalog_markdown's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/aws_client.h"
#include "aws/xml.h"
#include "core/xmalloc.h"
#include "ops/ops_catalog.h"
#include "ops/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (j == NULL)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return j;
}

/* ---- the table ---- */

static void test_catalog_entries(void **state)
{
    (void)state;
    static const char *const want[] = {"ec2.start",
                                       "ec2.stop",
                                       "ec2.reboot",
                                       "ec2.resize",
                                       "ec2.snapshot_volumes",
                                       "ebs.delete_unattached",
                                       "rds.start",
                                       "rds.stop",
                                       "rds.snapshot",
                                       "asg.set_capacity",
                                       "tags.apply"};
    size_t n;
    const ops_op *ops = ops_catalog(&n);
    assert_int_equal(n, COUNT(want));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(ops[i].name, want[i]);
        assert_ptr_equal(ops_find(want[i]), &ops[i]);
        assert_true(ops[i].nactions >= 2);
        /* Every operation reads before it acts: a describe call is in its policy. */
        bool describe = false;
        for (size_t a = 0; a < ops[i].nactions; a++) {
            assert_non_null(strchr(ops[i].actions[a], ':'));
            describe |= strstr(ops[i].actions[a], ":Describe") != NULL;
        }
        assert_true(describe);
        assert_string_not_equal(ops_risk_name(ops[i].risk), "?");
        for (size_t p = 0; p < ops[i].nparams; p++)
            assert_non_null(ops[i].params[p].summary);
    }
    assert_null(ops_find("ec2.explode"));
    assert_null(ops_find(NULL));
    err e = {0};
    assert_null(ops_lookup("ec2.explode", &e));
    assert_non_null(strstr(e.message, "unknown operation 'ec2.explode' (known: ec2.start, "));
    /* Built executors: exactly what the worker can run today. */
    assert_non_null(ops_find("ec2.start")->executor);
    assert_non_null(ops_find("ec2.stop")->executor);
    assert_non_null(ops_find("ec2.reboot")->executor);
    assert_non_null(ops_find("ec2.resize")->executor);
    static const char *const built[] = {
        "ec2.snapshot_volumes", "ebs.delete_unattached", "rds.start", "rds.stop",
        "rds.snapshot",         "asg.set_capacity",      "tags.apply"};
    for (size_t i = 0; i < COUNT(built); i++)
        assert_non_null(ops_find(built[i])->executor);
    assert_int_equal(ops_find("ebs.delete_unattached")->risk, OPS_RISK_CRITICAL);
    const ops_op *stop = ops_find("ec2.stop");
    assert_int_equal(stop->nactions, 2);
    assert_string_equal(stop->actions[0], "ec2:DescribeInstances");
    assert_string_equal(stop->actions[1], "ec2:StopInstances");
}

/* ---- parameters ---- */

static void valid(const char *op, const char *params)
{
    json_t *p = js(params);
    err e = {0};
    if (!ops_validate_params(ops_find(op), p, &e))
        fail_msg("%s %s refused: %s", op, params, e.message);
    json_decref(p);
}

static void invalid(const char *op, const char *params, const char *message)
{
    json_t *p = js(params);
    err e = {0};
    if (ops_validate_params(ops_find(op), p, &e))
        fail_msg("%s %s accepted", op, params);
    assert_int_equal(e.code, ERR_INVALID);
    if (strcmp(e.message, message) != 0)
        fail_msg("%s %s:\n got  %s\n want %s", op, params, e.message, message);
    json_decref(p);
}

static void test_params(void **state)
{
    (void)state;
    valid("ec2.start", "{}");
    valid("ec2.start", "null");
    valid("ec2.stop", "{\"hibernate\": true}");
    valid("ec2.resize", "{\"instance_type\": \"m5.large\"}");
    valid("ec2.resize", "{\"instance_type\": \"c6gn.16xlarge\"}");
    valid("asg.set_capacity", "{\"min\": 0, \"max\": 10000, \"desired\": 0}");
    valid("asg.set_capacity", "{\"min\": 2, \"max\": 4, \"desired\": 4}");
    valid("tags.apply", "{\"tags\": {\"env\": \"dev\", \"empty\": \"\"}}");
    valid("tags.apply", "{\"remove\": [\"old\"]}");
    valid("ebs.delete_unattached", "{\"min_age_days\": 30, \"snapshot_first\": false}");
    valid("rds.snapshot", "{\"snapshot_prefix\": \"nightly-1\"}");

    invalid("ec2.start", "[]", "ec2.start: params is []: want an object");
    invalid("ec2.start", "{\"force\": true}",
            "ec2.start: unknown parameter 'force' (ec2.start takes none)");
    invalid("ec2.stop", "{\"hibernat\": true}",
            "ec2.stop: unknown parameter 'hibernat' (known: hibernate)");
    invalid("ec2.stop", "{\"hibernate\": \"yes\"}",
            "ec2.stop: parameter 'hibernate' is 'yes': want true or false");
    invalid("ec2.resize", "{}",
            "ec2.resize: parameter 'instance_type' is required (the new instance type)");
    invalid("ec2.resize", "{\"instance_type\": \"M5 large\"}",
            "ec2.resize: parameter 'instance_type' is 'M5 large': want an instance type such as "
            "m5.large (pattern [a-z][a-z0-9-]*[0-9][a-z0-9-]*\\.[a-z0-9]+)");
    invalid("ec2.resize", "{\"instance_type\": 5}",
            "ec2.resize: parameter 'instance_type' is 5: want a string");
    invalid("asg.set_capacity", "{\"min\": -1, \"max\": 2, \"desired\": 1}",
            "asg.set_capacity: parameter 'min' is -1: want an integer 0..10000");
    invalid("asg.set_capacity", "{\"min\": 1, \"max\": 10001, \"desired\": 1}",
            "asg.set_capacity: parameter 'max' is 10001: want an integer 0..10000");
    invalid("asg.set_capacity", "{\"min\": 1, \"max\": 2.5, \"desired\": 1}",
            "asg.set_capacity: parameter 'max' is 2.5: want an integer 0..10000");
    invalid("asg.set_capacity", "{\"min\": 5, \"max\": 10, \"desired\": 3}",
            "asg.set_capacity: parameters min 5, desired 3, max 10: want min <= desired <= max");
    invalid("asg.set_capacity", "{\"min\": 5, \"max\": 4, \"desired\": 5}",
            "asg.set_capacity: parameters min 5, desired 5, max 4: want min <= desired <= max");
    invalid("asg.set_capacity", "{\"min\": 1, \"max\": 2}",
            "asg.set_capacity: parameter 'desired' is required (DesiredCapacity; min <= desired "
            "<= max)");
    invalid("tags.apply", "{}",
            "tags.apply: parameters 'tags' and 'remove' are both empty: nothing to apply");
    invalid("tags.apply", "{\"tags\": {\"aws:x\": \"1\"}}",
            "tags.apply: parameter 'tags.aws:x' is '1': want an object of 0 to 50 tags, keys of 1 "
            "to 128 characters not starting with \"aws:\", string values of at most 256");
    invalid("tags.apply", "{\"tags\": {\"a\": \"1\"}, \"remove\": [\"a\"]}",
            "tags.apply: tag 'a' is both in 'tags' and in 'remove'");
    invalid("rds.snapshot", "{\"snapshot_prefix\": \"1abc\"}",
            "rds.snapshot: parameter 'snapshot_prefix' is '1abc': want a letter then letters, "
            "digits and hyphens (pattern [a-zA-Z][a-zA-Z0-9-]*)");
}

/* ---- targets ---- */

static void target_ok(const char *text, target *t)
{
    json_t *j = js(text);
    err e = {0};
    if (!target_parse(j, t, &e))
        fail_msg("target %s refused: %s", text, e.message);
    json_decref(j);
}

static void target_bad(const char *text, const char *message)
{
    json_t *j = js(text);
    target t;
    err e = {0};
    if (target_parse(j, &t, &e))
        fail_msg("target %s accepted", text);
    if (strcmp(e.message, message) != 0)
        fail_msg("target %s:\n got  %s\n want %s", text, e.message, message);
    json_decref(j);
}

static void test_targets(void **state)
{
    (void)state;
    target t;
    target_ok("{\"accounts\": [\"111111111111\", \"222222222222\"], \"regions\": [\"us-east-1\", "
              "\"eu-west-1\"], \"selector\": {\"tags\": {\"env\": [\"dev\", \"test\"], \"team\": "
              "null}, \"state\": \"running\", \"ids\": [\"i-0123456789abcdef0\"], \"name\": "
              "\"web-*\"}}",
              &t);
    assert_int_equal(t.accounts, TARGET_ACCOUNTS_LIST);
    assert_int_equal(t.naccount_ids, 2);
    assert_string_equal(t.account_ids[1], "222222222222");
    assert_false(t.all_regions);
    assert_int_equal(t.nregions, 2);
    assert_int_equal(t.selector.ntags, 2);
    assert_string_equal(t.selector.tags[0].key, "env");
    assert_int_equal(t.selector.tags[0].nvalues, 2);
    assert_string_equal(t.selector.tags[1].key, "team");
    assert_int_equal(t.selector.tags[1].nvalues, 0);
    assert_string_equal(t.selector.state, "running");
    assert_string_equal(t.selector.name, "web-*");
    err e = {0};
    assert_true(ops_check_target(ops_find("ec2.stop"), &t, &e));
    assert_false(ops_check_target(ops_find("rds.stop"), &t, &e));
    assert_string_equal(e.message, "target.selector.state is 'running': rds:db-instance has "
                                   "available, backing-up, creating, deleting, failed, modifying, "
                                   "rebooting, starting, stopped, stopping, storage-full");
    target_clear(&t);

    target_ok("{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {\"state\": "
              "\"stopped\"}}",
              &t);
    assert_int_equal(t.accounts, TARGET_ACCOUNTS_ALL);
    assert_true(t.all_regions);
    target_clear(&t);
    target_ok("{\"accounts\": {\"ou\": \"ou-ab12-cdef3456\"}, \"regions\": [\"us-east-1\"], "
              "\"selector\": {\"ids\": [\"vol-1\"]}}",
              &t);
    assert_int_equal(t.accounts, TARGET_ACCOUNTS_OU);
    assert_string_equal(t.ou, "ou-ab12-cdef3456");
    assert_false(ops_check_target(ops_find("ec2.stop"), &t, &e));
    assert_string_equal(e.message,
                        "target.selector.ids[0] is 'vol-1': ec2:instance ids start with 'i-'");
    target_clear(&t);
    /* OU ids in Organizations' shapes: an OU's and the root's. */
    target_ok("{\"accounts\": {\"ou\": \"r-ab12\"}, \"regions\": \"all\", "
              "\"selector\": {\"state\": \"running\"}}",
              &t);
    assert_int_equal(t.accounts, TARGET_ACCOUNTS_OU);
    assert_string_equal(t.ou, "r-ab12");
    target_clear(&t);
    target_ok("{\"accounts\": {\"ou\": \"ou-0123456789abcdef0123456789abcdef-"
              "0123456789abcdef0123456789abcdef\"}, \"regions\": \"all\", "
              "\"selector\": {\"state\": \"running\"}}",
              &t);
    target_clear(&t);
    assert_true(target_ou_id_ok("ou-ab12-cdef3456"));
    assert_true(target_ou_id_ok("r-0a9z"));
    static const char *const bad_ous[] = {
        "ou-ab1-cdef3456",  /* root part shorter than 4 */
        "ou-ab12-cdef345",  /* OU part shorter than 8 */
        "ou-AB12-cdef3456", /* upper case */
        "ou-ab12cdef3456",  /* no second dash */
        "ou-ab12-cdef-3456",
        "ou--cdef3456",
        "r-ab1",
        "r-",
        "r-ab12-x",
        "o-ab12cdef",
        "ou-0123456789abcdef0123456789abcdef0-cdef3456", /* 33 */
        "",
    };
    for (size_t i = 0; i < sizeof bad_ous / sizeof bad_ous[0]; i++)
        if (target_ou_id_ok(bad_ous[i]))
            fail_msg("OU id '%s' accepted", bad_ous[i]);
    target_bad("{\"accounts\": {\"ou\": \"ou-AB12-cdef3456\"}, \"regions\": \"all\", "
               "\"selector\": {\"state\": \"x\"}}",
               "target.accounts.ou is \"ou-AB12-cdef3456\": want an organizational unit id "
               "(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}, such as ou-ab12-cdef3456) or the root's "
               "(r-[0-9a-z]{4,32})");
    target_bad("{\"accounts\": {\"ou\": 7}, \"regions\": \"all\", "
               "\"selector\": {\"state\": \"x\"}}",
               "target.accounts.ou is 7: want an organizational unit id "
               "(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}, such as ou-ab12-cdef3456) or the root's "
               "(r-[0-9a-z]{4,32})");
    target_bad("{\"accounts\": {}, \"regions\": \"all\", \"selector\": {\"state\": \"x\"}}",
               "target.accounts has no 'ou': want {\"ou\": \"ou-...\"} or {\"ou\": \"r-...\"}");
    target_bad("{\"accounts\": {\"ou\": \"ou-ab12-cdef3456\", \"path\": 1}, \"regions\": "
               "\"all\", \"selector\": {\"state\": \"x\"}}",
               "unknown field 'path' in target.accounts (known: ou)");

    target_bad("[]", "target must be an object with accounts, regions and selector");
    target_bad("{\"acounts\": \"all\"}",
               "unknown field 'acounts' in target (known: accounts, regions, selector)");
    target_bad("{\"accounts\": \"all\", \"selector\": {\"state\": \"running\"}}",
               "target has no 'regions'");
    target_bad("{\"accounts\": \"some\", \"regions\": \"all\", \"selector\": {\"state\": \"x\"}}",
               "target.accounts is 'some': want \"all\", an array of account ids or {\"ou\": "
               "\"ou-...\"}");
    target_bad("{\"accounts\": [\"12345\"], \"regions\": \"all\", \"selector\": {\"state\": "
               "\"x\"}}",
               "target.accounts[0] is '12345': want a 12-digit AWS account id");
    target_bad("{\"accounts\": [], \"regions\": \"all\", \"selector\": {\"state\": \"x\"}}",
               "target.accounts is []: want an array of 1 to 1000 strings");
    target_bad("{\"accounts\": {\"ou\": \"r-123\"}, \"regions\": \"all\", \"selector\": "
               "{\"state\": \"x\"}}",
               "target.accounts.ou is \"r-123\": want an organizational unit id "
               "(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}, such as ou-ab12-cdef3456) or the root's "
               "(r-[0-9a-z]{4,32})");
    target_bad("{\"accounts\": \"all\", \"regions\": [\"us-east-1\", \"Mars\"], \"selector\": "
               "{\"state\": \"x\"}}",
               "target.regions[1] is 'Mars': want a region code such as us-east-1");
    target_bad("{\"accounts\": \"all\", \"regions\": \"every\", \"selector\": {}}",
               "target.regions is 'every': want \"all\" or an array of region codes");
    target_bad("{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {}}",
               "target.selector is empty: name at least one of tags, state, ids, name (an empty "
               "selector would take every resource)");
    target_bad("{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {\"tag\": {}}}",
               "unknown field 'tag' in target.selector (known: tags, state, ids, name)");
    target_bad("{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {\"tags\": "
               "{\"env\": \"dev\"}}}",
               "target.selector.tags.env is \"dev\": want an array of 1 to 50 strings");
    target_bad("{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {\"tags\": "
               "{\"env\": [1]}}}",
               "target.selector.tags.env[0] is 1: want a string");
    target_bad("{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {\"state\": "
               "\"Running\"}}",
               "target.selector.state is \"Running\": want a state name such as \"running\"");
    target_bad("{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {\"ids\": [\"i "
               "1\"]}}",
               "target.selector.ids[0] is 'i 1': want a resource id such as i-0123456789abcdef0");
    target_bad("{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {\"name\": \"\"}}",
               "target.selector.name is \"\": want a Name tag pattern of 1 to 256 characters (* "
               "and ? match any characters)");
}

/* ---- the EC2 executors ---- */

static const char *body_of(const aws_request *r)
{
    return strbuf_str(&r->body);
}

static void test_ec2_requests(void **state)
{
    (void)state;
    target t;
    target_ok("{\"accounts\": \"all\", \"regions\": \"all\", \"selector\": {\"tags\": {\"env\": "
              "[\"dev\"], \"team\": null}, \"state\": \"running\", \"name\": \"web-*\"}}",
              &t);
    const ops_executor *x = ops_find("ec2.stop")->executor;
    aws_request req;
    x->list_request(&t.selector, "eu-west-1", NULL, &req);
    assert_string_equal(req.region, "eu-west-1");
    assert_string_equal(req.service, "ec2");
    assert_string_equal(body_of(&req),
                        "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Aenv&"
                        "Filter.1.Value.1=dev&Filter.2.Name=tag-key&Filter.2.Value.1=team&"
                        "Filter.3.Name=instance-state-name&Filter.3.Value.1=running&"
                        "Filter.4.Name=tag%3AName&Filter.4.Value.1=web-%2A&MaxResults=1000");
    aws_request_free(&req);
    x->list_request(&t.selector, "eu-west-1", "tok", &req);
    assert_non_null(strstr(body_of(&req), "&NextToken=tok"));
    aws_request_free(&req);
    target_clear(&t);

    ops_resource r = {.id = "i-1", .name = "", .state = "running"};
    json_t *params = js("{\"hibernate\": true}");
    ops_call c = {.params = params, .region = "us-east-1", .dry_run = true};
    assert_true(x->action_request(&r, &c, &req));
    assert_string_equal(body_of(&req), "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-1&"
                                       "Hibernate=true&DryRun=true");
    aws_request_free(&req);
    json_decref(params);

    const char *why = NULL;
    assert_int_equal(x->decide(&r, NULL, 0, &why), OPS_ACT);
    r.state = "stopped";
    assert_int_equal(x->decide(&r, NULL, 0, &why), OPS_NOTHING);
    assert_string_equal(why, "already stopped");
    r.state = "terminated";
    assert_int_equal(x->decide(&r, NULL, 0, &why), OPS_NOTHING);
    const ops_executor *start = ops_find("ec2.start")->executor;
    r.state = "stopping";
    assert_int_equal(start->decide(&r, NULL, 0, &why), OPS_CANNOT);
    r.state = "stopped";
    assert_int_equal(start->decide(&r, NULL, 0, &why), OPS_ACT);
    const ops_executor *reboot = ops_find("ec2.reboot")->executor;
    assert_int_equal(reboot->decide(&r, NULL, 0, &why), OPS_NOTHING);

    static const char answer[] =
        "<DescribeInstancesResponse><requestId>r1</requestId><reservationSet><item>"
        "<instancesSet><item><instanceId>i-a</instanceId><instanceState><code>16</code>"
        "<name>running</name></instanceState><tagSet><item><key>env</key><value>dev</value>"
        "</item><item><key>Name</key><value>web-1</value></item></tagSet></item>"
        "<item><instanceId>i-b</instanceId><instanceState><name>stopped</name></instanceState>"
        "</item></instancesSet></item></reservationSet></DescribeInstancesResponse>";
    xml_doc *doc;
    err e = {0};
    assert_true(xml_parse(answer, strlen(answer), NULL, &doc, &e));
    ops_resource *res = NULL;
    size_t n = 0, cap = 0;
    assert_true(x->list_parse(xml_root(doc), NULL, &res, &n, &cap, &e));
    assert_int_equal(n, 2);
    assert_string_equal(res[0].id, "i-a");
    assert_string_equal(res[0].name, "web-1");
    assert_string_equal(res[0].state, "running");
    assert_string_equal(res[1].name, "");
    assert_string_equal(res[1].state, "stopped");
    for (size_t i = 0; i < n; i++)
        ops_resource_clear(&res[i]);
    free(res);
    xml_free(doc);
}

/* ---- docs/operations.md ---- */

static void test_markdown_matches_docs(void **state)
{
    (void)state;
    char *made = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&made, &len);
    ops_catalog_markdown(f);
    fclose(f);
    const char *src = getenv("ESCHER_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/operations.md", src ? src : ".");
    FILE *d = fopen(path, "r");
    if (d == NULL)
        fail_msg("%s is missing: write it with `escher-worker operations > docs/operations.md`",
                 path);
    char *doc = xmalloc(len + 2);
    size_t got = fread(doc, 1, len + 1, d);
    fclose(d);
    if (got != len || memcmp(doc, made, len) != 0)
        fail_msg("%s differs from the catalog (lib/ops/ops_catalog.c): regenerate it with "
                 "`escher-worker operations > docs/operations.md`",
                 path);
    free(doc);
    free(made);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_entries),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_ec2_requests),
        cmocka_unit_test(test_markdown_matches_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
