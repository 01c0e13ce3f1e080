/* Policy documents: parsing into the checked form evaluation walks, and
 * the content-keyed cache of parses (see policy.h). */
#include "policy.h"
#include "policy_internal.h"

#include "core/xmalloc.h"

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const cond_op cond_ops[] = {
    {"StringEquals", CK_STRING, CMP_EQ, false},
    {"StringNotEquals", CK_STRING, CMP_EQ, true},
    {"StringEqualsIgnoreCase", CK_STRING_IC, CMP_EQ, false},
    {"StringNotEqualsIgnoreCase", CK_STRING_IC, CMP_EQ, true},
    {"StringLike", CK_LIKE, CMP_EQ, false},
    {"StringNotLike", CK_LIKE, CMP_EQ, true},
    {"NumericEquals", CK_NUMERIC, CMP_EQ, false},
    {"NumericNotEquals", CK_NUMERIC, CMP_EQ, true},
    {"NumericLessThan", CK_NUMERIC, CMP_LT, false},
    {"NumericLessThanEquals", CK_NUMERIC, CMP_LE, false},
    {"NumericGreaterThan", CK_NUMERIC, CMP_GT, false},
    {"NumericGreaterThanEquals", CK_NUMERIC, CMP_GE, false},
    {"DateEquals", CK_DATE, CMP_EQ, false},
    {"DateNotEquals", CK_DATE, CMP_EQ, true},
    {"DateLessThan", CK_DATE, CMP_LT, false},
    {"DateLessThanEquals", CK_DATE, CMP_LE, false},
    {"DateGreaterThan", CK_DATE, CMP_GT, false},
    {"DateGreaterThanEquals", CK_DATE, CMP_GE, false},
    {"Bool", CK_BOOL, CMP_EQ, false},
    {"ArnEquals", CK_ARN_EQ, CMP_EQ, false},
    {"ArnNotEquals", CK_ARN_EQ, CMP_EQ, true},
    {"ArnLike", CK_ARN_LIKE, CMP_EQ, false},
    {"ArnNotLike", CK_ARN_LIKE, CMP_EQ, true},
    {"IpAddress", CK_IP, CMP_EQ, false},
    {"NotIpAddress", CK_IP, CMP_EQ, true},
    {"Null", CK_NULL, CMP_EQ, false},
};
/* ---- small helpers ---- */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void ppolicy_free(ppolicy *pp)
{
    if (!pp)
        return;
    for (size_t i = 0; i < pp->n; i++) {
        pstmt *s = &pp->st[i];
        strv_free(s->actions, s->nactions);
        strv_free(s->resources, s->nresources);
        strv_free(s->principals, s->nprincipals);
        for (size_t j = 0; j < s->nconds; j++) {
            free(s->conds[j].key);
            strv_free(s->conds[j].vals, s->conds[j].nvals);
        }
        free(s->conds);
    }
    free(pp->st);
    free(pp);
}

