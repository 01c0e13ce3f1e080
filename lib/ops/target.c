/* Targets: parsing, checking and expansion. See target.h. */
#include "ops/target.h"

#include "core/opts.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "db/db.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void target_clear(target *t)
{
    free_strs(t->account_ids, t->naccount_ids);
    free(t->ou);
    free_strs(t->regions, t->nregions);
    for (size_t i = 0; i < t->selector.ntags; i++) {
        free(t->selector.tags[i].key);
        free_strs(t->selector.tags[i].values, t->selector.tags[i].nvalues);
    }
    free(t->selector.tags);
    free(t->selector.state);
    free_strs(t->selector.ids, t->selector.nids);
    free(t->selector.name);
    memset(t, 0, sizeof *t);
}

/* Refuses keys of obj not in known (a NULL-terminated list), naming them. */
static bool only_known(const json_t *obj, const char *where, const char *const *known, err *e)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            strbuf sb = STRBUF_INIT;
            for (size_t i = 0; known[i]; i++)
                strbuf_printf(&sb, "%s%s", i ? ", " : "", known[i]);
            err_set(e, ERR_INVALID, "unknown field '%.64s' in %s (known: %s)", key, where,
                    strbuf_str(&sb));
            strbuf_free(&sb);
            return false;
        }
    }
    return true;
}

/* The JSON value quoted for a message (caller frees). */
static char *shown(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s && strlen(s) > 80)
        strcpy(s + 77, "...");
    return s ? s : xstrdup("?");
}

static bool printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* An array of 1..max strings, each accepted by ok, into the array *out of *n. */
static bool string_array(const json_t *a, const char *where, size_t max,
                         bool (*ok)(const char *s, const char *where, size_t i, err *e),
                         char ***out, size_t *n, err *e)
{
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > max) {
        char *s = shown(a);
        err_set(e, ERR_INVALID, "%s is %s: want an array of 1 to %zu strings", where, s, max);
        free(s);
        return false;
    }
    *out = xcalloc(json_array_size(a), sizeof **out);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_string(v)) {
            char *s = shown(v);
            err_set(e, ERR_INVALID, "%s[%zu] is %s: want a string", where, i, s);
            free(s);
            return false;
        }
        if (!ok(json_string_value(v), where, i, e))
            return false;
        (*out)[(*n)++] = xstrdup(json_string_value(v));
    }
    return true;
}

static bool account_ok(const char *s, const char *where, size_t i, err *e)
{
    if (strlen(s) == 12 && strspn(s, "0123456789") == 12)
        return true;
    return err_set(e, ERR_INVALID, "%s[%zu] is '%.64s': want a 12-digit AWS account id", where, i,
                   s);
}

static bool region_ok(const char *s, const char *where, size_t i, err *e)
{
    err re = {0};
    if (opts_check_region(s, &re))
        return true;
    return err_set(e, ERR_INVALID, "%s[%zu] is '%.64s': want a region code such as us-east-1",
                   where, i, s);
}

