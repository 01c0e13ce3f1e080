/* The LLM backend's pure half (services/api/api_llm.c): the tools built from
 * the catalog, the request body, and chat-completions answers read into
 * plans or refused with a message saying why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api_llm.h"
#include "nlu/nlu.h"

#include "core/xmalloc.h"
#include "ops/ops_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (j == NULL)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return j;
}

/* A chat-completions answer with one tool call of name and arguments (JSON
 * text, sent as a string as OpenAI does). Caller frees. */
static char *answer_call(const char *name, const char *args)
{
    json_t *a = json_pack("{s:[{s:{s:s, s:n, s:[{s:s, s:s, s:{s:s, s:s}}]}}]}", "choices",
                          "message", "role", "assistant", "content", "tool_calls", "id", "c1",
                          "type", "function", "function", "name", name, "arguments", args);
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return text;
}

static const nlu_context ctx = {.default_region = "eu-west-1", .time_zone = "Europe/Berlin"};

/* Reads answer text and expects success with the plan want (JSON text). */
static void expect_plan(const char *answer, bool allow_mutating, const char *want)
{
    json_t *plan = NULL;
    char *text = NULL;
    err e = {0};
    bool ok = api_llm_read(answer, strlen(answer), &ctx, allow_mutating, &plan, &text, &e);
    if (!ok)
        fail_msg("refused: %s", e.message);
    assert_null(text);
    json_t *w = js(want);
    if (!json_equal(plan, w)) {
        char *got = json_dumps(plan, JSON_SORT_KEYS);
        fail_msg("plan %s, want %s", got, want);
    }
    json_decref(w);
    json_decref(plan);
}

/* Reads answer text and expects a refusal whose message holds words. */
static void expect_refused(const char *answer, bool allow_mutating, const char *words)
{
    json_t *plan = NULL;
    char *text = NULL;
    err e = {0};
    bool ok = api_llm_read(answer, strlen(answer), &ctx, allow_mutating, &plan, &text, &e);
    if (ok)
        fail_msg("accepted %s, want a refusal naming '%s'", answer, words);
    assert_null(plan);
    assert_null(text);
    if (strstr(e.message, words) == NULL)
        fail_msg("message '%s' does not name '%s'", e.message, words);
}

static void test_tools(void **state)
{
    (void)state;
    size_t n = 0;
    const ops_op *ops = ops_catalog(&n);
    json_t *tools = api_llm_tools();
    assert_int_equal(json_array_size(tools), n + 1);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        api_llm_tool_name(ops[i].name, name, sizeof name);
        const json_t *fn = json_object_get(json_array_get(tools, i), "function");
        assert_string_equal(json_string_value(json_object_get(fn, "name")), name);
        /* OpenAI's names: [a-zA-Z0-9_-], at most 64. */
        assert_int_equal(strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"
                                      "789_-"),
                         strlen(name));
        const json_t *props = json_object_get(json_object_get(fn, "parameters"), "properties");
        assert_non_null(json_object_get(props, "target"));
        assert_non_null(json_object_get(props, "cron"));
        for (size_t p = 0; p < ops[i].nparams; p++) {
            /* A parameter named like the reserved arguments would be lost. */
            assert_string_not_equal(ops[i].params[p].name, "target");
            assert_string_not_equal(ops[i].params[p].name, "cron");
            assert_string_not_equal(ops[i].params[p].name, "time_zone");
            assert_non_null(json_object_get(props, ops[i].params[p].name));
        }
    }
    const json_t *last = json_object_get(json_array_get(tools, n), "function");
    assert_string_equal(json_string_value(json_object_get(last, "name")), "query_resources");
    json_decref(tools);
    char name[64];
    api_llm_tool_name("ebs.delete_unattached", name, sizeof name);
    assert_string_equal(name, "ebs_delete_unattached");
}

static void test_request(void **state)
{
    (void)state;
    json_t *c = js("{\"default_region\": \"eu-west-1\"}");
    json_t *req = api_llm_request("m1", "stop the dev boxes", c);
    assert_string_equal(json_string_value(json_object_get(req, "model")), "m1");
    const json_t *msgs = json_object_get(req, "messages");
    assert_int_equal(json_array_size(msgs), 3);
    const json_t *last = json_array_get(msgs, 2);
    assert_string_equal(json_string_value(json_object_get(last, "role")), "user");
    assert_string_equal(json_string_value(json_object_get(last, "content")), "stop the dev boxes");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                           "eu-west-1"));
    json_decref(req);
    req = api_llm_request("m1", "hi", NULL);
    assert_int_equal(json_array_size(json_object_get(req, "messages")), 2);
    json_decref(req);
    json_decref(c);
}

