/* AWS Organizations (JSON 1.1, AWSOrganizationsV20161128): the
 * organization's shape — the organization, its root, OUs and accounts —
 * with NextToken/MaxResults paging and Organizations' own refusals: an
 * account outside the organization (the Escher hub) gets
 * AWSOrganizationsNotInUseException, a member account calling a
 * management-only API gets AccessDeniedException. Timestamps are epoch
 * seconds, as the JSON protocol writes them. */
#include "call.h"

#include "core/xmalloc.h"

#include <stdio.h>
#include <string.h>

#define ORG_MAX_RESULTS 20

/* What a list call pages over: indexes into one of the world's arrays. */
typedef struct org_page {
    size_t offset;
    size_t max;
} org_page;

static sbx_account *org_management(const world *w)
{
    return w->naccounts ? w->accounts[0] : NULL;
}

/* Is the caller's account in the organization? */
static bool org_member(sbx_call *c)
{
    const sbx_account *a = call_account(c);
    const world *w = call_world(c);
    for (size_t i = 0; a && i < w->naccounts; i++)
        if (w->accounts[i] == a)
            return true;
    return call_error(c, 400, "AWSOrganizationsNotInUseException",
                      "Your account is not a member of an organization.");
}

/* Member check plus the management-account-only rule of the list APIs. */
static bool org_management_only(sbx_call *c)
{
    if (!org_member(c))
        return false;
    if (!call_account(c)->is_management)
        return call_error(c, 400, "AccessDeniedException",
                          "You don't have permissions to access this resource.");
    return true;
}

static bool org_read_page(sbx_call *c, org_page *pg)
{
    json_t *body = call_json(c);
    json_t *mr = body ? json_object_get(body, "MaxResults") : NULL;
    json_t *nt = body ? json_object_get(body, "NextToken") : NULL;
    pg->max = ORG_MAX_RESULTS;
    if (mr) {
        json_int_t v = json_is_integer(mr) ? json_integer_value(mr) : 0;
        if (v < 1 || v > ORG_MAX_RESULTS)
            return call_error(c, 400, "InvalidInputException",
                              "1 validation error detected: Value '%lld' at 'maxResults' failed "
                              "to satisfy constraint: Member must have value %s",
                              (long long)v,
                              v < 1 ? "greater than or equal to 1" : "less than or equal to 20");
        pg->max = (size_t)v;
    }
    if (nt && !json_is_string(nt))
        return call_error(c, 400, "InvalidInputException",
                          "You specified an invalid value for nextToken.");
    return call_page_offset(c, nt ? json_string_value(nt) : NULL, &pg->offset);
}

/* Sets "NextToken" when items remain after this page. */
static void org_page_end(sbx_call *c, json_t *out, const org_page *pg, size_t total)
{
    if (pg->offset + pg->max < total)
        json_object_set_new(out, "NextToken",
                            json_string(call_page_token(c, pg->offset + pg->max)));
}

static json_t *policy_types(void)
{
    json_t *a = json_array();
    json_array_append_new(
        a, json_pack("{s:s,s:s}", "Type", "SERVICE_CONTROL_POLICY", "Status", "ENABLED"));
    return a;
}

static json_t *account_json(const world *w, const sbx_account *a)
{
    const sbx_account *m = org_management(w);
    char *arn = xasprintf("arn:aws:organizations::%s:account/%s/%s", m->id, w->org_id, a->id);
    json_t *j = json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:s,s:I}", "Id", a->id, "Arn", arn, "Email",
                          a->email, "Name", a->name, "Status", a->status ? a->status : "ACTIVE",
                          "JoinedMethod", a->is_management ? "INVITED" : "CREATED",
                          "JoinedTimestamp", (json_int_t)a->joined);
    free(arn);
    return j;
}

static bool org_describe_organization(sbx_call *c)
{
    if (!org_member(c))
        return false;
    const world *w = call_world(c);
    const sbx_account *m = org_management(w);
    char *arn = xasprintf("arn:aws:organizations::%s:organization/%s", m->id, w->org_id);
    char *marn = xasprintf("arn:aws:organizations::%s:account/%s/%s", m->id, w->org_id, m->id);
    json_t *org = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "Id", w->org_id, "Arn", arn,
                            "FeatureSet", "ALL", "MasterAccountArn", marn, "MasterAccountId", m->id,
                            "MasterAccountEmail", m->email, "AvailablePolicyTypes", policy_types());
    free(arn);
    free(marn);
    call_json_reply(c, json_pack("{s:o}", "Organization", org));
    return true;
}

/* Accounts whose parent is parent_id (NULL: every account), paged. */
static bool reply_accounts(sbx_call *c, const char *parent_id)
{
    org_page pg;
    if (!org_read_page(c, &pg))
        return false;
    const world *w = call_world(c);
    json_t *list = json_array();
    size_t total = 0;
    for (size_t i = 0; i < w->naccounts; i++) {
        const sbx_account *a = w->accounts[i];
        if (parent_id && (!a->ou_id || strcmp(a->ou_id, parent_id) != 0))
            continue;
        if (total >= pg.offset && total < pg.offset + pg.max)
            json_array_append_new(list, account_json(w, a));
        total++;
    }
    json_t *out = json_pack("{s:o}", "Accounts", list);
    org_page_end(c, out, &pg, total);
    call_json_reply(c, out);
    return true;
}

