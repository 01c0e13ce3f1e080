/* Routes that run an operation now (see api_runs.h). Each queues one ops.run
 * job with the payload escher-scheduler queues for a fire (operation,
 * params, target, dry_run; a schedule's run also names the schedule, but
 * no fire time, since it is no fire) and answers 202 {"job"}: the worker
 * does the rest, as for a fire, and the job's result lists per account,
 * region and resource what was done, or for a dry run what would be.
 *
 * Risk: an operation whose catalog risk is high or critical (it changes
 * capacity or configuration, or destroys data) runs only for a manager;
 * an executor may still run it as a dry run, which changes nothing and
 * is how an executor shows a manager what the run would do.
 *
 * Idempotency-Key (optional request header): a client that retries a
 * request whose answer it lost gets the job of the first try instead of a
 * second run. The key is the tenant's, shared by both routes; it is stored
 * as "api:" and its SHA-256, so no client key can take the scheduler's or
 * the notifications' keys (schedule:..., notify:...) and every key fits the
 * jobs table's 200 characters. The same key with another request is 409. */
#include "api_runs.h"

#include "api_enqueue.h"
#include "api_input.h"
#include "api_route.h"

#include "ops/target.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_KIND    "ops.run"
#define KEY_HEADER  "Idempotency-Key"
#define KEY_MAX     200
#define OP_MAX      64
#define KEY_DB_SIZE (4 + 2 * SHA256_DIGEST_LENGTH + 1) /* "api:", hex, NUL */

bool api_runs_validate(const char *operation, const json_t *params, const json_t *target_json,
                       const ops_op **op, const char **field, err *e)
{
    const ops_op *o = ops_lookup(operation, e);
    if (o == NULL) {
        *field = "operation";
        return false;
    }
    if (!ops_validate_params(o, params, e)) {
        *field = "params";
        return false;
    }
    target t;
    bool ok = target_parse(target_json, &t, e) && ops_check_target(o, &t, e);
    target_clear(&t);
    if (!ok) {
        *field = "target";
        return false;
    }
    if (op)
        *op = o;
    return true;
}

bool api_runs_check(api_req *r, const char *operation, const json_t *params,
                    const json_t *target_json, const ops_op **op)
{
    err e = {0};
    const char *field = NULL;
    if (api_runs_validate(operation, params, target_json, op, &field, &e))
        return true;
    return api_fail(r, 400, "invalid_field", "field '%s': %s", field, e.message);
}

/* ---- shared by both routes -------------------------------------------------- */

/* The Idempotency-Key header as the jobs table keeps it, into key ("" when
 * the request has none); false after the 400 for a malformed one: 1 to
 * KEY_MAX printable ASCII characters (an HTTP header's safe subset). */
static bool idempotency_key(api_req *r, char key[KEY_DB_SIZE])
{
    key[0] = '\0';
    const char *h = api_request_header(r, KEY_HEADER);
    if (h == NULL)
        return true;
    size_t n = strlen(h);
    bool ok = n >= 1 && n <= KEY_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = h[i] >= 0x20 && h[i] <= 0x7e;
    if (!ok)
        return api_fail(r, 400, "invalid_header",
                        "header '" KEY_HEADER "' is '%.64s'%s: want 1 to %d printable ASCII "
                        "characters",
                        h, n > 64 ? "..." : "", KEY_MAX);
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)h, n, d);
    memcpy(key, "api:", 4);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(key + 4 + 2 * i, 3, "%02x", d[i]);
    return true;
}

/* An executor may not run a high or critical operation for real: 403
 * naming the risk. Dry runs are anyone's the route admits. */
static bool risk_allowed(api_req *r, const ops_op *op, bool dry_run)
{
    if (dry_run || op->risk < OPS_RISK_HIGH || api_caller_of(r)->role == API_ROLE_MANAGER)
        return true;
    return api_fail(r, 403, "forbidden",
                    "operation '%s' has risk %s: only a manager may run it (a dry run is "
                    "allowed: \"dry_run\": true)",
                    op->name, ops_risk_name(op->risk));
}

/* Queues the ops.run job of payload under key ("" for none) into job;
 * *fresh says whether this request made it (false: the key's earlier job,
 * whose payload must be this one's, else 409). False after the answer. */
static bool enqueue_run(api_req *r, const json_t *payload, const char *key, char job[QUEUE_ID_LEN],
                        bool *fresh)
{
    bool duplicate = false;
    if (!api_enqueue_key(r, JOB_KIND, payload, NULL, key[0] ? key : NULL, job, &duplicate))
        return false;
    *fresh = !duplicate;
    if (!duplicate)
        return true;
    char *text = json_dumps(payload, JSON_COMPACT);
    const char *p[] = {job, JOB_KIND, text};
    PGresult *res =
        api_sql(r, "SELECT kind = $2 AND payload = $3::jsonb FROM jobs WHERE id = $1::uuid", 3, p);
    free(text);
    if (res == NULL)
        return false;
    bool same = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!same)
        return api_fail(r, 409, "conflict",
                        "header '" KEY_HEADER "' was already used for job %s, which runs "
                        "something else: use a new key for another run",
                        job);
    /* Nothing new was made: no audit row, and the client learns it. */
    api_header(r, "Idempotent-Replayed", "true");
    return true;
}

/* ---- POST /v1/runs ------------------------------------------------------------ */

