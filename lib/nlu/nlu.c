/* The intent engine's parser: mood, verb, the facts of a sentence and the
 * plan they make. See nlu.h and docs/nlu.md; the vocabulary is nlu_words.c. */
#include "nlu/nlu.h"

#include "core/xmalloc.h"
#include "nlu/nlu_lex.h"
#include "nlu/nlu_region.h"
#include "nlu/nlu_time.h"
#include "nlu/nlu_words.h"
#include "ops/ops_catalog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nlu_plan {
    json_t *json;
    bool question; /* the sentence's mood (parse) */
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct facts {
    unsigned resources; /* bit per resource */
    resource first_resource;
    json_t *regions; /* array of codes */
    bool all_regions;
    json_t *accounts; /* array of 12-digit ids */
    int state;        /* index into states' values, 0 none */
    json_t *tags;     /* selector tags {"k": ["v", ...] | null} */
    json_t *set_tags; /* tags.apply params */
    char *name;
    char *type;
    char *to_type;
    json_t *ids;
    int older_days; /* -1 none */
    bool count;
    bool two_names;        /* "stop web-01 and web-02": one name pattern only */
    bool pronoun;          /* "them", "those": ids came from the context's recent ones */
    resource recent_first; /* the first recent id's type: what "them" are unless named */
    size_t verb_end;       /* the word after the verb (0: no verb) */
} facts;

static bool is_in(const char *const *list, size_t n, const char *w)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], w) == 0)
            return true;
    return false;
}

/* Does the phrase p start at word i of t (unused words only)? Returns the
 * words it takes. */
static size_t phrase_at(const nlu_tokens *t, size_t i, const char *p)
{
    size_t k = 0;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i + k >= t->n || t->used[i + k] || strlen(t->w[i + k]) != len ||
            strncmp(t->w[i + k], p, len) != 0)
            return 0;
        k++;
        p += len;
        if (*p)
            p++;
    }
    return k;
}

static int phrase_find(const nlu_tokens *t, size_t i, const phrase *list, size_t n, size_t *used)
{
    size_t best = 0;
    int value = 0;
    for (size_t p = 0; p < n; p++) {
        size_t k = phrase_at(t, i, list[p].words);
        if (k > best) {
            best = k;
            value = list[p].value;
        }
    }
    *used = best;
    return value;
}

static void mark(nlu_tokens *t, size_t i, size_t k)
{
    for (size_t j = 0; j < k; j++)
        t->used[i + j] = true;
}

static bool word_is(const nlu_tokens *t, size_t i, const char *w)
{
    return i < t->n && strcmp(t->w[i], w) == 0;
}

/* [a-z][a-z0-9-]*[0-9][a-z0-9-]*\.[a-z0-9]+, the catalog's pattern. */
static bool is_instance_type(const char *w)
{
    const char *dot = strchr(w, '.');
    if (!dot || dot == w || !islower((unsigned char)w[0]) || !dot[1])
        return false;
    bool digit = false;
    for (const char *p = w + 1; p < dot; p++) {
        if (isdigit((unsigned char)*p))
            digit = true;
        else if (!islower((unsigned char)*p) && *p != '-')
            return false;
    }
    for (const char *p = dot + 1; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p))
            return false;
    return digit;
}

/* i-0abc..., vol-..., snap-..., sg-..., eipalloc-..., db names are not ids. */
static resource id_resource(const char *w)
{
    static const struct {
        const char *prefix;
        resource r;
    } prefixes[] = {{"i-", R_INSTANCES},
                    {"vol-", R_VOLUMES},
                    {"snap-", R_SNAPSHOTS},
                    {"sg-", R_SECURITY_GROUPS},
                    {"eipalloc-", R_ELASTIC_IPS}};
    for (size_t p = 0; p < COUNT(prefixes); p++) {
        size_t len = strlen(prefixes[p].prefix);
        if (strncmp(w, prefixes[p].prefix, len) != 0)
            continue;
        size_t hex = strlen(w + len);
        if (hex < 8 || hex > 17)
            return R_NONE;
        for (const char *c = w + len; *c; c++)
            if (!isxdigit((unsigned char)*c))
                return R_NONE;
        return prefixes[p].r;
    }
    return R_NONE;
}

