/* CreateTags and DeleteTags across the taggable resources the sandbox
 * simulates: instances, volumes, snapshots, security groups, addresses. */
#include "svc_ec2_internal.h"

#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TAGS_PER_RESOURCE 50

/* A resource by id prefix: its NotFound answer and its ARN's type. */
typedef struct taggable {
    const char *prefix;
    const char *arn_type;
    const char *not_found_code;
    const char *not_found_pre; /* message: pre, the id, post */
    const char *not_found_post;
    bool arn_has_account;
} taggable;

static const taggable taggables[] = {
    {"i-", "instance", "InvalidInstanceID.NotFound", "The instance ID '", "' does not exist", true},
    {"vol-", "volume", "InvalidVolume.NotFound", "The volume '", "' does not exist.", true},
    {"snap-", "snapshot", "InvalidSnapshot.NotFound", "The snapshot '", "' does not exist.", false},
    {"sg-", "security-group", "InvalidGroup.NotFound", "The security group '", "' does not exist",
     true},
    {"eipalloc-", "elastic-ip", "InvalidAllocationID.NotFound", "The allocation ID '",
     "' does not exist", true},
};

static sbx_tags *tags_of_id(sbx_region *r, const char *id, const taggable *t)
{
    if (!r)
        return NULL;
    if (strcmp(t->prefix, "i-") == 0) {
        sbx_instance *in = ec2_find_instance(r, id);
        return in ? &in->tags : NULL;
    }
    if (strcmp(t->prefix, "vol-") == 0) {
        sbx_volume *v = ec2_find_volume(r, id);
        return v ? &v->tags : NULL;
    }
    if (strcmp(t->prefix, "snap-") == 0) {
        sbx_snapshot *s = ec2_find_snapshot(r, id);
        return s ? &s->tags : NULL;
    }
    if (strcmp(t->prefix, "sg-") == 0) {
        sbx_sg *g = ec2_find_sg(r, id);
        return g ? &g->tags : NULL;
    }
    for (size_t i = 0; i < r->naddresses; i++)
        if (strcmp(r->addresses[i]->allocation_id, id) == 0)
            return &r->addresses[i]->tags;
    return NULL;
}

/* Resolves every ResourceId.N to its tags and authorizes each, before any
 * change: a bad id in the list changes nothing. */
static sbx_tags **resolve_resources(sbx_call *c, size_t *n)
{
    const char *const *ids = call_param_list(c, "ResourceId", n);
    if (*n == 0) {
        call_error(c, 400, "MissingParameter",
                   "The request must contain the parameter resourceIdSet");
        return NULL;
    }
    sbx_region *r = call_region_state(c);
    sbx_tags **out = xcalloc(*n, sizeof *out);
    for (size_t i = 0; i < *n; i++) {
        const taggable *t = NULL;
        for (size_t k = 0; k < sizeof taggables / sizeof taggables[0] && !t; k++)
            if (ec2_id_wellformed(ids[i], taggables[k].prefix))
                t = &taggables[k];
        if (!t) {
            call_error(c, 400, "InvalidID", "The ID '%s' is not valid", ids[i]);
            break;
        }
        out[i] = tags_of_id(r, ids[i], t);
        if (!out[i]) {
            call_error(c, 400, t->not_found_code, "%s%s%s", t->not_found_pre, ids[i],
                       t->not_found_post);
            break;
        }
        char arn[200];
        snprintf(arn, sizeof arn, "arn:aws:ec2:%s:%s:%s/%s", call_region(c),
                 t->arn_has_account ? call_account(c)->id : "", t->arn_type, ids[i]);
        if (!call_authorize(c, arn))
            break;
        if (i + 1 == *n)
            return out;
    }
    free(out);
    return NULL;
}

/* Tag.N.Key / Tag.N.Value pairs; value NULL when absent. */
typedef struct tag_arg {
    const char *key;
    const char *value;
} tag_arg;

