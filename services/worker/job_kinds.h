/* The job kinds escher-worker runs: one table row each, with the AWS
 * actions the kind may use.
 *
 * A kind's actions are grouped in scopes, one per kind of role session the
 * job opens (org.discover lists the organization in the management account
 * and verifies each member): the broker's session policy for a session is
 * built from its scope's actions alone, so a session can do no more than that
 * part of the job needs, whatever the customer's role allows. */
#ifndef ESCHER_WORKER_JOB_KINDS_H
#define ESCHER_WORKER_JOB_KINDS_H

#include <stddef.h>
#include <stdio.h>

struct wjob;

typedef struct job_scope {
    const char *name;           /* "verify", "list" */
    const char *const *actions; /* "service:Action" */
    size_t nactions;
} job_scope;

typedef struct job_kind {
    const char *name;    /* the jobs.kind value */
    const char *summary; /* one line for `escher-worker kinds` */
    const job_scope *scopes;
    size_t nscopes;
    /* Runs the job: on the loop, asynchronous; it ends the job (wjob_complete,
     * wjob_fail) sooner or later, or the worker releases it. */
    void (*start)(struct wjob *j);
    /* Frees the kind's state (wjob's state field) once nothing refers to it. */
    void (*free_state)(void *state);
} job_kind;

/* The table (static data) and its length. */
const job_kind *job_kinds(size_t *n);

/* The kind named name, or NULL. */
const job_kind *job_kind_find(const char *name);

/* The scope named name of k. A kind asking for a scope it does not declare
 * is a bug: aborts with a message. */
const job_scope *job_kind_scope(const job_kind *k, const char *name);

/* Writes the table as JSON, {"<kind>": {"summary": ..., "scopes": {"<scope>":
 * ["action", ...]}}}, one line, for operators and tests. */
void job_kinds_print(FILE *out);

#endif