/* web-01, api_2: letters with digits or hyphens, not a word the engine
 * knows, not a type, an id or a time. */
static bool bare_name(const char *w)
{
    bool letter = false, mark_char = false;
    for (const char *c = w; *c; c++) {
        if (islower((unsigned char)*c))
            letter = true;
        else if (isdigit((unsigned char)*c) || *c == '-' || *c == '_')
            mark_char = true;
        else
            return false;
    }
    if (!letter || !mark_char || nlu_lex_known(w) || id_resource(w))
        return false;
    size_t len = strlen(w);
    return !(len > 2 && (strcmp(w + len - 2, "am") == 0 || strcmp(w + len - 2, "pm") == 0) &&
             isdigit((unsigned char)w[0]));
}

static bool is_account_id(const char *w)
{
    if (strlen(w) != 12)
        return false;
    for (const char *c = w; *c; c++)
        if (!isdigit((unsigned char)*c))
            return false;
    return true;
}

static void add_unique(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (strcmp(json_string_value(v), s) == 0) return;
    json_array_append_new(arr, json_string(s));
}

static void add_tag(json_t *tags, const char *key, const char *value)
{
    json_t *vals = json_object_get(tags, key);
    if (!value) {
        if (!vals)
            json_object_set_new(tags, key, json_null());
        return;
    }
    if (!vals || json_is_null(vals)) {
        vals = json_array();
        json_object_set_new(tags, key, vals);
    }
    add_unique(vals, value);
}

/* "N days|weeks|months" at word i, or "a week"/"a month": days, -1 if not. */
static int age_at(const nlu_tokens *t, size_t i, size_t *used)
{
    if (i + 1 >= t->n)
        return -1;
    const char *num = t->w[i], *unit = t->w[i + 1];
    long n = 0;
    if (strcmp(num, "a") == 0 || strcmp(num, "one") == 0 || strcmp(num, "1") == 0) {
        n = 1;
    } else {
        for (const char *c = num; *c; c++)
            if (!isdigit((unsigned char)*c))
                return -1;
        if (strlen(num) > 4)
            return -1;
        n = atol(num);
    }
    *used = 2;
    if (strcmp(unit, "day") == 0 || strcmp(unit, "days") == 0)
        return (int)n;
    if (strcmp(unit, "week") == 0 || strcmp(unit, "weeks") == 0)
        return (int)n * 7;
    if (strcmp(unit, "month") == 0 || strcmp(unit, "months") == 0)
        return (int)n * 30;
    if (strcmp(unit, "year") == 0 || strcmp(unit, "years") == 0)
        return (int)n * 365;
    return -1;
}

static const char *const pronouns[] = {"them", "those", "these", "it", "they"};

/* "them": the context's recent ids, each counted for its resource type. */
static void add_recent(const nlu_context *ctx, facts *f)
{
    for (size_t j = 0; j < ctx->nrecent; j++) {
        resource r = ctx->recent_ids[j] ? id_resource(ctx->recent_ids[j]) : R_NONE;
        if (!r)
            continue;
        add_unique(f->ids, ctx->recent_ids[j]);
        if (!f->recent_first)
            f->recent_first = r;
    }
    f->pronoun = true;
}

