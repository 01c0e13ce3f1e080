/* EC2 in the sandbox: the action table and what every EC2 handler shares
 * (parameters, DryRun, paging, AWS's filter semantics, tags). The handlers
 * live in svc_ec2_instances.c, svc_ec2_ebs.c, svc_ec2_net.c and
 * svc_ec2_tags.c; the wire shapes are botocore's ec2 2016-11-15 model. */
#include "svc_ec2_internal.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const sbx_action ec2_actions[] = {
    {.name = "DescribeRegions", .cls = SBX_DESCRIBE, .fn = ec2_describe_regions},
    {.name = "DescribeInstances", .cls = SBX_DESCRIBE, .fn = ec2_describe_instances},
    {.name = "StartInstances", .cls = SBX_MUTATE, .fn = ec2_start_instances, .per_resource = true},
    {.name = "StopInstances", .cls = SBX_MUTATE, .fn = ec2_stop_instances, .per_resource = true},
    {.name = "RebootInstances",
     .cls = SBX_MUTATE,
     .fn = ec2_reboot_instances,
     .per_resource = true},
    {.name = "TerminateInstances",
     .cls = SBX_MUTATE,
     .fn = ec2_terminate_instances,
     .per_resource = true},
    {.name = "ModifyInstanceAttribute",
     .cls = SBX_MUTATE,
     .fn = ec2_modify_instance_attribute,
     .per_resource = true},
    {.name = "CreateTags", .cls = SBX_MUTATE, .fn = ec2_create_tags, .per_resource = true},
    {.name = "DeleteTags", .cls = SBX_MUTATE, .fn = ec2_delete_tags, .per_resource = true},
    {.name = "DescribeVolumes", .cls = SBX_DESCRIBE, .fn = ec2_describe_volumes},
    {.name = "DeleteVolume", .cls = SBX_MUTATE, .fn = ec2_delete_volume, .per_resource = true},
    {.name = "CreateSnapshot", .cls = SBX_MUTATE, .fn = ec2_create_snapshot, .per_resource = true},
    {.name = "DescribeSnapshots", .cls = SBX_DESCRIBE, .fn = ec2_describe_snapshots},
    {.name = "DeleteSnapshot", .cls = SBX_MUTATE, .fn = ec2_delete_snapshot, .per_resource = true},
    {.name = "DescribeSnapshotAttribute",
     .cls = SBX_DESCRIBE,
     .fn = ec2_describe_snapshot_attribute},
    {.name = "GetEbsEncryptionByDefault",
     .cls = SBX_DESCRIBE,
     .fn = ec2_get_ebs_encryption_by_default},
    {.name = "DescribeSecurityGroups", .cls = SBX_DESCRIBE, .fn = ec2_describe_security_groups},
    {.name = "DescribeAddresses", .cls = SBX_DESCRIBE, .fn = ec2_describe_addresses},
};

const sbx_service svc_ec2 = {
    .signing_name = "ec2",
    .iam_prefix = "ec2",
    .protocol = AWS_PROTO_EC2,
    .xml_namespace = "http://ec2.amazonaws.com/doc/2016-11-15/",
    .actions = ec2_actions,
    .nactions = sizeof ec2_actions / sizeof ec2_actions[0],
};

/* ---- parameters ---- */

/* AWS's query parsers accept booleans in any case; anything else is refused. */
bool ec2_param_bool(sbx_call *c, const char *name, bool def, bool *out)
{
    const char *v = call_param(c, name);
    if (!v) {
        *out = def;
        return true;
    }
    if (strcasecmp(v, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(v, "false") == 0) {
        *out = false;
        return true;
    }
    return call_error(c, 400, "InvalidParameterValue",
                      "Invalid value '%s' for %s. Expected a boolean (true or false).", v, name);
}

/* DryRun is checked last, after the ids and the authorization, because AWS
 * answers DryRunOperation only for a call that would have succeeded. */
bool ec2_dry_run(sbx_call *c)
{
    bool dry = false;
    if (!ec2_param_bool(c, "DryRun", false, &dry))
        return true;
    if (!dry)
        return false;
    call_error(c, 412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
    return true;
}

/* Returns NULL after answering MissingParameter, in AWS's words. */
const char *ec2_require(sbx_call *c, const char *name)
{
    const char *v = call_param(c, name);
    if (!v || !*v) {
        call_error(c, 400, "MissingParameter", "The request must contain the parameter %s", name);
        return NULL;
    }
    return v;
}

/* AWS ids are a prefix and 8 (older) or 17 lower-case hex digits. */
bool ec2_id_wellformed(const char *id, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(id, prefix, pl) != 0)
        return false;
    const char *h = id + pl;
    size_t n = 0;
    for (; h[n]; n++)
        if (!isxdigit((unsigned char)h[n]) || isupper((unsigned char)h[n]))
            return false;
    return n == 8 || n == 17;
}

/* AWS lists several missing ids in one message separated by ", ". */
char *ec2_join_ids(const char *const *ids, size_t n)
{
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_puts(&sb, ", ");
        strbuf_puts(&sb, ids[i]);
    }
    return strbuf_detach(&sb);
}

