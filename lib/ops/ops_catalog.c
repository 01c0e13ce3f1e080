/* The operations catalog: the table, parameter validation and the
 * Markdown. See ops_catalog.h. */
#include "ops/ops_catalog.h"

#include "core/text.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "ops/ops_asg.h"
#include "ops/ops_ebs.h"
#include "ops/ops_ec2.h"
#include "ops/ops_rds.h"

#include <fnmatch.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- resource types: what a selector may ask of each ---- */

typedef struct ops_rtype {
    const char *name;
    const char *id_prefix; /* NULL: names, no prefix */
    const char *const *states;
    size_t nstates;
} ops_rtype;

static const char *const instance_states[] = {"pending", "running",       "stopping",
                                              "stopped", "shutting-down", "terminated"};
static const char *const volume_states[] = {"creating", "available", "in-use",
                                            "deleting", "deleted",   "error"};
static const char *const db_states[] = {"available", "backing-up", "creating",    "deleting",
                                        "failed",    "modifying",  "rebooting",   "starting",
                                        "stopped",   "stopping",   "storage-full"};

static const ops_rtype rtypes[] = {
    {"ec2:instance", "i-", instance_states, COUNT(instance_states)},
    {"ec2:volume", "vol-", volume_states, COUNT(volume_states)},
    {"rds:db-instance", NULL, db_states, COUNT(db_states)},
    {"autoscaling:group", NULL, NULL, 0},
};

static const ops_rtype *rtype_find(const char *name)
{
    for (size_t i = 0; i < COUNT(rtypes); i++)
        if (strcmp(rtypes[i].name, name) == 0)
            return &rtypes[i];
    return NULL;
}

/* ---- the table ---- */

static const char *const start_actions[] = {"ec2:DescribeInstances", "ec2:StartInstances"};
static const char *const stop_actions[] = {"ec2:DescribeInstances", "ec2:StopInstances"};
static const char *const reboot_actions[] = {"ec2:DescribeInstances", "ec2:RebootInstances"};
static const char *const resize_actions[] = {"ec2:DescribeInstances", "ec2:StopInstances",
                                             "ec2:ModifyInstanceAttribute", "ec2:StartInstances"};
static const char *const snapshot_volumes_actions[] = {
    "ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:CreateSnapshot", "ec2:CreateTags"};
static const char *const delete_unattached_actions[] = {"ec2:DescribeVolumes", "ec2:CreateSnapshot",
                                                        "ec2:CreateTags", "ec2:DeleteVolume"};
static const char *const rds_start_actions[] = {"rds:DescribeDBInstances", "rds:StartDBInstance"};
static const char *const rds_stop_actions[] = {"rds:DescribeDBInstances", "rds:StopDBInstance"};
static const char *const rds_snapshot_actions[] = {"rds:DescribeDBInstances",
                                                   "rds:CreateDBSnapshot"};
static const char *const asg_actions[] = {"autoscaling:DescribeAutoScalingGroups",
                                          "autoscaling:UpdateAutoScalingGroup"};
static const char *const tags_actions[] = {"ec2:DescribeInstances", "ec2:CreateTags",
                                           "ec2:DeleteTags"};