static void collect(nlu_tokens *t, size_t from, const nlu_context *ctx, verb v, facts *f)
{
    const char *env_tag = ctx && ctx->env_tag ? ctx->env_tag : "env";
    for (size_t i = from; i < t->n; i++) {
        if (t->used[i])
            continue;
        const char *w = t->w[i];
        size_t k = 0;
        if (ctx && ctx->nrecent && !f->pronoun && is_in(pronouns, COUNT(pronouns), w)) {
            add_recent(ctx, f);
            mark(t, i, 1);
            continue;
        }
        /* Regions first: "us east 1" must not lose "east" to anything else. */
        const char *region = nlu_region_match(t->w, t->n, i, &k);
        if (region && k > 0) {
            bool free_words = true;
            for (size_t j = 0; j < k; j++)
                free_words = free_words && !t->used[i + j];
            if (free_words) {
                add_unique(f->regions, region);
                mark(t, i, k);
                i += k - 1;
                continue;
            }
        }
        if ((strcmp(w, "all") == 0 || strcmp(w, "every") == 0 || strcmp(w, "any") == 0) &&
            (word_is(t, i + 1, "regions") || word_is(t, i + 1, "region"))) {
            f->all_regions = true;
            mark(t, i, 2);
            i++;
            continue;
        }
        if (strcmp(w, "everywhere") == 0) {
            f->all_regions = true;
            mark(t, i, 1);
            continue;
        }
        int r = phrase_find(t, i, nlu_resources, nlu_nresources, &k);
        if (k > 0) {
            if (!f->first_resource)
                f->first_resource = (resource)r;
            f->resources |= 1u << r;
            mark(t, i, k);
            i += k - 1;
            continue;
        }
        if (strcmp(w, "not") == 0 && word_is(t, i + 1, "in") && word_is(t, i + 2, "use")) {
            f->state = 6;
            mark(t, i, 3);
            i += 2;
            continue;
        }
        if ((strcmp(w, "not") == 0 || strcmp(w, "isn't") == 0 || strcmp(w, "aren't") == 0) &&
            (word_is(t, i + 1, "attached") || word_is(t, i + 1, "in-use"))) {
            f->state = 6; /* not attached = unattached */
            mark(t, i, 2);
            i++;
            continue;
        }
        int s = phrase_find(t, i, nlu_states, nlu_nstates, &k);
        if (k > 0) {
            f->state = s;
            mark(t, i, k);
            continue;
        }
        bool env = false;
        for (size_t e = 0; e < nlu_nenvs; e++)
            if (strcmp(w, nlu_envs[e].word) == 0) {
                add_tag(f->tags, env_tag, nlu_envs[e].value);
                env = true;
            }
        if (env) {
            mark(t, i, 1);
            continue;
        }
        if ((strcmp(w, "how") == 0 && word_is(t, i + 1, "many")) ||
            (strcmp(w, "number") == 0 && word_is(t, i + 1, "of"))) {
            f->count = true;
            mark(t, i, 2);
            i++;
            continue;
        }
        if (strcmp(w, "count") == 0) {
            f->count = true;
            mark(t, i, 1);
            continue;
        }
        if (strcmp(w, "older") == 0 && word_is(t, i + 1, "than")) {
            int d = age_at(t, i + 2, &k);
            if (d >= 0) {
                f->older_days = d;
                mark(t, i, 2 + k);
                i += 1 + k;
                continue;
            }
        }
        int d = age_at(t, i, &k);
        if (d >= 0 && word_is(t, i + k, "old")) {
            f->older_days = d;
            mark(t, i, k + 1);
            if (i > 0 && (word_is(t, i - 1, "than") || word_is(t, i - 1, "over"))) {
                t->used[i - 1] = true;
                if (i > 1 && word_is(t, i - 2, "more"))
                    t->used[i - 2] = true;
            }
            i += k;
            continue;
        }
        const char *eq = strchr(w, '=');
        if (eq && eq != w && eq[1]) {
            char *key = xstrndup(w, (size_t)(eq - w));
            bool selector = v != V_TAG ||
                            (i > 0 && (word_is(t, i - 1, "tagged") || word_is(t, i - 1, "where") ||
                                       word_is(t, i - 1, "having")));
            if (selector)
                add_tag(f->tags, key, eq + 1);
            else
                json_object_set_new(f->set_tags, key, json_string(eq + 1));
            free(key);
            mark(t, i, 1);
            continue;
        }
        if ((strcmp(w, "tagged") == 0 || strcmp(w, "tag") == 0) && i + 1 < t->n &&
            !t->used[i + 1] && !strchr(t->w[i + 1], '=') && nlu_lex_known(t->w[i + 1]) == false &&
            !is_in(nlu_question_words, nlu_nquestion_words, t->w[i + 1])) {
            /* "tagged owner": the key alone. */
            if (strcmp(w, "tagged") == 0) {
                add_tag(f->tags, t->w[i + 1], NULL);
                mark(t, i, 2);
                i++;
                continue;
            }
        }
        if ((strcmp(w, "named") == 0 || strcmp(w, "called") == 0 || strcmp(w, "name") == 0) &&
            i + 1 < t->n) {
            size_t j = i + 1;
            if (word_is(t, j, "like") || word_is(t, j, "is") || word_is(t, j, "matching"))
                j++;
            if (j < t->n) {
                free(f->name);
                f->name = xstrdup(t->w[j]);
                mark(t, i, j - i + 1);
                i = j;
                continue;
            }
        }
        if (v != V_NONE && f->name && bare_name(w) && word_is(t, i - 1, "and")) {
            f->two_names = true;
            mark(t, i, 1);
            continue;
        }
        if (v != V_NONE && v != V_TERMINATE && !f->name && bare_name(w) && i > 0 &&
            (i == f->verb_end || word_is(t, i - 1, "the") || word_is(t, i - 1, "instance") ||
             word_is(t, i - 1, "server") || word_is(t, i - 1, "host"))) {
            /* "reboot web-01": a word like a host name right after the verb. */
            f->name = xstrdup(w);
            mark(t, i, 1);
            continue;
        }
        if (strchr(w, '*') && !f->name) {
            f->name = xstrdup(w);
            mark(t, i, 1);
            continue;
        }
        if (is_instance_type(w)) {
            bool to = i > 0 && (word_is(t, i - 1, "to") || word_is(t, i - 1, "into"));
            if (to && v == V_RESIZE) {
                free(f->to_type);
                f->to_type = xstrdup(w);
                t->used[i - 1] = true;
            } else {
                free(f->type);
                f->type = xstrdup(w);
            }
            mark(t, i, 1);
            continue;
        }
        resource idr = id_resource(w);
        if (idr) {
            add_unique(f->ids, w);
            f->resources |= 1u << idr;
            if (!f->first_resource)
                f->first_resource = idr;
            mark(t, i, 1);
            continue;
        }
        if (is_account_id(w)) {
            add_unique(f->accounts, w);
            mark(t, i, 1);
            continue;
        }
    }
}