static void lower_in_place(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* A scalar policy value as text: conditions compare strings, and AWS
 * accepts numbers and booleans unquoted. */
static char *scalar_text(const json_t *v)
{
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    if (json_is_real(v))
        return xasprintf("%.17g", json_real_value(v));
    if (json_is_true(v))
        return xstrdup("true");
    if (json_is_false(v))
        return xstrdup("false");
    return NULL;
}

/* A string or a non-empty array of strings (scalars when allow_scalars). */
static bool string_list(const json_t *v, bool allow_scalars, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (json_is_array(v)) {
        size_t len = json_array_size(v);
        if (len == 0)
            return false;
        char **items = xcalloc(len, sizeof *items);
        for (size_t i = 0; i < len; i++) {
            const json_t *it = json_array_get(v, i);
            items[i] = (json_is_string(it) || allow_scalars) ? scalar_text(it) : NULL;
            if (!items[i]) {
                strv_free(items, i);
                return false;
            }
        }
        *out = items;
        *n = len;
        return true;
    }
    char *one = (json_is_string(v) || allow_scalars) ? scalar_text(v) : NULL;
    if (!one)
        return false;
    *out = xmalloc(sizeof **out);
    (*out)[0] = one;
    *n = 1;
    return true;
}

static const cond_op *find_op(const char *name)
{
    for (size_t i = 0; i < sizeof cond_ops / sizeof cond_ops[0]; i++)
        if (strcmp(cond_ops[i].name, name) == 0)
            return &cond_ops[i];
    return NULL;
}

/* "ForAnyValue:StringLikeIfExists" -> op StringLike, SET_ANY, if_exists. */
static bool parse_op_name(const char *full, const cond_op **op, cond_set *set, bool *if_exists)
{
    *set = SET_PLAIN;
    if (strncmp(full, "ForAnyValue:", 12) == 0) {
        *set = SET_ANY;
        full += 12;
    } else if (strncmp(full, "ForAllValues:", 13) == 0) {
        *set = SET_ALL;
        full += 13;
    }
    char name[64];
    size_t len = strlen(full);
    if (len >= sizeof name)
        return false;
    memcpy(name, full, len + 1);
    *if_exists = false;
    if (len > 8 && strcmp(name + len - 8, "IfExists") == 0) {
        name[len - 8] = '\0';
        *if_exists = true;
    }
    *op = find_op(name);
    return *op && !(*if_exists && (*op)->kind == CK_NULL);
}

static bool parse_conditions(const json_t *cond, pstmt *s)
{
    if (!json_is_object(cond))
        return false;
    const char *opname;
    const json_t *keys;
    json_object_foreach((json_t *)cond, opname, keys)
    {
        const cond_op *op;
        cond_set set;
        bool if_exists;
        if (!parse_op_name(opname, &op, &set, &if_exists) || !json_is_object(keys))
            return false;
        const char *key;
        const json_t *vals;
        json_object_foreach((json_t *)keys, key, vals)
        {
            pcond c = {.op = op, .set = set, .if_exists = if_exists};
            if (!string_list(vals, true, &c.vals, &c.nvals))
                return false;
            c.key = xstrdup(key);
            s->conds = xreallocarray(s->conds, s->nconds + 1, sizeof *s->conds);
            s->conds[s->nconds++] = c;
        }
    }
    return true;
}

/* Principal: "*" or {"AWS": ..., "Service": ..., "Federated": ...}. Only
 * AWS principals can match a signed sandbox caller; the others are kept
 * with a type prefix so they are never mistaken for one. */
static bool parse_principal(const json_t *v, pstmt *s)
{
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0)
            return false;
        s->principals = xmalloc(sizeof *s->principals);
        s->principals[0] = xstrdup("*");
        s->nprincipals = 1;
        return true;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return false;
    const char *type;
    const json_t *vals;
    json_object_foreach((json_t *)v, type, vals)
    {
        bool aws = strcmp(type, "AWS") == 0;
        if (!aws && strcmp(type, "Service") != 0 && strcmp(type, "Federated") != 0 &&
            strcmp(type, "CanonicalUser") != 0)
            return false;
        char **items;
        size_t n;
        if (!string_list(vals, false, &items, &n))
            return false;
        s->principals = xreallocarray(s->principals, s->nprincipals + n, sizeof *s->principals);
        for (size_t i = 0; i < n; i++) {
            if (aws) {
                s->principals[s->nprincipals++] = items[i];
            } else {
                s->principals[s->nprincipals++] = xasprintf("%s:%s", type, items[i]);
                free(items[i]);
            }
        }
        free(items);
    }
    return true;
}

static bool parse_statement(const json_t *js, pstmt *s)
{
    if (!json_is_object(js))
        return false;
    const char *key;
    const json_t *v;
    bool effect = false, action = false;
    json_object_foreach((json_t *)js, key, v)
    {
        bool ok = true;
        if (strcmp(key, "Sid") == 0) {
            ok = json_is_string(v);
        } else if (strcmp(key, "Effect") == 0) {
            const char *ef = json_string_value(v);
            ok = ef && (strcmp(ef, "Allow") == 0 || strcmp(ef, "Deny") == 0);
            s->deny = ok && strcmp(ef, "Deny") == 0;
            effect = true;
        } else if (strcmp(key, "Action") == 0 || strcmp(key, "NotAction") == 0) {
            ok = !action && string_list(v, false, &s->actions, &s->nactions);
            s->not_action = key[0] == 'N';
            for (size_t i = 0; ok && i < s->nactions; i++)
                lower_in_place(s->actions[i]);
            action = true;
        } else if (strcmp(key, "Resource") == 0 || strcmp(key, "NotResource") == 0) {
            ok = !s->has_resource && string_list(v, false, &s->resources, &s->nresources);
            s->not_resource = key[0] == 'N';
            s->has_resource = true;
        } else if (strcmp(key, "Principal") == 0 || strcmp(key, "NotPrincipal") == 0) {
            ok = !s->has_principal && parse_principal(v, s);
            s->not_principal = key[0] == 'N';
            s->has_principal = true;
        } else if (strcmp(key, "Condition") == 0) {
            ok = parse_conditions(v, s);
        } else {
            ok = false;
        }
        if (!ok)
            return false;
    }
    return effect && action;
}

