/* Organization discovery. See job_discover.h. */
#include "job_discover.h"

#include "aws/awsjson.h"
#include "aws/paging.h"
#include "core/opts.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "db/db.h"
#include "job_account.h"
#include "job_verify.h"
#include "ops/target.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Member verifications at once per job; the gate bounds AWS requests. */
#define DISCOVER_PARALLEL 16
/* The OU walk's bounds: Organizations nests OUs at most 5 deep under the
 * root and allows at most 2,000 OUs (quotas); past these the walk stops
 * descending and says so rather than looping on a strange answer. */
#define WALK_MAX_DEPTH 6
#define WALK_MAX_NODES 2100

typedef struct discover discover;

typedef struct member {
    discover *d;
    char account_id[JOB_ACCOUNT_ID_LEN];
    char *name;
    char *status; /* as Organizations says: ACTIVE, SUSPENDED, PENDING_CLOSURE */
    job_account acct;
    bool verify;
    char *ou_path; /* text[] literal from the root to the parent; NULL: not found */
} member;

/* A root or an OU to list the children of, with its path from the root
 * (itself included) as a text[] literal. */
typedef struct walk_node {
    char *id;
    char *path;
    int depth; /* root: 1 */
} walk_node;

/* Where the walk is: ListRoots, then per node its OUs, then its accounts. */
typedef enum walk_phase { WALK_ROOTS, WALK_OUS, WALK_ACCOUNTS } walk_phase;

struct discover {
    wjob *j;
    char *mgmt_role_arn;
    char mgmt_account[JOB_ACCOUNT_ID_LEN];
    char partition[32];
    char *role_name;
    char *readonly_role_name; /* NULL: none */
    char *regions;            /* text[] literal, NULL: none */
    char *external_id;
    char list_step[64];
    char walk_step[64];
    waws_session *session;
    walk_node *nodes;
    size_t nnodes, node_cap, node_at;
    walk_phase phase;
    int walk_calls;
    bool walk_truncated;
    paginator *pager;
    member *members;
    size_t nmembers, cap;
    size_t next, running;
    bool launching;
    size_t transient;
    char first_transient[ERR_MESSAGE_MAX];
    json_t *registered, *verified, *failed, *skipped;
};

void job_discover_free(void *state)
{
    discover *d = state;
    waws_session_close(d->session);
    paginator_free(d->pager);
    for (size_t i = 0; i < d->nmembers; i++) {
        free(d->members[i].name);
        free(d->members[i].status);
        free(d->members[i].ou_path);
        job_account_clear(&d->members[i].acct);
    }
    for (size_t i = 0; i < d->nnodes; i++) {
        free(d->nodes[i].id);
        free(d->nodes[i].path);
    }
    free(d->nodes);
    free(d->members);
    free(d->mgmt_role_arn);
    free(d->role_name);
    free(d->readonly_role_name);
    free(d->regions);
    free(d->external_id);
    json_decref(d->registered);
    json_decref(d->verified);
    json_decref(d->failed);
    json_decref(d->skipped);
    free(d);
}

/* ---- payload ---- */

/* A role name (with optional path) as IAM and the aws_accounts check allow. */
static bool role_name_ok(const char *name)
{
    const char *last = strrchr(name, '/');
    const char *base = last ? last + 1 : name;
    size_t n = strlen(base);
    if (n < 1 || n > 64 || strlen(name) > 512)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_+=,.@-/", *p))
            return false;
    return name[0] != '/' && strstr(name, "//") == NULL;
}

/* arn:<partition>:iam::<12 digits>:role/<name> into d's partition and account. */
static bool parse_mgmt_arn(discover *d, const char *arn, err *e)
{
    int part_len = 0, acct_len = 0, name_at = 0;
    if (sscanf(arn, "arn:%*31[a-z-]%n:iam::%*12[0-9]%n:role/%n", &part_len, &acct_len, &name_at) !=
            0 ||
        name_at == 0 || acct_len - part_len != 18 || !role_name_ok(arn + name_at))
        return err_set(e, ERR_INVALID,
                       "management_role_arn '%.300s' is not arn:aws:iam::<12 digits>:role/<name>",
                       arn);
    snprintf(d->partition, sizeof d->partition, "%.*s", part_len - 4, arn + 4);
    snprintf(d->mgmt_account, sizeof d->mgmt_account, "%.12s", arn + part_len + 6);
    return true;
}

