/* The job-kind table. See job_kinds.h. */
#include "job_kinds.h"

#include "job_discover.h"
#include "job_notify.h"
#include "job_ops.h"
#include "job_verify.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Verifying a role needs nothing but to ask who the session is. */
static const char *const verify_actions[] = {"sts:GetCallerIdentity"};
/* Discovery reads the member list in the management account, then walks
 * the OU tree from the root to record where each member sits (OU targets).
 * Sorted, as the broker writes a session policy's actions, so the policy
 * equals the scope. */
static const char *const list_actions[] = {
    "organizations:ListAccounts", "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent", "organizations:ListRoots"};

static const job_scope verify_scopes[] = {
    {"verify", verify_actions, COUNT(verify_actions)},
};
static const job_scope discover_scopes[] = {
    {"list", list_actions, COUNT(list_actions)},
    {"verify", verify_actions, COUNT(verify_actions)},
};

static const job_kind kinds[] = {
    {"account.verify",
     "assume the account's roles with the tenant's ExternalId and check who they are",
     verify_scopes, COUNT(verify_scopes), job_verify_start, job_verify_free},
    {"org.discover",
     "list an organization's accounts from its management account, register and verify each "
     "active member",
     discover_scopes, COUNT(discover_scopes), job_discover_start, job_discover_free},
    /* No scope of its own: each run's one session policy is its operation's
     * actions from the catalog (lib/ops), read at run time. */
    {"ops.run",
     "run an operation of the catalog (lib/ops) on a target's accounts, regions and resources, "
     "or plan it (dry run)",
     NULL, 0, job_ops_start, job_ops_free},
    /* No AWS at all: it assumes no role. */
    {"notify.deliver",
     "tell a notification channel (Slack, signed webhook, SMTP e-mail) how an operation run "
     "ended",
     NULL, 0, job_notify_start, job_notify_free},
};

const job_kind *job_kinds(size_t *n)
{
    *n = COUNT(kinds);
    return kinds;
}

const job_kind *job_kind_find(const char *name)
{
    for (size_t i = 0; name && i < COUNT(kinds); i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

const job_scope *job_kind_scope(const job_kind *k, const char *name)
{
    for (size_t i = 0; i < k->nscopes; i++)
        if (strcmp(k->scopes[i].name, name) == 0)
            return &k->scopes[i];
    fprintf(stderr, "escher-worker: bug: job kind %s declares no scope '%s'\n", k->name, name);
    abort();
}

void job_kinds_print(FILE *out)
{
    json_t *all = json_object();
    for (size_t i = 0; i < COUNT(kinds); i++) {
        json_t *scopes = json_object();
        for (size_t s = 0; s < kinds[i].nscopes; s++) {
            json_t *actions = json_array();
            for (size_t a = 0; a < kinds[i].scopes[s].nactions; a++)
                json_array_append_new(actions, json_string(kinds[i].scopes[s].actions[a]));
            json_object_set_new(scopes, kinds[i].scopes[s].name, actions);
        }
        json_object_set_new(all, kinds[i].name,
                            json_pack("{s:s, s:o}", "summary", kinds[i].summary, "scopes", scopes));
    }
    json_dumpf(all, out, JSON_COMPACT | JSON_SORT_KEYS);
    fputc('\n', out);
    json_decref(all);
}
