/* Routes of the audit area: the tenant's hash-chained audit log (lib/audit)
 * and a check of the chain.
 *
 * Rows are listed newest first by seq with their hashes in hex, and `at` to
 * the microsecond: the hash covers the time at that precision, so a client
 * can recompute each row's hash (audit_hash) from the answer alone. */
#include "api_input.h"
#include "api_page.h"
#include "api_route.h"

#include "audit/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTION_MAX 64

#define AUDIT_JSON                                                                                 \
    "json_build_object('seq', seq,"                                                                \
    " 'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"                  \
    " 'actor', actor, 'action', action, 'target', target, 'detail', detail,"                       \
    " 'hash', encode(hash, 'hex'), 'prev_hash', encode(prev_hash, 'hex'))::text"

/* A seq from a cursor: a positive decimal integer that fits in a bigint. */
static bool is_seq(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 18 || *s == '0')
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void audit_list(api_req *r)
{
    static const char *const allowed[] = {"action", "limit", "cursor", NULL};
    api_page pg;
    if (!api_query_only(r, allowed) || !api_page_parse(r, &pg))
        return;
    const char *action = api_query(r, "action");
    if (action && !api_input_is_dotted_name(action, ACTION_MAX)) {
        api_fail(r, 400, "invalid_query",
                 "query parameter 'action' is '%.64s': want an action like accounts.create "
                 "(1 to %d of a-z 0-9 _ . : -)",
                 action, ACTION_MAX);
        return;
    }
    if (pg.has_cursor && !is_seq(pg.key)) {
        api_page_bad_cursor(r);
        return;
    }
    char limit[16];
    api_page_fetch_limit(&pg, limit);
    const char *p[] = {action, pg.has_cursor ? pg.key : NULL, limit};
    PGresult *res = api_sql_final(r,
                                  "SELECT seq, " AUDIT_JSON " FROM audit_log"
                                  " WHERE ($1::text IS NULL OR action = $1)"
                                  "   AND ($2::bigint IS NULL OR seq < $2)"
                                  " ORDER BY seq DESC LIMIT $3::int",
                                  3, p);
    if (res == NULL)
        return;
    api_page_reply_rows(r, &pg, res, 0, 1);
    PQclear(res);
}

static void audit_check(api_req *r)
{
    static const char *const allowed[] = {NULL};
    if (!api_query_only(r, allowed))
        return;
    /* Inside the request's transaction (tenant set): audit_verify reads the
     * chain under row-level security, through a cursor, in one snapshot. */
    audit_report rep;
    err e;
    err_clear(&e);
    if (!audit_verify(api_db(r), api_caller_of(r)->tenant_id, &rep, &e)) {
        e.code = ERR_INTERNAL;
        api_fail_err(r, &e);
        return;
    }
    bool intact = rep.first_broken_seq == 0;
    api_reply(r, 200,
              json_pack("{s:b, s:I, s:I, s:o, s:s?}", "intact", intact, "rows_checked",
                        (json_int_t)rep.rows_checked, "last_seq", (json_int_t)rep.last_seq,
                        "first_broken_seq",
                        intact ? json_null() : json_integer((json_int_t)rep.first_broken_seq),
                        "reason", intact ? NULL : rep.reason));
}

const api_route api_routes_audit[] = {
    {"GET", "/v1/audit", API_ROLE_MANAGER | API_ROLE_VIEWER, audit_list,
     "The audit log, newest first (?action), with each row's hash and prev_hash in hex."},
    {"GET", "/v1/audit/verify", API_ROLE_MANAGER | API_ROLE_VIEWER, audit_check,
     "Recompute the audit hash chain: intact, or the first broken seq and why."},
    {0},
};