static const ops_param stop_params[] = {
    {.name = "hibernate",
     .type = OPS_PARAM_BOOL,
     .default_text = "false",
     .summary = "hibernate instead of stopping (the instance must be enabled for hibernation)"},
};
static const ops_param resize_params[] = {
    {.name = "instance_type",
     .type = OPS_PARAM_STRING,
     .required = true,
     .min_len = 3,
     .max_len = 32,
     .pattern = "[a-z][a-z0-9-]*[0-9][a-z0-9-]*\\.[a-z0-9]+",
     .pattern_hint = "an instance type such as m5.large",
     .summary = "the new instance type"},
    {.name = "start_after",
     .type = OPS_PARAM_BOOL,
     .default_text = "true",
     .summary = "start again the instances that were running (or pending) before the job; "
                "stopped ones stay stopped either way"},
};
static const ops_param snapshot_volumes_params[] = {
    {.name = "description",
     .type = OPS_PARAM_STRING,
     .max_len = 255,
     .default_text = "\"Escher snapshot of <volume> (<instance>)\"",
     .summary = "the snapshots' description"},
    {.name = "copy_tags",
     .type = OPS_PARAM_BOOL,
     .default_text = "true",
     .summary = "copy the volume's tags to its snapshot"},
};
static const ops_param delete_unattached_params[] = {
    {.name = "snapshot_first",
     .type = OPS_PARAM_BOOL,
     .default_text = "true",
     .summary = "snapshot each volume before deleting it"},
    {.name = "min_age_days",
     .type = OPS_PARAM_INT,
     .min = 0,
     .max = 3650,
     .default_text = "7",
     .summary = "only volumes created at least this many days ago"},
};
static const ops_param rds_snapshot_params[] = {
    {.name = "snapshot_prefix",
     .type = OPS_PARAM_STRING,
     .min_len = 1,
     .max_len = 40,
     .pattern = "[a-zA-Z][a-zA-Z0-9-]*",
     .pattern_hint = "a letter then letters, digits and hyphens",
     .default_text = "\"escher\"",
     .summary = "snapshot identifiers are <prefix>-<db>-<UTC time>"},
};
static const ops_param asg_params[] = {
    {.name = "min",
     .type = OPS_PARAM_INT,
     .required = true,
     .min = 0,
     .max = 10000,
     .summary = "MinSize"},
    {.name = "max",
     .type = OPS_PARAM_INT,
     .required = true,
     .min = 0,
     .max = 10000,
     .summary = "MaxSize"},
    {.name = "desired",
     .type = OPS_PARAM_INT,
     .required = true,
     .min = 0,
     .max = 10000,
     .summary = "DesiredCapacity; min <= desired <= max"},
};
static const ops_param tags_params[] = {
    {.name = "tags",
     .type = OPS_PARAM_TAG_MAP,
     .min_len = 0,
     .max_len = 50,
     .default_text = "{}",
     .summary = "tags to set, {\"key\": \"value\"}"},
    {.name = "remove",
     .type = OPS_PARAM_STRING_LIST,
     .min_len = 0,
     .max_len = 50,
     .default_text = "[]",
     .summary = "tag keys to remove"},
};

static bool asg_check(const ops_op *op, const json_t *params, err *e);
static bool tags_check(const ops_op *op, const json_t *params, err *e);

#define ACTIONS(a) a, COUNT(a)
#define PARAMS(p)  p, COUNT(p)

static const ops_op catalog[] = {
    {"ec2.start", "ec2", "ec2:instance", "start stopped instances", ACTIONS(start_actions),
     OPS_RISK_LOW, NULL, 0, NULL, &OPS_EC2_START},
    {"ec2.stop", "ec2", "ec2:instance", "stop running instances (or hibernate them)",
     ACTIONS(stop_actions), OPS_RISK_MEDIUM, PARAMS(stop_params), NULL, &OPS_EC2_STOP},
    {"ec2.reboot", "ec2", "ec2:instance", "reboot running instances", ACTIONS(reboot_actions),
     OPS_RISK_MEDIUM, NULL, 0, NULL, &OPS_EC2_REBOOT},
    {"ec2.resize", "ec2", "ec2:instance",
     "change the instance type: stop, modify the type, start, waiting on the states",
     ACTIONS(resize_actions), OPS_RISK_HIGH, PARAMS(resize_params), NULL, &OPS_EC2_RESIZE},
    {"ec2.snapshot_volumes", "ec2", "ec2:instance", "snapshot every EBS volume of the instances",
     ACTIONS(snapshot_volumes_actions), OPS_RISK_LOW, PARAMS(snapshot_volumes_params), NULL,
     &OPS_EC2_SNAPSHOT_VOLUMES},
    {"ebs.delete_unattached", "ec2", "ec2:volume",
     "delete EBS volumes attached to nothing (snapshot first by default)",
     ACTIONS(delete_unattached_actions), OPS_RISK_CRITICAL, PARAMS(delete_unattached_params), NULL,
     &OPS_EBS_DELETE_UNATTACHED},
    {"rds.start", "rds", "rds:db-instance", "start stopped DB instances",
     ACTIONS(rds_start_actions), OPS_RISK_LOW, NULL, 0, NULL, &OPS_RDS_START},
    {"rds.stop", "rds", "rds:db-instance",
     "stop available DB instances (AWS restarts them after 7 days)", ACTIONS(rds_stop_actions),
     OPS_RISK_MEDIUM, NULL, 0, NULL, &OPS_RDS_STOP},
    {"rds.snapshot", "rds", "rds:db-instance", "take a manual snapshot of DB instances",
     ACTIONS(rds_snapshot_actions), OPS_RISK_LOW, PARAMS(rds_snapshot_params), NULL,
     &OPS_RDS_SNAPSHOT},
    {"asg.set_capacity", "autoscaling", "autoscaling:group",
     "set an Auto Scaling group's minimum, maximum and desired capacity", ACTIONS(asg_actions),
     OPS_RISK_HIGH, PARAMS(asg_params), asg_check, &OPS_ASG_SET_CAPACITY},
    {"tags.apply", "ec2", "ec2:instance", "set and remove tags on instances", ACTIONS(tags_actions),
     OPS_RISK_LOW, PARAMS(tags_params), tags_check, &OPS_EC2_TAGS},
};

