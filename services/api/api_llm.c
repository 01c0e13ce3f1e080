/* The LLM backend's tools and answers (see api_llm.h). */
#include "api_llm.h"

#include "api_input.h"

#include "core/text.h"
#include "core/xmalloc.h"
#include "cron/cron.h"
#include "cron/tz.h"
#include "ops/ops_catalog.h"
#include "ops/target.h"

#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The arguments of an operation's tool that are not its parameters. */
static const char *const reserved_args[] = {"target", "cron", "time_zone", NULL};
static const char *const target_keys[] = {"accounts", "regions", "tags", "ids",
                                          "name",     "state",   NULL};

/* What query_resources takes: lib/nlu's query plan, as data. */
static const char *const query_resources[] = {"instances",   "volumes",   "snapshots",
                                              "buckets",     "databases", "security_groups",
                                              "elastic_ips", NULL};
static const char *const query_actions[] = {"list", "count", NULL};
static const char *const query_filters[] = {
    "regions", "accounts", "state", "tags", "name", "type", "ids", "older_than_days", NULL};

#define CRON_MAX_CHARS 200
#define ZONE_MAX_CHARS 64
#define TEXT_MAX_CHARS 2000
#define ID_MAX_CHARS   128
#define IDS_MAX        1000
#define NAME_MAX_CHARS 128

static const char system_prompt[] =
    "You turn one request of an AWS operator into exactly one call of the tools given. "
    "Call an operation tool (such as ec2_stop) only for a request to change something, "
    "with a target that selects resources by tags, ids, name or state; add cron (five "
    "fields, minute hour day month weekday) and time_zone (IANA) only when the request "
    "says it recurs. Call query_resources for a question about resources. Never call an "
    "operation tool for a question. When no tool fits, answer in one short sentence "
    "without calling a tool. Use only the tools and parameters given; never invent "
    "operations, parameters or values.";

void api_llm_tool_name(const char *op_name, char *out, size_t n)
{
    if (n == 0)
        return;
    size_t i = 0;
    for (; op_name[i] && i + 1 < n; i++)
        out[i] = op_name[i] == '.' ? '_' : op_name[i];
    out[i] = '\0';
}

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static json_t *enum_of(const char *const *list)
{
    json_t *a = json_array();
    for (; *list; list++)
        json_array_append_new(a, json_string(*list));
    return a;
}

/* ---- tools ------------------------------------------------------------------ */

/* One operation parameter as JSON Schema. */
static json_t *param_schema(const ops_param *p)
{
    json_t *s = json_object();
    switch (p->type) {
    case OPS_PARAM_BOOL:
        json_object_set_new(s, "type", json_string("boolean"));
        break;
    case OPS_PARAM_INT:
        json_object_set_new(s, "type", json_string("integer"));
        json_object_set_new(s, "minimum", json_integer(p->min));
        json_object_set_new(s, "maximum", json_integer(p->max));
        break;
    case OPS_PARAM_STRING:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "minLength", json_integer((json_int_t)p->min_len));
        json_object_set_new(s, "maxLength", json_integer((json_int_t)p->max_len));
        if (p->pattern) {
            char *anchored = xasprintf("^(%s)$", p->pattern);
            json_object_set_new(s, "pattern", json_string(anchored));
            free(anchored);
        }
        break;
    case OPS_PARAM_STRING_LIST:
        json_object_set_new(s, "type", json_string("array"));
        json_object_set_new(
            s, "items",
            json_pack("{s:s, s:i, s:i}", "type", "string", "minLength", 1, "maxLength", 128));
        json_object_set_new(s, "minItems", json_integer((json_int_t)p->min_len));
        json_object_set_new(s, "maxItems", json_integer((json_int_t)p->max_len));
        break;
    case OPS_PARAM_TAG_MAP:
        json_object_set_new(s, "type", json_string("object"));
        json_object_set_new(s, "additionalProperties",
                            json_pack("{s:s, s:i}", "type", "string", "maxLength", 256));
        json_object_set_new(s, "minProperties", json_integer((json_int_t)p->min_len));
        json_object_set_new(s, "maxProperties", json_integer((json_int_t)p->max_len));
        break;
    }
    char *desc = p->default_text ? xasprintf("%s (default %s)", p->summary, p->default_text)
                                 : xstrdup(p->summary);
    json_object_set_new(s, "description", json_string(desc));
    free(desc);
    return s;
}

