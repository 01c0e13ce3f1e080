/* Routes of the accounts area: the AWS accounts a tenant registers, each
 * reached through a role in that account, and their verification jobs
 * (account.verify, run by the workers: the API never calls AWS).
 *
 * An account is named in paths by its uuid or by its 12-digit AWS account id
 * (unique per tenant), whichever the caller has at hand. */
#include "api_enqueue.h"
#include "api_input.h"
#include "api_page.h"
#include "api_route.h"

#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IAM's limit on an ARN's length. */
#define ARN_MAX 2048

/* Times in the API's JSON: ISO-8601 UTC with a Z. */
#define UTC " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* An account row as the API's JSON text, built by the database so that every
 * route answers the same shape. */
#define ACCOUNT_JSON                                                                               \
    "json_build_object('id', id, 'account_id', account_id, 'name', name,"                          \
    " 'role_arn', role_arn, 'readonly_role_arn', readonly_role_arn, 'regions', regions,"           \
    " 'status', status, 'verified_at', to_char(verified_at" UTC ", 'last_error', last_error,"      \
    " 'created_at', to_char(created_at" UTC ", 'updated_at', to_char(updated_at" UTC ")::text"

/* The same account as plain columns, formatted by api_json_row (the list's
 * fast path; keys and values as ACCOUNT_JSON gives them). */
#define ACCOUNT_COLS                                                                               \
    "id, account_id, name, role_arn, readonly_role_arn, array_to_json(regions) AS regions,"        \
    " status, verified_at, last_error, created_at, updated_at"
static const api_col_kind account_kinds[] = {
    API_COL_TEXT, API_COL_TEXT, API_COL_TEXT, API_COL_TEXT, API_COL_TEXT, API_COL_JSON,
    API_COL_TEXT, API_COL_TIME, API_COL_TEXT, API_COL_TIME, API_COL_TIME, API_COL_END,
};

/* The row a path's {id} names: $1 its uuid or $2 its AWS account id (the
 * other one NULL). */
#define WHERE_REF " WHERE id = $1::uuid OR account_id = $2"

/* The regions JSON array in parameter $6 as the text[] column wants it. */
#define REGIONS_P6 "ARRAY(SELECT jsonb_array_elements_text($6::jsonb))"

/* Column col of row of res, parsed as the JSON the SQL built. */
static json_t *row_json(PGresult *res, int row, int col)
{
    return json_loads(PQgetvalue(res, row, col), 0, NULL);
}

static bool not_found(api_req *r)
{
    return api_fail(r, 404, "not_found", "no account '%.64s'", api_path_param(r, 0));
}

/* Runs sql, which ends in WHERE_REF, for the account the path's {id} names
 * (its uuid or its 12-digit AWS account id) and returns the result with its
 * row, or NULL after recording a 400 for a malformed id, a 404 when no such
 * account is visible, or the database's error. final: sql is the handler's
 * last statement and only reads (api_sql_final). */
static PGresult *account_find(api_req *r, const char *sql, bool final)
{
    const char *id = api_path_param(r, 0);
    char uuid[API_ID_LEN];
    const char *ref[2] = {NULL, NULL};
    if (api_uuid_parse(id, uuid))
        ref[0] = uuid;
    else if (api_input_is_account_id(id))
        ref[1] = id;
    else {
        api_fail(r, 400, "invalid_path",
                 "path parameter 'id' is '%.64s': want an account's uuid or its 12-digit AWS "
                 "account id",
                 id);
        return NULL;
    }
    PGresult *res = final ? api_sql_final(r, sql, 2, ref) : api_sql(r, sql, 2, ref);
    if (res && PQntuples(res) == 0) {
        PQclear(res);
        not_found(r);
        return NULL;
    }
    return res;
}

/* Appends the audit row of action on the account with uuid id; steals
 * detail. */
static bool audit_account(api_req *r, const char *action, const char *id, json_t *detail)
{
    char target[64];
    snprintf(target, sizeof target, "account:%s", id);
    bool ok = api_audit(r, action, target, detail);
    json_decref(detail);
    return ok;
}