/* The template with every "{account_id}" replaced (caller frees). */
static char *expand(const char *tmpl, const char *account_id)
{
    strbuf sb = STRBUF_INIT;
    static const char key[] = "{account_id}";
    for (const char *p = tmpl; *p;) {
        const char *at = strstr(p, key);
        if (at == NULL) {
            strbuf_puts(&sb, p);
            break;
        }
        strbuf_append(&sb, p, (size_t)(at - p));
        strbuf_puts(&sb, account_id);
        p = at + sizeof key - 1;
    }
    strbuf_puts(&sb, "");
    return strbuf_detach(&sb);
}

static bool template_ok(const char *field, const char *tmpl, err *e)
{
    char *sample = expand(tmpl, "123456789012");
    bool ok = role_name_ok(sample);
    free(sample);
    return ok ? true
              : err_set(e, ERR_INVALID,
                        "%s '%.200s' is not a role name (1-64 of A-Z a-z 0-9 _+=,.@- after an "
                        "optional path; \"{account_id}\" is replaced by the member's id)",
                        field, tmpl);
}

static bool parse_regions(discover *d, const json_t *regions, err *e)
{
    if (regions == NULL || json_is_null(regions))
        return true;
    if (!json_is_array(regions))
        return err_set(e, ERR_INVALID, "regions must be an array of region names");
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "{");
    for (size_t i = 0; i < json_array_size(regions); i++) {
        const char *r = json_string_value(json_array_get(regions, i));
        if (r == NULL || !opts_check_region(r, e)) {
            strbuf_free(&sb);
            return r ? err_prefix(e, "regions[%zu]", i)
                     : err_set(e, ERR_INVALID, "regions[%zu] is not a string", i);
        }
        strbuf_printf(&sb, "%s%s", i ? "," : "", r);
    }
    strbuf_puts(&sb, "}");
    d->regions = strbuf_detach(&sb);
    return true;
}

static bool parse_payload(discover *d, const json_t *p, err *e)
{
    const char *mgmt = json_string_value(json_object_get(p, "management_role_arn"));
    if (mgmt == NULL)
        return err_set(e, ERR_INVALID, "payload has no \"management_role_arn\"");
    if (!parse_mgmt_arn(d, mgmt, e))
        return false;
    d->mgmt_role_arn = xstrdup(mgmt);
    const char *role = json_string_value(json_object_get(p, "role_name"));
    d->role_name = xstrdup(role ? role : "EscherOperator");
    if (!template_ok("role_name", d->role_name, e))
        return false;
    const char *ro = json_string_value(json_object_get(p, "readonly_role_name"));
    if (ro) {
        d->readonly_role_name = xstrdup(ro);
        if (!template_ok("readonly_role_name", ro, e))
            return false;
    }
    return parse_regions(d, json_object_get(p, "regions"), e);
}

/* ---- the end ---- */

static void finish_job(discover *d)
{
    wjob *j = d->j;
    if (d->transient > 0 && !wjob_last_attempt(j)) {
        char msg[ERR_MESSAGE_MAX + 96];
        snprintf(msg, sizeof msg, "%zu member(s) could not be verified for now; first: %s",
                 d->transient, d->first_transient);
        wjob_fail(j, msg, true, NULL, NULL);
        return;
    }
    json_t *result = json_pack("{s:I, s:O, s:O, s:O, s:O}", "members", (json_int_t)d->nmembers,
                               "registered", d->registered, "verified", d->verified, "failed",
                               d->failed, "skipped", d->skipped);
    log_info(j->log, "organization discovered", LOG_INT("members", d->nmembers),
             LOG_INT("registered", json_array_size(d->registered)),
             LOG_INT("verified", json_array_size(d->verified)),
             LOG_INT("failed", json_array_size(d->failed)));
    wjob_complete(j, result, NULL, NULL);
    json_decref(result);
}

/* ---- verifying members ---- */

static void launch(discover *d);

