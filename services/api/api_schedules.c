/* Routes of the schedules area: operations that run at cron times in an IANA
 * time zone, or once at a given time, while no client is connected.
 * escher-scheduler turns each due fire into an ops.run job; the API only
 * stores the schedule and computes its next fire (next_fire_at), which the
 * scheduler reads, so a change here takes effect at once (the table's
 * trigger notifies the schedulers).
 *
 * Expressions and zones go through lib/cron exactly as the scheduler will
 * evaluate them: a cron error is answered with lib/cron's own message
 * ("invalid cron field 'day-of-month' in '0 20 32 * *': 32 is out of range
 * 1-31"), and the preview routes show the next fires in the zone and in UTC,
 * daylight saving included. */
#include "api_input.h"
#include "api_page.h"
#include "api_route.h"
#include "api_runs.h"

#include "core/timeutil.h"
#include "core/xmalloc.h"
#include "cron/cron.h"
#include "cron/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_CHARS  200
#define CRON_MAX_CHARS  200
#define ZONE_MAX_CHARS  64
#define WINDOW_MAX_S    604800 /* 7 days, the table's CHECK */
#define WINDOW_DEFAULT  3600
#define PREVIEW_DEFAULT 10
#define PREVIEW_MAX     100
/* A one-off time this far in the past is still taken (a client's clock, a
 * slow request) and fires at once; anything older is a mistake. */
#define RUN_AT_SLACK_S 60

/* Times in the API's JSON: ISO-8601 UTC with a Z. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A schedule row as the API's JSON text, built by the database so that every
 * route answers the same shape. */
#define SCHEDULE_JSON                                                                              \
    "json_build_object('id', id, 'name', name, 'cron', cron, 'run_at', " TS(                       \
        "run_at") ", 'time_zone', time_zone, 'operation', operation, 'params', params,"            \
                  " 'target', target, 'dry_run', dry_run, 'enabled', enabled,"                     \
                  " 'missed_fire_policy', missed_fire_policy, 'missed_fire_window_seconds',"       \
                  " extract(epoch FROM missed_fire_window)::bigint, 'created_by', created_by,"     \
                  " 'created_at', " TS("created_at") ", 'updated_at', " TS(                        \
                      "updated_at") ", 'next_fire_at', " TS("next_fire_at") ","                    \
                                                                            " 'last_fire_at',"     \
                                                                            " " TS(                \
                                                                                "last_fire_at") ", 'last_error', last_error)::text"

static const char *const policies[] = {"skip", "run_once", "run_each", NULL};

/* Column col of row of res, parsed as the JSON the SQL built. */
static json_t *row_json(PGresult *res, int row, int col)
{
    return json_loads(PQgetvalue(res, row, col), 0, NULL);
}

static bool not_found(api_req *r, const char *id)
{
    return api_fail(r, 404, "not_found", "no schedule '%s'", id);
}

/* The path's {id} as a lower-case uuid, or the 400 naming it. */
static bool schedule_id(api_req *r, char id[API_ID_LEN])
{
    const char *s = api_path_param(r, 0);
    if (api_uuid_parse(s, id))
        return true;
    return api_fail(r, 400, "invalid_path",
                    "path parameter 'id' is '%.64s': want a schedule's uuid", s);
}

/* Runs sql, whose $1 is the schedule's uuid id, and returns the result
 * with its row, or NULL after the 404 when no such schedule is visible (or
 * the database's error). final: sql is the handler's last statement and
 * only reads (api_sql_final). */
static PGresult *schedule_find(api_req *r, const char *id, const char *sql, bool final)
{
    const char *p[] = {id};
    PGresult *res = final ? api_sql_final(r, sql, 1, p) : api_sql(r, sql, 1, p);
    if (res && PQntuples(res) == 0) {
        PQclear(res);
        not_found(r, id);
        return NULL;
    }
    return res;
}