static bool id_ok(const char *s, const char *where, size_t i, err *e)
{
    size_t n = strlen(s);
    bool ok = n >= 3 && n <= 128;
    for (const char *p = s; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.' || *p == ':';
    return ok ? true
              : err_set(e, ERR_INVALID,
                        "%s[%zu] is '%.64s': want a resource id such as i-0123456789abcdef0", where,
                        i, s);
}

static bool value_ok(const char *s, const char *where, size_t i, err *e)
{
    if (strlen(s) <= 256)
        return true;
    return err_set(e, ERR_INVALID, "%s[%zu] is longer than 256 characters", where, i);
}

/* n (4..32) lower-case letters and digits at s. */
static bool ou_chars(const char *s, size_t n)
{
    if (n < 4 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
            return false;
    return true;
}

bool target_ou_id_ok(const char *id)
{
    if (strncmp(id, "r-", 2) == 0)
        return ou_chars(id + 2, strlen(id + 2));
    if (strncmp(id, "ou-", 3) != 0)
        return false;
    const char *dash = strchr(id + 3, '-');
    return dash && ou_chars(id + 3, (size_t)(dash - (id + 3))) && strlen(dash + 1) >= 8 &&
           ou_chars(dash + 1, strlen(dash + 1));
}

static bool parse_accounts(const json_t *a, target *t, err *e)
{
    if (json_is_string(a)) {
        if (strcmp(json_string_value(a), "all") == 0) {
            t->accounts = TARGET_ACCOUNTS_ALL;
            return true;
        }
        return err_set(e, ERR_INVALID,
                       "target.accounts is '%.64s': want \"all\", an array of account ids or "
                       "{\"ou\": \"ou-...\"}",
                       json_string_value(a));
    }
    if (json_is_object(a)) {
        static const char *const known[] = {"ou", NULL};
        if (!only_known(a, "target.accounts", known, e))
            return false;
        if (json_object_get(a, "ou") == NULL)
            return err_set(e, ERR_INVALID,
                           "target.accounts has no 'ou': want {\"ou\": \"ou-...\"} or "
                           "{\"ou\": \"r-...\"}");
        const char *ou = json_string_value(json_object_get(a, "ou"));
        if (ou == NULL || !target_ou_id_ok(ou)) {
            char *s = shown(json_object_get(a, "ou"));
            err_set(e, ERR_INVALID,
                    "target.accounts.ou is %s: want an organizational unit id "
                    "(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}, such as ou-ab12-cdef3456) or the root's "
                    "(r-[0-9a-z]{4,32})",
                    s);
            free(s);
            return false;
        }
        t->accounts = TARGET_ACCOUNTS_OU;
        t->ou = xstrdup(ou);
        return true;
    }
    t->accounts = TARGET_ACCOUNTS_LIST;
    return string_array(a, "target.accounts", TARGET_MAX_ACCOUNTS, account_ok, &t->account_ids,
                        &t->naccount_ids, e);
}

static bool parse_regions(const json_t *r, target *t, err *e)
{
    if (json_is_string(r)) {
        if (strcmp(json_string_value(r), "all") == 0) {
            t->all_regions = true;
            return true;
        }
        return err_set(e, ERR_INVALID,
                       "target.regions is '%.64s': want \"all\" or an array of region codes",
                       json_string_value(r));
    }
    return string_array(r, "target.regions", TARGET_MAX_REGIONS, region_ok, &t->regions,
                        &t->nregions, e);
}

static bool parse_tags(const json_t *tags, target_selector *s, err *e)
{
    if (!json_is_object(tags) || json_object_size(tags) == 0 ||
        json_object_size(tags) > TARGET_MAX_TAGS) {
        char *v = shown(tags);
        err_set(e, ERR_INVALID,
                "target.selector.tags is %s: want an object of 1 to %d tag keys, each with an "
                "array of values or null (key only)",
                v, TARGET_MAX_TAGS);
        free(v);
        return false;
    }
    s->tags = xcalloc(json_object_size(tags), sizeof *s->tags);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)tags, key, v)
    {
        if (!printable(key, 128))
            return err_set(e, ERR_INVALID,
                           "target.selector.tags has the key '%.64s': want 1 to 128 printable "
                           "characters",
                           key);
        target_tag *tag = &s->tags[s->ntags++];
        tag->key = xstrdup(key);
        if (json_is_null(v))
            continue;
        char where[200];
        snprintf(where, sizeof where, "target.selector.tags.%.64s", key);
        if (!string_array(v, where, TARGET_MAX_VALUES, value_ok, &tag->values, &tag->nvalues, e))
            return false;
    }
    return true;
}

