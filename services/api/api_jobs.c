/* Routes of the jobs area: what the workers were asked to do (account.verify,
 * org.discover...), how far they got (the steps), and cancelling.
 *
 * Jobs are listed newest first, paged by (created_at, id). Cancelling goes
 * through lib/queue (queue_cancel joins the request's transaction): a queued
 * job is cancelled at once, a leased one is asked to stop and its worker
 * cancels it at its next heartbeat. */
#include "api_input.h"
#include "api_page.h"
#include "api_route.h"

#include "queue/queue.h"

#include <stdio.h>
#include <string.h>

/* Times in the API's JSON: ISO-8601 UTC with a Z. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A job row (alias j) as the API's JSON text; steps are added apart. */
#define JOB_JSON                                                                                   \
    "json_build_object('id', j.id, 'kind', j.kind, 'state', j.state, 'payload', j.payload,"        \
    " 'result', j.result, 'attempts', j.attempts, 'max_attempts', j.max_attempts,"                 \
    " 'last_error', j.last_error, 'created_by', j.created_by, 'account_id', j.account_id,"         \
    " 'run_at', " TS("j.run_at") ", 'created_at', " TS(                                            \
        "j.created_at") ","                                                                        \
                        " 'updated_at', " TS("j.updated_at") ", 'finished_at', " TS(               \
                            "j.finished_at") ","                                                   \
                                             " 'cancel_requested', j.cancel_requested)::text"

/* The job's steps in the order they were begun, as a JSON array text. */
#define STEPS_JSON                                                                                 \
    "COALESCE((SELECT json_agg(json_build_object('seq', s.seq, 'name', s.name,"                    \
    " 'state', s.state, 'detail', s.detail, 'started_at', " TS(                                    \
        "s.started_at") ","                                                                        \
                        " 'finished_at', " TS("s.finished_at") ") ORDER BY s.seq)"                 \
                                                               " FROM job_steps s WHERE s.job_id " \
                                                               "= j.id), '[]'::json)::text"

static const char *const states[] = {"queued", "leased", "succeeded", "failed", "cancelled", NULL};

/* Column col of row of res, parsed as the JSON the SQL built. */
static json_t *row_json(PGresult *res, int row, int col)
{
    return json_loads(PQgetvalue(res, row, col), 0, NULL);
}

static bool is_state(const char *s)
{
    for (const char *const *st = states; *st; st++)
        if (strcmp(*st, s) == 0)
            return true;
    return false;
}

/* The path's {id} as a lower-case uuid, or the 400 naming it. */
static bool job_id(api_req *r, char id[API_ID_LEN])
{
    const char *s = api_path_param(r, 0);
    if (api_uuid_parse(s, id))
        return true;
    return api_fail(r, 400, "invalid_path", "path parameter 'id' is '%.64s': want a job's uuid", s);
}

/* ---- GET /v1/jobs ------------------------------------------------------------ */

static void job_list(api_req *r)
{
    static const char *const allowed[] = {"kind", "state", "account", "limit", "cursor", NULL};
    api_page pg;
    if (!api_query_only(r, allowed) || !api_page_parse(r, &pg))
        return;
    const char *kind = api_query(r, "kind");
    const char *state = api_query(r, "state");
    const char *account_q = api_query(r, "account");
    char account[API_ID_LEN];
    if (kind && !api_input_is_dotted_name(kind, QUEUE_KIND_MAX - 1)) {
        api_fail(r, 400, "invalid_query",
                 "query parameter 'kind' is '%.64s': want a job kind like account.verify "
                 "(1 to 64 of a-z 0-9 _ . : -)",
                 kind);
        return;
    }
    if (state && !is_state(state)) {
        api_fail(r, 400, "invalid_query",
                 "query parameter 'state' is '%.64s': want queued, leased, succeeded, failed or "
                 "cancelled",
                 state);
        return;
    }
    if (account_q && !api_uuid_parse(account_q, account)) {
        api_fail(r, 400, "invalid_query",
                 "query parameter 'account' is '%.64s': want an account's uuid (its 'id')",
                 account_q);
        return;
    }
    char ts[API_PAGE_TIME_LEN], after[API_ID_LEN];
    if (pg.has_cursor && !api_page_time_id(r, &pg, ts, after))
        return;
    char limit[16];
    api_page_fetch_limit(&pg, limit);
    const char *p[] = {kind,
                       state,
                       account_q ? account : NULL,
                       pg.has_cursor ? ts : NULL,
                       pg.has_cursor ? after : NULL,
                       limit};
    PGresult *res = api_sql_final(
        r,
        "SELECT " API_PAGE_TIME_ID_KEY(
            "j.created_at",
            "j.id") ", " JOB_JSON " FROM jobs j"
                    " WHERE ($1::text IS NULL OR j.kind = $1) AND ($2::text IS NULL OR j.state = "
                    "$2)"
                    "   AND ($3::uuid IS NULL OR j.account_id = $3)"
                    "   AND ($4::timestamptz IS NULL OR (j.created_at, j.id) < ($4, $5::uuid))"
                    " ORDER BY j.created_at DESC, j.id DESC LIMIT $6::int",
        6, p);
    if (res == NULL)
        return;
    api_page_reply_rows(r, &pg, res, 0, 1);
    PQclear(res);
}