static bool audit_schedule(api_req *r, const char *action, const char *id, json_t *detail)
{
    char what[64];
    snprintf(what, sizeof what, "schedule:%s", id);
    bool ok = api_audit(r, action, what, detail);
    json_decref(detail);
    return ok;
}

/* ---- field checks ------------------------------------------------------------ */

static bool check_policy(api_req *r, const char *s)
{
    for (const char *const *p = policies; *p; p++)
        if (strcmp(*p, s) == 0)
            return true;
    return api_input_fail_field(r, "missed_fire_policy", s, "skip, run_once or run_each");
}

/* Loads the zone named by field (its value zone), or the 400 quoting
 * lib/cron's reason. Caller tz_frees. */
static tz_zone *load_zone(api_req *r, const char *field, const char *zone)
{
    err e = {0};
    tz_zone *z = tz_load(zone, &e);
    if (z == NULL)
        api_fail(r, 400, "invalid_field", "field '%s': %s", field, e.message);
    return z;
}

/* Parses an expression, or the 400 with lib/cron's message as it is (it
 * names the field of the expression and the value). Caller cron_frees. */
static cron_expr *parse_cron(api_req *r, const char *text)
{
    cron_expr *c = NULL;
    err e = {0};
    if (!cron_parse(text, &c, &e))
        api_fail(r, 400, "invalid_field", "%s", e.message);
    return c;
}

/* The first fire of c in z after now, or the 400 for an expression that
 * never fires (cron_next looks 5 years ahead). */
static bool first_fire(api_req *r, const char *text, const cron_expr *c, const tz_zone *z,
                       time_t *next)
{
    err e = {0};
    if (cron_next(c, z, timeutil_now(), next, &e))
        return true;
    if (e.code == ERR_NOT_FOUND)
        return api_fail(r, 400, "invalid_field",
                        "field 'cron' is '%.100s': it never fires in the next 5 years in %s", text,
                        tz_name(z));
    return api_fail(r, 400, "invalid_field", "field 'cron' is '%.100s': %s", text, e.message);
}

/* A one-off time: ISO-8601 ("2026-11-24T20:00:00Z", or with an offset), at
 * most RUN_AT_SLACK_S in the past. */
static bool parse_run_at(api_req *r, const char *s, time_t *out)
{
    err e = {0};
    if (!timeutil_parse_iso8601(s, out, &e))
        return api_input_fail_field(r, "run_at", s,
                                    "an ISO-8601 time in UTC like 2026-11-24T20:00:00Z");
    if (*out < timeutil_now() - RUN_AT_SLACK_S)
        return api_input_fail_field(r, "run_at", s, "a time that has not passed yet");
    return true;
}

/* ---- previews ------------------------------------------------------------------ */

/* {"local": "2026-11-24T20:00:00+01:00", "utc": "2026-11-24T19:00:00Z"} */
static json_t *fire_json(const tz_zone *z, time_t t)
{
    struct tm tm;
    int off = 0;
    tz_to_local(z, t, &tm, &off, NULL);
    int a = off < 0 ? -off : off;
    char local[96], utc[TIMEUTIL_ISO8601_LEN];
    snprintf(local, sizeof local, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
             a / 3600, a / 60 % 60);
    timeutil_format_iso8601(t, utc);
    return json_pack("{s:s, s:s}", "local", local, "utc", utc);
}

/* The next count fires of c in z after now, as fire_json objects. A failure
 * other than "no more fires" ends the list where it is. */
static json_t *cron_fires(const cron_expr *c, const tz_zone *z, int count)
{
    json_t *fires = json_array();
    time_t t = timeutil_now();
    for (int i = 0; i < count; i++) {
        err e = {0};
        if (!cron_next(c, z, t, &t, &e))
            break;
        json_array_append_new(fires, fire_json(z, t));
    }
    return fires;
}

