/* The aws_accounts rows jobs read and write, and the tenant's ExternalId.
 * Short synchronous statements on the worker's connection (role
 * escher_worker, which sees every tenant: each statement names the tenant
 * itself). Errors are lib/db's (SQLSTATE in remote_code). */
#ifndef ESCHER_WORKER_JOB_ACCOUNT_H
#define ESCHER_WORKER_JOB_ACCOUNT_H

#include "core/err.h"
#include "queue/queue.h"

#include <libpq-fe.h>
#include <stdbool.h>

#define JOB_ACCOUNT_ID_LEN 13 /* 12 digits and NUL */

typedef struct job_account {
    char id[QUEUE_ID_LEN];               /* the row's uuid */
    char account_id[JOB_ACCOUNT_ID_LEN]; /* the AWS account */
    char *name;
    char *role_arn;
    char *readonly_role_arn; /* NULL when none */
    char *status;            /* pending, verified, failed, disabled */
} job_account;

/* Reads row id of tenant_id into *out (free with job_account_clear). Fails
 * with ERR_NOT_FOUND quoting the id when the tenant has no such row (deleted,
 * or a malformed id). */
bool job_account_load(PGconn *db, const char *tenant_id, const char *id, job_account *out, err *e);

/* Reads the row of tenant_id for AWS account account_id, as job_account_load. */
bool job_account_load_by_number(PGconn *db, const char *tenant_id, const char *account_id,
                                job_account *out, err *e);

/* Frees the strings of a and zeroes it. */
void job_account_clear(job_account *a);

/* The tenant's ExternalId (caller frees). ERR_NOT_FOUND when no tenant. */
char *job_account_external_id(PGconn *db, const char *tenant_id, err *e);

/* Records a verification on row id: status 'verified', verified_at now(),
 * last_error NULL when last_error is NULL; otherwise status 'failed' and
 * last_error. A disabled account keeps its status (a Manager turned it off;
 * the verification result is still in the job). */
bool job_account_set_status(PGconn *db, const char *id, const char *last_error, err *e);

/* Registers AWS account account_id for tenant_id: a new row with the given
 * role ARNs (readonly_role_arn may be NULL), name and regions (a PostgreSQL
 * text[] literal such as "{us-east-1}"; NULL: none), status pending; an
 * existing row keeps its role ARNs, regions and status and only gets name.
 * Writes the row's uuid to id_out and whether it was new to *inserted. */
bool job_account_upsert(PGconn *db, const char *tenant_id, const char *account_id, const char *name,
                        const char *role_arn, const char *readonly_role_arn, const char *regions,
                        char id_out[QUEUE_ID_LEN], bool *inserted, err *e);

#endif