static bool org_list_accounts(sbx_call *c)
{
    if (!org_management_only(c))
        return false;
    return reply_accounts(c, NULL);
}

static bool org_list_roots(sbx_call *c)
{
    if (!org_management_only(c))
        return false;
    org_page pg;
    if (!org_read_page(c, &pg))
        return false;
    const world *w = call_world(c);
    json_t *list = json_array();
    if (pg.offset == 0) {
        char *arn = xasprintf("arn:aws:organizations::%s:root/%s/%s", org_management(w)->id,
                              w->org_id, w->root_id);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:o}", "Id", w->root_id, "Arn", arn,
                                              "Name", "Root", "PolicyTypes", policy_types()));
        free(arn);
    }
    json_t *out = json_pack("{s:o}", "Roots", list);
    org_page_end(c, out, &pg, 1);
    call_json_reply(c, out);
    return true;
}

/* Lower-case alphanumerics only, at least min of them. */
static bool id_chars(const char *s, size_t len, size_t min)
{
    if (len < min || len > 32)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* ParentId's pattern: r-[0-9a-z]{4,32} or ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}. */
static bool parent_id_valid(const char *id)
{
    if (strncmp(id, "r-", 2) == 0)
        return id_chars(id + 2, strlen(id + 2), 4);
    if (strncmp(id, "ou-", 3) != 0)
        return false;
    const char *dash = strchr(id + 3, '-');
    return dash && id_chars(id + 3, (size_t)(dash - id - 3), 4) &&
           id_chars(dash + 1, strlen(dash + 1), 8);
}

/* The ParentId parameter, checked to name the root or an existing OU. */
static const char *org_parent(sbx_call *c)
{
    json_t *body = call_json(c);
    const char *id = body ? json_string_value(json_object_get(body, "ParentId")) : NULL;
    if (!id) {
        call_error(c, 400, "InvalidInputException",
                   "1 validation error detected: Value null at 'parentId' failed to satisfy "
                   "constraint: Member must not be null");
        return NULL;
    }
    if (!parent_id_valid(id)) {
        call_error(c, 400, "InvalidInputException",
                   "You specified an invalid value for parentId: '%s'.", id);
        return NULL;
    }
    const world *w = call_world(c);
    if (strcmp(id, w->root_id) == 0)
        return id;
    for (size_t i = 0; i < w->nous; i++)
        if (strcmp(w->ous[i]->id, id) == 0)
            return id;
    call_error(c, 400, "ParentNotFoundException",
               "We can't find a root or OU with the ParentId that you specified.");
    return NULL;
}

static bool org_list_ous_for_parent(sbx_call *c)
{
    if (!org_management_only(c))
        return false;
    const char *parent = org_parent(c);
    org_page pg;
    if (!parent || !org_read_page(c, &pg))
        return false;
    const world *w = call_world(c);
    json_t *list = json_array();
    size_t total = 0;
    for (size_t i = 0; i < w->nous; i++) {
        const sbx_ou *ou = w->ous[i];
        if (!ou->parent_id || strcmp(ou->parent_id, parent) != 0)
            continue;
        if (total >= pg.offset && total < pg.offset + pg.max)
            json_array_append_new(
                list, json_pack("{s:s,s:s,s:s}", "Id", ou->id, "Arn", ou->arn, "Name", ou->name));
        total++;
    }
    json_t *out = json_pack("{s:o}", "OrganizationalUnits", list);
    org_page_end(c, out, &pg, total);
    call_json_reply(c, out);
    return true;
}

static bool org_list_accounts_for_parent(sbx_call *c)
{
    if (!org_management_only(c))
        return false;
    const char *parent = org_parent(c);
    return parent && reply_accounts(c, parent);
}

static const sbx_action org_actions[] = {
    {"DescribeOrganization", SBX_DESCRIBE, org_describe_organization, false, NULL, NULL, false},
    {"ListAccounts", SBX_DESCRIBE, org_list_accounts, false, NULL, NULL, false},
    {"ListRoots", SBX_DESCRIBE, org_list_roots, false, NULL, NULL, false},
    {"ListOrganizationalUnitsForParent", SBX_DESCRIBE, org_list_ous_for_parent, false, NULL, NULL,
     false},
    {"ListAccountsForParent", SBX_DESCRIBE, org_list_accounts_for_parent, false, NULL, NULL, false},
};

/* AWS Organizations, API version 2016-11-28 (global). */
const sbx_service svc_organizations = {
    .signing_name = "organizations",
    .iam_prefix = "organizations",
    .protocol = AWS_PROTO_JSON,
    .xml_namespace = NULL,
    .json_target = "AWSOrganizationsV20161128",
    .global = true,
    .actions = org_actions,
    .nactions = sizeof org_actions / sizeof org_actions[0],
};