/* ---- paging ---- */

/* AWS's bounds differ by action (DescribeInstances 5..1000, DescribeVolumes
 * 5..500), so the caller passes them. */
bool ec2_page_parse(sbx_call *c, long min, long max, ec2_page *p)
{
    p->offset = 0;
    p->limit = SIZE_MAX;
    p->limited = false;
    const char *mr = call_param(c, "MaxResults");
    if (mr) {
        char *end = NULL;
        errno = 0;
        long v = strtol(mr, &end, 10);
        if (errno || end == mr || *end)
            return call_error(c, 400, "InvalidParameterValue",
                              "Invalid value '%s' for maxResults. It must be an integer.", mr);
        if (v < min)
            return call_error(c, 400, "InvalidParameterValue",
                              "Value ( %ld ) for parameter maxResults is invalid. Expecting a "
                              "value greater than %ld.",
                              v, min);
        if (v > max)
            return call_error(c, 400, "InvalidParameterValue",
                              "Value ( %ld ) for parameter maxResults is invalid. Expecting a "
                              "value less than or equal to %ld.",
                              v, max);
        p->limit = (size_t)v;
        p->limited = true;
    }
    const char *tok = call_param(c, "NextToken");
    if (tok && *tok && !call_page_offset(c, tok, &p->offset))
        return false;
    return true;
}

/* A token only when more remain: AWS omits nextToken on the last page, which
 * is how paginators know to stop. */
void ec2_page_finish(sbx_call *c, const ec2_page *p, size_t total)
{
    if (p->limit == SIZE_MAX || p->offset + p->limit >= total)
        return;
    call_xml_text(c, "nextToken", call_page_token(c, p->offset + p->limit));
}

/* ---- filters ---- */

/* Iterative glob with single backtrack point: linear in practice, never
 * exponential on hostile patterns like "*a*a*a*b". */
bool ec2_wildcard(const char *p, const char *s)
{
    const char *star_p = NULL, *star_s = NULL;
    while (*s) {
        if (*p == '*') {
            star_p = ++p;
            star_s = s;
            continue;
        }
        if (*p == '\\' && p[1]) {
            if (p[1] == *s) {
                p += 2;
                s++;
                continue;
            }
        } else if (*p && (*p == '?' || *p == *s)) {
            p++;
            s++;
            continue;
        }
        if (!star_p)
            return false;
        p = star_p;
        s = ++star_s;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

bool ec2_fv(const ec2_filter *f, const char *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < f->nvalues; i++)
        if (ec2_wildcard(f->values[i], s))
            return true;
    return false;
}

bool ec2_fv_bool(const ec2_filter *f, bool v)
{
    return ec2_fv(f, v ? "true" : "false");
}

bool ec2_fv_int(const ec2_filter *f, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return ec2_fv(f, buf);
}

bool ec2_filters_parse(sbx_call *c, const ec2_filter_def *defs, size_t ndefs,
                       const sbx_tags *(*tags_of)(const void *res), ec2_filters *out)
{
    out->items = NULL;
    out->n = 0;
    out->tags_of = tags_of;
    size_t nnames = 0;
    const char *const *names = call_filter_names(c, &nnames);
    if (nnames == 0)
        return true;
    out->items = xcalloc(nnames, sizeof *out->items);
    for (size_t i = 0; i < nnames; i++) {
        ec2_filter *f = &out->items[out->n];
        f->name = names[i];
        f->values = call_filter(c, names[i], &f->nvalues);
        if (tags_of && strncmp(names[i], "tag:", 4) == 0 && names[i][4]) {
            f->tag_kind = 1;
            f->tag_key = names[i] + 4;
        } else if (tags_of && strcmp(names[i], "tag-key") == 0) {
            f->tag_kind = 2;
        } else if (tags_of && strcmp(names[i], "tag-value") == 0) {
            f->tag_kind = 3;
        } else {
            for (size_t d = 0; d < ndefs && !f->match; d++)
                if (strcmp(defs[d].name, names[i]) == 0)
                    f->match = defs[d].match;
            if (!f->match) {
                ec2_filters_free(out);
                return call_error(c, 400, "InvalidParameterValue", "The filter '%s' is invalid",
                                  names[i]);
            }
        }
        out->n++;
    }
    return true;
}

static bool tags_match(const ec2_filter *f, const sbx_tags *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const sbx_tag *tag = &t->items[i];
        switch (f->tag_kind) {
        case 1:
            if (strcmp(tag->key, f->tag_key) == 0)
                return ec2_fv(f, tag->value);
            break;
        case 2:
            if (ec2_fv(f, tag->key))
                return true;
            break;
        default:
            if (ec2_fv(f, tag->value))
                return true;
            break;
        }
    }
    return false;
}