/* ---- GET /v1/jobs/{id} -------------------------------------------------------- */

static void job_get(api_req *r)
{
    char id[API_ID_LEN];
    if (!job_id(r, id))
        return;
    const char *p[] = {id};
    PGresult *res =
        api_sql_final(r, "SELECT " JOB_JSON ", " STEPS_JSON " FROM jobs j WHERE j.id = $1", 1, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        api_fail(r, 404, "not_found", "no job '%s'", id);
    } else {
        json_t *job = row_json(res, 0, 0);
        json_object_set_new(job, "steps", row_json(res, 0, 1));
        api_reply(r, 200, job);
    }
    PQclear(res);
}

/* ---- POST /v1/jobs/{id}/cancel ------------------------------------------------- */

static void job_cancel(api_req *r)
{
    char id[API_ID_LEN];
    if (!job_id(r, id))
        return;
    const api_caller *c = api_caller_of(r);
    queue_cancel_result how;
    err e;
    err_clear(&e);
    if (!queue_cancel(api_db(r), c->tenant_id, id, &how, &e)) {
        if (e.code == ERR_NOT_FOUND)
            api_fail(r, 404, "not_found", "no job '%s'", id);
        else {
            e.code = ERR_INTERNAL; /* the id was checked: nothing the caller sent is at fault */
            api_fail_err(r, &e);
        }
        return;
    }
    const char *p[] = {id};
    PGresult *res =
        api_sql(r, "SELECT j.kind, j.state, " JOB_JSON " FROM jobs j WHERE j.id = $1", 1, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) { /* queue_cancel just saw it, in this transaction */
        PQclear(res);
        api_fail(r, 500, "internal", "job %s vanished while cancelling; request id %s", id,
                 api_request_id(r));
        return;
    }
    if (how == QUEUE_CANCEL_TOO_LATE) {
        api_fail(r, 409, "conflict",
                 "job %s has already finished (state %s); only queued or leased jobs can be "
                 "cancelled",
                 id, PQgetvalue(res, 0, 1));
        PQclear(res);
        return;
    }
    const char *outcome = how == QUEUE_CANCELLED ? "cancelled" : "requested";
    json_t *job = row_json(res, 0, 2);
    json_t *detail = json_pack("{s:s, s:s}", "kind", PQgetvalue(res, 0, 0), "cancel", outcome);
    PQclear(res);
    char target[64];
    snprintf(target, sizeof target, "job:%s", id);
    bool audited = api_audit(r, "jobs.cancel", target, detail);
    json_decref(detail);
    if (!audited) {
        json_decref(job);
        return;
    }
    json_object_set_new(job, "cancel", json_string(outcome));
    api_reply(r, 200, job);
}

const api_route api_routes_jobs[] = {
    {"GET", "/v1/jobs", API_ROLE_ANY, job_list,
     "List jobs, newest first (?kind, ?state, ?account)."},
    {"GET", "/v1/jobs/{id}", API_ROLE_ANY, job_get, "One job with its steps in order."},
    {"POST", "/v1/jobs/{id}/cancel", API_ROLE_MANAGER | API_ROLE_EXECUTOR, job_cancel,
     "Cancel a queued job, or ask a running one to stop; 409 once finished."},
    {0},
};