static void on_member_verified(wjob *j, const verify_report *r, void *arg)
{
    member *m = arg;
    discover *d = m->d;
    d->running--;
    char step[64];
    snprintf(step, sizeof step, "record %s", m->account_id);
    bool skip;
    if (!wjob_step_begin(j, step, &skip, NULL))
        return;
    verify_record rec = {m->acct.id, r, wjob_last_attempt(j)};
    const char *status = r->outcome == VERIFY_OK                            ? "verified"
                         : r->outcome == VERIFY_REFUSED || rec.last_attempt ? "failed"
                                                                            : "pending";
    json_t *detail = json_pack("{s:s, s:s}", "account_id", m->account_id, "status", status);
    if (r->error[0])
        json_object_set_new(detail, "error", json_string(r->error));
    bool ok = skip || wjob_step_finish(j, step, true, detail, job_verify_record, &rec);
    json_decref(detail);
    if (!ok)
        return;
    if (r->outcome == VERIFY_OK)
        json_array_append_new(d->verified, json_string(m->account_id));
    if (r->outcome == VERIFY_TRANSIENT && d->transient++ == 0)
        snprintf(d->first_transient, sizeof d->first_transient, "%s: %.1000s", m->account_id,
                 r->error);
    for (size_t i = 0; i < json_array_size(r->roles); i++) {
        json_t *role = json_array_get(r->roles, i);
        if (!json_is_true(json_object_get(role, "ok")))
            json_array_append_new(d->failed,
                                  json_pack("{s:s, s:O, s:O}", "account_id", m->account_id,
                                            "role_arn", json_object_get(role, "role_arn"), "error",
                                            json_object_get(role, "error")));
    }
    launch(d);
}

/* Starts verifications up to DISCOVER_PARALLEL; ends the job after the last.
 * A verification that ends at once (all its steps done earlier) calls back
 * into here: the outer call carries on. */
static void launch(discover *d)
{
    if (d->launching)
        return;
    d->launching = true;
    while (!d->j->ended && d->running < DISCOVER_PARALLEL && d->next < d->nmembers) {
        member *m = &d->members[d->next++];
        if (!m->verify)
            continue;
        d->running++;
        job_verify_account(d->j, &m->acct, d->external_id, on_member_verified, m);
    }
    d->launching = false;
    if (!d->j->ended && d->running == 0 && d->next == d->nmembers)
        finish_job(d);
}

/* ---- registering members ---- */

typedef struct upsert_args {
    discover *d;
    member *m;
    bool inserted;
    char id[QUEUE_ID_LEN];
} upsert_args;

static bool upsert(PGconn *db, void *arg, err *e)
{
    upsert_args *u = arg;
    char *role = expand(u->d->role_name, u->m->account_id);
    char *ro = u->d->readonly_role_name ? expand(u->d->readonly_role_name, u->m->account_id) : NULL;
    char *role_arn = xasprintf("arn:%s:iam::%s:role/%s", u->d->partition, u->m->account_id, role);
    char *ro_arn =
        ro ? xasprintf("arn:%s:iam::%s:role/%s", u->d->partition, u->m->account_id, ro) : NULL;
    bool ok = job_account_upsert(db, u->d->j->q.tenant_id, u->m->account_id, u->m->name, role_arn,
                                 ro_arn, u->d->regions, u->id, &u->inserted, e);
    /* Where the walk found it; an account it did not find keeps what an
     * earlier discovery recorded (ou_updated_at says how old). */
    if (ok && u->m->ou_path) {
        const char *p[3] = {u->d->j->q.tenant_id, u->m->account_id, u->m->ou_path};
        PGresult *r = db_query(db,
                               "UPDATE aws_accounts SET ou_path = $3::text[], ou_updated_at = now()"
                               " WHERE tenant_id = $1 AND account_id = $2",
                               3, p, e);
        ok = r != NULL;
        PQclear(r);
        if (!ok)
            err_prefix(e, "recording the OU path of %s", u->m->account_id);
    }
    free(role);
    free(ro);
    free(role_arn);
    free(ro_arn);
    return ok;
}

/* Registers member m: false when the job has ended. */
static bool register_member(discover *d, member *m)
{
    wjob *j = d->j;
    char step[64];
    snprintf(step, sizeof step, "register %s", m->account_id);
    bool skip;
    if (!wjob_step_begin(j, step, &skip, NULL))
        return false;
    if (!skip) {
        upsert_args u = {.d = d, .m = m};
        json_t *detail =
            json_pack("{s:s, s:s}", "account_id", m->account_id, "name", m->name ? m->name : "");
        if (m->ou_path)
            json_object_set_new(detail, "ou_path", json_string(m->ou_path));
        bool ok = wjob_step_finish(j, step, true, detail, upsert, &u);
        json_decref(detail);
        if (!ok)
            return false;
        log_info(j->log, "member registered", LOG_STR("account_id", m->account_id),
                 LOG_BOOL("new", u.inserted));
    }
    err e = {0};
    if (!job_account_load_by_number(j->env->db, j->q.tenant_id, m->account_id, &m->acct, &e)) {
        wjob_fail(j, e.message, true, NULL, NULL);
        return false;
    }
    json_array_append_new(d->registered, json_string(m->account_id));
    m->verify = strcmp(m->acct.status ? m->acct.status : "", "disabled") != 0;
    if (!m->verify)
        json_array_append_new(
            d->skipped, json_pack("{s:s, s:s}", "account_id", m->account_id, "status", "disabled"));
    return true;
}