/* Queues account.verify for the account with uuid id; its id goes to job. */
static bool enqueue_verify(api_req *r, const char *id, char job[QUEUE_ID_LEN])
{
    json_t *payload = json_pack("{s:s}", "account", id);
    bool ok = api_enqueue(r, "account.verify", payload, id, job);
    json_decref(payload);
    return ok;
}

/* Checks that field's value is a role ARN in account_id of partition (the
 * account of role_arn, or the account being changed). */
static bool same_account(api_req *r, const char *field, const char *value, const char *partition,
                         const char *account_id, const char *whose)
{
    api_role_arn ro;
    if (!api_input_role_arn(r, field, value, &ro))
        return false;
    if (strcmp(ro.account_id, account_id) == 0 && strcmp(ro.partition, partition) == 0)
        return true;
    char want[128];
    snprintf(want, sizeof want, "a role in account %s (partition %s), %s", account_id, partition,
             whose);
    return api_input_fail_field(r, field, value, want);
}

/* ---- POST /v1/accounts --------------------------------------------------- */

static void account_create(api_req *r)
{
    static const char *const known[] = {
        "role_arn", "readonly_role_arn", "name", "regions", "account_id", "verify", NULL};
    json_t *body = api_body_object(r);
    if (body == NULL || !api_input_only(r, body, known))
        return;
    const char *role_arn, *ro_arn, *name, *account_id;
    api_role_arn arn;
    bool verify = true;
    json_t *regions = NULL;
    if (!api_input_string(r, body, "role_arn", ARN_MAX, &role_arn) ||
        !api_input_role_arn(r, "role_arn", role_arn, &arn) ||
        !api_input_opt_string(r, body, "account_id", 0, false, &account_id, NULL) ||
        (account_id && !api_input_account_id(r, "account_id", account_id)) ||
        !api_input_opt_string(r, body, "readonly_role_arn", ARN_MAX, true, &ro_arn, NULL) ||
        (ro_arn && !same_account(r, "readonly_role_arn", ro_arn, arn.partition, arn.account_id,
                                 "the account of role_arn")) ||
        !api_input_opt_string(r, body, "name", API_NAME_MAX, true, &name, NULL) ||
        !api_input_opt_bool(r, body, "verify", &verify) ||
        !api_input_opt_regions(r, body, "regions", false, &regions, NULL))
        return;
    if (account_id && strcmp(account_id, arn.account_id) != 0) {
        char want[96];
        snprintf(want, sizeof want, "%s, the account of role_arn (or leave account_id out)",
                 arn.account_id);
        api_input_fail_field(r, "account_id", account_id, want);
        json_decref(regions);
        return;
    }
    char *regions_text = regions ? json_dumps(regions, JSON_COMPACT) : NULL;
    const api_caller *c = api_caller_of(r);
    const char *p[] = {c->tenant_id, arn.account_id, name ? name : "",
                       role_arn,     ro_arn,         regions_text ? regions_text : "[]"};
    /* ON CONFLICT keeps the transaction usable, so a duplicate gets a 409
     * that names the registered row instead of the constraint's text. */
    PGresult *res = api_sql(r,
                            "INSERT INTO aws_accounts (tenant_id, account_id, name, role_arn,"
                            " readonly_role_arn, regions)"
                            " VALUES ($1, $2, $3, $4, $5, " REGIONS_P6 ")"
                            " ON CONFLICT (tenant_id, account_id) DO NOTHING"
                            " RETURNING id, " ACCOUNT_JSON,
                            6, p);
    free(regions_text);
    if (res == NULL)
        goto out;
    if (PQntuples(res) == 0) {
        PQclear(res);
        const char *q[] = {arn.account_id};
        res = api_sql(r, "SELECT id FROM aws_accounts WHERE account_id = $1", 1, q);
        if (res == NULL)
            goto out;
        api_fail(r, 409, "conflict",
                 "account %s is already registered as %s; PATCH /v1/accounts/%s to change it",
                 arn.account_id, PQntuples(res) ? PQgetvalue(res, 0, 0) : "another request",
                 arn.account_id);
        PQclear(res);
        goto out;
    }
    char id[API_ID_LEN];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    json_t *account = row_json(res, 0, 1);
    PQclear(res);
    char job[QUEUE_ID_LEN] = "";
    if (verify && !enqueue_verify(r, id, job)) {
        json_decref(account);
        goto out;
    }
    json_t *detail =
        json_pack("{s:s, s:s, s:s?, s:s, s:O?, s:s?}", "account_id", arn.account_id, "role_arn",
                  role_arn, "readonly_role_arn", ro_arn, "name", name ? name : "", "regions",
                  regions, "verification_job", verify ? job : NULL);
    if (!audit_account(r, "accounts.create", id, detail)) {
        json_decref(account);
        goto out;
    }
    json_object_set_new(account, "verification_job", verify ? json_string(job) : json_null());
    char location[64];
    snprintf(location, sizeof location, "/v1/accounts/%s", id);
    api_header(r, "Location", location);
    api_reply(r, 201, account);
out:
    json_decref(regions);
}