static void facts_clear(facts *f)
{
    json_decref(f->regions);
    json_decref(f->accounts);
    json_decref(f->tags);
    json_decref(f->set_tags);
    json_decref(f->ids);
    free(f->name);
    free(f->type);
    free(f->to_type);
}

static const char *state_name(int s, resource r)
{
    switch (s) {
    case 1:
        return "running";
    case 2:
        return "stopped";
    case 3:
        return "pending";
    case 4:
        return "stopping";
    case 5:
        return "terminated";
    case 6:
        return "available"; /* an EBS volume attached to nothing */
    case 7:
        return "available";
    case 8:
        return r == R_VOLUMES ? "in-use" : "attached";
    default:
        return NULL;
    }
}

/* "stop instances, env=dev, in eu-west-1": what was understood, for a
 * clarify plan. */
static char *describe(verb v, resource r, const facts *f)
{
    char buf[512];
    size_t off = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (off < sizeof(buf))                                                                     \
            off += (size_t)snprintf(buf + off, sizeof(buf) - off, __VA_ARGS__);                    \
    } while (0)
    if (v)
        PUT("%s", nlu_verb_names[v]);
    if (r)
        PUT("%s%s", off ? " " : "", nlu_resource_names[r]);
    const char *st = state_name(f->state, r);
    if (st)
        PUT("%sstate %s", off ? ", " : "", st);
    const char *key;
    json_t *vals;
    json_object_foreach(f->tags, key, vals)
    {
        PUT("%stag %s", off ? ", " : "", key);
        if (json_is_array(vals)) {
            size_t i;
            json_t *x;
            json_array_foreach(vals, i, x) PUT("%s%s", i ? "|" : "=", json_string_value(x));
        }
    }
    if (f->name)
        PUT("%sname %s", off ? ", " : "", f->name);
    if (f->type)
        PUT("%stype %s", off ? ", " : "", f->type);
    if (json_array_size(f->regions) > 0) {
        size_t i;
        json_t *x;
        PUT("%sin", off ? ", " : "");
        json_array_foreach(f->regions, i, x) PUT("%s%s", i ? ", " : " ", json_string_value(x));
    }