const ops_op *ops_catalog(size_t *n)
{
    *n = COUNT(catalog);
    return catalog;
}

const ops_op *ops_find(const char *name)
{
    for (size_t i = 0; name && i < COUNT(catalog); i++)
        if (strcmp(catalog[i].name, name) == 0)
            return &catalog[i];
    return NULL;
}

const ops_op *ops_lookup(const char *name, err *e)
{
    const ops_op *op = ops_find(name);
    if (op)
        return op;
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < COUNT(catalog); i++)
        strbuf_printf(&sb, "%s%s", i ? ", " : "", catalog[i].name);
    err_set(e, ERR_INVALID, "unknown operation '%.64s' (known: %s)", name ? name : "(none)",
            strbuf_str(&sb));
    strbuf_free(&sb);
    return NULL;
}

const char *ops_risk_name(ops_risk r)
{
    static const char *const names[] = {"read", "low", "medium", "high", "critical"};
    return (size_t)r < COUNT(names) ? names[r] : "?";
}

void ops_resource_clear(ops_resource *r)
{
    free(r->id);
    free(r->name);
    free(r->state);
    free(r->parent);
    free(r->type);
    free(r->before);
    json_decref(r->tags);
    memset(r, 0, sizeof *r);
}

void ops_action_answer(const ops_executor *x, const char *body, size_t len, json_t *d)
{
    xml_doc *doc = NULL;
    const xml_node *root = NULL;
    err pe = {0};
    if (!query_parse_result(body ? body : "", len, NULL, &doc, &root, &pe))
        return;
    const char *rid = xml_find_text(root, "requestId");
    if (rid == NULL)
        rid = xml_find_text(root, "ResponseMetadata/RequestId");
    const char *after = x->after_path ? xml_find_text(root, x->after_path) : NULL;
    const char *created = x->created_path ? xml_find_text(root, x->created_path) : NULL;
    if (rid)
        json_object_set_new(d, "request_id", json_string(rid));
    if (after)
        json_object_set_new(d, "after", json_string(after));
    if (created)
        json_object_set_new(d, "created", json_string(created));
    xml_free(doc);
}

void ops_resource_refresh(ops_resource *r, const ops_resource *fresh)
{
    free(r->state);
    r->state = xstrdup(fresh->state ? fresh->state : "");
    if (fresh->parent) {
        free(r->parent);
        r->parent = xstrdup(fresh->parent);
    }
    if (fresh->tags) {
        json_decref(r->tags);
        r->tags = json_incref(fresh->tags);
    }
    if (fresh->created)
        r->created = fresh->created;
    if (fresh->type) {
        free(r->type);
        r->type = xstrdup(fresh->type);
    }
}

bool ops_phase_calls(const ops_executor *x, unsigned p)
{
    return p >= 32 || (x->nocall_phases & (1u << p)) == 0;
}

const char *ops_phase_verb(const ops_executor *x, unsigned p)
{
    return x->phase_verbs && x->phase_verbs[p] ? x->phase_verbs[p] : x->verb;
}

bool ops_selector_match(const target_selector *sel, const char *id, const char *name,
                        const char *state, const char *const *keys, const char *const *values,
                        size_t n)
{
    if (sel->state && strcmp(sel->state, state ? state : "") != 0)
        return false;
    if (sel->name && fnmatch(sel->name, name ? name : "", 0) != 0)
        return false;
    if (sel->nids) {
        bool found = false;
        for (size_t i = 0; i < sel->nids && !found; i++)
            found = strcmp(sel->ids[i], id) == 0;
        if (!found)
            return false;
    }
    for (size_t t = 0; t < sel->ntags; t++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++) {
            if (strcmp(keys[i], sel->tags[t].key) != 0)
                continue;
            found = sel->tags[t].nvalues == 0;
            for (size_t v = 0; v < sel->tags[t].nvalues && !found; v++)
                found = strcmp(sel->tags[t].values[v], values[i]) == 0;
        }
        if (!found)
            return false;
    }
    return true;
}