static ppolicy *parse_policy(const char *text, err *e)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        err_set(e, ERR_PARSE, "The policy is not in the valid JSON format.");
        return NULL;
    }
    ppolicy *pp = xcalloc(1, sizeof *pp);
    bool ok = true, have_statement = false;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "Version") == 0) {
            const char *ver = json_string_value(v);
            ok = ver && (strcmp(ver, "2012-10-17") == 0 || strcmp(ver, "2008-10-17") == 0);
            pp->vars = ok && strcmp(ver, "2012-10-17") == 0;
        } else if (strcmp(key, "Id") == 0) {
            ok = json_is_string(v);
        } else if (strcmp(key, "Statement") == 0) {
            have_statement = true;
            size_t n = json_is_array(v) ? json_array_size(v) : 1;
            ok = json_is_array(v) || json_is_object(v);
            pp->st = xcalloc(n ? n : 1, sizeof *pp->st);
            for (size_t i = 0; ok && i < n; i++) {
                ok = parse_statement(json_is_array(v) ? json_array_get(v, i) : v, &pp->st[i]);
                pp->n = i + 1;
            }
        } else {
            ok = false;
        }
        if (!ok)
            break;
    }
    json_decref(root);
    if (!ok || !have_statement) {
        ppolicy_free(pp);
        err_set(e, ERR_PARSE, "Syntax errors in policy.");
        return NULL;
    }
    return pp;
}

/* ---- cache ---- */

typedef struct centry {
    struct centry *next;
    uint64_t hash;
    size_t len;
    char *text;
    ppolicy *pp; /* NULL when the text does not parse */
    char *error; /* the parse error then */
} centry;

#define CACHE_BUCKETS 1024

static centry *cache[CACHE_BUCKETS];
static size_t cache_count;

static uint64_t fnv1a(const char *s, size_t *len)
{
    uint64_t h = 1469598103934665603ULL;
    const char *p = s;
    for (; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    *len = (size_t)(p - s);
    return h;
}

void policy_cache_clear(void)
{
    for (size_t i = 0; i < CACHE_BUCKETS; i++) {
        centry *c = cache[i];
        while (c) {
            centry *next = c->next;
            ppolicy_free(c->pp);
            free(c->text);
            free(c->error);
            free(c);
            c = next;
        }
        cache[i] = NULL;
    }
    cache_count = 0;
}

size_t policy_cache_size(void)
{
    return cache_count;
}

void policy_cache_trim(void)
{
    if (cache_count >= POLICY_CACHE_MAX)
        policy_cache_clear();
}

static const centry *cache_get(const char *text)
{
    size_t len;
    uint64_t h = fnv1a(text, &len);
    centry **slot = &cache[h % CACHE_BUCKETS];
    for (centry *c = *slot; c; c = c->next)
        if (c->hash == h && c->len == len && memcmp(c->text, text, len) == 0)
            return c;
    centry *c = xcalloc(1, sizeof *c);
    c->hash = h;
    c->len = len;
    c->text = xmemdup(text, len);
    err e;
    err_clear(&e);
    c->pp = parse_policy(text, &e);
    if (!c->pp)
        c->error = xstrdup(e.message);
    c->next = *slot;
    *slot = c;
    cache_count++;
    return c;
}

const ppolicy *policy_cache_get(const char *text, const char **error)
{
    const centry *c = cache_get(text);
    if (error)
        *error = c->error;
    return c->pp;
}
