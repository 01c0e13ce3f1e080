/* Job kind org.discover: register and verify every active member of an AWS
 * organization.
 *
 * Payload: {"management_role_arn": "arn:aws:iam::<mgmt>:role/<name>",
 * "role_name": "EscherOperator" (a template: "{account_id}" is replaced by
 * each member's id), "readonly_role_name": "EscherReadOnly" or absent,
 * "regions": ["us-east-1", ...] or absent}.
 *
 * Steps: "list accounts #<attempt>" assumes the management role with the
 * kind's "list" scope and pages through Organizations ListAccounts (a read,
 * repeated by each attempt so the list is current); then, for each ACTIVE
 * account, "register <id>" inserts it (role ARNs from the templates, name
 * from AWS, status pending) or renames an existing row (which keeps its role
 * ARNs); then each registered account not disabled is verified exactly as
 * account.verify does (job_verify.h, several at once), followed by
 * "record <id>", which writes the outcome on the account row.
 *
 * Result: {"members": <accounts listed>, "registered": [ids], "verified":
 * [ids], "failed": [{"account_id", "role_arn", "error": {"code",
 * "message"}}], "skipped": [{"account_id", "status"}]}. The job fails for
 * good when the management role or ListAccounts is refused, and is retried
 * when listing or some member's verification failed for a transient reason
 * while attempts remain (steps already done are not repeated). */
#ifndef ESCHER_WORKER_JOB_DISCOVER_H
#define ESCHER_WORKER_JOB_DISCOVER_H

#include "worker_job.h"

/* The org.discover kind (job_kinds.c). */
void job_discover_start(wjob *j);
void job_discover_free(void *state);

#endif