/* The count query parameter of GET .../preview: 1..PREVIEW_MAX digits. */
static bool preview_count(api_req *r, int *count)
{
    *count = PREVIEW_DEFAULT;
    const char *s = api_query(r, "count");
    if (s == NULL)
        return true;
    char *end = NULL;
    long n = (*s >= '0' && *s <= '9' && strlen(s) <= 3) ? strtol(s, &end, 10) : 0;
    if (end == NULL || *end != '\0' || n < 1 || n > PREVIEW_MAX)
        return api_fail(r, 400, "invalid_query", "query parameter 'count' is '%.64s': want 1 to %d",
                        s, PREVIEW_MAX);
    *count = (int)n;
    return true;
}

/* Whether no schedule but except (the one being changed, or NULL) has name;
 * records the 409 naming the one that has it, and returns false, when one
 * does (or after a database error). */
static bool name_free(api_req *r, const char *name, const char *except)
{
    const char *q[] = {name, except};
    PGresult *res = api_sql(
        r, "SELECT id FROM schedules WHERE name = $1 AND ($2::uuid IS NULL OR id <> $2::uuid)", 2,
        q);
    if (res == NULL)
        return false;
    bool taken = PQntuples(res) > 0;
    if (taken)
        api_fail(r, 409, "conflict", "a schedule named '%.200s' already exists (%s)", name,
                 PQgetvalue(res, 0, 0));
    PQclear(res);
    return !taken;
}

/* ---- bodies ---------------------------------------------------------------------- */

/* The fields of POST and PATCH /v1/schedules. */
static const char *const schedule_fields[] = {"name",
                                              "cron",
                                              "run_at",
                                              "time_zone",
                                              "operation",
                                              "params",
                                              "target",
                                              "dry_run",
                                              "enabled",
                                              "missed_fire_policy",
                                              "missed_fire_window_seconds",
                                              NULL};

/* A body of POST or PATCH, checked field by field. Strings and objects are
 * borrowed from the body; NULL (window -1) when absent. */
typedef struct schedule_body {
    const char *name, *cron, *run_at_s, *zone, *operation, *policy;
    json_t *params, *target;
    bool dry_run, enabled, has_dry_run, has_enabled;
    long long window;
    time_t run_at; /* run_at_s parsed */
} schedule_body;

/* Reads the body's fields into b; create: name and operation are required
 * and exactly one of cron and run_at (PATCH: at most one). False after the
 * 400 naming the field. The expression and the zone are checked later, with
 * lib/cron. */
static bool read_body(api_req *r, bool create, schedule_body *b)
{
    memset(b, 0, sizeof *b);
    b->window = -1;
    json_t *body = api_body_object(r);
    if (body == NULL || !api_input_only(r, body, schedule_fields))
        return false;
    if (!create && json_object_size(body) == 0)
        return api_fail(r, 400, "invalid_request",
                        "the body changes nothing: give one or more of name, cron, run_at, "
                        "time_zone, operation, params, target, dry_run, enabled, "
                        "missed_fire_policy, missed_fire_window_seconds");
    if (!(create ? api_input_string(r, body, "name", NAME_MAX_CHARS, &b->name)
                 : api_input_opt_string(r, body, "name", NAME_MAX_CHARS, false, &b->name, NULL)) ||
        !api_input_opt_string(r, body, "cron", CRON_MAX_CHARS, false, &b->cron, NULL) ||
        !api_input_opt_string(r, body, "run_at", 64, false, &b->run_at_s, NULL) ||
        !api_input_opt_string(r, body, "time_zone", ZONE_MAX_CHARS, false, &b->zone, NULL) ||
        !(create ? api_input_string(r, body, "operation", 64, &b->operation)
                 : api_input_opt_string(r, body, "operation", 64, false, &b->operation, NULL)) ||
        !api_input_opt_object(r, body, "params", &b->params) ||
        !api_input_opt_object(r, body, "target", &b->target) ||
        !api_input_opt_bool(r, body, "dry_run", &b->dry_run) ||
        !api_input_opt_bool(r, body, "enabled", &b->enabled) ||
        !api_input_opt_string(r, body, "missed_fire_policy", 0, false, &b->policy, NULL) ||
        (b->policy && !check_policy(r, b->policy)) ||
        !api_input_opt_int(r, body, "missed_fire_window_seconds", 0, WINDOW_MAX_S, &b->window))
        return false;
    b->has_dry_run = json_object_get(body, "dry_run") != NULL;
    b->has_enabled = json_object_get(body, "enabled") != NULL;
    if (b->run_at_s && !parse_run_at(r, b->run_at_s, &b->run_at))
        return false;
    if (b->cron && b->run_at_s)
        return api_fail(r, 400, "invalid_field", "give field 'cron' or field 'run_at', not both");
    if (create && !b->cron && !b->run_at_s)
        return api_fail(r, 400, "invalid_field",
                        "field 'cron' (a cron expression) or field 'run_at' (a one-off time) is "
                        "required");
    /* Checked as POST /v1/runs checks a run (api_runs.c), with lib/ops's
     * messages, so a schedule that would fail at every fire is refused now. */
    return !create || api_runs_check(r, b->operation, b->params, b->target, NULL);
}

