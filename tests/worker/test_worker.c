/* escher-worker against a real PostgreSQL, Redis and escher-sandbox (the
 * fixture in wtest.h): the job kinds, its life with jobs in flight, and, over
 * everything those scenarios did, the sandbox's call log (every AssumeRole
 * named the job, its user, 900 s and exactly the kind's actions) and the
 * secrets check (no key or token the sandbox issued is in any worker log or
 * in pg_dump of the database). */
#include "wtest.h"
#include "wtests.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/strbuf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ESCHER_WORKER_BIN
#error "ESCHER_WORKER_BIN must name the escher-worker binary"
#endif

/* Output of a shell command (caller frees); asserts it ran. */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    strbuf sb = STRBUF_INIT;
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        strbuf_append(&sb, buf, n);
    int rc = pclose(p);
    if (rc != 0)
        fail_msg("'%s' exited with %d", cmd, rc);
    strbuf_puts(&sb, "");
    return strbuf_detach(&sb);
}

static json_t *find_job(const char *id)
{
    for (size_t i = 0; i < json_array_size(W.jobs); i++) {
        json_t *j = json_array_get(W.jobs, i);
        if (strcmp(json_string_value(json_object_get(j, "id")), id) == 0)
            return j;
    }
    return NULL;
}

/* The actions the kind's scope declares, from `escher-worker kinds`. */
static json_t *scope_actions(json_t *kinds, const char *kind, const char *scope)
{
    json_t *a = json_object_get(json_object_get(json_object_get(kinds, kind), "scopes"), scope);
    if (!json_is_array(a))
        fail_msg("escher-worker kinds has no scope %s of %s", scope, kind);
    return a;
}

/* Checks one AssumeRole of the call log; counts[0] verify sessions,
 * counts[1] listing sessions. */
static void check_assume(json_t *call, json_t *kinds, size_t counts[2])
{
    json_t *params = json_object_get(call, "params");
    const char *session = json_string_value(json_object_get(params, "RoleSessionName"));
    const char *role = json_string_value(json_object_get(params, "RoleArn"));
    assert_non_null(session);
    assert_true(strncmp(session, "escher-", 7) == 0);
    json_t *job = find_job(session + 7);
    if (job == NULL)
        fail_msg("AssumeRole of %s named session %s: no job of this test has that id", role,
                 session);
    const char *kind = json_string_value(json_object_get(job, "kind"));
    assert_string_equal(json_string_value(json_object_get(params, "SourceIdentity")),
                        json_string_value(json_object_get(job, "created_by")));
    assert_string_equal(json_string_value(json_object_get(params, "DurationSeconds")), "900");
    const char *tenant = json_string_value(json_object_get(job, "tenant"));
    assert_string_equal(json_string_value(json_object_get(params, "ExternalId")),
                        strcmp(tenant, W.tenant_a) == 0 ? WT_EXTERNAL_ID : WT_WRONG_ID);
    json_t *policy = json_loads(json_string_value(json_object_get(params, "Policy")), 0, NULL);
    if (policy == NULL)
        fail_msg("AssumeRole of %s for job %s carried no session policy", role, session + 7);
    json_t *stmts = json_object_get(policy, "Statement");
    assert_int_equal(json_array_size(stmts), 1);
    json_t *st = json_array_get(stmts, 0);
    assert_string_equal(json_string_value(json_object_get(st, "Effect")), "Allow");
    json_t *actions = json_object_get(st, "Action");
    /* Members are verified; a discovery's management role also lists (and,
     * being a member too, is verified with the verify scope). */
    json_t *payload = json_loads(json_string_value(json_object_get(job, "payload")), 0, NULL);
    const char *mgmt = json_string_value(json_object_get(payload, "management_role_arn"));
    bool listing =
        mgmt && strcmp(mgmt, role) == 0 && json_equal(actions, scope_actions(kinds, kind, "list"));
    if (!listing && !json_equal(actions, scope_actions(kinds, kind, "verify"))) {
        char *got = json_dumps(actions, 0);
        fail_msg("job %s (%s) assumed %s with actions %s: not a scope of its kind", session + 7,
                 kind, role, got);
    }
    json_decref(policy);
    json_decref(payload);
    counts[listing ? 1 : 0]++;
}

