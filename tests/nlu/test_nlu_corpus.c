/* The intent engine against tests/nlu/corpus.json: every utterance with the
 * plan a careful operator means. Prints accuracy and each miss; fails under
 * 95% exact plans, or on any mutating plan for a sentence marked as a
 * question. Plans compare as canonical JSON (sorted keys, compact); a
 * clarify plan compares on its kind only, since its wording is for people. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nlu/nlu.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *load_corpus(void)
{
    const char *src = getenv("ESCHER_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/nlu/corpus.json", src ? src : ".");
    json_error_t je;
    json_t *c = json_load_file(path, 0, &je);
    if (!c)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    return c;
}

static void test_corpus(void **state)
{
    (void)state;
    json_t *corpus = load_corpus();
    nlu_context ctx = {.env_tag = "env"};
    size_t n = json_array_size(corpus), exact = 0, questions = 0, mutating_questions = 0;
    size_t i;
    json_t *item;
    json_array_foreach(corpus, i, item)
    {
        const char *say = json_string_value(json_object_get(item, "say"));
        json_t *want = json_object_get(item, "plan");
        bool question = json_is_true(json_object_get(item, "question"));
        assert_non_null(say);
        assert_non_null(want);
        nlu_plan *p = NULL;
        err e;
        if (!nlu_parse(say, &ctx, &p, &e))
            fail_msg("nlu_parse('%s'): %s", say, e.message);
        const json_t *got = nlu_plan_json(p);
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        bool ok;
        const char *wk = json_string_value(json_object_get(want, "kind"));
        if (wk && strcmp(wk, "clarify") == 0)
            ok = json_equal(json_object_get(want, "kind"), json_object_get(got, "kind"));
        else
            ok = strcmp(g, w) == 0;
        if (ok)
            exact++;
        else
            printf("MISS  %s\n  got  %s\n  want %s\n", say, g, w);
        if (question) {
            questions++;
            if (nlu_plan_mutating(p)) {
                mutating_questions++;
                printf("MUTATING PLAN FOR A QUESTION: %s\n", say);
            }
        }
        free(g);
        free(w);
        nlu_plan_free(p);
    }
    double acc = n ? 100.0 * (double)exact / (double)n : 0;
    printf("nlu corpus: %zu utterances, %zu exact plans (%.1f%%), %zu questions, %zu mutating "
           "plans for questions\n",
           n, exact, acc, questions, mutating_questions);
    json_decref(corpus);
    assert_true(n >= 150);
    assert_int_equal(mutating_questions, 0);
    assert_true(acc >= 95.0);
}

/* Every sentence marked a question, also with a command verb forced into
 * it, stays a read: the mood decides before any verb is looked at. */
static void test_questions_never_mutate(void **state)
{
    (void)state;
    static const char *const forced[] = {
        "which instances should I stop in dev?",
        "how many instances would stop if I stop dev?",
        "show me what delete unattached volumes would remove",
        "are there instances to reboot in prod",
        "what's going to start every weekday at 8am?",
        "can I see which volumes are unattached?",
        "is it safe to terminate the staging servers?",
        "list instances to resize to m5.large",
    };
    for (size_t i = 0; i < sizeof(forced) / sizeof(forced[0]); i++) {
        nlu_plan *p = NULL;
        err e;
        assert_true(nlu_parse(forced[i], NULL, &p, &e));
        if (nlu_plan_mutating(p)) {
            char *g = json_dumps(nlu_plan_json(p), JSON_COMPACT);
            fail_msg("'%s' became %s", forced[i], g);
        }
        nlu_plan_free(p);
    }
}

/* Every prefix of every corpus sentence parses without a crash (the test
 * runs under ASan/UBSan) and twice to the same plan: no hidden state. */
static void test_prefixes_deterministic(void **state)
{
    (void)state;
    json_t *corpus = load_corpus();
    size_t i;
    json_t *item;
    json_array_foreach(corpus, i, item)
    {
        const char *say = json_string_value(json_object_get(item, "say"));
        size_t len = strlen(say);
        for (size_t cut = 1; cut <= len; cut++) {
            char *s = strndup(say, cut);
            nlu_plan *a = NULL, *b = NULL;
            err e;
            bool ok_a = nlu_parse(s, NULL, &a, &e);
            bool ok_b = nlu_parse(s, NULL, &b, &e);
            assert_int_equal(ok_a, ok_b);
            if (ok_a && !json_equal(nlu_plan_json(a), nlu_plan_json(b)))
                fail_msg("'%s' parsed to two different plans", s);
            nlu_plan_free(a);
            nlu_plan_free(b);
            free(s);
        }
    }
    json_decref(corpus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_questions_never_mutate),
        cmocka_unit_test(test_prefixes_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
