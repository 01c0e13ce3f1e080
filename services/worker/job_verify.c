/* Account verification. See job_verify.h. */
#include "job_verify.h"

#include "aws/sts.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP_NAME_MAX 200 /* lib/queue's limit for a step name */

/* One verification in progress. */
typedef struct vrun {
    wjob *j;
    job_account acct;
    char *external_id;
    const char *roles[2];
    size_t nroles, next;
    char step[STEP_NAME_MAX + 1];
    waws_session *session;
    json_t *results;
    verify_outcome outcome;
    char error[ERR_MESSAGE_MAX];
    job_verify_done_fn done;
    void *arg;
} vrun;

static void vrun_free(vrun *v)
{
    waws_session_close(v->session);
    job_account_clear(&v->acct);
    free(v->external_id);
    json_decref(v->results);
    free(v);
}

static void next_role(vrun *v);

/* Folds one role's outcome into the run: a refusal outweighs a transient
 * failure, which outweighs success; the error shown is the first of the
 * heaviest kind. */
static void fold(vrun *v, verify_outcome o, const char *error)
{
    if (o > v->outcome) {
        v->outcome = o;
        snprintf(v->error, sizeof v->error, "%.*s", (int)sizeof v->error - 1, error ? error : "");
    }
}

/* Records the role's detail, ends its step and goes on with the next role. */
static void role_done(vrun *v, json_t *detail, verify_outcome o, const char *error)
{
    json_array_append(v->results, detail);
    fold(v, o, error);
    bool ok = wjob_step_finish(v->j, v->step, o == VERIFY_OK, detail, NULL, NULL);
    json_decref(detail);
    if (!ok) {
        vrun_free(v); /* the job has ended */
        return;
    }
    v->next++;
    next_role(v);
}

static void role_failed(vrun *v, const err *e, verify_outcome o)
{
    char code[ERR_FIELD_MAX], message[ERR_MESSAGE_MAX];
    waws_error_parts(e, code, sizeof code, message, sizeof message);
    char text[ERR_FIELD_MAX + ERR_MESSAGE_MAX + 2];
    snprintf(text, sizeof text, "%s: %s", code, message);
    json_t *detail = json_pack("{s:s, s:b, s:s, s:{s:s, s:s}}", "role_arn", v->roles[v->next], "ok",
                               0, "verdict", o == VERIFY_REFUSED ? "refused" : "transient", "error",
                               "code", code, "message", message);
    log_warn(v->j->log, "role not verified", LOG_STR("role_arn", v->roles[v->next]),
             LOG_STR("error", text), LOG_BOOL("transient", o == VERIFY_TRANSIENT));
    role_done(v, detail, o, text);
}

static void role_error(vrun *v, const err *e)
{
    role_failed(v, e, waws_classify(e) == WAWS_REFUSED ? VERIFY_REFUSED : VERIFY_TRANSIENT);
}

static void on_identity(const http_response *resp, const err *e, void *arg)
{
    vrun *v = arg;
    waws_session_close(v->session);
    v->session = NULL;
    if (!wjob_resume(v->j)) {
        vrun_free(v);
        return;
    }
    if (resp == NULL) {
        role_error(v, e);
        return;
    }
    sts_identity id = {0};
    err pe = {0};
    if (!sts_get_caller_identity_parse(resp->body.buf ? resp->body.buf : "", resp->body.len, &id,
                                       &pe)) {
        role_failed(v, &pe, VERIFY_TRANSIENT);
        return;
    }
    if (id.account == NULL || strcmp(id.account, v->acct.account_id) != 0) {
        err me;
        err_set_remote(&me, ERR_AWS, 0, "AccountMismatch", "",
                       "AccountMismatch: role %s answered as %s of account %s, not of account %s",
                       v->roles[v->next], id.arn ? id.arn : "(no ARN)",
                       id.account ? id.account : "(none)", v->acct.account_id);
        sts_identity_free(&id);
        role_failed(v, &me, VERIFY_REFUSED);
        return;
    }
    json_t *detail = json_pack("{s:s, s:b, s:s}", "role_arn", v->roles[v->next], "ok", 1, "arn",
                               id.arn ? id.arn : "");
    log_info(v->j->log, "role verified", LOG_STR("role_arn", v->roles[v->next]),
             LOG_STR("arn", id.arn));
    sts_identity_free(&id);
    role_done(v, detail, VERIFY_OK, NULL);
}

static void on_creds(aws_creds *creds, const err *e, void *arg)
{
    vrun *v = arg;
    if (!wjob_resume(v->j)) {
        creds_free(creds);
        vrun_free(v);
        return;
    }
    if (creds == NULL) {
        role_error(v, e);
        return;
    }
    err se = {0};
    v->session = waws_session_new(v->j->env->aws, creds, v->acct.account_id, &se);
    creds_free(creds);
    if (v->session == NULL) {
        role_failed(v, &se, VERIFY_TRANSIENT);
        return;
    }
    aws_request req;
    sts_get_caller_identity_request(&req);
    wjob_hold(v->j);
    waws_call(v->session, RATELIMIT_DESCRIBE, &req, on_identity, v);
    aws_request_free(&req);
}

