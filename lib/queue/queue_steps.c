/* Job steps: what a job did, one row per step, written only while the
 * writer holds the job's lease. See queue.h. */
#include "queue/queue.h"

#include "queue/queue_sql.h"

#include <stdio.h>
#include <string.h>

/* Locks job_id's row if worker_id holds its lease, so the reaper cannot hand
 * the job on while we write its steps. */
static bool hold_lease(PGconn *conn, const char *job_id, const char *worker_id, const char *what,
                       err *e)
{
    const char *p[2] = {job_id, worker_id};
    PGresult *r =
        queue_sql_run(conn,
                      "SELECT 1 FROM jobs WHERE id = $1 AND state = 'leased' AND leased_by = $2"
                      " FOR NO KEY UPDATE",
                      2, p, PGRES_TUPLES_OK, what, e);
    if (r == NULL)
        return false;
    bool found = PQntuples(r) == 1;
    PQclear(r);
    if (!found)
        return err_set(e, ERR_NOT_FOUND, "%s: job %s is not leased by worker '%s'", what, job_id,
                       worker_id);
    return true;
}

static bool check_step(const char *job_id, const char *name, const char *what, err *e)
{
    if (name == NULL || *name == '\0' || strlen(name) > 200)
        return err_set(e, ERR_INVALID,
                       "%s of job %s: step name '%.64s' must be 1 to 200 characters", what, job_id,
                       name ? name : "(null)");
    return true;
}

bool queue_step_begin(PGconn *conn, const char *job_id, const char *worker_id, const char *name,
                      queue_step_result *result, err *e)
{
    const char *what = "step begin";
    if (!queue_sql_check_job_id(job_id, e) || !queue_sql_check_worker(worker_id, e) ||
        !check_step(job_id, name, what, e))
        return false;
    bool own;
    if (!queue_sql_tx_begin(conn, &own, what, e))
        return false;
    bool ok = hold_lease(conn, job_id, worker_id, what, e);
    if (ok) {
        const char *p[2] = {job_id, name};
        /* A step done by an earlier attempt is left alone (DO UPDATE ... WHERE
         * matches nothing, so no row comes back): that is the skip. */
        PGresult *r = queue_sql_run(
            conn,
            "INSERT INTO job_steps (job_id, tenant_id, seq, name, state)"
            " SELECT j.id, j.tenant_id,"
            "        coalesce((SELECT max(seq) FROM job_steps WHERE job_id = j.id), 0) + 1,"
            "        $2, 'begun' FROM jobs j WHERE j.id = $1"
            " ON CONFLICT (job_id, name) DO UPDATE"
            "   SET state = 'begun', started_at = now(), finished_at = NULL, detail = NULL"
            " WHERE job_steps.state <> 'done'"
            " RETURNING seq",
            2, p, PGRES_TUPLES_OK, what, e);
        ok = r != NULL;
        if (ok)
            *result = PQntuples(r) == 1 ? QUEUE_STEP_RUN : QUEUE_STEP_SKIP;
        PQclear(r);
    }
    ok = queue_sql_tx_end(conn, own, ok, what, e);
    if (!ok && e && e->code == ERR_IO)
        err_prefix(e, "job %s step '%s'", job_id, name);
    return ok;
}

bool queue_step_finish(PGconn *conn, const char *job_id, const char *worker_id, const char *name,
                       bool ok_step, const char *detail_json, err *e)
{
    const char *what = "step finish";
    if (!queue_sql_check_job_id(job_id, e) || !queue_sql_check_worker(worker_id, e) ||
        !check_step(job_id, name, what, e))
        return false;
    bool own;
    if (!queue_sql_tx_begin(conn, &own, what, e))
        return false;
    bool ok = hold_lease(conn, job_id, worker_id, what, e);
    if (ok) {
        const char *p[4] = {job_id, name, ok_step ? "done" : "failed", detail_json};
        PGresult *r =
            queue_sql_run(conn,
                          "UPDATE job_steps SET state = $3, detail = $4::jsonb, finished_at = now()"
                          " WHERE job_id = $1 AND name = $2 AND state = 'begun'",
                          4, p, PGRES_COMMAND_OK, what, e);
        ok = r != NULL;
        if (ok && strcmp(PQcmdTuples(r), "1") != 0)
            ok = err_set(e, ERR_NOT_FOUND, "%s: job %s has no begun step '%.200s'", what, job_id,
                         name);
        PQclear(r);
    }
    ok = queue_sql_tx_end(conn, own, ok, what, e);
    if (!ok && e && e->code == ERR_IO)
        err_prefix(e, "job %s step '%s'", job_id, name);
    return ok;
}