static json_t *string_array(size_t max_items, size_t max_len, const char *pattern)
{
    json_t *item = json_pack("{s:s, s:i, s:i}", "type", "string", "minLength", 1, "maxLength",
                             (json_int_t)max_len);
    if (pattern)
        json_object_set_new(item, "pattern", json_string(pattern));
    return json_pack("{s:s, s:o, s:i}", "type", "array", "items", item, "maxItems",
                     (json_int_t)max_items);
}

#define REGION_PATTERN  "^[a-z]{2}(-[a-z]+){1,2}-[0-9]{1,2}$"
#define ACCOUNT_PATTERN "^[0-9]{12}$"
#define ID_PATTERN      "^[A-Za-z0-9._:/-]+$"

static json_t *tags_schema(void)
{
    return json_pack("{s:s, s:s, s:o, s:i}", "type", "object", "description",
                     "tag key -> accepted values (any value: an empty list)",
                     "additionalProperties", string_array(TARGET_MAX_VALUES, 256, NULL),
                     "maxProperties", TARGET_MAX_TAGS);
}

/* The target argument every operation takes. */
static json_t *target_schema(void)
{
    json_t *props = json_object();
    json_object_set_new(props, "accounts",
                        json_pack("{s:s, s:o}", "description",
                                  "12-digit account ids; leave out for every registered account",
                                  "oneOf",
                                  json_pack("[o, {s:s, s:[s]}]",
                                            string_array(TARGET_MAX_ACCOUNTS, 12, ACCOUNT_PATTERN),
                                            "type", "string", "enum", "all")));
    json_object_set_new(props, "regions",
                        json_pack("{s:s, s:o}", "description",
                                  "region codes such as eu-west-1; leave out for the user's "
                                  "default region",
                                  "oneOf",
                                  json_pack("[o, {s:s, s:[s]}]",
                                            string_array(TARGET_MAX_REGIONS, 32, REGION_PATTERN),
                                            "type", "string", "enum", "all")));
    json_object_set_new(props, "tags", tags_schema());
    json_object_set_new(props, "ids", string_array(TARGET_MAX_IDS, ID_MAX_CHARS, ID_PATTERN));
    json_object_set_new(props, "name",
                        json_pack("{s:s, s:i, s:i, s:s}", "type", "string", "minLength", 1,
                                  "maxLength", NAME_MAX_CHARS, "description",
                                  "glob on the Name tag (* and ?)"));
    json_object_set_new(props, "state",
                        json_pack("{s:s, s:i, s:i, s:s}", "type", "string", "minLength", 1,
                                  "maxLength", 32, "description",
                                  "resource state such as running or stopped"));
    return json_pack("{s:s, s:s, s:o, s:b}", "type", "object", "description",
                     "which resources: at least one of tags, ids, name or state", "properties",
                     props, "additionalProperties", 0);
}