static void register_all(discover *d)
{
    for (size_t i = 0; i < d->nmembers; i++) {
        member *m = &d->members[i];
        m->d = d;
        if (strcmp(m->status ? m->status : "", "ACTIVE") != 0) {
            json_array_append_new(d->skipped, json_pack("{s:s, s:s}", "account_id", m->account_id,
                                                        "status", m->status ? m->status : ""));
            continue;
        }
        if (!register_member(d, m))
            return;
    }
    launch(d);
}

/* ---- listing ---- */

/* Step step failed with e: the job fails (for good on a refusal). */
static void step_failed(discover *d, const char *step, const err *e)
{
    char code[ERR_FIELD_MAX], message[ERR_MESSAGE_MAX];
    waws_error_parts(e, code, sizeof code, message, sizeof message);
    bool refused = waws_classify(e) == WAWS_REFUSED;
    json_t *detail = json_pack("{s:s, s:{s:s, s:s}}", "role_arn", d->mgmt_role_arn, "error", "code",
                               code, "message", message);
    bool ok = wjob_step_finish(d->j, step, false, detail, NULL, NULL);
    json_decref(detail);
    if (!ok)
        return;
    char text[ERR_MESSAGE_MAX + ERR_FIELD_MAX + 4];
    snprintf(text, sizeof text, "%s: %s", code, message);
    wjob_fail(d->j, text, !refused, NULL, NULL);
}

static void list_failed(discover *d, const err *e)
{
    step_failed(d, d->list_step, e);
}

static void add_members(discover *d, const json_t *accounts)
{
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        const json_t *a = json_array_get(accounts, i);
        const char *id = json_string_value(json_object_get(a, "Id"));
        if (id == NULL || strlen(id) != 12 || strspn(id, "0123456789") != 12)
            continue; /* not an account id: nothing could be registered */
        if (d->nmembers == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 16;
            d->members = xreallocarray(d->members, d->cap, sizeof *d->members);
        }
        member *m = &d->members[d->nmembers++];
        memset(m, 0, sizeof *m);
        snprintf(m->account_id, sizeof m->account_id, "%s", id);
        const char *name = json_string_value(json_object_get(a, "Name"));
        const char *status = json_string_value(json_object_get(a, "Status"));
        m->name = xstrdup(name ? name : "");
        m->status = xstrdup(status ? status : "");
    }
}

static void next_page(discover *d);
static void walk_start(discover *d);

static void on_page(const http_response *resp, const err *e, void *arg)
{
    discover *d = arg;
    if (!wjob_resume(d->j))
        return;
    if (resp == NULL) {
        list_failed(d, e);
        return;
    }
    err pe = {0};
    bool ok = paginator_feed_copy(d->pager, resp, &pe);
    if (!ok) {
        list_failed(d, &pe);
        return;
    }
    add_members(d, json_object_get(paginator_json(d->pager), "Accounts"));
    if (!paginator_done(d->pager)) {
        next_page(d);
        return;
    }
    size_t active = 0;
    for (size_t i = 0; i < d->nmembers; i++)
        active += strcmp(d->members[i].status, "ACTIVE") == 0;
    json_t *detail =
        json_pack("{s:s, s:I, s:I, s:i, s:b}", "role_arn", d->mgmt_role_arn, "accounts",
                  (json_int_t)d->nmembers, "active", (json_int_t)active, "pages",
                  paginator_pages(d->pager), "truncated", paginator_truncated(d->pager));
    ok = wjob_step_finish(d->j, d->list_step, true, detail, NULL, NULL);
    json_decref(detail);
    if (ok)
        walk_start(d);
}

/* ---- the OU tree ----
 *
 * Each member's OU path comes from one walk down from the root: ListRoots,
 * then for every root and OU ListOrganizationalUnitsForParent and
 * ListAccountsForParent, with the listing's session. That is 1 + 2 x (OUs
 * + 1) calls (more when a parent has over 20 children), whatever the number
 * of accounts; ListParents would cost one call per account and level
 * (3,000 for 1,000 accounts two OUs deep), and the walk also sees the OUs
 * of accounts added since ListAccounts. One node at a time: the org's
 * management account is one rate-limit bucket anyway. */