static void run_create(api_req *r)
{
    static const char *const known[] = {"operation", "params", "target", "dry_run", NULL};
    char key[KEY_DB_SIZE];
    json_t *body = api_body_object(r);
    const char *operation = NULL;
    json_t *params = NULL, *where = NULL;
    bool dry_run = false;
    const ops_op *op = NULL;
    if (body == NULL || !api_input_only(r, body, known) ||
        !api_input_string(r, body, "operation", OP_MAX, &operation) ||
        !api_input_opt_object(r, body, "params", &params) ||
        !api_input_opt_object(r, body, "target", &where) ||
        !api_input_opt_bool(r, body, "dry_run", &dry_run))
        return;
    if (where == NULL) {
        api_fail(r, 400, "invalid_field",
                 "field 'target' is required: which accounts, regions and resources to act on");
        return;
    }
    if (!api_runs_check(r, operation, params, where, &op) || !risk_allowed(r, op, dry_run) ||
        !idempotency_key(r, key))
        return;
    json_t *payload = json_pack("{s:s, s:o, s:O, s:b}", "operation", op->name, "params",
                                params ? json_incref(params) : json_object(), "target", where,
                                "dry_run", dry_run);
    char job[QUEUE_ID_LEN];
    bool fresh = false;
    bool ok = enqueue_run(r, payload, key, job, &fresh);
    if (ok && fresh) {
        char what[64];
        snprintf(what, sizeof what, "job:%s", job);
        json_t *detail = json_deep_copy(payload);
        json_object_set_new(detail, "risk", json_string(ops_risk_name(op->risk)));
        if (key[0])
            json_object_set_new(detail, "idempotency_key",
                                json_string(api_request_header(r, KEY_HEADER)));
        ok = api_audit(r, "runs.create", what, detail);
        json_decref(detail);
    }
    json_decref(payload);
    if (ok)
        api_enqueue_accepted(r, job);
}

/* ---- POST /v1/schedules/{id}/run ---------------------------------------------- */

static void schedule_run(api_req *r)
{
    char id[API_ID_LEN], key[KEY_DB_SIZE];
    const char *s = api_path_param(r, 0);
    if (!api_uuid_parse(s, id)) {
        api_fail(r, 400, "invalid_path", "path parameter 'id' is '%.64s': want a schedule's uuid",
                 s);
        return;
    }
    /* The body is optional: none runs the schedule as it is. */
    static const char *const known[] = {"dry_run", NULL};
    bool dry_run = false, has_dry_run = false;
    if (!api_body_empty(r)) {
        json_t *body = api_body_object(r);
        if (body == NULL || !api_input_only(r, body, known) ||
            !api_input_opt_bool(r, body, "dry_run", &dry_run))
            return;
        has_dry_run = json_object_get(body, "dry_run") != NULL;
    }
    const char *p[] = {id};
    PGresult *res = api_sql(r,
                            "SELECT name, operation, params::text, target::text, dry_run"
                            " FROM schedules WHERE id = $1",
                            1, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        api_fail(r, 404, "not_found", "no schedule '%s'", id);
        return;
    }
    json_t *params = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    json_t *where = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
    if (!has_dry_run)
        dry_run = PQgetvalue(res, 0, 4)[0] == 't';
    json_t *detail = json_pack("{s:s, s:s, s:b}", "name", PQgetvalue(res, 0, 0), "operation",
                               PQgetvalue(res, 0, 1), "dry_run", dry_run);
    /* A schedule was checked when stored; the catalog may have changed
     * since, and then the schedule, not this request, is at fault. */
    err e = {0};
    const char *field = NULL;
    const ops_op *op = NULL;
    json_t *payload = NULL;
    if (!api_runs_validate(PQgetvalue(res, 0, 1), params, where, &op, &field, &e)) {
        api_fail(r, 409, "conflict", "schedule %s cannot run as stored: field '%s': %s", id, field,
                 e.message);
        goto out;
    }
    if (!risk_allowed(r, op, dry_run) || !idempotency_key(r, key))
        goto out;
    payload = json_pack("{s:s, s:s, s:O, s:O, s:b}", "schedule", id, "operation", op->name,
                        "params", params, "target", where, "dry_run", dry_run);
    char job[QUEUE_ID_LEN];
    bool fresh = false;
    if (payload == NULL) {
        api_fail(r, 500, "internal", "schedule %s: its params or target is not JSON", id);
        goto out;
    }
    if (!enqueue_run(r, payload, key, job, &fresh))
        goto out;
    if (fresh) {
        char what[64];
        snprintf(what, sizeof what, "schedule:%s", id);
        json_object_set_new(detail, "job", json_string(job));
        json_object_set_new(detail, "risk", json_string(ops_risk_name(op->risk)));
        if (key[0])
            json_object_set_new(detail, "idempotency_key",
                                json_string(api_request_header(r, KEY_HEADER)));
        if (!api_audit(r, "schedules.run", what, detail))
            goto out;
    }
    api_enqueue_accepted(r, job);
out:
    PQclear(res);
    json_decref(params);
    json_decref(where);
    json_decref(detail);
    json_decref(payload);
}

const api_route api_routes_runs[] = {
    {"POST", "/v1/runs", API_ROLE_MANAGER | API_ROLE_EXECUTOR, run_create,
     "Run an operation now on a target, or as a dry run (an ops.run job)."},
    {"POST", "/v1/schedules/{id}/run", API_ROLE_MANAGER | API_ROLE_EXECUTOR, schedule_run,
     "Run a schedule's operation now (optional dry_run overriding the schedule's)."},
    {0},
};
