/* Routes of the users area: who am I, the tenant's users, and API tokens.
 *
 * Tokens: a manager manages every token of the tenant; executors and viewers
 * see and revoke only their own. A token not theirs answers 404, as one that
 * does not exist would: whether a token id exists is not theirs to learn.
 * A new token's text is in the 201 answer and nowhere else (the database
 * keeps its SHA-256; the audit row names the token's id). */
#include "api_email.h"
#include "api_input.h"
#include "api_page.h"
#include "api_route.h"
#include "api_token.h"

#include "core/secure.h"

#include <stdio.h>
#include <string.h>

#define EMAIL_MAX      320 /* users.email's CHECK */
#define TOKEN_NAME_MAX 200 /* api_tokens.name's CHECK */

/* Times in the API's JSON: ISO-8601 UTC with a Z. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define USER_JSON                                                                                  \
    "json_build_object('id', id, 'email', email, 'role', role,"                                    \
    " 'created_at', " TS("created_at") ")::text"

/* Never the hash: only what identifies and describes the token. */
#define TOKEN_JSON                                                                                 \
    "json_build_object('id', id, 'user_id', user_id, 'name', name,"                                \
    " 'created_at', " TS("created_at") ", 'last_used_at', " TS(                                    \
        "last_used_at") ","                                                                        \
                        " 'revoked_at', " TS("revoked_at") ")::text"

/* Column col of row of res, parsed as the JSON the SQL built. */
static json_t *row_json(PGresult *res, int row, int col)
{
    return json_loads(PQgetvalue(res, row, col), 0, NULL);
}

/* The path's {id} as a lower-case uuid, or the 400 naming it. */
static bool path_uuid(api_req *r, const char *what, char id[API_ID_LEN])
{
    const char *s = api_path_param(r, 0);
    if (api_uuid_parse(s, id))
        return true;
    return api_fail(r, 400, "invalid_path", "path parameter 'id' is '%.64s': want a %s's uuid", s,
                    what);
}

static bool is_manager(const api_req *r)
{
    return api_caller_of(r)->role == API_ROLE_MANAGER;
}

/* ---- GET /v1/me ------------------------------------------------------------ */

static void me(api_req *r)
{
    const api_caller *c = api_caller_of(r);
    api_reply(r, 200,
              json_pack("{s:s, s:s, s:s, s:s, s:s}", "user_id", c->user_id, "tenant_id",
                        c->tenant_id, "email", c->email, "role", c->role_name, "token_id",
                        c->token_id));
}

/* ---- users ------------------------------------------------------------------- */

static bool is_role(const char *s)
{
    return strcmp(s, "manager") == 0 || strcmp(s, "executor") == 0 || strcmp(s, "viewer") == 0;
}

static void user_list(api_req *r)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    api_page pg;
    if (!api_query_only(r, allowed) || !api_page_parse(r, &pg))
        return;
    /* The sort key is the email: any text compares, so a forged cursor can
     * only start the page somewhere else. */
    char limit[16];
    api_page_fetch_limit(&pg, limit);
    const char *p[] = {pg.has_cursor ? pg.key : NULL, limit};
    PGresult *res = api_sql_final(r,
                                  "SELECT email, " USER_JSON " FROM users"
                                  " WHERE $1::text IS NULL OR email > $1"
                                  " ORDER BY email LIMIT $2::int",
                                  2, p);
    if (res == NULL)
        return;
    api_page_reply_rows(r, &pg, res, 0, 1);
    PQclear(res);
}