static void walk_call(discover *d);

static void add_node(discover *d, const char *id, const walk_node *parent)
{
    int depth = parent ? parent->depth + 1 : 1;
    if (!target_ou_id_ok(id) || depth > WALK_MAX_DEPTH || d->nnodes >= WALK_MAX_NODES ||
        (parent == NULL) != (strncmp(id, "r-", 2) == 0)) {
        d->walk_truncated = true;
        return;
    }
    if (d->nnodes == d->node_cap) {
        d->node_cap = d->node_cap ? d->node_cap * 2 : 16;
        d->nodes = xreallocarray(d->nodes, d->node_cap, sizeof *d->nodes);
    }
    walk_node *n = &d->nodes[d->nnodes++];
    n->id = xstrdup(id);
    n->depth = depth;
    if (parent == NULL) {
        n->path = xasprintf("{%s}", id);
    } else {
        size_t len = strlen(parent->path);
        n->path = xasprintf("%.*s,%s}", (int)(len - 1), parent->path, id);
    }
}

static void walk_done(discover *d)
{
    size_t placed = 0;
    json_t *unplaced = json_array();
    for (size_t i = 0; i < d->nmembers; i++) {
        if (d->members[i].ou_path)
            placed++;
        else if (strcmp(d->members[i].status, "ACTIVE") == 0)
            json_array_append_new(unplaced, json_string(d->members[i].account_id));
    }
    size_t roots = 0;
    for (size_t i = 0; i < d->nnodes; i++)
        roots += d->nodes[i].depth == 1;
    json_t *detail =
        json_pack("{s:I, s:I, s:i, s:I, s:o, s:b}", "roots", (json_int_t)roots, "ous",
                  (json_int_t)(d->nnodes - roots), "calls", d->walk_calls, "placed",
                  (json_int_t)placed, "unplaced", unplaced, "truncated", d->walk_truncated);
    bool ok = wjob_step_finish(d->j, d->walk_step, true, detail, NULL, NULL);
    json_decref(detail);
    log_info(d->j->log, "organizational units walked", LOG_INT("ous", d->nnodes - roots),
             LOG_INT("calls", d->walk_calls), LOG_INT("placed", placed));
    waws_session_close(d->session);
    d->session = NULL;
    if (ok)
        register_all(d);
}

/* The page's accounts get node's path. */
static void place_accounts(discover *d, const walk_node *node, const json_t *accounts)
{
    for (size_t i = 0; i < json_array_size(accounts); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(accounts, i), "Id"));
        for (size_t k = 0; id && k < d->nmembers; k++) {
            member *m = &d->members[k];
            if (strcmp(m->account_id, id) == 0 && m->ou_path == NULL)
                m->ou_path = xstrdup(node->path);
        }
    }
}

static void on_walk_page(const http_response *resp, const err *e, void *arg)
{
    discover *d = arg;
    if (!wjob_resume(d->j))
        return;
    if (resp == NULL) {
        step_failed(d, d->walk_step, e);
        return;
    }
    err pe = {0};
    bool ok = paginator_feed_copy(d->pager, resp, &pe);
    if (!ok) {
        step_failed(d, d->walk_step, &pe);
        return;
    }
    const json_t *page = paginator_json(d->pager);
    /* The node index, not a pointer: add_node may move the array. */
    size_t at = d->node_at;
    if (d->phase == WALK_ROOTS) {
        const json_t *roots = json_object_get(page, "Roots");
        for (size_t i = 0; i < json_array_size(roots); i++) {
            const char *id = json_string_value(json_object_get(json_array_get(roots, i), "Id"));
            if (id)
                add_node(d, id, NULL);
        }
    } else if (d->phase == WALK_OUS) {
        const json_t *ous = json_object_get(page, "OrganizationalUnits");
        for (size_t i = 0; i < json_array_size(ous); i++) {
            const char *id = json_string_value(json_object_get(json_array_get(ous, i), "Id"));
            if (id) {
                walk_node parent = d->nodes[at];
                add_node(d, id, &parent);
            }
        }
    } else {
        place_accounts(d, &d->nodes[at], json_object_get(page, "Accounts"));
    }
    d->walk_truncated |= paginator_truncated(d->pager);
    if (paginator_done(d->pager)) {
        paginator_free(d->pager);
        d->pager = NULL;
        if (d->phase == WALK_ROOTS) {
            d->phase = WALK_OUS;
            d->node_at = 0;
        } else if (d->phase == WALK_OUS) {
            d->phase = WALK_ACCOUNTS;
        } else {
            d->phase = WALK_OUS;
            d->node_at++;
        }
        if (d->node_at >= d->nnodes) {
            walk_done(d);
            return;
        }
    }
    walk_call(d);
}