/* ---- GET /v1/accounts ------------------------------------------------------ */

static bool is_status(const char *s)
{
    return strcmp(s, "pending") == 0 || strcmp(s, "verified") == 0 || strcmp(s, "failed") == 0 ||
           strcmp(s, "disabled") == 0;
}

static void account_list(api_req *r)
{
    static const char *const allowed[] = {"status", "limit", "cursor", NULL};
    api_page pg;
    if (!api_query_only(r, allowed) || !api_page_parse(r, &pg))
        return;
    const char *status = api_query(r, "status");
    if (status && !is_status(status)) {
        api_fail(r, 400, "invalid_query",
                 "query parameter 'status' is '%.64s': want pending, verified, failed or disabled",
                 status);
        return;
    }
    /* The sort key is the AWS account id; a cursor that decodes to anything
     * else was not made here. */
    if (pg.has_cursor && !api_input_is_account_id(pg.key)) {
        api_page_bad_cursor(r);
        return;
    }
    char limit[16];
    api_page_fetch_limit(&pg, limit);
    const char *p[] = {status, pg.has_cursor ? pg.key : NULL, limit};
    PGresult *res = api_sql_final(r,
                                  "SELECT account_id, " ACCOUNT_COLS " FROM aws_accounts"
                                  " WHERE ($1::text IS NULL OR status = $1)"
                                  "   AND ($2::text IS NULL OR account_id > $2)"
                                  " ORDER BY account_id LIMIT $3::int",
                                  3, p);
    if (res == NULL)
        return;
    api_page_reply_cols(r, &pg, res, 0, 1, account_kinds);
    PQclear(res);
}

/* ---- GET /v1/accounts/{id} ------------------------------------------------- */

static void account_get(api_req *r)
{
    PGresult *res = account_find(r, "SELECT " ACCOUNT_JSON " FROM aws_accounts" WHERE_REF, true);
    if (res == NULL)
        return;
    api_reply(r, 200, row_json(res, 0, 0));
    PQclear(res);
}

/* ---- PATCH /v1/accounts/{id} ------------------------------------------------ */

/* The row as PATCH needs it before changing it. */
typedef struct account_now {
    char id[API_ID_LEN];
    char account_id[API_ACCOUNT_ID_LEN];
    char partition[16];
    char *role_arn;
    char *ro_arn; /* NULL when none */
    char status[16];
} account_now;

static void account_now_free(account_now *a)
{
    free(a->role_arn);
    free(a->ro_arn);
}

/* Reads and locks the row the path names; false after account_find's
 * error. */
