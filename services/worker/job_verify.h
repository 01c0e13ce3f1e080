/* Account verification: job kind account.verify, and the verification of
 * one account that org.discover reuses for every member.
 *
 * For the account's role_arn, then its readonly_role_arn when it has one,
 * one step "verify <role ARN>": AssumeRole through the broker (the tenant's
 * ExternalId, session "escher-<job id>", SourceIdentity the job's creator,
 * the kind's "verify" scope as session policy), then GetCallerIdentity with
 * those credentials, whose Account must be the account's. A step an earlier
 * attempt finished is not repeated: its recorded outcome counts.
 *
 * account.verify: payload {"account": "<aws_accounts.id>"}. Success: the
 * account becomes verified and the job succeeds with result {"account_id",
 * "account", "roles": [...]}. A refusal by AWS (AccessDenied, a wrong
 * account, ...): the account becomes failed with last_error "<Code>: <AWS
 * message>" and the job fails for good with that message. A transient
 * failure: the job is retried; on its last attempt the account is marked
 * failed as well. */
#ifndef ESCHER_WORKER_JOB_VERIFY_H
#define ESCHER_WORKER_JOB_VERIFY_H

#include "core/err.h"
#include "job_account.h"
#include "worker_job.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

typedef enum verify_outcome {
    VERIFY_OK,        /* every role assumed and in the right account */
    VERIFY_TRANSIENT, /* a role could not be checked for now; none was refused */
    VERIFY_REFUSED,   /* AWS refused a role, or it is in another account */
} verify_outcome;

/* What verifying one account found. */
typedef struct verify_report {
    verify_outcome outcome;
    /* [{"role_arn", "ok": true, "arn"} | {"role_arn", "ok": false,
     * "error": {"code", "message"}}], borrowed for the callback's time. */
    const json_t *roles;
    /* "<Code>: <message>" of the first refused role (or, when none was
     * refused, the first that failed); "" when all is well. */
    char error[ERR_MESSAGE_MAX];
} verify_report;

/* Called on the loop with the report, only while j is still running (when
 * the job ends meanwhile, the verification is dropped silently). */
typedef void (*job_verify_done_fn)(wjob *j, const verify_report *r, void *arg);

/* Starts verifying acct (copied) for j with the tenant's external_id
 * (copied), sessions scoped by j's kind's "verify" scope. done is called at
 * most once: inside this call when earlier attempts did every step, else
 * later on the loop. */
void job_verify_account(wjob *j, const job_account *acct, const char *external_id,
                        job_verify_done_fn done, void *arg);

/* What to write on an account row after a verification. */
typedef struct verify_record {
    const char *account_row_id;
    const verify_report *report;
    bool last_attempt; /* a transient failure marks the account failed only then */
} verify_record;

/* wjob_tx_fn writing a verify_record (arg) on the account row: verified,
 * failed with the report's error, or unchanged (transient, attempts left). */
bool job_verify_record(PGconn *db, void *arg, err *e);

/* The account.verify kind (job_kinds.c). */
void job_verify_start(wjob *j);
void job_verify_free(void *state);

#endif