/* ---- POST /v1/schedules --------------------------------------------------------- */

static void schedule_create(api_req *r)
{
    schedule_body b;
    if (!read_body(r, true, &b))
        return;
    const char *zone = b.zone ? b.zone : "UTC";
    bool enabled = b.has_enabled ? b.enabled : true;
    tz_zone *z = load_zone(r, "time_zone", zone);
    if (z == NULL)
        return;
    time_t next = b.run_at;
    bool ok = true;
    if (b.cron) {
        cron_expr *c = parse_cron(r, b.cron);
        ok = c && first_fire(r, b.cron, c, z, &next);
        cron_free(c);
    }
    tz_free(z);
    if (!ok)
        return;

    char *params_text = b.params ? json_dumps(b.params, JSON_COMPACT) : NULL;
    char *target_text = b.target ? json_dumps(b.target, JSON_COMPACT) : NULL;
    char run_at_n[24], window_n[24], next_n[24];
    snprintf(run_at_n, sizeof run_at_n, "%lld", (long long)b.run_at);
    snprintf(window_n, sizeof window_n, "%lld", b.window >= 0 ? b.window : WINDOW_DEFAULT);
    snprintf(next_n, sizeof next_n, "%lld", (long long)next);
    const api_caller *caller = api_caller_of(r);
    const char *p[] = {caller->tenant_id,
                       b.name,
                       b.cron,
                       b.cron ? NULL : run_at_n,
                       zone,
                       b.operation,
                       params_text ? params_text : "{}",
                       target_text ? target_text : "{}",
                       b.dry_run ? "t" : "f",
                       enabled ? "t" : "f",
                       b.policy ? b.policy : "run_once",
                       window_n,
                       caller->email,
                       enabled ? next_n : NULL};
    /* ON CONFLICT keeps the transaction usable for the 409 that names the
     * schedule holding the name. */
    PGresult *res = api_sql(
        r,
        "INSERT INTO schedules (tenant_id, name, cron, run_at, time_zone, operation, params,"
        " target, dry_run, enabled, missed_fire_policy, missed_fire_window, created_by,"
        " next_fire_at)"
        " VALUES ($1, $2, $3, to_timestamp($4::bigint), $5, $6, $7::jsonb, $8::jsonb,"
        " $9::boolean, $10::boolean, $11, $12::bigint * interval '1 second', $13,"
        " to_timestamp($14::bigint))"
        " ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id, " SCHEDULE_JSON,
        14, p);
    free(params_text);
    free(target_text);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        if (name_free(r, b.name, NULL)) /* taken and freed again meanwhile */
            api_fail(r, 409, "conflict", "a schedule named '%.200s' was made by another request",
                     b.name);
        return;
    }
    char id[API_ID_LEN];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    json_t *schedule = row_json(res, 0, 1);
    PQclear(res);
    json_t *detail = json_deep_copy(api_body_object(r));
    json_object_set(detail, "next_fire_at", json_object_get(schedule, "next_fire_at"));
    if (!audit_schedule(r, "schedules.create", id, detail)) {
        json_decref(schedule);
        return;
    }
    char location[64];
    snprintf(location, sizeof location, "/v1/schedules/%s", id);
    api_header(r, "Location", location);
    api_reply(r, 201, schedule);
}