#undef PUT
    return xstrdup(off ? buf : "nothing I could act on");
}

static json_t *clarify(verb v, resource r, const facts *f, const char *missing)
{
    char *u = describe(v, r, f);
    json_t *j =
        json_pack("{s:s, s:s, s:s}", "kind", "clarify", "understood", u, "missing", missing);
    free(u);
    return j;
}

/* The ids of f of resource type r: with a pronoun the recent ids may mix
 * instances and volumes, and an operation acts on one type. New reference. */
static json_t *same_kind(const facts *f, resource r)
{
    if (!f->pronoun)
        return json_incref(f->ids);
    json_t *out = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(f->ids, i, id) if (id_resource(json_string_value(id)) == r)
        json_array_append(out, id);
    return out;
}

/* Where "them" are: the context's recent regions when the sentence used a
 * pronoun and named none. New reference or NULL. */
static json_t *recent_regions(const facts *f, const nlu_context *ctx)
{
    if (!f->pronoun || !ctx || ctx->nrecent_regions == 0)
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < ctx->nrecent_regions; i++)
        if (ctx->recent_regions[i] && ctx->recent_regions[i][0])
            add_unique(out, ctx->recent_regions[i]);
    if (json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static json_t *query_plan(resource r, const facts *f, const nlu_context *ctx)
{
    json_t *filters = json_object();
    json_t *where = recent_regions(f, ctx);
    if (json_array_size(f->regions) > 0)
        json_object_set(filters, "regions", f->regions);
    else if (f->all_regions)
        json_object_set_new(filters, "regions", json_string("all"));
    else if (where)
        json_object_set(filters, "regions", where);
    json_decref(where);
    if (json_array_size(f->accounts) > 0)
        json_object_set(filters, "accounts", f->accounts);
    const char *st = state_name(f->state, r);
    if (st)
        json_object_set_new(filters, "state", json_string(st));
    if (json_object_size(f->tags) > 0)
        json_object_set(filters, "tags", f->tags);
    if (f->name)
        json_object_set_new(filters, "name", json_string(f->name));
    if (f->type)
        json_object_set_new(filters, "type", json_string(f->type));
    json_t *ids = same_kind(f, r);
    if (json_array_size(ids) > 0)
        json_object_set(filters, "ids", ids);
    json_decref(ids);
    if (f->older_days >= 0)
        json_object_set_new(filters, "older_than_days", json_integer(f->older_days));
    return json_pack("{s:s, s:s, s:s, s:o}", "kind", "query", "resource", nlu_resource_names[r],
                     "action", f->count ? "count" : "list", "filters", filters);
}

/* The resource a sentence speaks of: instances win when a snapshot names
 * both ("snapshot the volumes of the prod instances"). */
static resource pick_resource(const facts *f, verb v)
{
    if (f->resources == 0)
        return f->pronoun ? f->recent_first : R_NONE;
    if (v == V_SNAPSHOT && (f->resources & (1u << R_INSTANCES)))
        return R_INSTANCES;
    if (v == V_SNAPSHOT && (f->resources & (1u << R_DATABASES)))
        return R_DATABASES;
    if (v != V_NONE && (f->resources & (1u << R_SNAPSHOTS)) && f->first_resource == R_SNAPSHOTS) {
        /* "delete snapshots": the noun, not the verb. */
        return R_SNAPSHOTS;
    }
    return f->first_resource;
}

static json_t *operation_plan(verb v, const facts *f, const nlu_when *when, const nlu_context *ctx,
                              resource r)
{
    if (v == V_TERMINATE)
        return clarify(v, r, f,
                       "terminating is not an operation Escher offers (it can start, stop, reboot, "
                       "resize, snapshot and tag instances, and delete unattached volumes)");
    if (r == R_NONE)
        r = v == V_DELETE ? R_NONE : R_INSTANCES;
    if (r == R_NONE)
        return clarify(v, r, f, "what to delete (Escher deletes only unattached EBS volumes)");
    const op_entry *op = NULL;
    for (size_t i = 0; i < nlu_nops; i++)
        if (nlu_ops[i].v == v && nlu_ops[i].r == r)
            op = &nlu_ops[i];
    if (!op) {
        char msg[160];
        snprintf(msg, sizeof(msg), "an operation that can %s %s (not in the catalog)",
                 nlu_verb_names[v], nlu_resource_names[r]);
        return clarify(v, r, f, msg);
    }
    const ops_op *cat = ops_find(op->operation);
    const char *risk = cat ? ops_risk_name(cat->risk) : "unknown";
    if (v == V_DELETE && f->state != 6 && f->state != 7)
        return clarify(v, r, f,
                       "which volumes: Escher deletes only unattached volumes (say 'unattached')");
    if (f->two_names)
        return clarify(v, r, f, "one name pattern (e.g. 'web-*') or the instance ids");
    if (f->type)
        return clarify(v, r, f,
                       "which instances by tag, name or id (an operation cannot select by type)");
    if (f->older_days >= 0 && v != V_DELETE)
        return clarify(v, r, f,
                       "which resources by tag, name or id (age selects only volumes "
                       "to delete)");

    json_t *params = json_object();
    if (v == V_HIBERNATE)
        json_object_set_new(params, "hibernate", json_true());
    if (v == V_RESIZE) {
        if (!f->to_type) {
            json_decref(params);
            return clarify(v, r, f, "the instance type to resize to (e.g. 'to m5.large')");
        }
        json_object_set_new(params, "instance_type", json_string(f->to_type));
    }
    if (v == V_TAG) {
        if (json_object_size(f->set_tags) == 0) {
            json_decref(params);
            return clarify(v, r, f, "the tags to set, as key=value");
        }
        json_object_set(params, "tags", f->set_tags);
    }
    if (v == V_DELETE && f->older_days >= 0)
        json_object_set_new(params, "min_age_days", json_integer(f->older_days));

    json_t *sel = json_object();
    if (json_object_size(f->tags) > 0)
        json_object_set(sel, "tags", f->tags);
    const char *st = state_name(f->state, r);
    if (st)
        json_object_set_new(sel, "state", json_string(st));
    json_t *ids = same_kind(f, r);
    if (f->pronoun && json_array_size(ids) == 0) {
        json_decref(ids);
        json_decref(sel);
        json_decref(params);
        char msg[160];
        snprintf(msg, sizeof(msg), "which %s: 'them' refers to no %s shown last",
                 nlu_resource_names[r], nlu_resource_names[r]);
        return clarify(v, r, f, msg);
    }
    if (json_array_size(ids) > 0)
        json_object_set(sel, "ids", ids);
    json_decref(ids);
    if (f->name)
        json_object_set_new(sel, "name", json_string(f->name));
    if (json_object_size(sel) == 0) {
        json_decref(sel);
        json_decref(params);
        return clarify(v, r, f,
                       "which resources: an environment (dev, prod), a tag, a name or ids");
    }
    json_t *tgt = json_object();
    if (json_array_size(f->accounts) > 0)
        json_object_set(tgt, "accounts", f->accounts);
    else
        json_object_set_new(tgt, "accounts", json_string("all"));
    json_t *where = recent_regions(f, ctx);
    if (json_array_size(f->regions) > 0)
        json_object_set(tgt, "regions", f->regions);
    else if (!f->all_regions && where)
        json_object_set(tgt, "regions", where);
    else if (!f->all_regions && ctx && ctx->default_region)
        json_object_set_new(tgt, "regions", json_pack("[s]", ctx->default_region));
    else
        json_object_set_new(tgt, "regions", json_string("all"));
    json_decref(where);
    json_object_set_new(tgt, "selector", sel);

    if (!when->seen)
        return json_pack("{s:s, s:s, s:o, s:o, s:s}", "kind", "operation", "operation",
                         op->operation, "params", params, "target", tgt, "risk", risk);
    if (when->bad_zone) {
        json_decref(params);
        json_decref(tgt);
        return clarify(v, r, f,
                       "a time zone I know ('Berlin time', 'New York time', 'UTC', "
                       "'Pacific'...)");
    }
    if (!when->have_time || when->bad_time) {
        json_decref(params);
        json_decref(tgt);
        return clarify(v, r, f,
                       when->bad_time ? "a valid time of day (00:00 to 23:59, or 1-12 am/pm)"
                                      : "the time of day for the schedule (e.g. 'at 8pm')");
    }
    char cron[64];
    nlu_time_cron(when, cron, sizeof(cron));
    const char *zone = when->zone ? when->zone : ctx && ctx->time_zone ? ctx->time_zone : "UTC";
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "kind", "schedule", "cron", cron,
                     "time_zone", zone, "operation", op->operation, "params", params, "target", tgt,
                     "risk", risk);
}