static json_t *op_tool(const ops_op *op)
{
    json_t *props = json_object();
    json_t *required = json_array();
    for (size_t i = 0; i < op->nparams; i++) {
        json_object_set_new(props, op->params[i].name, param_schema(&op->params[i]));
        if (op->params[i].required)
            json_array_append_new(required, json_string(op->params[i].name));
    }
    json_object_set_new(props, "target", target_schema());
    json_array_append_new(required, json_string("target"));
    json_object_set_new(props, "cron",
                        json_pack("{s:s, s:i, s:i, s:s}", "type", "string", "minLength", 9,
                                  "maxLength", CRON_MAX_CHARS, "description",
                                  "only for a recurring request: five cron fields (minute hour "
                                  "day-of-month month day-of-week)"));
    json_object_set_new(props, "time_zone",
                        json_pack("{s:s, s:i, s:i, s:s}", "type", "string", "minLength", 1,
                                  "maxLength", ZONE_MAX_CHARS, "description",
                                  "IANA zone of cron, such as Europe/Berlin; only with cron"));
    char name[64];
    api_llm_tool_name(op->name, name, sizeof name);
    char *desc = xasprintf("%s: %s (risk %s)", op->name, op->summary, ops_risk_name(op->risk));
    json_t *tool =
        json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:o, s:o, s:b}}}", "type", "function", "function",
                  "name", name, "description", desc, "parameters", "type", "object", "properties",
                  props, "required", required, "additionalProperties", 0);
    free(desc);
    return tool;
}

static json_t *query_tool(void)
{
    json_t *filters = json_object();
    json_object_set_new(filters, "regions",
                        json_pack("{s:s, s:o}", "description",
                                  "region codes such as eu-west-1, or \"all\" for every enabled "
                                  "region; leave out for the user's default region",
                                  "oneOf",
                                  json_pack("[o, {s:s, s:[s]}]",
                                            string_array(TARGET_MAX_REGIONS, 32, REGION_PATTERN),
                                            "type", "string", "enum", "all")));
    json_object_set_new(filters, "accounts",
                        string_array(TARGET_MAX_ACCOUNTS, 12, ACCOUNT_PATTERN));
    json_object_set_new(
        filters, "state",
        json_pack("{s:s, s:i, s:i}", "type", "string", "minLength", 1, "maxLength", 32));
    json_object_set_new(filters, "tags", tags_schema());
    json_object_set_new(filters, "name",
                        json_pack("{s:s, s:i, s:i}", "type", "string", "minLength", 1, "maxLength",
                                  NAME_MAX_CHARS));
    json_object_set_new(
        filters, "type",
        json_pack("{s:s, s:i, s:i}", "type", "string", "minLength", 1, "maxLength", 32));
    json_object_set_new(filters, "ids", string_array(TARGET_MAX_IDS, ID_MAX_CHARS, ID_PATTERN));
    json_object_set_new(
        filters, "older_than_days",
        json_pack("{s:s, s:i, s:i}", "type", "integer", "minimum", 0, "maximum", 36500));
    return json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:o}, s:{s:s, s:o}, s:{s:s, s:o, "
                     "s:b}}, s:[s], s:b}}}",
                     "type", "function", "function", "name", API_LLM_QUERY_TOOL, "description",
                     "list or count resources (a question; changes nothing)", "parameters", "type",
                     "object", "properties", "resource", "type", "string", "enum",
                     enum_of(query_resources), "action", "type", "string", "enum",
                     enum_of(query_actions), "filters", "type", "object", "properties", filters,
                     "additionalProperties", 0, "required", "resource", "additionalProperties", 0);
}

json_t *api_llm_tools(void)
{
    size_t n = 0;
    const ops_op *ops = ops_catalog(&n);
    json_t *tools = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(tools, op_tool(&ops[i]));
    json_array_append_new(tools, query_tool());
    return tools;
}

json_t *api_llm_request(const char *model, const char *message, const json_t *context)
{
    json_t *messages = json_array();
    json_array_append_new(messages,
                          json_pack("{s:s, s:s}", "role", "system", "content", system_prompt));
    if (context && json_object_size(context) > 0) {
        char *ctx = json_dumps(context, JSON_COMPACT | JSON_SORT_KEYS);
        char *content = xasprintf(
            "The operator's client gives this context (defaults for what the request leaves "
            "out): %s",
            ctx ? ctx : "{}");
        json_array_append_new(messages,
                              json_pack("{s:s, s:s}", "role", "system", "content", content));
        free(content);
        free(ctx);
    }
    json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "user", "content", message));
    return json_pack("{s:s, s:o, s:o, s:s, s:i}", "model", model, "messages", messages, "tools",
                     api_llm_tools(), "tool_choice", "auto", "temperature", 0);
}

