/* aws_accounts for jobs. See job_account.h. */
#include "job_account.h"

#include "core/xmalloc.h"
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCOUNT_COLUMNS "id, account_id, name, role_arn, readonly_role_arn, status"

static char *text_or_null(PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? NULL : xstrdup(PQgetvalue(r, 0, col));
}

static bool load(PGconn *db, const char *sql, const char *tenant_id, const char *key,
                 job_account *out, err *e)
{
    memset(out, 0, sizeof *out);
    const char *p[2] = {tenant_id, key};
    PGresult *r = db_query(db, sql, 2, p, e);
    if (r == NULL)
        return false;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_set(e, ERR_NOT_FOUND, "tenant %s has no AWS account '%.64s'", tenant_id, key);
    }
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(r, 0, 0));
    snprintf(out->account_id, sizeof out->account_id, "%s", PQgetvalue(r, 0, 1));
    out->name = text_or_null(r, 2);
    out->role_arn = text_or_null(r, 3);
    out->readonly_role_arn = text_or_null(r, 4);
    out->status = text_or_null(r, 5);
    PQclear(r);
    return true;
}

bool job_account_load(PGconn *db, const char *tenant_id, const char *id, job_account *out, err *e)
{
    /* A malformed uuid would make the cast fail; compare as text instead so
     * it is simply not found. */
    return load(db,
                "SELECT " ACCOUNT_COLUMNS " FROM aws_accounts"
                " WHERE tenant_id = $1 AND id::text = lower($2)",
                tenant_id, id, out, e);
}

bool job_account_load_by_number(PGconn *db, const char *tenant_id, const char *account_id,
                                job_account *out, err *e)
{
    return load(db,
                "SELECT " ACCOUNT_COLUMNS " FROM aws_accounts"
                " WHERE tenant_id = $1 AND account_id = $2",
                tenant_id, account_id, out, e);
}

void job_account_clear(job_account *a)
{
    free(a->name);
    free(a->role_arn);
    free(a->readonly_role_arn);
    free(a->status);
    memset(a, 0, sizeof *a);
}

char *job_account_external_id(PGconn *db, const char *tenant_id, err *e)
{
    const char *p[1] = {tenant_id};
    PGresult *r = db_query(db, "SELECT external_id FROM tenants WHERE id = $1", 1, p, e);
    if (r == NULL)
        return NULL;
    char *out = PQntuples(r) == 1 ? xstrdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    if (out == NULL)
        err_set(e, ERR_NOT_FOUND, "tenant %s does not exist", tenant_id);
    return out;
}

bool job_account_set_status(PGconn *db, const char *id, const char *last_error, err *e)
{
    const char *p[2] = {id, last_error};
    return db_exec(db,
                   "UPDATE aws_accounts SET"
                   "  status = CASE WHEN status = 'disabled' THEN status"
                   "                WHEN $2::text IS NULL THEN 'verified' ELSE 'failed' END,"
                   "  verified_at = CASE WHEN $2::text IS NULL THEN now() ELSE verified_at END,"
                   "  last_error = $2, updated_at = now()"
                   " WHERE id = $1",
                   2, p, NULL, e);
}

bool job_account_upsert(PGconn *db, const char *tenant_id, const char *account_id, const char *name,
                        const char *role_arn, const char *readonly_role_arn, const char *regions,
                        char id_out[QUEUE_ID_LEN], bool *inserted, err *e)
{
    const char *p[6] = {tenant_id, account_id,        name ? name : "",
                        role_arn,  readonly_role_arn, regions ? regions : "{}"};
    PGresult *r = db_query(db,
                           "INSERT INTO aws_accounts"
                           " (tenant_id, account_id, name, role_arn, readonly_role_arn, regions)"
                           " VALUES ($1, $2, left($3, 256), $4, $5, $6::text[])"
                           " ON CONFLICT (tenant_id, account_id) DO UPDATE"
                           "   SET name = EXCLUDED.name, updated_at = now()"
                           " RETURNING id, (xmax = 0)",
                           6, p, e);
    if (r == NULL)
        return false;
    snprintf(id_out, QUEUE_ID_LEN, "%s", PQgetvalue(r, 0, 0));
    *inserted = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    return true;
}