/* ---- validation ---- */

/* The value quoted for a message (caller frees): strings in single quotes,
 * anything else as JSON, cut at 80 characters. */
static char *shown(const json_t *v)
{
    char *s = json_is_string(v) ? xasprintf("'%s'", json_string_value(v))
                                : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        s = xstrdup("?");
    if (strlen(s) > 80)
        strcpy(s + 77, "...");
    return s;
}

static bool bad(const ops_op *op, const ops_param *p, const json_t *v, err *e, const char *want)
{
    char *s = shown(v);
    err_set(e, ERR_INVALID, "%s: parameter '%s' is %s: want %s", op->name, p->name, s, want);
    free(s);
    return false;
}

static bool matches(const char *pattern, const char *s)
{
    char *anchored = xasprintf("^(%s)$", pattern);
    regex_t re;
    bool ok = regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) == 0;
    free(anchored);
    if (!ok)
        return false; /* a bad pattern in the table refuses everything: the unit test sees it */
    ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static bool check_string(const ops_op *op, const ops_param *p, const json_t *v, err *e)
{
    if (!json_is_string(v))
        return bad(op, p, v, e, "a string");
    const char *s = json_string_value(v);
    size_t n = text_utf8_chars(s);
    char want[300];
    if (n < p->min_len || n > p->max_len || text_has_control(s)) {
        snprintf(want, sizeof want, "%zu to %zu printable characters", p->min_len, p->max_len);
        return bad(op, p, v, e, want);
    }
    if (p->pattern && !matches(p->pattern, s)) {
        snprintf(want, sizeof want, "%s (pattern %s)",
                 p->pattern_hint ? p->pattern_hint : "a match", p->pattern);
        return bad(op, p, v, e, want);
    }
    return true;
}

static bool check_list(const ops_op *op, const ops_param *p, const json_t *v, err *e)
{
    char want[200];
    snprintf(want, sizeof want, "an array of %zu to %zu strings of 1 to 128 characters", p->min_len,
             p->max_len);
    if (!json_is_array(v) || json_array_size(v) < p->min_len || json_array_size(v) > p->max_len)
        return bad(op, p, v, e, want);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (s == NULL || *s == '\0' || text_utf8_chars(s) > 128 || text_has_control(s))
            return bad(op, p, v, e, want);
    }
    return true;
}

static bool check_tags(const ops_op *op, const ops_param *p, const json_t *v, err *e)
{
    char want[200];
    snprintf(want, sizeof want,
             "an object of %zu to %zu tags, keys of 1 to 128 characters not "
             "starting with \"aws:\", string values of at most 256",
             p->min_len, p->max_len);
    if (!json_is_object(v) || json_object_size(v) < p->min_len || json_object_size(v) > p->max_len)
        return bad(op, p, v, e, want);
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        const char *s = json_string_value(val);
        if (*key == '\0' || text_utf8_chars(key) > 128 || text_has_control(key) ||
            strncmp(key, "aws:", 4) == 0 || s == NULL || text_utf8_chars(s) > 256 ||
            text_has_control(s)) {
            char *k = xasprintf("%s.%s", p->name, key);
            ops_param one = *p;
            one.name = k;
            bool r = bad(op, &one, val, e, want);
            free(k);
            return r;
        }
    }
    return true;
}

static bool check_one(const ops_op *op, const ops_param *p, const json_t *v, err *e)
{
    char want[128];
    switch (p->type) {
    case OPS_PARAM_BOOL:
        return json_is_boolean(v) ? true : bad(op, p, v, e, "true or false");
    case OPS_PARAM_INT:
        snprintf(want, sizeof want, "an integer %lld..%lld", p->min, p->max);
        if (!json_is_integer(v) || json_integer_value(v) < p->min || json_integer_value(v) > p->max)
            return bad(op, p, v, e, want);
        return true;
    case OPS_PARAM_STRING:
        return check_string(op, p, v, e);
    case OPS_PARAM_STRING_LIST:
        return check_list(op, p, v, e);
    case OPS_PARAM_TAG_MAP:
        return check_tags(op, p, v, e);
    }
    return err_set(e, ERR_INTERNAL, "%s: parameter '%s' has an unknown type", op->name, p->name);
}