/* ---- answers ------------------------------------------------------------------ */

/* Checks that obj (an object, named what) has only keys of known. */
static bool only_keys(const json_t *obj, const char *what, const char *const *known, err *e)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (in_list(known, key))
            continue;
        char names[512] = "";
        for (const char *const *k = known; *k; k++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     k == known ? "" : ", ", *k);
        return err_set(e, ERR_INVALID, "unknown %s '%.64s' (known: %s)", what, key, names);
    }
    return true;
}

/* A string of 1..max characters without control characters. */
static bool short_string(const json_t *v, const char *what, size_t max, err *e)
{
    if (!json_is_string(v))
        return err_set(e, ERR_INVALID, "%s must be a string, not %s", what, text_json_type(v));
    const char *s = json_string_value(v);
    if (*s == '\0' || text_has_control(s) || text_utf8_chars(s) > max)
        return err_set(e, ERR_INVALID,
                       "%s is '%.64s': want 1 to %zu characters, no control "
                       "characters",
                       what, s, max);
    return true;
}

/* An array of at most max strings, each checked by ok (NULL: any short string). */
static bool string_list(const json_t *v, const char *what, size_t max, size_t max_len,
                        bool (*ok)(const char *), const char *want, err *e)
{
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, "%s must be an array of strings, not %s", what,
                       text_json_type(v));
    if (json_array_size(v) > max)
        return err_set(e, ERR_INVALID, "%s has %zu items: want at most %zu", what,
                       json_array_size(v), max);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        char w[96];
        snprintf(w, sizeof w, "%s[%zu]", what, i);
        if (!short_string(item, w, max_len, e))
            return false;
        if (ok && !ok(json_string_value(item)))
            return err_set(e, ERR_INVALID, "%s is '%.64s': want %s", w, json_string_value(item),
                           want);
    }
    return true;
}

static bool id_ok(const char *s)
{
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-", *s))
            return false;
    return true;
}

/* Tags as {"key": ["value", ...]}: a lone string becomes a one-value list,
 * null or [] the key alone (lib/ops's null). New object in *out. */
static bool tags_of(const json_t *v, const char *what, json_t **out, err *e)
{
    *out = NULL;
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "%s must be an object of tag keys, not %s", what,
                       text_json_type(v));
    if (json_object_size(v) > TARGET_MAX_TAGS)
        return err_set(e, ERR_INVALID, "%s has %zu tags: want at most %d", what,
                       json_object_size(v), TARGET_MAX_TAGS);
    json_t *tags = json_object();
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        char w[200];
        snprintf(w, sizeof w, "%s.%.128s", what, key);
        json_t *values = NULL;
        if (json_is_null(val) || (json_is_array(val) && json_array_size(val) == 0)) {
            values = json_null();
        } else if (json_is_string(val)) {
            values = json_pack("[O]", val);
        } else if (json_is_array(val)) {
            values = json_incref(val);
        } else {
            json_decref(tags);
            return err_set(e, ERR_INVALID, "%s must be a list of values, not %s", w,
                           text_json_type(val));
        }
        if (!json_is_null(values) &&
            !string_list(values, w, TARGET_MAX_VALUES, 256, NULL, NULL, e)) {
            json_decref(values);
            json_decref(tags);
            return false;
        }
        json_object_set_new(tags, key, values);
    }
    *out = tags;
    return true;
}

static bool region_ok(const char *s)
{
    return api_input_is_region(s);
}

static bool account_ok(const char *s)
{
    return api_input_is_account_id(s);
}