static void user_create(api_req *r)
{
    static const char *const known[] = {"email", "role", NULL};
    json_t *body = api_body_object(r);
    const char *email, *role;
    if (body == NULL || !api_input_only(r, body, known) ||
        !api_input_string(r, body, "email", EMAIL_MAX, &email) ||
        !api_input_string(r, body, "role", 0, &role))
        return;
    err e;
    err_clear(&e);
    if (!api_email_valid(email, &e)) {
        api_fail(r, 400, "invalid_field", "field 'email': %s", e.message);
        return;
    }
    if (!is_role(role)) {
        api_input_fail_field(r, "role", role, "one of manager, executor, viewer");
        return;
    }
    const api_caller *c = api_caller_of(r);
    const char *p[] = {c->tenant_id, email, role};
    /* ON CONFLICT keeps the transaction usable, so the 409 can name the
     * existing user instead of quoting the constraint. No arbiter: users has
     * two unique keys on the email (exact and case-folded), and with a named
     * one a concurrent insert of the same spelling fails on the other. */
    PGresult *res = api_sql(r,
                            "INSERT INTO users (tenant_id, email, role) VALUES ($1, $2, $3)"
                            " ON CONFLICT DO NOTHING"
                            " RETURNING id, " USER_JSON,
                            3, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        const char *q[] = {email};
        res = api_sql(r, "SELECT id FROM users WHERE lower(email) = lower($1)", 1, q);
        if (res == NULL)
            return;
        if (PQntuples(res) > 0)
            api_fail(r, 409, "conflict", "a user with email '%s' already exists (id %s)", email,
                     PQgetvalue(res, 0, 0));
        else /* the other insert has not committed yet */
            api_fail(r, 409, "conflict", "a user with email '%s' is being added right now", email);
        PQclear(res);
        return;
    }
    char id[API_ID_LEN];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    json_t *user = row_json(res, 0, 1);
    PQclear(res);
    char target[64];
    snprintf(target, sizeof target, "user:%s", id);
    json_t *detail = json_pack("{s:s, s:s}", "email", email, "role", role);
    bool audited = api_audit(r, "users.create", target, detail);
    json_decref(detail);
    if (!audited) {
        json_decref(user);
        return;
    }
    char location[64];
    snprintf(location, sizeof location, "/v1/users/%s", id);
    api_header(r, "Location", location);
    api_reply(r, 201, user);
}

static void user_get(api_req *r)
{
    char id[API_ID_LEN];
    if (!path_uuid(r, "user", id))
        return;
    const char *p[] = {id};
    PGresult *res = api_sql_final(r, "SELECT " USER_JSON " FROM users WHERE id = $1", 1, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0)
        api_fail(r, 404, "not_found", "no user '%s'", id);
    else
        api_reply(r, 200, row_json(res, 0, 0));
    PQclear(res);
}

/* ---- tokens ------------------------------------------------------------------ */

static void token_list(api_req *r)
{
    static const char *const allowed[] = {"user", "limit", "cursor", NULL};
    api_page pg;
    if (!api_query_only(r, allowed) || !api_page_parse(r, &pg))
        return;
    const api_caller *c = api_caller_of(r);
    const char *user_q = api_query(r, "user");
    char user[API_ID_LEN];
    if (user_q && !api_uuid_parse(user_q, user)) {
        api_fail(r, 400, "invalid_query", "query parameter 'user' is '%.64s': want a user's uuid",
                 user_q);
        return;
    }
    if (user_q && !is_manager(r) && strcmp(user, c->user_id) != 0) {
        api_fail(r, 403, "forbidden",
                 "role '%s' may list only its own tokens, not those of user %s (leave 'user' out)",
                 c->role_name, user);
        return;
    }
    const char *who = is_manager(r) ? (user_q ? user : NULL) : c->user_id;
    char ts[API_PAGE_TIME_LEN], after[API_ID_LEN];
    if (pg.has_cursor && !api_page_time_id(r, &pg, ts, after))
        return;
    char limit[16];
    api_page_fetch_limit(&pg, limit);
    const char *p[] = {who, pg.has_cursor ? ts : NULL, pg.has_cursor ? after : NULL, limit};
    PGresult *res = api_sql_final(
        r,
        "SELECT " API_PAGE_TIME_ID_KEY(
            "created_at",
            "id") ", " TOKEN_JSON " FROM api_tokens"
                  " WHERE ($1::uuid IS NULL OR user_id = $1)"
                  "   AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
                  " ORDER BY created_at DESC, id DESC LIMIT $4::int",
        4, p);
    if (res == NULL)
        return;
    api_page_reply_rows(r, &pg, res, 0, 1);
    PQclear(res);
}