static bool account_lock(api_req *r, account_now *a)
{
    memset(a, 0, sizeof *a);
    PGresult *res = account_find(
        r,
        "SELECT id, account_id, role_arn, readonly_role_arn, status FROM aws_accounts" WHERE_REF
        " FOR UPDATE",
        false);
    if (res == NULL)
        return false;
    snprintf(a->id, sizeof a->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(a->account_id, sizeof a->account_id, "%s", PQgetvalue(res, 0, 1));
    a->role_arn = xstrdup(PQgetvalue(res, 0, 2));
    a->ro_arn = PQgetisnull(res, 0, 3) ? NULL : xstrdup(PQgetvalue(res, 0, 3));
    snprintf(a->status, sizeof a->status, "%s", PQgetvalue(res, 0, 4));
    PQclear(res);
    api_role_arn arn;
    if (!api_input_parse_role_arn(a->role_arn, &arn)) {
        /* The table's CHECK admits no other shape. */
        api_fail(r, 500, "internal", "account %s has a malformed role ARN; request id %s",
                 a->account_id, api_request_id(r));
        return false;
    }
    snprintf(a->partition, sizeof a->partition, "%s", arn.partition);
    return true;
}

static void account_patch(api_req *r)
{
    static const char *const known[] = {"name",    "role_arn", "readonly_role_arn",
                                        "regions", "status",   NULL};
    json_t *body = api_body_object(r);
    if (body == NULL || !api_input_only(r, body, known))
        return;
    if (json_object_size(body) == 0) {
        api_fail(r, 400, "invalid_request",
                 "the body changes nothing: give one or more of name, role_arn, "
                 "readonly_role_arn, regions, status");
        return;
    }
    const char *name, *role_arn, *ro_arn, *status;
    api_field name_st, ro_st;
    json_t *regions = NULL;
    if (!api_input_opt_string(r, body, "name", API_NAME_MAX, true, &name, &name_st) ||
        !api_input_opt_string(r, body, "role_arn", ARN_MAX, false, &role_arn, NULL) ||
        !api_input_opt_string(r, body, "readonly_role_arn", ARN_MAX, true, &ro_arn, &ro_st) ||
        !api_input_opt_string(r, body, "status", 0, false, &status, NULL))
        return;
    if (status && strcmp(status, "disabled") != 0 && strcmp(status, "pending") != 0) {
        api_input_fail_field(r, "status", status,
                             "'disabled' or 'pending' (verified and failed come from "
                             "verification)");
        return;
    }
    account_now a;
    if (!account_lock(r, &a))
        goto out;
    /* The account id is the row's identity: a role elsewhere is another
     * account, to be registered on its own. */
    if ((role_arn &&
         !same_account(r, "role_arn", role_arn, a.partition, a.account_id, "the account's own")) ||
        (ro_arn && !same_account(r, "readonly_role_arn", ro_arn, a.partition, a.account_id,
                                 "the account's own")))
        goto out;
    if (!api_input_opt_regions(r, body, "regions", false, &regions, NULL))
        goto out;

    bool role_changed =
        (role_arn && strcmp(role_arn, a.role_arn) != 0) ||
        (ro_st == API_FIELD_SET && (a.ro_arn == NULL || strcmp(ro_arn, a.ro_arn))) ||
        (ro_st == API_FIELD_NULL && a.ro_arn != NULL);
    /* A new role needs proving again, and 'pending' asks for exactly that. A
     * disabled account stays disabled (and unverified) until its status is
     * set back to 'pending': changing its role does not switch it on. */
    const char *new_status = status;
    if (status == NULL && role_changed && strcmp(a.status, "disabled") != 0)
        new_status = "pending";
    bool reverify = new_status && strcmp(new_status, "pending") == 0;
    /* Whatever was verified, and why it failed, was about the old roles. */
    bool reset = reverify || role_changed;

    char *regions_text = regions ? json_dumps(regions, JSON_COMPACT) : NULL;
    const char *p[] = {a.id,       name_st == API_FIELD_NULL ? "" : name,
                       role_arn,   ro_st == API_FIELD_ABSENT ? "f" : "t",
                       ro_arn,     regions_text,
                       new_status, reset ? "t" : "f"};
    PGresult *res = api_sql(r,
                            "UPDATE aws_accounts SET name = COALESCE($2, name),"
                            " role_arn = COALESCE($3, role_arn),"
                            " readonly_role_arn = CASE WHEN $4::boolean THEN $5"
                            "   ELSE readonly_role_arn END,"
                            " regions = CASE WHEN $6::jsonb IS NULL THEN regions"
                            "   ELSE " REGIONS_P6 " END,"
                            " status = COALESCE($7, status),"
                            " last_error = CASE WHEN $8::boolean THEN NULL ELSE last_error END,"
                            " verified_at = CASE WHEN $8::boolean THEN NULL ELSE verified_at END,"
                            " updated_at = now()"
                            " WHERE id = $1::uuid RETURNING " ACCOUNT_JSON,
                            8, p);
    free(regions_text);
    if (res == NULL)
        goto out;
    json_t *account = row_json(res, 0, 0);
    PQclear(res);
    char job[QUEUE_ID_LEN] = "";
    if (reverify && !enqueue_verify(r, a.id, job)) {
        json_decref(account);
        goto out;
    }
    /* The detail says what the request changed: the fields it gave. */
    json_t *changes = json_deep_copy(body);
    json_object_del(changes, "regions");
    if (regions)
        json_object_set(changes, "regions", regions);
    json_t *detail =
        json_pack("{s:s, s:o, s:s?, s:s?}", "account_id", a.account_id, "changes", changes,
                  "status", new_status, "verification_job", reverify ? job : NULL);
    if (!audit_account(r, "accounts.update", a.id, detail)) {
        json_decref(account);
        goto out;
    }
    json_object_set_new(account, "verification_job", reverify ? json_string(job) : json_null());
    api_reply(r, 200, account);
out:
    account_now_free(&a);
    json_decref(regions);
}

/* ---- DELETE /v1/accounts/{id} ------------------------------------------------ */

static void account_delete(api_req *r)
{
    /* Jobs keep their history: the foreign key sets their account_id NULL. */
    PGresult *res = account_find(
        r, "DELETE FROM aws_accounts" WHERE_REF " RETURNING id, account_id, role_arn", false);
    if (res == NULL)
        return;
    char id[API_ID_LEN];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    json_t *detail = json_pack("{s:s, s:s}", "account_id", PQgetvalue(res, 0, 1), "role_arn",
                               PQgetvalue(res, 0, 2));
    PQclear(res);
    if (audit_account(r, "accounts.delete", id, detail))
        api_reply(r, 204, NULL);
}

/* ---- POST /v1/accounts/{id}/verify --------------------------------------------- */

static void account_verify(api_req *r)
{
    /* FOR SHARE: a concurrent DELETE waits for this job's commit. */
    PGresult *res = account_find(
        r, "SELECT id, account_id, status FROM aws_accounts" WHERE_REF " FOR SHARE", false);
    if (res == NULL)
        return;
    char id[API_ID_LEN], account_id[API_ACCOUNT_ID_LEN];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    snprintf(account_id, sizeof account_id, "%s", PQgetvalue(res, 0, 1));
    bool disabled = strcmp(PQgetvalue(res, 0, 2), "disabled") == 0;
    PQclear(res);
    /* A successful verification marks the account verified, which would
     * quietly switch a disabled one back on. */
    if (disabled) {
        api_fail(r, 409, "conflict",
                 "account %s is disabled; PATCH its status to 'pending' to verify it again",
                 account_id);
        return;
    }
    char job[QUEUE_ID_LEN];
    if (!enqueue_verify(r, id, job))
        return;
    json_t *detail = json_pack("{s:s, s:s}", "account_id", account_id, "job", job);
    if (audit_account(r, "accounts.verify", id, detail))
        api_enqueue_accepted(r, job);
}

const api_route api_routes_accounts[] = {
    {"POST", "/v1/accounts", API_ROLE_MANAGER, account_create,
     "Register an AWS account by its role ARN; queues its verification."},
    {"GET", "/v1/accounts", API_ROLE_ANY, account_list,
     "List the tenant's AWS accounts (?status, paged by account id)."},
    {"GET", "/v1/accounts/{id}", API_ROLE_ANY, account_get,
     "One AWS account, by uuid or 12-digit account id."},
    {"PATCH", "/v1/accounts/{id}", API_ROLE_MANAGER, account_patch,
     "Change an account's name, roles, regions or status; a new role is verified again."},
    {"DELETE", "/v1/accounts/{id}", API_ROLE_MANAGER, account_delete,
     "Forget an AWS account (its roles stay in AWS)."},
    {"POST", "/v1/accounts/{id}/verify", API_ROLE_MANAGER | API_ROLE_EXECUTOR, account_verify,
     "Queue a verification of the account's roles."},
    {0},
};