/* The next page of the current listing (a new listing when no pager). */
static void walk_call(discover *d)
{
    static const char *const ops[] = {"ListRoots", "ListOrganizationalUnitsForParent",
                                      "ListAccountsForParent"};
    if (d->pager == NULL)
        /* Every Organizations list pages the same way: "NextToken". */
        d->pager = paginator_new(&PAGING_ORGANIZATIONS_LIST_ACCOUNTS);
    json_t *body = json_object();
    if (d->phase != WALK_ROOTS)
        json_object_set_new(body, "ParentId", json_string(d->nodes[d->node_at].id));
    const char *token = paginator_token(d->pager);
    if (token)
        json_object_set_new(body, "NextToken", json_string(token));
    aws_request req;
    awsjson_request(&AWSJSON_ORGANIZATIONS, ops[d->phase], body, &req);
    json_decref(body);
    d->walk_calls++;
    wjob_hold(d->j);
    waws_call(d->session, RATELIMIT_DESCRIBE, &req, on_walk_page, d);
    aws_request_free(&req);
}

static void walk_start(discover *d)
{
    paginator_free(d->pager);
    d->pager = NULL;
    snprintf(d->walk_step, sizeof d->walk_step, "map organizational units #%d", d->j->q.attempts);
    bool skip;
    if (!wjob_step_begin(d->j, d->walk_step, &skip, NULL))
        return;
    d->phase = WALK_ROOTS;
    walk_call(d);
}

static void next_page(discover *d)
{
    json_t *body = json_object();
    const char *token = paginator_token(d->pager);
    if (token)
        json_object_set_new(body, "NextToken", json_string(token));
    aws_request req;
    awsjson_request(&AWSJSON_ORGANIZATIONS, "ListAccounts", body, &req);
    json_decref(body);
    wjob_hold(d->j);
    waws_call(d->session, RATELIMIT_DESCRIBE, &req, on_page, d);
    aws_request_free(&req);
}

static void on_mgmt_creds(aws_creds *creds, const err *e, void *arg)
{
    discover *d = arg;
    if (!wjob_resume(d->j)) {
        creds_free(creds);
        return;
    }
    if (creds == NULL) {
        list_failed(d, e);
        return;
    }
    err se = {0};
    d->session = waws_session_new(d->j->env->aws, creds, d->mgmt_account, &se);
    creds_free(creds);
    if (d->session == NULL) {
        list_failed(d, &se);
        return;
    }
    d->pager = paginator_new(&PAGING_ORGANIZATIONS_LIST_ACCOUNTS);
    next_page(d);
}

void job_discover_start(wjob *j)
{
    discover *d = xcalloc(1, sizeof *d);
    j->state = d;
    d->j = j;
    d->registered = json_array();
    d->verified = json_array();
    d->failed = json_array();
    d->skipped = json_array();
    err e = {0};
    if (!parse_payload(d, j->payload, &e)) {
        char msg[ERR_MESSAGE_MAX + 32];
        snprintf(msg, sizeof msg, "invalid payload: %s", e.message);
        wjob_fail(j, msg, false, NULL, NULL);
        return;
    }
    d->external_id = job_account_external_id(j->env->db, j->q.tenant_id, &e);
    if (d->external_id == NULL) {
        wjob_fail(j, e.message, e.code != ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    snprintf(d->list_step, sizeof d->list_step, "list accounts #%d", j->q.attempts);
    bool skip;
    if (!wjob_step_begin(j, d->list_step, &skip, NULL))
        return;
    log_info(j->log, "listing the organization", LOG_STR("management_role_arn", d->mgmt_role_arn));
    const job_scope *scope = job_kind_scope(j->kind, "list");
    broker_request r = {
        .role_arn = d->mgmt_role_arn,
        .external_id = d->external_id,
        .job_id = j->q.id,
        .source_identity = j->q.created_by,
        .actions = scope->actions,
        .nactions = scope->nactions,
        .duration_seconds = j->env->session_duration,
    };
    wjob_hold(j);
    waws_assume(j->env->aws, &r, on_mgmt_creds, d);
}