bool ec2_filters_match(const ec2_filters *fs, const void *res)
{
    for (size_t i = 0; i < fs->n; i++) {
        const ec2_filter *f = &fs->items[i];
        bool ok = f->tag_kind ? tags_match(f, fs->tags_of(res)) : f->match(res, f);
        if (!ok)
            return false;
    }
    return true;
}

void ec2_filters_free(ec2_filters *fs)
{
    free(fs->items);
    fs->items = NULL;
    fs->n = 0;
}

/* ---- id maps ---- */

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void ec2_idmap_init(ec2_idmap *m, size_t n)
{
    m->cap = 16;
    while (m->cap < n * 2)
        m->cap *= 2;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->vals = xmalloc(m->cap * sizeof *m->vals);
}

void ec2_idmap_of(ec2_idmap *m, const char *const *keys, size_t n)
{
    ec2_idmap_init(m, n);
    for (size_t i = 0; i < n; i++)
        ec2_idmap_put(m, keys[i], i);
}

void ec2_idmap_put(ec2_idmap *m, const char *key, size_t val)
{
    size_t k = str_hash(key) & (m->cap - 1);
    while (m->keys[k] && strcmp(m->keys[k], key) != 0)
        k = (k + 1) & (m->cap - 1);
    m->keys[k] = key;
    m->vals[k] = val;
}

bool ec2_idmap_get(const ec2_idmap *m, const char *key, size_t *val)
{
    size_t k = str_hash(key) & (m->cap - 1);
    while (m->keys[k]) {
        if (strcmp(m->keys[k], key) == 0) {
            *val = m->vals[k];
            return true;
        }
        k = (k + 1) & (m->cap - 1);
    }
    return false;
}

bool ec2_idmap_has(const ec2_idmap *m, const char *key)
{
    size_t v;
    return ec2_idmap_get(m, key, &v);
}

void ec2_idmap_free(ec2_idmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
}

/* ---- lookups ---- */

sbx_instance *ec2_find_instance(sbx_region *r, const char *id)
{
    for (size_t i = 0; r && i < r->ninstances; i++)
        if (strcmp(r->instances[i]->id, id) == 0)
            return r->instances[i];
    return NULL;
}

sbx_volume *ec2_find_volume(sbx_region *r, const char *id)
{
    for (size_t i = 0; r && i < r->nvolumes; i++)
        if (strcmp(r->volumes[i]->id, id) == 0)
            return r->volumes[i];
    return NULL;
}

sbx_snapshot *ec2_find_snapshot(sbx_region *r, const char *id)
{
    for (size_t i = 0; r && i < r->nsnapshots; i++)
        if (strcmp(r->snapshots[i]->id, id) == 0)
            return r->snapshots[i];
    return NULL;
}

sbx_sg *ec2_find_sg(sbx_region *r, const char *id)
{
    for (size_t i = 0; r && i < r->nsgs; i++)
        if (strcmp(r->sgs[i]->id, id) == 0)
            return r->sgs[i];
    return NULL;
}

/* ---- tags ---- */

void ec2_tag_set(sbx_tags *t, const char *key, const char *value)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].key, key) == 0) {
            free(t->items[i].value);
            t->items[i].value = xstrdup(value);
            return;
        }
    t->items = xreallocarray(t->items, t->n + 1, sizeof *t->items);
    t->items[t->n].key = xstrdup(key);
    t->items[t->n].value = xstrdup(value);
    t->n++;
}

void ec2_tag_delete(sbx_tags *t, const char *key, const char *value)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->items[i].key, key) != 0)
            continue;
        if (value && strcmp(t->items[i].value, value) != 0)
            return;
        free(t->items[i].key);
        free(t->items[i].value);
        memmove(&t->items[i], &t->items[i + 1], (t->n - i - 1) * sizeof *t->items);
        t->n--;
        return;
    }
}