static void finish(vrun *v)
{
    verify_report r = {.outcome = v->outcome, .roles = v->results};
    snprintf(r.error, sizeof r.error, "%s", v->error);
    v->done(v->j, &r, v->arg);
    vrun_free(v);
}

/* An earlier attempt's recorded outcome of a step it finished. */
static void fold_prior(vrun *v, json_t *prior)
{
    if (prior == NULL)
        return;
    json_array_append(v->results, prior);
    if (json_is_true(json_object_get(prior, "ok")))
        return;
    json_t *error = json_object_get(prior, "error");
    char text[2 * ERR_MESSAGE_MAX];
    snprintf(text, sizeof text, "%s: %s", json_string_value(json_object_get(error, "code")),
             json_string_value(json_object_get(error, "message")));
    const char *verdict = json_string_value(json_object_get(prior, "verdict"));
    fold(v, verdict && strcmp(verdict, "refused") == 0 ? VERIFY_REFUSED : VERIFY_TRANSIENT, text);
}

static void next_role(vrun *v)
{
    for (; v->next < v->nroles; v->next++) {
        snprintf(v->step, sizeof v->step, "verify %.193s", v->roles[v->next]);
        bool skip;
        json_t *prior = NULL;
        if (!wjob_step_begin(v->j, v->step, &skip, &prior)) {
            vrun_free(v); /* the job has ended */
            return;
        }
        if (skip) {
            fold_prior(v, prior);
            json_decref(prior);
            continue;
        }
        const job_scope *scope = job_kind_scope(v->j->kind, "verify");
        broker_request r = {
            .role_arn = v->roles[v->next],
            .external_id = v->external_id,
            .job_id = v->j->q.id,
            .source_identity = v->j->q.created_by,
            .actions = scope->actions,
            .nactions = scope->nactions,
            .duration_seconds = v->j->env->session_duration,
        };
        wjob_hold(v->j);
        waws_assume(v->j->env->aws, &r, on_creds, v);
        return;
    }
    finish(v);
}

void job_verify_account(wjob *j, const job_account *acct, const char *external_id,
                        job_verify_done_fn done, void *arg)
{
    vrun *v = xcalloc(1, sizeof *v);
    v->j = j;
    snprintf(v->acct.id, sizeof v->acct.id, "%s", acct->id);
    snprintf(v->acct.account_id, sizeof v->acct.account_id, "%s", acct->account_id);
    v->acct.role_arn = xstrdup(acct->role_arn);
    if (acct->readonly_role_arn && *acct->readonly_role_arn)
        v->acct.readonly_role_arn = xstrdup(acct->readonly_role_arn);
    v->external_id = xstrdup(external_id);
    v->roles[v->nroles++] = v->acct.role_arn;
    if (v->acct.readonly_role_arn)
        v->roles[v->nroles++] = v->acct.readonly_role_arn;
    v->results = json_array();
    v->done = done;
    v->arg = arg;
    next_role(v);
}

bool job_verify_record(PGconn *db, void *arg, err *e)
{
    const verify_record *rec = arg;
    if (rec->report->outcome == VERIFY_OK)
        return job_account_set_status(db, rec->account_row_id, NULL, e);
    if (rec->report->outcome == VERIFY_TRANSIENT && !rec->last_attempt)
        return true; /* the next attempt may well succeed: the account stays as it is */
    return job_account_set_status(db, rec->account_row_id, rec->report->error, e);
}

/* ---- the account.verify kind ---- */

typedef struct verify_job {
    job_account acct;
    char *external_id;
} verify_job;

void job_verify_free(void *state)
{
    verify_job *s = state;
    job_account_clear(&s->acct);
    free(s->external_id);
    free(s);
}

static void on_verified(wjob *j, const verify_report *r, void *arg)
{
    verify_job *s = arg;
    verify_record rec = {s->acct.id, r, wjob_last_attempt(j)};
    if (r->outcome == VERIFY_OK) {
        json_t *result = json_pack("{s:s, s:s, s:O}", "account_id", s->acct.account_id, "account",
                                   s->acct.id, "roles", r->roles);
        wjob_complete(j, result, job_verify_record, &rec);
        json_decref(result);
        return;
    }
    wjob_fail(j, r->error, r->outcome == VERIFY_TRANSIENT, job_verify_record, &rec);
}

void job_verify_start(wjob *j)
{
    const char *id = json_string_value(json_object_get(j->payload, "account"));
    if (id == NULL) {
        wjob_fail(j, "payload has no \"account\" (the aws_accounts id to verify)", false, NULL,
                  NULL);
        return;
    }
    verify_job *s = xcalloc(1, sizeof *s);
    j->state = s;
    err e = {0};
    if (!job_account_load(j->env->db, j->q.tenant_id, id, &s->acct, &e) ||
        (s->external_id = job_account_external_id(j->env->db, j->q.tenant_id, &e)) == NULL) {
        wjob_fail(j, e.message, e.code != ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    log_info(j->log, "verifying account", LOG_STR("account_id", s->acct.account_id),
             LOG_STR("account", s->acct.id));
    job_verify_account(j, &s->acct, s->external_id, on_verified, s);
}
