/* Job kind ops.run: an operation of the catalog (lib/ops) on a target.
 *
 * Payload {"operation": "ec2.stop", "params": {...}, "target": {...},
 * "dry_run": false, "schedule": "<id>"?, "fire_at": "..."?} (escher-scheduler
 * and the API enqueue it). The operation, its parameters and the target are
 * checked again here: a bad payload fails the job for good with the
 * message, as does an operation whose executor is not built yet.
 *
 * The target expands into account x region work items (target_expand),
 * run at most JOB_OPS_PARALLEL at once. Each assumes the account's operator
 * role with the tenant's ExternalId and a session policy of exactly the
 * operation's actions, lists the selected resources (paged), then takes them
 * one by one:
 *
 *   step "<op>:<account>:<region>:<id>" begun (a step an earlier attempt
 *   finished is skipped, its recorded outcome reused) -> the resource is read
 *   again and its state decides (already stopped: nothing to do) -> the
 *   action -> the step finished with the outcome and AWS's request id.
 *
 * A failing resource does not stop the others. Transient failures (throttled
 * past the client's retries, 5xx) make the attempt fail retryable while
 * attempts remain, so the retry redoes only what did not finish.
 *
 * An executor with several calls per resource (ops_executor.nphases:
 * tags.apply, ebs.delete_unattached) makes each a step of its own, named
 * "<op>:<account>:<region>:<id>:<verb>" after the first, re-checked before
 * each; the result keeps one entry per resource with the phases' details.
 * A phase may make no call (ec2.resize's check, which records the state
 * before the job in its step's detail, and its waits), pass (OPS_PASS), or
 * wait (OPS_WAIT): the resource is read again after the executor's wait_ms
 * on an event timer of the worker's loop, nothing blocking, and the phase
 * fails as transient after wait_max_ms. On a retry the first phase's
 * recorded "before" is restored (ops_resource.before), so ec2.resize still
 * restarts only what was running when the job began.
 *
 * Dry run: the same session and listing; no step; for each resource the
 * action goes with EC2's DryRun=true (services without DryRun, RDS and Auto
 * Scaling, are listed "would <verb>" without a call) (DryRunOperation = "would <verb>"; a
 * refusal = "would fail"). It uses the operator role, not the read-only one:
 * DryRun answers whether *this* session may act, which a read-only role
 * never may; DryRun=true itself is what guarantees nothing changes.
 *
 * Result: {"operation", "dry_run", "state": "succeeded"|"partial"|"failed",
 * "resources": [{"account", "region", "id", "name", "before", "action",
 * "outcome", "reason", "request_id", "error", "after"}...], "errors":
 * [{"account", "region"?, "error"}...], "counts": {...}}. A run whose every
 * resource and work item failed ends the job failed (the result is kept on
 * the job all the same); partial and succeeded runs end it succeeded. */
#ifndef ESCHER_WORKER_JOB_OPS_H
#define ESCHER_WORKER_JOB_OPS_H

#include "worker_job.h"

/* Work items of one job at once; the gate bounds AWS requests. */
#define JOB_OPS_PARALLEL 8

void job_ops_start(wjob *j);
void job_ops_free(void *state);

#endif