/* ---- GET /v1/schedules ------------------------------------------------------------ */

static void schedule_list(api_req *r)
{
    static const char *const allowed[] = {"enabled", "operation", "limit", "cursor", NULL};
    api_page pg;
    if (!api_query_only(r, allowed) || !api_page_parse(r, &pg))
        return;
    const char *enabled = api_query(r, "enabled");
    const char *operation = api_query(r, "operation");
    if (enabled && strcmp(enabled, "true") != 0 && strcmp(enabled, "false") != 0) {
        api_fail(r, 400, "invalid_query",
                 "query parameter 'enabled' is '%.64s': want true or false", enabled);
        return;
    }
    if (operation && !api_input_is_dotted_name(operation, 64)) {
        api_fail(r, 400, "invalid_query",
                 "query parameter 'operation' is '%.64s': want an operation name like ec2.stop",
                 operation);
        return;
    }
    char ts[API_PAGE_TIME_LEN], after[API_ID_LEN];
    if (pg.has_cursor && !api_page_time_id(r, &pg, ts, after))
        return;
    char limit[16];
    api_page_fetch_limit(&pg, limit);
    const char *p[] = {enabled, operation, pg.has_cursor ? ts : NULL, pg.has_cursor ? after : NULL,
                       limit};
    PGresult *res = api_sql_final(
        r,
        "SELECT " API_PAGE_TIME_ID_KEY("created_at", "id") ", " SCHEDULE_JSON " FROM schedules"
                                                           " WHERE ($1::boolean IS NULL OR "
                                                           "enabled = $1)"
                                                           "   AND ($2::text IS NULL OR operation "
                                                           "= $2)"
                                                           "   AND ($3::timestamptz IS NULL OR "
                                                           "(created_at, id) < ($3, $4::uuid))"
                                                           " ORDER BY created_at DESC, id DESC "
                                                           "LIMIT $5::int",
        5, p);
    if (res == NULL)
        return;
    api_page_reply_rows(r, &pg, res, 0, 1);
    PQclear(res);
}

/* ---- GET /v1/schedules/{id} ---------------------------------------------------------- */

static void schedule_get(api_req *r)
{
    char id[API_ID_LEN];
    if (!schedule_id(r, id))
        return;
    PGresult *res =
        schedule_find(r, id, "SELECT " SCHEDULE_JSON " FROM schedules WHERE id = $1", true);
    if (res == NULL)
        return;
    api_reply(r, 200, row_json(res, 0, 0));
    PQclear(res);
}

/* ---- PATCH /v1/schedules/{id} -------------------------------------------------------- */

/* The row as PATCH needs it before changing it. */
typedef struct schedule_now {
    char name[NAME_MAX_CHARS * 4 + 1];
    char *cron; /* NULL for a one-off */
    time_t run_at;
    bool run_at_fired; /* the one-off's fire is recorded */
    char zone[ZONE_MAX_CHARS * 4 + 1];
    bool enabled;
    char operation[65];
    json_t *params, *target; /* owned */
} schedule_now;

static void schedule_now_free(schedule_now *s)
{
    free(s->cron);
    json_decref(s->params);
    json_decref(s->target);
}

/* Reads and locks the schedule (the scheduler skips it meanwhile); false
 * after the 404 or the database's error. */