static bool parse_selector(const json_t *sel, target_selector *s, err *e)
{
    if (!json_is_object(sel))
        return err_set(e, ERR_INVALID,
                       "target.selector must be an object with tags, state, ids or name");
    static const char *const known[] = {"tags", "state", "ids", "name", NULL};
    if (!only_known(sel, "target.selector", known, e))
        return false;
    if (json_object_size(sel) == 0)
        return err_set(e, ERR_INVALID,
                       "target.selector is empty: name at least one of tags, state, ids, name "
                       "(an empty selector would take every resource)");
    const json_t *tags = json_object_get(sel, "tags");
    if (tags && !parse_tags(tags, s, e))
        return false;
    const json_t *state = json_object_get(sel, "state");
    if (state) {
        const char *v = json_string_value(state);
        bool ok = v && strlen(v) >= 1 && strlen(v) <= 32;
        for (const char *p = v; ok && *p; p++)
            ok = islower((unsigned char)*p) || *p == '-';
        if (!ok) {
            char *sv = shown(state);
            err_set(e, ERR_INVALID,
                    "target.selector.state is %s: want a state name such as \"running\"", sv);
            free(sv);
            return false;
        }
        s->state = xstrdup(v);
    }
    const json_t *ids = json_object_get(sel, "ids");
    if (ids &&
        !string_array(ids, "target.selector.ids", TARGET_MAX_IDS, id_ok, &s->ids, &s->nids, e))
        return false;
    const json_t *name = json_object_get(sel, "name");
    if (name) {
        const char *v = json_string_value(name);
        if (v == NULL || !printable(v, 256)) {
            char *sv = shown(name);
            err_set(e, ERR_INVALID,
                    "target.selector.name is %s: want a Name tag pattern of 1 to 256 "
                    "characters (* and ? match any characters)",
                    sv);
            free(sv);
            return false;
        }
        s->name = xstrdup(v);
    }
    return true;
}

bool target_parse(const json_t *j, target *out, err *e)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(j))
        return err_set(e, ERR_INVALID,
                       "target must be an object with accounts, regions and selector");
    static const char *const known[] = {"accounts", "regions", "selector", NULL};
    bool ok = only_known(j, "target", known, e);
    static const char *const required[] = {"accounts", "regions", "selector"};
    for (size_t i = 0; ok && i < 3; i++)
        if (json_object_get(j, required[i]) == NULL)
            ok = err_set(e, ERR_INVALID, "target has no '%s'", required[i]);
    ok = ok && parse_accounts(json_object_get(j, "accounts"), out, e) &&
         parse_regions(json_object_get(j, "regions"), out, e) &&
         parse_selector(json_object_get(j, "selector"), &out->selector, e);
    if (!ok)
        target_clear(out);
    return ok;
}

/* ---- expansion ---- */

void target_plan_clear(target_plan *p)
{
    for (size_t i = 0; i < p->nitems; i++) {
        free(p->items[i].role_arn);
        free(p->items[i].readonly_role_arn);
        free(p->items[i].region);
    }
    free(p->items);
    for (size_t i = 0; i < p->nproblems; i++)
        free(p->problems[i].reason);
    free(p->problems);
    memset(p, 0, sizeof *p);
}

static void add_problem(target_plan *p, const char *account_id, char *reason)
{
    p->problems = xreallocarray(p->problems, p->nproblems + 1, sizeof *p->problems);
    target_problem *x = &p->problems[p->nproblems++];
    snprintf(x->account_id, sizeof x->account_id, "%s", account_id);
    x->reason = reason;
}

static void add_item(target_plan *p, PGresult *r, int row, const char *region)
{
    p->items = xreallocarray(p->items, p->nitems + 1, sizeof *p->items);
    target_item *it = &p->items[p->nitems++];
    memset(it, 0, sizeof *it);
    snprintf(it->account_row, sizeof it->account_row, "%s", PQgetvalue(r, row, 0));
    snprintf(it->account_id, sizeof it->account_id, "%s", PQgetvalue(r, row, 1));
    it->role_arn = xstrdup(PQgetvalue(r, row, 2));
    it->readonly_role_arn = PQgetisnull(r, row, 3) ? NULL : xstrdup(PQgetvalue(r, row, 3));
    it->region = xstrdup(region);
}

/* The items of row (an account that is verified) into p. */
static void expand_account(target_plan *p, const target *t, PGresult *r, int row)
{
    const char *id = PQgetvalue(r, row, 1);
    const char *status = PQgetvalue(r, row, 4);
    if (strcmp(status, "verified") != 0) {
        add_problem(p, id, xasprintf("account status is %s, not verified", status));
        return;
    }
    if (!t->all_regions) {
        for (size_t i = 0; i < t->nregions; i++)
            add_item(p, r, row, t->regions[i]);
        return;
    }
    json_t *regions = json_loads(PQgetvalue(r, row, 5), 0, NULL);
    if (json_array_size(regions) == 0)
        add_problem(p, id,
                    xstrdup("the account has no regions recorded, so \"all\" regions is none"));
    for (size_t i = 0; i < json_array_size(regions); i++) {
        const char *region = json_string_value(json_array_get(regions, i));
        if (region)
            add_item(p, r, row, region);
    }
    json_decref(regions);
}

