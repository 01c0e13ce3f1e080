/* The intent engine's pieces: the lexer and its typo rule, region aliases,
 * schedule phrases and zones, and the configurable environment tag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nlu/nlu.h"
#include "nlu/nlu_lex.h"
#include "nlu/nlu_region.h"
#include "nlu/nlu_time.h"
#include "nlu/nlu_words.h"
#include "ops/ops_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_lex(void **state)
{
    (void)state;
    nlu_tokens t;
    err e;
    assert_true(nlu_lex("Stop the i-0abc12345 in us-east-1, resize to m5.large at 07:00?", &t, &e));
    const char *want[] = {"stop",   "the", "i-0abc12345", "in", "us-east-1",
                          "resize", "to",  "m5.large",    "at", "07:00"};
    assert_int_equal(t.n, 10);
    for (size_t i = 0; i < t.n; i++)
        assert_string_equal(t.w[i], want[i]);
    assert_true(t.question_mark);
    nlu_tokens_clear(&t);
    assert_false(nlu_lex("  ,, ", &t, &e));
    assert_int_equal(e.code, ERR_INVALID);
    char big[NLU_LEX_MAX_CHARS + 10];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(nlu_lex(big, &t, &e));
    assert_int_equal(e.code, ERR_LIMIT);
}

static void test_typos(void **state)
{
    (void)state;
    assert_int_equal(nlu_lex_distance("instances", "instnaces", 3), 1); /* transposition */
    assert_int_equal(nlu_lex_distance("stop", "stpo", 3), 1);
    assert_int_equal(nlu_lex_distance("kitten", "sitting", 5), 3);
    assert_int_equal(nlu_lex_distance("abc", "abcdefgh", 2), 3); /* capped */
    assert_string_equal(nlu_lex_correct("instnaces"), "instances");
    assert_string_equal(nlu_lex_correct("runing"), "running");
    assert_string_equal(nlu_lex_correct("frankfrut"), "frankfurt");
    assert_string_equal(nlu_lex_correct("reboto"), "reboot");
    assert_null(nlu_lex_correct("stp"));        /* too short to guess */
    assert_null(nlu_lex_correct("instanxxes")); /* two edits */
    assert_null(nlu_lex_correct("that"));       /* a word, not a typo of "what" */
    assert_string_equal(nlu_lex_correct("plese"), "please");
    assert_null(nlu_lex_correct("spending"));  /* a cost word, not "pending" */
    assert_null(nlu_lex_correct("hosts"));     /* instances, not "costs" */
    assert_null(nlu_lex_correct("us-east-9")); /* codes are never guessed */
    assert_null(nlu_lex_correct("i-0abc1234"));
}

static const char *region_of(const char *s, size_t *used)
{
    nlu_tokens t;
    err e;
    assert_true(nlu_lex(s, &t, &e));
    const char *r = nlu_region_match(t.w, t.n, 0, used);
    nlu_tokens_clear(&t);
    return r;
}

static void test_regions(void **state)
{
    (void)state;
    size_t k;
    assert_string_equal(region_of("eu-central-1", &k), "eu-central-1");
    assert_int_equal(k, 1);
    assert_string_equal(region_of("us east 1 please", &k), "us-east-1");
    assert_int_equal(k, 3);
    assert_string_equal(region_of("N. Virginia", &k), "us-east-1");
    assert_int_equal(k, 2);
    assert_string_equal(region_of("Frankfurt", &k), "eu-central-1");
    assert_string_equal(region_of("Ireland", &k), "eu-west-1");
    assert_string_equal(region_of("Tokyo", &k), "ap-northeast-1");
    assert_string_equal(region_of("sao paulo", &k), "sa-east-1");
    assert_null(region_of("us-east-9", &k));
    assert_null(region_of("berlin", &k));
}

static void when_of(const char *s, nlu_when *w, char *cron, size_t size)
{
    nlu_tokens t;
    err e;
    assert_true(nlu_lex(s, &t, &e));
    nlu_time_scan(&t, w);
    nlu_tokens_clear(&t);
    cron[0] = '\0';
    if (w->have_time)
        nlu_time_cron(w, cron, size);
}

static void test_time(void **state)
{
    (void)state;
    nlu_when w;
    char c[64];
    when_of("every weekday at 8pm Berlin time", &w, c, sizeof(c));
    assert_string_equal(c, "0 20 * * 1-5");
    assert_string_equal(w.zone, "Europe/Berlin");
    when_of("every day at 07:00", &w, c, sizeof(c));
    assert_string_equal(c, "0 7 * * *");
    assert_null(w.zone);
    when_of("on mondays at 9", &w, c, sizeof(c));
    assert_string_equal(c, "0 9 * * 1");
    when_of("at 20:00 UTC", &w, c, sizeof(c));
    assert_string_equal(c, "0 20 * * *");
    assert_string_equal(w.zone, "UTC");
    when_of("mondays and fridays at 7:30 am new york time", &w, c, sizeof(c));
    assert_string_equal(c, "30 7 * * 1,5");
    assert_string_equal(w.zone, "America/New_York");
    when_of("weekends at noon pacific", &w, c, sizeof(c));
    assert_string_equal(c, "0 12 * * 0,6");
    assert_string_equal(w.zone, "America/Los_Angeles");
    when_of("daily at 12am", &w, c, sizeof(c));
    assert_string_equal(c, "0 0 * * *");
    when_of("every weekday", &w, c, sizeof(c));
    assert_true(w.seen);
    assert_false(w.have_time);
    when_of("at 25:00", &w, c, sizeof(c));
    assert_true(w.bad_time);
    when_of("older than 30 days", &w, c, sizeof(c));
    assert_false(w.seen);
    when_of("reboot every prod instance", &w, c, sizeof(c));
    assert_false(w.seen); /* "every" before a noun is not a schedule */
    when_of("every day at 20:00 Europe time", &w, c, sizeof(c));
    assert_true(w.bad_zone);
    when_of("every day at 20:00 Berlin time", &w, c, sizeof(c));
    assert_false(w.bad_zone);
}