/* A server question's topic, or NULL. "security group" is a resource, not a
 * security question. */
static const char *server_topic(const nlu_tokens *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (is_in(nlu_cost_words, nlu_ncost_words, t->w[i]))
            return "cost";
    for (size_t i = 0; i < t->n; i++) {
        if (is_in(nlu_security_words, nlu_nsecurity_words, t->w[i]))
            return "security";
        if (strcmp(t->w[i], "open") == 0 && (word_is(t, i + 1, "to") || word_is(t, i + 1, "ports")))
            return "security";
        if (strcmp(t->w[i], "security") == 0 && !word_is(t, i + 1, "groups") &&
            !word_is(t, i + 1, "group"))
            return "security";
    }
    return NULL;
}

static bool has_word(const nlu_tokens *t, const char *const *list, size_t n)
{
    for (size_t i = 0; i < t->n; i++)
        if (is_in(list, n, t->w[i]))
            return true;
    return false;
}

/* Skips the polite and filler opening ("could you please", "I'd like to",
 * "go ahead and"): returns the first word that carries the request. */
static size_t skip_polite(nlu_tokens *t, bool *polite)
{
    static const char *const single[] = {"please", "pls",    "plz",  "kindly", "hey",
                                         "hi",     "escher", "ok",   "okay",   "now",
                                         "so",     "just",   "also", "then",   "and"};
    static const char *const multi[] = {
        "could you",    "can you",     "would you",  "will you",        "i want to",
        "i need to",    "i'd like to", "id like to", "i would like to", "we need to",
        "go ahead and", "let's",       "lets",       "would you mind",  "be so kind and"};
    size_t i = 0;
    for (;;) {
        if (i < t->n && is_in(single, COUNT(single), t->w[i])) {
            t->used[i++] = true;
            continue;
        }
        size_t best = 0;
        for (size_t m = 0; m < COUNT(multi); m++) {
            size_t k = phrase_at(t, i, multi[m]);
            if (k > best)
                best = k;
        }
        if (best == 0)
            break;
        *polite = true;
        mark(t, i, best);
        i += best;
    }
    return i;
}