/* The accounts whose recorded OU path (aws_accounts.ou_path, written by
 * org.discover) has t->ou anywhere on it, so nested OUs come along. Like
 * "all", only verified accounts are taken and the others are left out
 * silently (a disabled account is disabled on purpose); but when none of
 * the OU's accounts is verified, each is reported, so the run says why it
 * did nothing rather than succeeding empty. */
static bool expand_ou(PGconn *db, const char *tenant_id, const target *t, target_plan *out, err *e)
{
    const char *p[2] = {tenant_id, t->ou};
    PGresult *r = db_query(db,
                           "SELECT id, account_id, role_arn, readonly_role_arn, status,"
                           "       coalesce(array_to_json(regions), '[]')::text"
                           " FROM aws_accounts WHERE tenant_id = $1"
                           "   AND ou_path @> ARRAY[$2::text]"
                           " ORDER BY account_id",
                           2, p, e);
    if (r == NULL)
        return err_prefix(e, "expanding the target");
    int rows = PQntuples(r), verified = 0;
    for (int i = 0; i < rows; i++)
        verified += strcmp(PQgetvalue(r, i, 4), "verified") == 0;
    if (rows == 0) {
        PQclear(r);
        return err_set(e, ERR_INVALID,
                       "target.accounts.ou: no registered account is in OU %s (OU membership "
                       "comes from organization discovery; run one if the OU or its accounts "
                       "are new)",
                       t->ou);
    }
    for (int i = 0; i < rows; i++)
        if (verified == 0 || strcmp(PQgetvalue(r, i, 4), "verified") == 0)
            expand_account(out, t, r, i);
    PQclear(r);
    return true;
}

bool target_expand(PGconn *db, const char *tenant_id, const target *t, target_plan *out, err *e)
{
    memset(out, 0, sizeof *out);
    if (t->accounts == TARGET_ACCOUNTS_OU)
        return expand_ou(db, tenant_id, t, out, e);
    strbuf ids = STRBUF_INIT;
    strbuf_puts(&ids, "{");
    for (size_t i = 0; i < t->naccount_ids; i++)
        strbuf_printf(&ids, "%s%s", i ? "," : "", t->account_ids[i]);
    strbuf_puts(&ids, "}");
    const char *p[3] = {tenant_id, strbuf_str(&ids),
                        t->accounts == TARGET_ACCOUNTS_ALL ? "t" : "f"};
    PGresult *r = db_query(db,
                           "SELECT id, account_id, role_arn, readonly_role_arn, status,"
                           "       coalesce(array_to_json(regions), '[]')::text"
                           " FROM aws_accounts WHERE tenant_id = $1"
                           "   AND (account_id = ANY ($2::text[]) OR"
                           "        ($3::bool AND status = 'verified'))"
                           " ORDER BY account_id",
                           3, p, e);
    strbuf_free(&ids);
    if (r == NULL)
        return err_prefix(e, "expanding the target");
    int rows = PQntuples(r);
    if (t->accounts == TARGET_ACCOUNTS_ALL) {
        for (int i = 0; i < rows; i++)
            expand_account(out, t, r, i);
    } else {
        for (size_t k = 0; k < t->naccount_ids; k++) {
            bool dup = false;
            for (size_t j = 0; j < k && !dup; j++)
                dup = strcmp(t->account_ids[j], t->account_ids[k]) == 0;
            if (dup)
                continue;
            int row = -1;
            for (int i = 0; i < rows && row < 0; i++)
                if (strcmp(PQgetvalue(r, i, 1), t->account_ids[k]) == 0)
                    row = i;
            if (row < 0)
                add_problem(out, t->account_ids[k], xstrdup("not registered with this tenant"));
            else
                expand_account(out, t, r, row);
        }
    }
    PQclear(r);
    return true;
}