static void test_operation(void **state)
{
    (void)state;
    char *a = answer_call("ec2_stop", "{\"target\": {\"tags\": {\"env\": \"dev\"}}}");
    expect_plan(a, true,
                "{\"kind\":\"operation\",\"operation\":\"ec2.stop\",\"params\":{},"
                "\"target\":{\"accounts\":\"all\",\"regions\":[\"eu-west-1\"],"
                "\"selector\":{\"tags\":{\"env\":[\"dev\"]}}},\"risk\":\"medium\"}");
    free(a);
    a = answer_call("ec2_resize", "{\"instance_type\": \"m5.large\", \"target\": {\"ids\": "
                                  "[\"i-0abc\"], \"regions\": \"all\", \"accounts\": "
                                  "[\"123456789012\"]}}");
    expect_plan(a, true,
                "{\"kind\":\"operation\",\"operation\":\"ec2.resize\",\"params\":"
                "{\"instance_type\":\"m5.large\"},\"target\":{\"accounts\":[\"123456789012\"],"
                "\"regions\":\"all\",\"selector\":{\"ids\":[\"i-0abc\"]}},\"risk\":\"high\"}");
    free(a);
    /* Schedules: the zone from the context, or the call's. */
    a = answer_call("rds_stop", "{\"cron\": \"0 20 * * 1-5\", \"target\": {\"name\": \"db-*\"}}");
    expect_plan(a, true,
                "{\"kind\":\"schedule\",\"cron\":\"0 20 * * 1-5\",\"time_zone\":"
                "\"Europe/Berlin\",\"operation\":\"rds.stop\",\"params\":{},\"target\":"
                "{\"accounts\":\"all\",\"regions\":[\"eu-west-1\"],\"selector\":{\"name\":"
                "\"db-*\"}},\"risk\":\"medium\"}");
    free(a);
    a = answer_call("ec2_start", "{\"cron\": \"30 7 * * *\", \"time_zone\": \"Asia/Tokyo\", "
                                 "\"target\": {\"state\": \"stopped\"}}");
    expect_plan(a, true,
                "{\"kind\":\"schedule\",\"cron\":\"30 7 * * *\",\"time_zone\":\"Asia/Tokyo\","
                "\"operation\":\"ec2.start\",\"params\":{},\"target\":{\"accounts\":\"all\","
                "\"regions\":[\"eu-west-1\"],\"selector\":{\"state\":\"stopped\"}},\"risk\":"
                "\"low\"}");
    free(a);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *name, *args, *words;
    } cases[] = {
        {"ec2_terminate", "{\"target\": {\"name\": \"x\"}}", "unknown operation 'ec2.terminate'"},
        {"asg_set_capacity",
         "{\"min\": 0, \"max\": 50000, \"desired\": 1, \"target\": {\"name\": \"w\"}}", "max"},
        {"asg_set_capacity",
         "{\"min\": 5, \"max\": 10, \"desired\": 1, \"target\": {\"name\": \"w\"}}", "desired"},
        {"ec2_resize", "{\"instance_type\": \"M5 large\", \"target\": {\"name\": \"x\"}}",
         "instance_type"},
        {"ec2_resize", "{\"target\": {\"name\": \"x\"}}", "instance_type"},
        {"ec2_stop", "{\"force\": true, \"target\": {\"name\": \"x\"}}", "force"},
        {"ec2_stop", "{}", "target"},
        {"ec2_stop", "{\"target\": {}}", "selector"},
        {"ec2_stop", "{\"target\": {\"name\": \"x\", \"vpc\": \"v\"}}", "vpc"},
        {"ec2_stop", "{\"target\": {\"ids\": [\"vol-1\"]}}", "vol-1"},
        {"ec2_stop", "{\"target\": {\"regions\": [\"mars-1\"], \"name\": \"x\"}}", "mars-1"},
        {"ec2_stop", "{\"target\": {\"state\": \"exploded\"}}", "exploded"},
        {"ec2_stop", "{\"cron\": \"0 25 * * *\", \"target\": {\"name\": \"x\"}}", "25"},
        {"ec2_stop",
         "{\"cron\": \"0 20 * * *\", \"time_zone\": \"Mars/Base\", \"target\": {\"name\": \"x\"}}",
         "Mars/Base"},
        {"ec2_stop", "{\"time_zone\": \"UTC\", \"target\": {\"name\": \"x\"}}", "without cron"},
        {"ec2_stop", "not json", "not JSON"},
        {"query_resources", "{\"resource\": \"users\"}", "users"},
        {"query_resources", "{\"resource\": \"instances\", \"action\": \"delete\"}", "delete"},
        {"query_resources", "{\"resource\": \"instances\", \"filters\": {\"cost\": 1}}", "cost"},
        {"query_resources", "{\"resource\": \"instances\", \"filters\": {\"regions\": [\"x\"]}}",
         "filters.regions[0]"},
        {"query_resources", "{\"resource\": \"instances\", \"filters\": {\"regions\": \"most\"}}",
         "want \"all\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *a = answer_call(cases[i].name, cases[i].args);
        expect_refused(a, true, cases[i].words);
        free(a);
    }
}