static bool schedule_lock(api_req *r, const char *id, schedule_now *s)
{
    memset(s, 0, sizeof *s);
    PGresult *res =
        schedule_find(r, id,
                      "SELECT name, cron, extract(epoch FROM run_at)::bigint, time_zone, enabled,"
                      " EXISTS (SELECT 1 FROM schedule_fires f WHERE f.schedule_id = s.id"
                      "         AND f.fire_at = s.run_at), operation, params::text, target::text"
                      " FROM schedules s WHERE id = $1 FOR UPDATE",
                      false);
    if (res == NULL)
        return false;
    snprintf(s->name, sizeof s->name, "%s", PQgetvalue(res, 0, 0));
    s->cron = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
    s->run_at = (time_t)strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    snprintf(s->zone, sizeof s->zone, "%s", PQgetvalue(res, 0, 3));
    s->enabled = PQgetvalue(res, 0, 4)[0] == 't';
    s->run_at_fired = PQgetvalue(res, 0, 5)[0] == 't';
    snprintf(s->operation, sizeof s->operation, "%s", PQgetvalue(res, 0, 6));
    s->params = json_loads(PQgetvalue(res, 0, 7), 0, NULL);
    s->target = json_loads(PQgetvalue(res, 0, 8), 0, NULL);
    PQclear(res);
    return true;
}

/* The next fire after a change of timing: none when disabled, the first
 * cron fire after now, or the one-off time unless it already fired. */
static bool next_after_change(api_req *r, const char *cron, time_t run_at, bool run_at_fired,
                              const char *zone, bool enabled, bool *has_next, time_t *next)
{
    *has_next = false;
    tz_zone *z = load_zone(r, "time_zone", zone);
    if (z == NULL)
        return false;
    bool ok = true;
    if (cron) {
        cron_expr *c = parse_cron(r, cron);
        ok = c && first_fire(r, cron, c, z, next);
        cron_free(c);
        *has_next = ok;
    } else if (!run_at_fired) {
        *next = run_at;
        *has_next = true;
    }
    tz_free(z);
    if (!enabled)
        *has_next = false;
    return ok;
}