void test_call_log_assume_roles(void **state)
{
    (void)state;
    wt_need();
    char *text = run(ESCHER_WORKER_BIN " kinds");
    json_t *kinds = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(kinds);
    json_t *log = sbx_admin(&W.sb, "GET", "/calls?since=0&limit=100000", NULL);
    json_t *calls = json_object_get(log, "calls");
    size_t counts[2] = {0, 0};
    for (size_t i = 0; i < json_array_size(calls); i++) {
        json_t *c = json_array_get(calls, i);
        if (strcmp(json_string_value(json_object_get(c, "action")), "AssumeRole") == 0)
            check_assume(c, kinds, counts);
    }
    json_decref(log);
    print_message("%zu AssumeRole calls (%zu listing an organization), each naming its job, "
                  "user, 900 s and its kind's actions\n",
                  counts[0] + counts[1], counts[1]);
    /* The scenarios made well over fifty sessions, two of them to list. */
    assert_true(counts[0] + counts[1] >= 60);
    assert_int_equal(counts[1], 2);
    json_decref(kinds);
}

/* Every secret the sandbox holds: the session keys and tokens it issued
 * (GET /state "sessions": the call log masks them) and the access keys of its
 * users, the hub's among them (the worker's own identity). */
static void collect_secrets(json_t *state, json_t *out)
{
    json_t *sessions = json_object_get(state, "sessions");
    for (size_t i = 0; i < json_array_size(sessions); i++) {
        json_t *s = json_array_get(sessions, i);
        json_array_append(out, json_object_get(s, "secret"));
        json_array_append(out, json_object_get(s, "token"));
    }
    json_t *accounts = json_copy(json_object_get(state, "accounts"));
    json_array_append(accounts, json_object_get(state, "hub"));
    for (size_t a = 0; a < json_array_size(accounts); a++) {
        json_t *users = json_object_get(json_array_get(accounts, a), "users");
        for (size_t u = 0; u < json_array_size(users); u++) {
            json_t *keys = json_object_get(json_array_get(users, u), "keys");
            for (size_t k = 0; k < json_array_size(keys); k++)
                json_array_append(out, json_object_get(json_array_get(keys, k), "secret"));
        }
    }
    json_decref(accounts);
}

static void assert_clean(const char *what, const char *text, const json_t *secrets)
{
    for (size_t i = 0; i < json_array_size(secrets); i++) {
        const char *s = json_string_value(json_array_get(secrets, i));
        if (s && strlen(s) >= 16 && strstr(text, s))
            fail_msg("%s contains a secret the sandbox issued (%.6s...)", what, s);
    }
}

void test_no_secrets_in_logs_or_database(void **state)
{
    (void)state;
    wt_need();
    json_t *st = sbx_state(&W.sb);
    json_t *secrets = json_array();
    collect_secrets(st, secrets);
    json_decref(st);
    size_t sessions = json_array_size(secrets);
    print_message("%zu secrets and tokens from the sandbox; %zu worker logs\n", sessions, W.nlogs);
    assert_true(sessions >= 120); /* 60+ sessions, a key and a token each */
    for (size_t i = 0; i < W.nlogs; i++) {
        char *log = wt_read_file(W.logs[i]);
        assert_true(strlen(log) > 0);
        assert_clean(W.logs[i], log, secrets);
        free(log);
    }
    char cmd[800];
    snprintf(cmd, sizeof cmd, "pg_dump --no-owner '%s'", W.db.url);
    char *dump = run(cmd);
    assert_non_null(strstr(dump, "job_steps")); /* the dump has the data */
    assert_non_null(strstr(dump, WT_EXTERNAL_ID));
    assert_clean("pg_dump of the test database", dump, secrets);
    free(dump);
    json_decref(secrets);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_verify_outcomes, wt_each),
        cmocka_unit_test_setup(test_discover, wt_each),
        cmocka_unit_test_setup(test_many_at_once, wt_each),
        cmocka_unit_test_setup(test_sigkill_mid_job, wt_each),
        cmocka_unit_test_setup(test_sigterm_hands_back, wt_each),
        cmocka_unit_test_setup(test_sigterm_finishes_in_grace, wt_each),
        cmocka_unit_test_setup(test_cancel_running, wt_each),
        cmocka_unit_test(test_call_log_assume_roles),
        cmocka_unit_test(test_no_secrets_in_logs_or_database),
    };
    return cmocka_run_group_tests(tests, wt_setup, wt_teardown);
}