static void test_env_tag(void **state)
{
    (void)state;
    nlu_context ctx = {
        .env_tag = "Environment", .default_region = "eu-west-1", .time_zone = "Europe/Paris"};
    nlu_plan *p = NULL;
    err e;
    assert_true(nlu_parse("stop prod instances at 6pm", &ctx, &p, &e));
    char *g = json_dumps(nlu_plan_json(p), JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(
        g,
        "{\"cron\":\"0 18 * * *\",\"kind\":\"schedule\",\"operation\":\"ec2.stop\",\"params\":{},"
        "\"risk\":\"medium\",\"target\":{\"accounts\":\"all\",\"regions\":[\"eu-west-1\"],"
        "\"selector\":{\"tags\":{\"Environment\":[\"prod\"]}}},\"time_zone\":\"Europe/Paris\"}");
    free(g);
    nlu_plan_free(p);
    assert_false(nlu_parse("", &ctx, &p, &e));
    assert_null(p);
}

/* The plan of sentence in ctx, compact with sorted keys (caller frees). */
static char *plan_text(const char *sentence, const nlu_context *ctx)
{
    nlu_plan *p = NULL;
    err e;
    assert_true(nlu_parse(sentence, ctx, &p, &e));
    char *g = json_dumps(nlu_plan_json(p), JSON_SORT_KEYS | JSON_COMPACT);
    nlu_plan_free(p);
    return g;
}

static void test_pronouns(void **state)
{
    (void)state;
    static const char *const recent[] = {"i-0123456789abcdef0", "vol-0123456789abcdef0",
                                         "i-0fedcba9876543210"};
    nlu_context ctx = {.default_region = "eu-west-1", .recent_ids = recent, .nrecent = 3};
    char *g = plan_text("start them again", &ctx);
    assert_string_equal(
        g, "{\"kind\":\"operation\",\"operation\":\"ec2.start\",\"params\":{},\"risk\":\"low\","
           "\"target\":{\"accounts\":\"all\",\"regions\":[\"eu-west-1\"],\"selector\":{\"ids\":"
           "[\"i-0123456789abcdef0\",\"i-0fedcba9876543210\"]}}}");
    free(g);
    /* A resource word says which of them. */
    g = plan_text("show me those volumes", &ctx);
    assert_non_null(strstr(g, "\"resource\":\"volumes\""));
    assert_non_null(strstr(g, "\"ids\":[\"vol-0123456789abcdef0\"]"));
    free(g);
    /* A question on them is a query on their ids, never an operation. */
    g = plan_text("are they running?", &ctx);
    assert_non_null(strstr(g, "\"kind\":\"query\""));
    assert_non_null(strstr(g, "\"ids\":[\"i-0123456789abcdef0\",\"i-0fedcba9876543210\"]"));
    free(g);
    /* Nothing of the operation's kind was shown: ask, do not guess. */
    static const char *const vols[] = {"vol-0123456789abcdef0"};
    nlu_context only_vols = {.recent_ids = vols, .nrecent = 1};
    g = plan_text("reboot those instances", &only_vols);
    assert_non_null(strstr(g, "\"kind\":\"clarify\""));
    assert_non_null(strstr(g, "refers to no instances shown last"));
    free(g);
    g = plan_text("reboot them", &only_vols); /* they are volumes */
    assert_non_null(strstr(g, "can reboot volumes (not in the catalog)"));
    free(g);
    /* Where they were seen, unless the sentence names a region. */
    static const char *const where[] = {"us-west-2"};
    ctx.recent_regions = where;
    ctx.nrecent_regions = 1;
    g = plan_text("stop them", &ctx);
    assert_non_null(strstr(g, "\"regions\":[\"us-west-2\"]"));
    free(g);
    g = plan_text("stop them in eu-central-1", &ctx);
    assert_non_null(strstr(g, "\"regions\":[\"eu-central-1\"]"));
    free(g);
    g = plan_text("stop dev instances", &ctx); /* no pronoun: the default region */
    assert_non_null(strstr(g, "\"regions\":[\"eu-west-1\"]"));
    free(g);
    g = plan_text("are they running?", &ctx);
    assert_non_null(strstr(g, "\"regions\":[\"us-west-2\"]"));
    free(g);
    /* Without recent ids the words mean nothing: still a clarify. */
    g = plan_text("stop them", NULL);
    assert_non_null(strstr(g, "\"kind\":\"clarify\""));
    free(g);
}

/* Every operation the vocabulary names is in the catalog, and a plan's
 * risk is the catalog's (nlu_words.c keeps none of its own). */
static void test_ops_in_catalog(void **state)
{
    (void)state;
    for (size_t i = 0; i < nlu_nops; i++) {
        const ops_op *op = ops_find(nlu_ops[i].operation);
        if (op == NULL)
            fail_msg("nlu_ops[%zu] names '%s', which the catalog does not have", i,
                     nlu_ops[i].operation);
        assert_non_null(op->executor);
    }
    char *g = plan_text("resize web-01 to m5.large", NULL);
    assert_non_null(strstr(g, "\"risk\":\"high\""));
    free(g);
    g = plan_text("delete unattached volumes", NULL);
    assert_non_null(strstr(g, "\"risk\":\"critical\""));
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lex),
        cmocka_unit_test(test_typos),
        cmocka_unit_test(test_regions),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_env_tag),
        cmocka_unit_test(test_pronouns),
        cmocka_unit_test(test_ops_in_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