static json_t *parse(nlu_tokens *t, const nlu_context *ctx, bool *mood)
{
    bool polite = false;
    size_t first = skip_polite(t, &polite);
    if (first >= t->n)
        return json_pack("{s:s, s:s, s:s}", "kind", "clarify", "understood",
                         "nothing I could act on", "missing", "a request");

    /* The mood comes first: a question can only ever become a read. */
    bool question = is_in(nlu_question_words, nlu_nquestion_words, t->w[first]) ||
                    (t->question_mark && !polite);
    *mood = question;

    nlu_when when;
    nlu_time_scan(t, &when);

    verb v = V_NONE;
    size_t vk = 0, verb_end = 0;
    if (!question) {
        size_t i = first;
        while (i < t->n && t->used[i])
            i++;
        if (i < t->n)
            v = (verb)phrase_find(t, i, nlu_verbs, nlu_nverbs, &vk);
        if (v == V_NONE && i < t->n && is_in(nlu_phrasal, nlu_nphrasal, t->w[i])) {
            /* "turn the dev servers off": the particle comes later. */
            for (size_t j = i + 1; j < t->n && v == V_NONE; j++) {
                if (t->used[j])
                    continue;
                bool off = strcmp(t->w[j], "off") == 0 || strcmp(t->w[j], "down") == 0;
                bool on = strcmp(t->w[j], "on") == 0 || strcmp(t->w[j], "up") == 0;
                if (off || on) {
                    v = off ? V_STOP : V_START;
                    t->used[j] = true;
                    vk = 1;
                }
            }
        }
        if (v == V_RESIZE && strcmp(t->w[i], "change") == 0) {
            /* "change" resizes only as "change the type". */
            bool type_word = false;
            for (size_t j = i + 1; j < t->n && j < i + 5; j++)
                type_word = type_word || strcmp(t->w[j], "type") == 0;
            if (!type_word)
                v = V_NONE;
        }
        if (v) {
            verb_end = i + vk;
            mark(t, i, vk);
            /* "the type of" after change is filler. */
            for (size_t j = i + vk; j < t->n && j < i + vk + 5; j++)
                if (strcmp(t->w[j], "type") == 0 && v == V_RESIZE)
                    t->used[j] = true;
        }
    }

    size_t lead = first;
    while (lead + 1 < t->n && t->used[lead])
        lead++;
    facts f = {.regions = json_array(),
               .accounts = json_array(),
               .tags = json_object(),
               .set_tags = json_object(),
               .ids = json_array(),
               .older_days = -1,
               .verb_end = verb_end};
    collect(t, first, ctx, v, &f);
    json_t *plan;
    const char *topic = server_topic(t);
    if (v == V_NONE && topic) {
        plan = json_pack("{s:s, s:s}", "kind", "server_question", "topic", topic);
    } else if (v == V_NONE && has_word(t, nlu_rankings, nlu_nrankings)) {
        plan = clarify(v, pick_resource(&f, v), &f,
                       "a filter I know: rankings (biggest, top, idle...) are not supported");
    } else if (v == V_NONE && !question && !t->used[lead] && !nlu_lex_known(t->w[lead])) {
        /* "make the prod instances bigger": an imperative with a verb the
         * engine does not know is not a listing. */
        plan = clarify(v, pick_resource(&f, v), &f,
                       "an action I know (start, stop, reboot, resize, snapshot, tag, delete "
                       "unattached volumes)");
    } else if (v == V_NONE) {
        resource r = pick_resource(&f, v);
        if (r == R_NONE && (f.state >= 1 && f.state <= 5))
            r = R_INSTANCES; /* "what's running in prod?" */
        if (r == R_NONE)
            plan = clarify(v, r, &f,
                           question ? "which kind of resource (instances, volumes, snapshots, "
                                      "buckets, databases, security groups, elastic IPs)"
                                    : "an action (start, stop, reboot, resize, snapshot, tag, "
                                      "delete unattached volumes) or a question");
        else
            plan = query_plan(r, &f, ctx);
    } else if (has_word(t, nlu_one_off, nlu_none_off)) {
        plan = clarify(v, pick_resource(&f, v), &f,
                       "a recurring time: one-off times ('tonight', 'tomorrow') are not "
                       "schedules; say 'every day at 11pm', or run it now");
    } else {
        plan = operation_plan(v, &f, &when, ctx, pick_resource(&f, v));
    }
    facts_clear(&f);
    return plan;
}

bool nlu_parse(const char *sentence, const nlu_context *ctx, nlu_plan **out, err *e)
{
    *out = NULL;
    nlu_tokens t;
    if (!nlu_lex(sentence, &t, e))
        return false;
    nlu_plan *p = xcalloc(1, sizeof(*p));
    p->json = parse(&t, ctx, &p->question);
    nlu_tokens_clear(&t);
    *out = p;
    return true;
}

const json_t *nlu_plan_json(const nlu_plan *p)
{
    return p->json;
}

bool nlu_plan_question(const nlu_plan *p)
{
    return p->question;
}

bool nlu_plan_mutating(const nlu_plan *p)
{
    const char *kind = json_string_value(json_object_get(p->json, "kind"));
    return kind && (strcmp(kind, "operation") == 0 || strcmp(kind, "schedule") == 0);
}

void nlu_plan_free(nlu_plan *p)
{
    if (!p)
        return;
    json_decref(p->json);
    free(p);
}