static void token_create(api_req *r)
{
    static const char *const known[] = {"name", "user_id", NULL};
    json_t *body = api_body_object(r);
    const char *name, *user_in;
    if (body == NULL || !api_input_only(r, body, known) ||
        !api_input_opt_string(r, body, "name", TOKEN_NAME_MAX, false, &name, NULL) ||
        !api_input_opt_string(r, body, "user_id", 0, false, &user_in, NULL))
        return;
    const api_caller *c = api_caller_of(r);
    char user[API_ID_LEN];
    if (user_in == NULL)
        snprintf(user, sizeof user, "%s", c->user_id);
    else if (!api_uuid_parse(user_in, user)) {
        api_input_fail_field(r, "user_id", user_in, "a user's uuid");
        return;
    }
    if (!is_manager(r) && strcmp(user, c->user_id) != 0) {
        api_fail(r, 403, "forbidden",
                 "role '%s' may create tokens only for itself, not for user %s (leave 'user_id' "
                 "out)",
                 c->role_name, user);
        return;
    }
    char token[API_TOKEN_LEN + 1], hash[API_TOKEN_HASH_HEX];
    err e;
    err_clear(&e);
    if (!api_token_new(token, hash, &e)) {
        api_fail_err(r, &e);
        return;
    }
    /* The user is looked up in the insert itself: row-level security hides
     * other tenants' users, so a foreign id inserts nothing and is a 404. */
    const char *p[] = {c->tenant_id, user, hash, name ? name : ""};
    PGresult *res = api_sql(r,
                            "INSERT INTO api_tokens (tenant_id, user_id, token_sha256, name)"
                            " SELECT $1, id, decode($3, 'hex'), $4 FROM users WHERE id = $2"
                            " RETURNING id, " TOKEN_JSON,
                            4, p);
    secure_wipe(hash, sizeof hash);
    json_t *answer = NULL;
    char target[64] = "";
    if (res && PQntuples(res) == 0)
        api_fail(r, 404, "not_found", "no user '%s'", user);
    else if (res) {
        snprintf(target, sizeof target, "token:%s", PQgetvalue(res, 0, 0));
        answer = row_json(res, 0, 1);
        json_object_set_new(answer, "token", json_string(token));
    }
    secure_wipe(token, sizeof token);
    PQclear(res);
    if (answer == NULL)
        return;
    json_t *detail = json_pack("{s:s, s:s}", "user_id", user, "name", name ? name : "");
    bool audited = api_audit(r, "tokens.create", target, detail);
    json_decref(detail);
    if (!audited) {
        json_decref(answer);
        return;
    }
    api_reply(r, 201, answer);
}

static void token_revoke(api_req *r)
{
    char id[API_ID_LEN];
    if (!path_uuid(r, "token", id))
        return;
    const api_caller *c = api_caller_of(r);
    const char *p[] = {id, is_manager(r) ? NULL : c->user_id};
    PGresult *res = api_sql(r,
                            "SELECT user_id, revoked_at IS NOT NULL FROM api_tokens"
                            " WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2) FOR UPDATE",
                            2, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        api_fail(r, 404, "not_found", "no token '%s'", id);
        return;
    }
    char user[API_ID_LEN];
    snprintf(user, sizeof user, "%s", PQgetvalue(res, 0, 0));
    bool already = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    /* Revoking twice is not an error and changes nothing: no second row. */
    if (!already) {
        res = api_sql(r, "UPDATE api_tokens SET revoked_at = now() WHERE id = $1", 1, p);
        if (res == NULL)
            return;
        PQclear(res);
        char target[64];
        snprintf(target, sizeof target, "token:%s", id);
        json_t *detail = json_pack("{s:s}", "user_id", user);
        bool audited = api_audit(r, "tokens.revoke", target, detail);
        json_decref(detail);
        if (!audited)
            return;
    }
    api_reply(r, 204, NULL);
}

const api_route api_routes_users[] = {
    {"GET", "/v1/me", API_ROLE_ANY, me, "The caller: user, tenant, role and token id."},
    {"GET", "/v1/users", API_ROLE_MANAGER, user_list, "List the tenant's users (paged by email)."},
    {"POST", "/v1/users", API_ROLE_MANAGER, user_create,
     "Add a user (email, role manager|executor|viewer)."},
    {"GET", "/v1/users/{id}", API_ROLE_MANAGER, user_get, "One user."},
    {"GET", "/v1/tokens", API_ROLE_ANY, token_list,
     "List API tokens, newest first: a manager's all (?user), others' their own."},
    {"POST", "/v1/tokens", API_ROLE_ANY, token_create,
     "Create an API token (for another user: manager only); the token is shown once."},
    {"DELETE", "/v1/tokens/{id}", API_ROLE_ANY, token_revoke,
     "Revoke an API token (a manager any of the tenant's, others their own)."},
    {0},
};