static void test_questions_never_mutate(void **state)
{
    (void)state;
    char *a = answer_call("ec2_stop", "{\"target\": {\"name\": \"web-*\"}}");
    expect_refused(a, false, "question");
    free(a);
    a = answer_call("ec2_stop", "{\"cron\": \"0 1 * * *\", \"target\": {\"name\": \"web-*\"}}");
    expect_refused(a, false, "question");
    free(a);
    a = answer_call("query_resources", "{\"resource\": \"volumes\", \"filters\": {\"state\": "
                                       "\"available\", \"tags\": {\"team\": []}}}");
    expect_plan(a, false,
                "{\"kind\":\"query\",\"resource\":\"volumes\",\"action\":\"list\",\"filters\":"
                "{\"state\":\"available\",\"tags\":{\"team\":null}}}");
    free(a);
    /* "All regions", as lib/nlu says it. */
    a = answer_call("query_resources",
                    "{\"resource\": \"instances\", \"filters\": {\"regions\": \"all\"}}");
    expect_plan(a, false,
                "{\"kind\":\"query\",\"resource\":\"instances\",\"action\":\"list\","
                "\"filters\":{\"regions\":\"all\"}}");
    free(a);
}

/* The question rule api_chat applies is lib/nlu's mood (one word list, in
 * lib/nlu): these are the sentences the reader must never turn into a
 * change. */
static void test_mood(void **state)
{
    (void)state;
    static const struct {
        const char *sentence;
        bool question;
    } cases[] = {
        {"is staging going to stop at 20:00", true}, {"stop them?", true},
        {"could you show me the web boxes", true},   {"Which ones", true},
        {"stop the dev boxes every weekday", false}, {"make the prod instances bigger", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        nlu_plan *p = NULL;
        err e;
        assert_true(nlu_parse(cases[i].sentence, NULL, &p, &e));
        if (nlu_plan_question(p) != cases[i].question)
            fail_msg("'%s': question %d", cases[i].sentence, nlu_plan_question(p));
        nlu_plan_free(p);
    }
}

static void test_shapes(void **state)
{
    (void)state;
    /* Words only: text, never a plan. */
    const char *words = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
                        "\"I would stop them.\\u0007\"}}]}";
    json_t *plan = NULL;
    char *text = NULL;
    err e = {0};
    assert_true(api_llm_read(words, strlen(words), &ctx, true, &plan, &text, &e));
    assert_null(plan);
    assert_string_equal(text, "I would stop them. ");
    free(text);
    expect_refused("{\"choices\": []}", true, "choices");
    expect_refused("<html>", true, "not JSON");
    expect_refused("{\"choices\":[{\"message\":{\"content\":\"\"}}]}", true, "neither");
    const char *two = "{\"choices\":[{\"message\":{\"tool_calls\":["
                      "{\"function\":{\"name\":\"ec2_stop\",\"arguments\":\"{}\"}},"
                      "{\"function\":{\"name\":\"ec2_start\",\"arguments\":\"{}\"}}]}}]}";
    expect_refused(two, true, "2 tool calls");
    /* Arguments as an object (some servers) are read too. */
    const char *obj = "{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":{\"name\":"
                      "\"ec2_reboot\",\"arguments\":{\"target\":{\"name\":\"web-01\"}}}}]}}]}";
    expect_plan(obj, true,
                "{\"kind\":\"operation\",\"operation\":\"ec2.reboot\",\"params\":{},\"target\":"
                "{\"accounts\":\"all\",\"regions\":[\"eu-west-1\"],\"selector\":{\"name\":"
                "\"web-01\"}},\"risk\":\"medium\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tools),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_operation),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_questions_never_mutate),
        cmocka_unit_test(test_mood),
        cmocka_unit_test(test_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