/* The query_resources call as lib/nlu's query plan. */
static bool query_plan(const json_t *args, json_t **out, err *e)
{
    if (!only_keys(args, "argument of query_resources",
                   (const char *const[]){"resource", "action", "filters", NULL}, e))
        return false;
    const json_t *res = json_object_get(args, "resource");
    if (!json_is_string(res) || !in_list(query_resources, json_string_value(res)))
        return err_set(e, ERR_INVALID,
                       "query_resources: resource is '%.64s': want instances, volumes, snapshots, "
                       "buckets, databases, security_groups or elastic_ips",
                       json_is_string(res) ? json_string_value(res) : text_json_type(res));
    const json_t *act = json_object_get(args, "action");
    if (act && (!json_is_string(act) || !in_list(query_actions, json_string_value(act))))
        return err_set(e, ERR_INVALID, "query_resources: action is '%.64s': want list or count",
                       json_is_string(act) ? json_string_value(act) : text_json_type(act));
    const json_t *f = json_object_get(args, "filters");
    json_t *filters = json_object();
    if (f && !json_is_null(f)) {
        if (!json_is_object(f)) {
            json_decref(filters);
            return err_set(e, ERR_INVALID, "query_resources: filters must be an object, not %s",
                           text_json_type(f));
        }
        bool ok = only_keys(f, "filter of query_resources", query_filters, e);
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)f, key, v)
        {
            if (!ok)
                break;
            char w[64];
            snprintf(w, sizeof w, "filters.%s", key);
            if (strcmp(key, "regions") == 0 && json_is_string(v))
                ok =
                    strcmp(json_string_value(v), "all") == 0 ||
                    err_set(e, ERR_INVALID, "%s is '%.64s': want \"all\" or a list of region codes",
                            w, json_string_value(v));
            else if (strcmp(key, "regions") == 0)
                ok = string_list(v, w, TARGET_MAX_REGIONS, 32, region_ok, "a region code", e);
            else if (strcmp(key, "accounts") == 0)
                ok = string_list(v, w, TARGET_MAX_ACCOUNTS, 12, account_ok, "12 digits", e);
            else if (strcmp(key, "ids") == 0)
                ok = string_list(v, w, TARGET_MAX_IDS, ID_MAX_CHARS, id_ok,
                                 "letters, digits and ._:/-", e);
            else if (strcmp(key, "state") == 0 || strcmp(key, "type") == 0)
                ok = short_string(v, w, 32, e);
            else if (strcmp(key, "name") == 0)
                ok = short_string(v, w, NAME_MAX_CHARS, e);
            else if (strcmp(key, "older_than_days") == 0) {
                ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
                     json_integer_value(v) <= 36500;
                if (!ok)
                    err_set(e, ERR_INVALID, "%s must be an integer from 0 to 36500", w);
            }
            if (ok && strcmp(key, "tags") == 0) {
                json_t *tags = NULL;
                ok = tags_of(v, w, &tags, e);
                if (ok)
                    json_object_set_new(filters, key, tags);
            } else if (ok) {
                json_object_set(filters, key, v);
            }
        }
        if (!ok) {
            json_decref(filters);
            return false;
        }
    }
    *out = json_pack("{s:s, s:O, s:s, s:o}", "kind", "query", "resource", res, "action",
                     act ? json_string_value(act) : "list", "filters", filters);
    return true;
}

/* The call's target in lib/ops's shape: accounts and regions, the rest in
 * the selector; what the call leaves out from ctx. New object in *out. */