bool ops_validate_params(const ops_op *op, const json_t *params, err *e)
{
    if (params != NULL && !json_is_null(params) && !json_is_object(params)) {
        char *s = shown(params);
        err_set(e, ERR_INVALID, "%s: params is %s: want an object", op->name, s);
        free(s);
        return false;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < op->nparams && !known; i++)
            known = strcmp(op->params[i].name, key) == 0;
        if (known)
            continue;
        if (op->nparams == 0)
            return err_set(e, ERR_INVALID, "%s: unknown parameter '%.64s' (%s takes none)",
                           op->name, key, op->name);
        strbuf sb = STRBUF_INIT;
        for (size_t i = 0; i < op->nparams; i++)
            strbuf_printf(&sb, "%s%s", i ? ", " : "", op->params[i].name);
        err_set(e, ERR_INVALID, "%s: unknown parameter '%.64s' (known: %s)", op->name, key,
                strbuf_str(&sb));
        strbuf_free(&sb);
        return false;
    }
    for (size_t i = 0; i < op->nparams; i++) {
        const ops_param *p = &op->params[i];
        const json_t *val = json_object_get(params, p->name);
        if (val == NULL) {
            if (p->required)
                return err_set(e, ERR_INVALID, "%s: parameter '%s' is required (%s)", op->name,
                               p->name, p->summary);
            continue;
        }
        if (!check_one(op, p, val, e))
            return false;
    }
    return op->check ? op->check(op, params, e) : true;
}

static bool asg_check(const ops_op *op, const json_t *params, err *e)
{
    json_int_t min = json_integer_value(json_object_get(params, "min"));
    json_int_t max = json_integer_value(json_object_get(params, "max"));
    json_int_t desired = json_integer_value(json_object_get(params, "desired"));
    if (min <= desired && desired <= max)
        return true;
    return err_set(e, ERR_INVALID,
                   "%s: parameters min %lld, desired %lld, max %lld: want min <= desired <= max",
                   op->name, (long long)min, (long long)desired, (long long)max);
}

static bool tags_check(const ops_op *op, const json_t *params, err *e)
{
    const json_t *tags = json_object_get(params, "tags");
    const json_t *remove = json_object_get(params, "remove");
    if (json_object_size(tags) == 0 && json_array_size(remove) == 0)
        return err_set(e, ERR_INVALID,
                       "%s: parameters 'tags' and 'remove' are both empty: "
                       "nothing to apply",
                       op->name);
    for (size_t i = 0; i < json_array_size(remove); i++) {
        const char *k = json_string_value(json_array_get(remove, i));
        if (json_object_get(tags, k))
            return err_set(e, ERR_INVALID, "%s: tag '%.128s' is both in 'tags' and in 'remove'",
                           op->name, k);
    }
    return true;
}

bool ops_check_target(const ops_op *op, const target *t, err *e)
{
    const ops_rtype *rt = rtype_find(op->resource_type);
    if (rt == NULL)
        return err_set(e, ERR_INTERNAL, "%s: resource type %s is not described", op->name,
                       op->resource_type);
    const char *state = t->selector.state;
    if (state) {
        bool ok = false;
        for (size_t i = 0; i < rt->nstates && !ok; i++)
            ok = strcmp(rt->states[i], state) == 0;
        if (!ok) {
            strbuf sb = STRBUF_INIT;
            for (size_t i = 0; i < rt->nstates; i++)
                strbuf_printf(&sb, "%s%s", i ? ", " : "", rt->states[i]);
            err_set(e, ERR_INVALID, "target.selector.state is '%s': %s has %s", state,
                    op->resource_type, rt->nstates ? strbuf_str(&sb) : "no state to select on");
            strbuf_free(&sb);
            return false;
        }
    }
    for (size_t i = 0; rt->id_prefix && i < t->selector.nids; i++)
        if (strncmp(t->selector.ids[i], rt->id_prefix, strlen(rt->id_prefix)) != 0)
            return err_set(e, ERR_INVALID,
                           "target.selector.ids[%zu] is '%.64s': %s ids start with '%s'", i,
                           t->selector.ids[i], op->resource_type, rt->id_prefix);
    return true;
}

/* ---- Markdown ---- */