static void schedule_patch(api_req *r)
{
    char id[API_ID_LEN];
    schedule_body b;
    if (!schedule_id(r, id) || !read_body(r, false, &b))
        return;
    schedule_now now;
    if (!schedule_lock(r, id, &now))
        goto out;
    if (b.name && strcmp(b.name, now.name) != 0 && !name_free(r, b.name, id))
        goto out;
    /* A new operation, parameters or target is checked together with what
     * the schedule keeps of the three. */
    if ((b.operation || b.params || b.target) &&
        !api_runs_check(r, b.operation ? b.operation : now.operation,
                        b.params ? b.params : now.params, b.target ? b.target : now.target, NULL))
        goto out;
    /* A change of timing (or of the zone it is read in, or switching it on or
     * off) computes the next fire afresh; anything else leaves it alone. */
    bool timing = b.cron || b.run_at_s || b.zone || b.has_enabled;
    bool has_next = false;
    time_t next = 0;
    if (timing) {
        const char *cron = b.cron ? b.cron : b.run_at_s ? NULL : now.cron;
        time_t run_at = b.run_at_s ? b.run_at : now.run_at;
        bool fired = b.run_at_s ? false : now.run_at_fired;
        if (!next_after_change(r, cron, run_at, fired, b.zone ? b.zone : now.zone,
                               b.has_enabled ? b.enabled : now.enabled, &has_next, &next))
            goto out;
    }
    char *params_text = b.params ? json_dumps(b.params, JSON_COMPACT) : NULL;
    char *target_text = b.target ? json_dumps(b.target, JSON_COMPACT) : NULL;
    char run_at_n[24], window_n[24], next_n[24];
    snprintf(run_at_n, sizeof run_at_n, "%lld", (long long)b.run_at);
    snprintf(window_n, sizeof window_n, "%lld", b.window);
    snprintf(next_n, sizeof next_n, "%lld", (long long)next);
    const char *p[] = {id,
                       b.name,
                       b.cron || b.run_at_s ? "t" : "f",
                       b.cron,
                       b.run_at_s ? run_at_n : NULL,
                       b.zone,
                       b.operation,
                       params_text,
                       target_text,
                       b.has_dry_run ? (b.dry_run ? "t" : "f") : NULL,
                       b.has_enabled ? (b.enabled ? "t" : "f") : NULL,
                       b.policy,
                       b.window >= 0 ? window_n : NULL,
                       timing ? "t" : "f",
                       has_next ? next_n : NULL};
    PGresult *res = api_sql(
        r,
        "UPDATE schedules SET name = COALESCE($2, name),"
        " cron = CASE WHEN $3::boolean THEN $4 ELSE cron END,"
        " run_at = CASE WHEN $3::boolean THEN to_timestamp($5::bigint) ELSE run_at END,"
        " time_zone = COALESCE($6, time_zone), operation = COALESCE($7, operation),"
        " params = COALESCE($8::jsonb, params), target = COALESCE($9::jsonb, target),"
        " dry_run = COALESCE($10::boolean, dry_run), enabled = COALESCE($11::boolean, enabled),"
        " missed_fire_policy = COALESCE($12, missed_fire_policy),"
        " missed_fire_window = COALESCE($13::bigint * interval '1 second', missed_fire_window),"
        " next_fire_at = CASE WHEN $14::boolean THEN to_timestamp($15::bigint)"
        "   ELSE next_fire_at END,"
        " last_error = CASE WHEN $14::boolean THEN NULL ELSE last_error END,"
        " updated_at = now()"
        " WHERE id = $1 RETURNING " SCHEDULE_JSON,
        15, p);
    free(params_text);
    free(target_text);
    if (res == NULL)
        goto out;
    json_t *schedule = row_json(res, 0, 0);
    PQclear(res);
    /* The detail says what the request changed: the fields it gave. */
    json_t *detail = json_pack("{s:s, s:O, s:O}", "name", now.name, "changes", api_body_object(r),
                               "next_fire_at", json_object_get(schedule, "next_fire_at"));
    if (!audit_schedule(r, "schedules.update", id, detail)) {
        json_decref(schedule);
        goto out;
    }
    api_reply(r, 200, schedule);
out:
    schedule_now_free(&now);
}

/* ---- DELETE /v1/schedules/{id} ---------------------------------------------------------- */

static void schedule_delete(api_req *r)
{
    char id[API_ID_LEN];
    if (!schedule_id(r, id))
        return;
    /* Its fires go with it; the jobs they made keep the schedule's id in
     * their payload. */
    PGresult *res = schedule_find(
        r, id, "DELETE FROM schedules WHERE id = $1 RETURNING name, operation, cron, " TS("run_at"),
        false);
    if (res == NULL)
        return;
    json_t *detail = json_pack("{s:s, s:s, s:s?, s:s?}", "name", PQgetvalue(res, 0, 0), "operation",
                               PQgetvalue(res, 0, 1), "cron",
                               PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2), "run_at",
                               PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3));
    PQclear(res);
    if (audit_schedule(r, "schedules.delete", id, detail))
        api_reply(r, 204, NULL);
}

/* ---- GET /v1/schedules/{id}/preview -------------------------------------------------------- */