static tag_arg *read_tag_args(sbx_call *c, size_t *n)
{
    tag_arg *args = NULL;
    *n = 0;
    char name[48];
    for (size_t i = 1;; i++) {
        snprintf(name, sizeof name, "Tag.%zu.Key", i);
        const char *key = call_param(c, name);
        if (!key)
            break;
        snprintf(name, sizeof name, "Tag.%zu.Value", i);
        args = xreallocarray(args, *n + 1, sizeof *args);
        args[*n].key = key;
        args[*n].value = call_param(c, name);
        (*n)++;
    }
    return args;
}

static bool check_tag_args(sbx_call *c, const tag_arg *args, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!*args[i].key)
            return call_error(c, 400, "InvalidParameterValue", "Tag keys cannot be empty");
        if (strlen(args[i].key) > 128)
            return call_error(c, 400, "InvalidParameterValue",
                              "Tag key exceeds the maximum length of 128 characters");
        if (args[i].value && strlen(args[i].value) > 256)
            return call_error(c, 400, "InvalidParameterValue",
                              "Tag value exceeds the maximum length of 256 characters");
        if (strncmp(args[i].key, "aws:", 4) == 0)
            return call_error(c, 400, "InvalidParameterValue",
                              "Tag keys starting with 'aws:' are reserved for internal use");
    }
    return true;
}

/* Tags that would be new on a resource, to refuse going past AWS's limit
 * before changing anything. */
static size_t new_keys(const sbx_tags *t, const tag_arg *args, size_t n)
{
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        bool have = false;
        for (size_t k = 0; k < t->n && !have; k++)
            have = strcmp(t->items[k].key, args[i].key) == 0;
        for (size_t j = 0; j < i && !have; j++)
            have = strcmp(args[j].key, args[i].key) == 0;
        added += !have;
    }
    return added;
}

bool ec2_create_tags(sbx_call *c)
{
    size_t ntags = 0, nres = 0;
    tag_arg *args = read_tag_args(c, &ntags);
    bool ok = ntags ? check_tag_args(c, args, ntags)
                    : call_error(c, 400, "MissingParameter",
                                 "The request must contain the parameter Tag");
    sbx_tags **res = ok ? resolve_resources(c, &nres) : NULL;
    ok = res != NULL;
    for (size_t i = 0; ok && i < nres; i++)
        if (res[i]->n + new_keys(res[i], args, ntags) > MAX_TAGS_PER_RESOURCE)
            ok = call_error(c, 400, "TagLimitExceeded",
                            "The maximum number of Tags for a resource has been reached.");
    if (ok && ec2_dry_run(c))
        ok = false;
    for (size_t i = 0; ok && i < nres; i++)
        for (size_t k = 0; k < ntags; k++)
            ec2_tag_set(res[i], args[k].key, args[k].value ? args[k].value : "");
    if (ok) {
        call_note(c, "tagged %zu resources with %zu tags", nres, ntags);
        call_xml_bool(c, "return", true);
    }
    free(res);
    free(args);
    return ok;
}

/* Without Tag.N every tag goes; a key with a value (even "") removes the
 * tag only when the value matches, as AWS documents. */
bool ec2_delete_tags(sbx_call *c)
{
    size_t ntags = 0, nres = 0;
    tag_arg *args = read_tag_args(c, &ntags);
    bool ok = true;
    for (size_t k = 0; k < ntags && ok; k++)
        if (strncmp(args[k].key, "aws:", 4) == 0)
            ok = call_error(c, 400, "InvalidParameterValue",
                            "Tag keys starting with 'aws:' are reserved for internal use");
    sbx_tags **res = ok ? resolve_resources(c, &nres) : NULL;
    ok = res != NULL;
    if (ok && ec2_dry_run(c))
        ok = false;
    for (size_t i = 0; ok && i < nres; i++) {
        if (ntags == 0) {
            world_free_tags(res[i]);
            continue;
        }
        for (size_t k = 0; k < ntags; k++)
            ec2_tag_delete(res[i], args[k].key, args[k].value);
    }
    if (ok) {
        call_note(c, "untagged %zu resources", nres);
        call_xml_bool(c, "return", true);
    }
    free(res);
    free(args);
    return ok;
}