static const char *type_name(ops_param_type t)
{
    switch (t) {
    case OPS_PARAM_BOOL:
        return "boolean";
    case OPS_PARAM_INT:
        return "integer";
    case OPS_PARAM_STRING:
        return "string";
    case OPS_PARAM_STRING_LIST:
        return "array of strings";
    case OPS_PARAM_TAG_MAP:
        return "object of tags";
    }
    return "?";
}

static void param_bounds(const ops_param *p, strbuf *sb)
{
    switch (p->type) {
    case OPS_PARAM_BOOL:
        break;
    case OPS_PARAM_INT:
        strbuf_printf(sb, "%lld..%lld", p->min, p->max);
        break;
    case OPS_PARAM_STRING:
        strbuf_printf(sb, "%zu-%zu characters", p->min_len, p->max_len);
        if (p->pattern)
            strbuf_printf(sb, ", `%s`", p->pattern);
        break;
    case OPS_PARAM_STRING_LIST:
    case OPS_PARAM_TAG_MAP:
        strbuf_printf(sb, "%zu-%zu entries", p->min_len, p->max_len);
        break;
    }
}

void ops_catalog_markdown(FILE *out)
{
    fputs("# Operations\n\n"
          "<!-- Generated by `escher-worker operations` from lib/ops/ops_catalog.c; "
          "tests/unit/ops fails when they differ. Do not edit by hand. -->\n\n"
          "What Escher can do to a customer's resources, run by the worker's `ops.run` job on a\n"
          "target (accounts x regions x selector, lib/ops/target.h), at once or on a schedule.\n"
          "Each run assumes the account's operator role with a session policy of exactly the\n"
          "operation's AWS actions below, describe calls included, so the session can do nothing\n"
          "else whatever the role allows. A dry run resolves the same resources and sends the\n"
          "action with EC2's `DryRun=true`, which checks the permission and changes nothing;\n"
          "RDS and Auto Scaling have no DryRun, so there a dry run lists \"would ...\" per\n"
          "resource without calling. Every mutating call is a step recorded before it is sent\n"
          "and after it answers; operations with more than one call per resource (`tags.apply`:\n"
          "CreateTags then DeleteTags; `ebs.delete_unattached`: CreateSnapshot then DeleteVolume)\n"
          "make each a step, so a retry resumes after the last one done and re-checks the\n"
          "resource's state before each.\n\n"
          "| operation | resource | risk | AWS actions (session policy) | executor |\n"
          "|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < COUNT(catalog); i++) {
        const ops_op *op = &catalog[i];
        fprintf(out, "| `%s` | %s | %s | ", op->name, op->resource_type, ops_risk_name(op->risk));
        for (size_t a = 0; a < op->nactions; a++)
            fprintf(out, "%s`%s`", a ? ", " : "", op->actions[a]);
        fprintf(out, " | %s |\n", op->executor ? "built" : "**not executable yet**");
    }
    for (size_t i = 0; i < COUNT(catalog); i++) {
        const ops_op *op = &catalog[i];
        fprintf(out, "\n## `%s`\n\n%c%s.\n\n", op->name, op->summary[0] - 32, op->summary + 1);
        fprintf(out, "- service: %s; resource: %s; risk: %s\n", op->service, op->resource_type,
                ops_risk_name(op->risk));
        fprintf(out, "- executor: %s\n",
                op->executor
                    ? "built: the worker runs it"
                    : "not executable yet: the catalog validates it, the worker refuses it");
        if (op->nparams == 0) {
            fputs("- parameters: none\n", out);
            continue;
        }
        fputs("\n| parameter | type | required | bounds | default | meaning |\n"
              "|---|---|---|---|---|---|\n",
              out);
        for (size_t k = 0; k < op->nparams; k++) {
            const ops_param *p = &op->params[k];
            strbuf b = STRBUF_INIT;
            param_bounds(p, &b);
            fprintf(out, "| `%s` | %s | %s | %s | %s | %s |\n", p->name, type_name(p->type),
                    p->required ? "yes" : "no", strbuf_str(&b),
                    p->default_text ? p->default_text : "", p->summary);
            strbuf_free(&b);
        }
        if (op->check == asg_check)
            fputs("\nAlso: min <= desired <= max.\n", out);
        if (op->check == tags_check)
            fputs("\nAlso: at least one tag to set or remove; no key in both.\n", out);
    }
}