static void schedule_preview(api_req *r)
{
    static const char *const allowed[] = {"count", NULL};
    char id[API_ID_LEN];
    int count;
    if (!schedule_id(r, id) || !api_query_only(r, allowed) || !preview_count(r, &count))
        return;
    PGresult *res = schedule_find(r, id,
                                  "SELECT cron, extract(epoch FROM run_at)::bigint, time_zone,"
                                  " enabled, next_fire_at IS NOT NULL FROM schedules WHERE id = $1",
                                  true);
    if (res == NULL)
        return;
    const char *cron = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
    time_t run_at = PQgetisnull(res, 0, 1) ? 0 : (time_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    bool enabled = PQgetvalue(res, 0, 3)[0] == 't';
    bool pending = PQgetvalue(res, 0, 4)[0] == 't';
    /* A stored zone was valid when stored; tzdata may have dropped it since. */
    err e = {0};
    tz_zone *z = tz_load(PQgetvalue(res, 0, 2), &e);
    cron_expr *c = NULL;
    if (z == NULL || (cron && !cron_parse(cron, &c, &e))) {
        api_fail(r, 409, "conflict", "schedule %s cannot be evaluated any more: %s", id, e.message);
    } else {
        json_t *fires;
        if (c) {
            fires = cron_fires(c, z, count);
        } else {
            /* A one-off's only fire, until it has fired. */
            fires = json_array();
            if (pending || (!enabled && run_at > timeutil_now()))
                json_array_append_new(fires, fire_json(z, run_at));
        }
        api_reply(r, 200,
                  json_pack("{s:s, s:s?, s:s, s:b, s:o}", "schedule", id, "cron", cron, "time_zone",
                            tz_name(z), "enabled", enabled, "fires", fires));
    }
    cron_free(c);
    tz_free(z);
    PQclear(res);
}

/* ---- POST /v1/schedules/preview ------------------------------------------------------------ */

static void schedule_preview_new(api_req *r)
{
    static const char *const known[] = {"cron", "time_zone", "count", NULL};
    json_t *body = api_body_object(r);
    if (body == NULL || !api_input_only(r, body, known))
        return;
    const char *cron, *zone = "UTC";
    long long count = PREVIEW_DEFAULT;
    if (!api_input_string(r, body, "cron", CRON_MAX_CHARS, &cron) ||
        !api_input_opt_string(r, body, "time_zone", ZONE_MAX_CHARS, false, &zone, NULL) ||
        !api_input_opt_int(r, body, "count", 1, PREVIEW_MAX, &count))
        return;
    if (zone == NULL)
        zone = "UTC";
    tz_zone *z = load_zone(r, "time_zone", zone);
    if (z == NULL)
        return;
    cron_expr *c = parse_cron(r, cron);
    time_t first;
    if (c && first_fire(r, cron, c, z, &first))
        api_reply(r, 200,
                  json_pack("{s:s, s:s, s:o}", "cron", cron, "time_zone", tz_name(z), "fires",
                            cron_fires(c, z, (int)count)));
    cron_free(c);
    tz_free(z);
}

const api_route api_routes_schedules[] = {
    {"POST", "/v1/schedules", API_ROLE_MANAGER, schedule_create,
     "Create a schedule: an operation at cron times in a time zone, or once at run_at."},
    {"GET", "/v1/schedules", API_ROLE_ANY, schedule_list,
     "List the tenant's schedules (?enabled, ?operation, newest first)."},
    {"POST", "/v1/schedules/preview", API_ROLE_ANY, schedule_preview_new,
     "The next fires of an unsaved cron expression, in its zone and in UTC."},
    {"GET", "/v1/schedules/{id}", API_ROLE_ANY, schedule_get, "One schedule."},
    {"PATCH", "/v1/schedules/{id}", API_ROLE_MANAGER, schedule_patch,
     "Change a schedule; a new expression, time, zone or enabled flag recomputes its next fire."},
    {"DELETE", "/v1/schedules/{id}", API_ROLE_MANAGER, schedule_delete,
     "Delete a schedule (the jobs it made stay)."},
    {"GET", "/v1/schedules/{id}/preview", API_ROLE_ANY, schedule_preview,
     "The schedule's next fires (?count, default 10), in its zone and in UTC."},
    {0},
};
