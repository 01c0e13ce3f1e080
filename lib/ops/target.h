/* What an operation runs on: accounts, regions and a selector of resources,
 * as the JSON a schedule or a job carries:
 *
 *   {"accounts": ["123456789012", ...] | "all" | {"ou": "ou-ab12-cdef3456"},
 *    "regions": ["us-east-1", ...] | "all",
 *    "selector": {"tags": {"env": ["dev"], "team": null}, "state": "running",
 *                 "ids": ["i-0123..."], "name": "web-*"}}
 *
 * A tag with values matches any of them; a tag with null matches any value
 * (the key only). Every criterion of the selector must hold. The selector
 * must name at least one criterion: an empty one would act on every
 * resource of every account, which nobody means by leaving it out.
 *
 * Expansion turns a target into account x region work items from the
 * tenant's aws_accounts: "all" accounts = the tenant's verified accounts;
 * {"ou": id} = the tenant's verified accounts whose ou_path (recorded by
 * org.discover) contains id, nested OUs included ("r-..." is the root:
 * every discovered account); "all" regions = each account's regions
 * column. Accounts named but not registered, not verified or without
 * regions are reported, not dropped. */
#ifndef ESCHER_OPS_TARGET_H
#define ESCHER_OPS_TARGET_H

#include "core/err.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define TARGET_MAX_ACCOUNTS 1000
#define TARGET_MAX_REGIONS  50
#define TARGET_MAX_TAGS     20
#define TARGET_MAX_VALUES   50
#define TARGET_MAX_IDS      1000

typedef enum target_accounts {
    TARGET_ACCOUNTS_LIST, /* the ids in accounts */
    TARGET_ACCOUNTS_ALL,  /* every verified account of the tenant */
    TARGET_ACCOUNTS_OU,   /* the accounts under an organizational unit */
} target_accounts;

typedef struct target_tag {
    char *key;
    char **values; /* NULL with nvalues 0: the key alone */
    size_t nvalues;
} target_tag;

typedef struct target_selector {
    target_tag *tags;
    size_t ntags;
    char *state; /* NULL: any */
    char **ids;
    size_t nids;
    char *name; /* glob on the Name tag (* and ?), NULL: any */
} target_selector;

typedef struct target {
    target_accounts accounts;
    char **account_ids; /* TARGET_ACCOUNTS_LIST */
    size_t naccount_ids;
    char *ou; /* TARGET_ACCOUNTS_OU */
    bool all_regions;
    char **regions;
    size_t nregions;
    target_selector selector;
} target;

/* Parses and checks j into *out (free with target_clear; zeroed on
 * failure). Errors name the field and the value: "target.regions[1] is
 * 'us-east-9x': ...", "unknown field 'acounts' in target (known: accounts,
 * regions, selector)". */
bool target_parse(const json_t *j, target *out, err *e);

/* Is id an OU id as Organizations writes it (ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})
 * or a root's (r-[0-9a-z]{4,32})? */
bool target_ou_id_ok(const char *id);

void target_clear(target *t);

/* One account x region to run in. */
typedef struct target_item {
    char account_id[13];  /* 12 digits */
    char account_row[37]; /* aws_accounts.id */
    char *role_arn;
    char *readonly_role_arn; /* NULL: none */
    char *region;
} target_item;

/* An account of the target that yields no work item, and why. */
typedef struct target_problem {
    char account_id[13];
    char *reason; /* "not registered", "status failed (not verified)", ... */
} target_problem;

typedef struct target_plan {
    target_item *items;
    size_t nitems;
    target_problem *problems;
    size_t nproblems;
} target_plan;

/* Expands t for tenant_id with db (any role that can read the tenant's
 * aws_accounts; the worker's sees every tenant, so the tenant is in every
 * WHERE). Accounts in list order (else by account id), regions in the
 * target's order (else the account's). TARGET_ACCOUNTS_OU fails with
 * ERR_INVALID "no registered account is in OU ..." when the tenant has no
 * account recorded under it. */
bool target_expand(PGconn *db, const char *tenant_id, const target *t, target_plan *out, err *e);

void target_plan_clear(target_plan *p);

#endif