static bool target_of(const json_t *t, const nlu_context *ctx, json_t **out, err *e)
{
    *out = NULL;
    if (t == NULL)
        return err_set(e, ERR_INVALID, "the call has no target (which resources)");
    if (!json_is_object(t))
        return err_set(e, ERR_INVALID, "target must be an object, not %s", text_json_type(t));
    if (!only_keys(t, "field of target", target_keys, e))
        return false;
    json_t *tj = json_object();
    json_t *sel = json_object();
    json_t *v = json_object_get(t, "accounts");
    json_object_set_new(tj, "accounts", v ? json_incref(v) : json_string("all"));
    v = json_object_get(t, "regions");
    if (v)
        json_object_set_new(tj, "regions", json_incref(v));
    else if (ctx && ctx->default_region && *ctx->default_region)
        json_object_set_new(tj, "regions", json_pack("[s]", ctx->default_region));
    else
        json_object_set_new(tj, "regions", json_string("all"));
    for (const char *const *k = target_keys + 2; *k; k++) {
        v = json_object_get(t, *k);
        if (v == NULL)
            continue;
        if (strcmp(*k, "tags") == 0) {
            json_t *tags = NULL;
            if (!tags_of(v, "target.tags", &tags, e)) {
                json_decref(sel);
                json_decref(tj);
                return false;
            }
            json_object_set_new(sel, "tags", tags);
        } else {
            json_object_set(sel, *k, v);
        }
    }
    json_object_set_new(tj, "selector", sel);
    *out = tj;
    return true;
}

/* An operation tool's call as an operation or schedule plan. */
static bool op_plan(const ops_op *op, const json_t *args, const nlu_context *ctx,
                    bool allow_mutating, json_t **out, err *e)
{
    if (!allow_mutating)
        return err_set(e, ERR_INVALID,
                       "the request reads as a question, and the model proposed %s, which "
                       "changes things; a question never becomes an operation",
                       op->name);
    json_t *params = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)args, key, v)
    {
        if (!in_list(reserved_args, key))
            json_object_set(params, key, v);
    }
    json_t *tj = NULL;
    const json_t *cron = json_object_get(args, "cron");
    const json_t *zone = json_object_get(args, "time_zone");
    if (cron && json_is_null(cron))
        cron = NULL;
    if (zone && json_is_null(zone))
        zone = NULL;
    bool ok = ops_validate_params(op, params, e) &&
              target_of(json_object_get(args, "target"), ctx, &tj, e);
    if (ok) {
        struct target t;
        ok = target_parse(tj, &t, e);
        if (ok) {
            ok = ops_check_target(op, &t, e);
            target_clear(&t);
        }
    }
    const char *zone_name = NULL;
    if (ok && cron) {
        cron_expr *c = NULL;
        ok = short_string(cron, "cron", CRON_MAX_CHARS, e) &&
             cron_parse(json_string_value(cron), &c, e);
        cron_free(c);
        zone_name = zone ? NULL : ctx && ctx->time_zone && *ctx->time_zone ? ctx->time_zone : "UTC";
        if (ok && zone)
            ok = short_string(zone, "time_zone", ZONE_MAX_CHARS, e) &&
                 (zone_name = json_string_value(zone)) != NULL;
        if (ok) {
            tz_zone *z = tz_load(zone_name, e);
            ok = z != NULL;
            tz_free(z);
        }
    } else if (ok && zone) {
        ok = err_set(e, ERR_INVALID, "time_zone '%.64s' without cron: a schedule needs both",
                     json_is_string(zone) ? json_string_value(zone) : text_json_type(zone));
    }
    if (!ok) {
        json_decref(params);
        json_decref(tj);
        return false;
    }
    if (cron)
        *out = json_pack("{s:s, s:O, s:s, s:s, s:o, s:o, s:s}", "kind", "schedule", "cron", cron,
                         "time_zone", zone_name, "operation", op->name, "params", params, "target",
                         tj, "risk", ops_risk_name(op->risk));
    else
        *out = json_pack("{s:s, s:s, s:o, s:o, s:s}", "kind", "operation", "operation", op->name,
                         "params", params, "target", tj, "risk", ops_risk_name(op->risk));
    return true;
}

/* The operation a tool name stands for, or ops_lookup's "unknown operation"
 * naming what was asked (with '_' read back as '.' once). */
static const ops_op *op_of_tool(const char *name, err *e)
{
    size_t n = 0;
    const ops_op *ops = ops_catalog(&n);
    char tool[64];
    for (size_t i = 0; i < n; i++) {
        api_llm_tool_name(ops[i].name, tool, sizeof tool);
        if (strcmp(tool, name) == 0)
            return &ops[i];
    }
    char asked[128];
    snprintf(asked, sizeof asked, "%s", name);
    char *u = strchr(asked, '_');
    if (u && strchr(asked, '.') == NULL)
        *u = '.';
    return ops_lookup(asked, e);
}

static bool plan_of_call(const json_t *call, const nlu_context *ctx, bool allow_mutating,
                         json_t **out, err *e)
{
    const json_t *fn = json_object_get(call, "function");
    const json_t *name = json_object_get(fn, "name");
    if (!json_is_string(name))
        return err_set(e, ERR_INVALID, "the tool call names no function");
    const json_t *raw = json_object_get(fn, "arguments");
    json_t *args = NULL;
    if (json_is_string(raw)) {
        json_error_t je;
        args = json_loads(json_string_value(raw), JSON_REJECT_DUPLICATES, &je);
        if (args == NULL)
            return err_set(e, ERR_INVALID, "the arguments of %.64s are not JSON: %s",
                           json_string_value(name), je.text);
    } else if (json_is_object(raw)) {
        args = json_incref((json_t *)raw);
    } else if (raw == NULL) {
        args = json_object();
    }
    if (!json_is_object(args)) {
        json_decref(args);
        return err_set(e, ERR_INVALID, "the arguments of %.64s are not an object",
                       json_string_value(name));
    }
    bool ok;
    if (strcmp(json_string_value(name), API_LLM_QUERY_TOOL) == 0) {
        ok = query_plan(args, out, e);
    } else {
        const ops_op *op = op_of_tool(json_string_value(name), e);
        ok = op && op_plan(op, args, ctx, allow_mutating, out, e);
    }
    json_decref(args);
    return ok;
}

bool api_llm_read(const char *body, size_t len, const nlu_context *ctx, bool allow_mutating,
                  json_t **plan, char **text, err *e)
{
    *plan = NULL;
    *text = NULL;
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je);
    if (doc == NULL)
        return err_set(e, ERR_INVALID, "the answer is not JSON: %s", je.text);
    const json_t *choices = json_object_get(doc, "choices");
    const json_t *msg = json_object_get(json_array_get(choices, 0), "message");
    bool ok = false;
    if (!json_is_object(msg)) {
        err_set(e, ERR_INVALID, "the answer has no choices[0].message");
    } else {
        const json_t *calls = json_object_get(msg, "tool_calls");
        const json_t *content = json_object_get(msg, "content");
        size_t ncalls = json_is_array(calls) ? json_array_size(calls) : 0;
        if (ncalls > 1) {
            err_set(e, ERR_INVALID, "the answer has %zu tool calls; a plan comes from one", ncalls);
        } else if (ncalls == 1) {
            ok = plan_of_call(json_array_get(calls, 0), ctx, allow_mutating, plan, e);
        } else if (json_is_string(content) && json_string_length(content) > 0) {
            /* Words only: kept as words, capped, on one line per line. */
            const char *s = json_string_value(content);
            size_t n = strlen(s), chars = 0, i = 0;
            for (; i < n && chars < TEXT_MAX_CHARS; i++)
                chars += ((unsigned char)s[i] & 0xC0) != 0x80;
            while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
                i++;
            char *t = xmemdup(s, i + 1);
            t[i] = '\0';
            for (char *p = t; *p; p++)
                if ((unsigned char)*p < 0x20 && *p != '\n')
                    *p = ' ';
            *text = t;
            ok = true;
        } else {
            err_set(e, ERR_INVALID, "the answer has neither a tool call nor text");
        }
    }
    json_decref(doc);
    return ok;
}
