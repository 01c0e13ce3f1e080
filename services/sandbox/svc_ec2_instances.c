/* EC2 instances: DescribeRegions, DescribeInstances (the benchmark's hot
 * path), the state changes and ModifyInstanceAttribute.
 *
 * DescribeInstances selects a page in one pass over the region's instances
 * (kept in the world's stable order); svc_ec2_render.c writes it. */
#include "svc_ec2_internal.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- states ---- */

static void write_state(sbx_call *c, const char *elem, sbx_istate s)
{
    call_xml_open(c, elem);
    call_xml_int(c, "code", (int)s);
    call_xml_text(c, "name", ec2_state_name(s));
    call_xml_close(c, elem);
}

/* ---- DescribeRegions ---- */

static bool region_wanted(const char *const *names, size_t n, const char *r)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], r) == 0)
            return true;
    return false;
}

typedef struct region_row {
    const char *name;
    char endpoint[96];
} region_row;

static bool f_region_name(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ((const region_row *)res)->name);
}

static bool f_region_endpoint(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ((const region_row *)res)->endpoint);
}

static bool f_region_optin(const void *res, const ec2_filter *f)
{
    (void)res;
    return ec2_fv(f, "opt-in-not-required");
}

static const ec2_filter_def region_filters[] = {
    {"region-name", f_region_name},
    {"endpoint", f_region_endpoint},
    {"opt-in-status", f_region_optin},
};

/* Only the regions the world simulates exist, all of them opted in. */
bool ec2_describe_regions(sbx_call *c)
{
    world *w = call_world(c);
    size_t nnames = 0;
    const char *const *names = call_param_list(c, "RegionName", &nnames);
    for (size_t i = 0; i < nnames; i++) {
        bool known = false;
        for (size_t r = 0; r < w->nregions && !known; r++)
            known = strcmp(w->region_names[r], names[i]) == 0;
        if (!known)
            return call_error(c, 400, "InvalidParameterValue", "Invalid region: [%s]", names[i]);
    }
    ec2_filters fs;
    if (!ec2_filters_parse(c, region_filters, sizeof region_filters / sizeof region_filters[0],
                           NULL, &fs))
        return false;
    if (ec2_dry_run(c)) {
        ec2_filters_free(&fs);
        return false;
    }
    call_xml_open(c, "regionInfo");
    for (size_t r = 0; r < w->nregions; r++) {
        region_row row = {.name = w->region_names[r]};
        snprintf(row.endpoint, sizeof row.endpoint, "ec2.%s.amazonaws.com", row.name);
        if (!region_wanted(names, nnames, row.name) || !ec2_filters_match(&fs, &row))
            continue;
        call_xml_open(c, "item");
        call_xml_text(c, "regionName", row.name);
        call_xml_text(c, "regionEndpoint", row.endpoint);
        call_xml_text(c, "optInStatus", "opt-in-not-required");
        call_xml_close(c, "item");
    }
    call_xml_close(c, "regionInfo");
    ec2_filters_free(&fs);
    return true;
}

/* ---- DescribeInstances filters ---- */

#define INST(res) ((const sbx_instance *)(res))

static bool f_state_name(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ec2_state_name(INST(res)->state));
}
static bool f_state_code(const void *res, const ec2_filter *f)
{
    return ec2_fv_int(f, INST(res)->state);
}
static bool f_instance_id(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, INST(res)->id);
}
static bool f_instance_type(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, INST(res)->type);
}
static bool f_az(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, INST(res)->az);
}
/* A terminated instance has left its network (and shows no VPC, subnet,
 * addresses or groups), so the network filters never match it. */
static bool networked(const void *res)
{
    return INST(res)->state != SBX_TERMINATED;
}
static bool f_vpc(const void *res, const ec2_filter *f)
{
    return networked(res) && ec2_fv(f, INST(res)->vpc_id);
}
static bool f_subnet(const void *res, const ec2_filter *f)
{
    return networked(res) && ec2_fv(f, INST(res)->subnet_id);
}
static bool f_image(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, INST(res)->image_id);
}
static bool f_private_ip(const void *res, const ec2_filter *f)
{
    return networked(res) && ec2_fv(f, INST(res)->private_ip);
}
static bool f_public_ip(const void *res, const ec2_filter *f)
{
    return networked(res) && ec2_fv(f, INST(res)->public_ip);
}
static bool f_key_name(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, INST(res)->key_name);
}
static bool f_http_tokens(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, INST(res)->imds_v2_required ? "required" : "optional");
}
static bool f_group_id(const void *res, const ec2_filter *f)
{
    for (size_t i = 0; networked(res) && i < INST(res)->nsg; i++)
        if (ec2_fv(f, INST(res)->sg_ids[i]))
            return true;
    return false;
}

static bool f_architecture(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ec2_architecture_of(INST(res)->type));
}

static const ec2_filter_def instance_filters[] = {
    {"instance-state-name", f_state_name},
    {"instance-state-code", f_state_code},
    {"instance-id", f_instance_id},
    {"instance-type", f_instance_type},
    {"availability-zone", f_az},
    {"placement.availability-zone", f_az},
    {"vpc-id", f_vpc},
    {"subnet-id", f_subnet},
    {"image-id", f_image},
    {"private-ip-address", f_private_ip},
    {"ip-address", f_public_ip},
    {"key-name", f_key_name},
    {"architecture", f_architecture},
    {"instance.group-id", f_group_id},
    {"group-id", f_group_id},
    {"metadata-options.http-tokens", f_http_tokens},
};

static const sbx_tags *instance_tags(const void *res)
{
    return &INST(res)->tags;
}

/* ---- DescribeInstances ---- */

/* Refuses malformed ids (AWS checks the shape before existence). */
static bool check_instance_ids(sbx_call *c, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!ec2_id_wellformed(ids[i], "i-"))
            return call_error(c, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", ids[i]);
    return true;
}

/* Fills found[i] for each id, or answers InvalidInstanceID.NotFound naming
 * every missing id once. */
static bool check_instances_exist(sbx_call *c, sbx_region *r, const char *const *ids, size_t n,
                                  sbx_instance **found)
{
    size_t ninst = r ? r->ninstances : 0;
    ec2_idmap at;
    ec2_idmap_init(&at, ninst);
    for (size_t i = 0; i < ninst; i++)
        ec2_idmap_put(&at, r->instances[i]->id, i);
    const char **missing = xcalloc(n ? n : 1, sizeof *missing);
    size_t nmissing = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        found[i] = ec2_idmap_get(&at, ids[i], &k) ? r->instances[k] : NULL;
        if (found[i])
            continue;
        bool dup = false;
        for (size_t j = 0; j < nmissing && !dup; j++)
            dup = strcmp(missing[j], ids[i]) == 0;
        if (!dup)
            missing[nmissing++] = ids[i];
    }
    ec2_idmap_free(&at);
    if (nmissing) {
        char *list = ec2_join_ids(missing, nmissing);
        if (nmissing == 1)
            call_error(c, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist",
                       list);
        else
            call_error(c, 400, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist",
                       list);
        free(list);
    }
    free(missing);
    return nmissing == 0;
}

bool ec2_describe_instances(sbx_call *c)
{
    size_t nids = 0;
    const char *const *ids = call_param_list(c, "InstanceId", &nids);
    if (nids && call_param(c, "MaxResults"))
        return call_error(c, 400, "InvalidParameterCombination",
                          "The parameter instancesSet cannot be used with the parameter "
                          "maxResults");
    if (!check_instance_ids(c, ids, nids))
        return false;
    ec2_page page;
    if (!ec2_page_parse(c, 5, 1000, &page))
        return false;
    ec2_filters fs;
    if (!ec2_filters_parse(c, instance_filters,
                           sizeof instance_filters / sizeof instance_filters[0], instance_tags,
                           &fs))
        return false;
    sbx_region *r = call_region_state(c);
    if (nids) {
        sbx_instance **found = xcalloc(nids, sizeof *found);
        bool ok = check_instances_exist(c, r, ids, nids, found);
        free(found);
        if (!ok) {
            ec2_filters_free(&fs);
            return false;
        }
    }
    if (ec2_dry_run(c)) {
        ec2_filters_free(&fs);
        return false;
    }

    size_t total = 0, n = 0;
    size_t ninst = r ? r->ninstances : 0;
    size_t cap = page.limit < ninst ? page.limit : ninst;
    const sbx_instance **inst = xmalloc((cap ? cap : 1) * sizeof *inst);
    size_t *idx = xmalloc((cap ? cap : 1) * sizeof *idx);
    ec2_idmap want = {0};
    if (nids)
        ec2_idmap_of(&want, ids, nids);
    for (size_t i = 0; i < ninst; i++) {
        const sbx_instance *in = r->instances[i];
        if (nids && !ec2_idmap_has(&want, in->id))
            continue;
        if (fs.n && !ec2_filters_match(&fs, in))
            continue;
        if (ec2_page_has(&page, total) && n < cap) {
            idx[n] = i;
            inst[n++] = in;
        }
        total++;
    }
    if (nids)
        ec2_idmap_free(&want);
    ec2_filters_free(&fs);
    ec2_render_reservations(c, r, inst, idx, n);
    ec2_page_finish(c, &page, total);
    free(inst);
    free(idx);
    return true;
}

/* ---- state changes ---- */

/* What an action does to each state (indexed by code / 16): the next state,
 * or -1 when AWS refuses with IncorrectInstanceState. Entering a
 * transitional state (pending, stopping, shutting-down) starts its timer. */
typedef struct state_action {
    const char *verb; /* "...from which it can be <verb>." */
    int next[6];
    bool reply_states; /* instancesSet with current/previous, else <return> */
} state_action;

static const state_action act_start = {
    "started",
    {SBX_PENDING, SBX_RUNNING, -1, -1, -1, SBX_PENDING},
    true,
};
static const state_action act_stop = {
    "stopped",
    {-1, SBX_STOPPING, -1, -1, SBX_STOPPING, SBX_STOPPED},
    true,
};
static const state_action act_terminate = {
    "terminated",
    {SBX_SHUTTING_DOWN, SBX_SHUTTING_DOWN, SBX_SHUTTING_DOWN, SBX_TERMINATED, SBX_SHUTTING_DOWN,
     SBX_SHUTTING_DOWN},
    true,
};
static const state_action act_reboot = {
    "rebooted",
    {SBX_PENDING, SBX_RUNNING, -1, -1, -1, -1},
    false,
};

static bool is_transitional(sbx_istate s)
{
    return s == SBX_PENDING || s == SBX_STOPPING || s == SBX_SHUTTING_DOWN;
}

/* Builds "arn:aws:ec2:<region>:<account>:instance/<id>" into buf. */
static void instance_arn(sbx_call *c, const char *id, char *buf, size_t n)
{
    snprintf(buf, n, "arn:aws:ec2:%s:%s:instance/%s", call_region(c), call_account(c)->id, id);
}

/* Every id is checked (shape, existence, permission, state) before any
 * instance changes, so a bad id in the list changes nothing, as in AWS. */
static bool change_states(sbx_call *c, const state_action *a)
{
    size_t n = 0;
    const char *const *ids = call_param_list(c, "InstanceId", &n);
    if (n == 0)
        return call_error(c, 400, "MissingParameter",
                          "The request must contain the parameter InstanceId");
    if (!check_instance_ids(c, ids, n))
        return false;
    sbx_region *r = call_region_state(c);
    sbx_instance **found = xcalloc(n, sizeof *found);
    bool ok = check_instances_exist(c, r, ids, n, found);
    for (size_t i = 0; ok && i < n; i++) {
        char arn[160];
        instance_arn(c, ids[i], arn, sizeof arn);
        ok = call_authorize(c, arn);
    }
    if (ok && ec2_dry_run(c))
        ok = false;
    for (size_t i = 0; ok && i < n; i++)
        if (a->next[found[i]->state / 16] < 0)
            ok = call_error(c, 400, "IncorrectInstanceState",
                            "The instance '%s' is not in a state from which it can be %s.", ids[i],
                            a->verb);
    if (!ok) {
        free(found);
        return false;
    }

    time_t now = call_now(c);
    time_t delay = call_state_delay(c);
    if (a->reply_states)
        call_xml_open(c, "instancesSet");
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        sbx_instance *in = found[i];
        sbx_istate prev = in->state;
        sbx_istate next = (sbx_istate)a->next[prev / 16];
        if (next != prev) {
            in->state = next;
            in->transition_at = is_transitional(next) ? now + delay : 0;
            changed++;
        }
        if (!a->reply_states)
            continue;
        call_xml_open(c, "item");
        call_xml_text(c, "instanceId", in->id);
        write_state(c, "currentState", in->state);
        write_state(c, "previousState", prev);
        call_xml_close(c, "item");
    }
    if (a->reply_states)
        call_xml_close(c, "instancesSet");
    else
        call_xml_bool(c, "return", true);
    call_note(c, "%s %zu of %zu instances", a->verb, changed, n);
    free(found);
    return true;
}

bool ec2_start_instances(sbx_call *c)
{
    return change_states(c, &act_start);
}

/* Force and Hibernate change nothing the sandbox simulates; Force is still
 * read so a malformed value is refused as AWS would. */
bool ec2_stop_instances(sbx_call *c)
{
    bool force = false;
    if (!ec2_param_bool(c, "Force", false, &force))
        return false;
    return change_states(c, &act_stop);
}

bool ec2_reboot_instances(sbx_call *c)
{
    return change_states(c, &act_reboot);
}

bool ec2_terminate_instances(sbx_call *c)
{
    return change_states(c, &act_terminate);
}

/* ---- ModifyInstanceAttribute ---- */

/* "family.size": lower-case letters and digits around one dot. */
static bool instance_type_wellformed(const char *t)
{
    const char *dot = strchr(t, '.');
    if (!dot || dot == t || !dot[1] || strchr(dot + 1, '.'))
        return false;
    for (const char *p = t; *p; p++)
        if (p != dot && !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

/* Only the instance type is simulated: it may change only while the
 * instance is stopped, as in AWS. Both wire forms are accepted:
 * InstanceType.Value=x and Attribute=instanceType&Value=x. */
bool ec2_modify_instance_attribute(sbx_call *c)
{
    const char *id = ec2_require(c, "InstanceId");
    if (!id)
        return false;
    const char *type = call_param(c, "InstanceType.Value");
    const char *attr = call_param(c, "Attribute");
    if (attr) {
        if (strcmp(attr, "instanceType") != 0)
            return call_error(c, 400, "UnsupportedOperation",
                              "The sandbox simulates only the instanceType attribute, not '%s'.",
                              attr);
        type = call_param(c, "Value");
    }
    if (!type || !*type)
        return call_error(c, 400, "MissingParameter",
                          "The request must contain the parameter InstanceType");
    if (!instance_type_wellformed(type))
        return call_error(c, 400, "InvalidInstanceAttributeValue",
                          "Value (%s) for parameter instanceType is invalid. Unknown instance "
                          "type.",
                          type);
    const char *const ids[1] = {id};
    if (!check_instance_ids(c, ids, 1))
        return false;
    sbx_instance *in = NULL;
    if (!check_instances_exist(c, call_region_state(c), ids, 1, &in))
        return false;
    char arn[160];
    instance_arn(c, id, arn, sizeof arn);
    if (!call_authorize(c, arn) || ec2_dry_run(c))
        return false;
    if (in->state != SBX_STOPPED)
        return call_error(c, 400, "IncorrectInstanceState",
                          "The instance '%s' is not in the 'stopped' state.", id);
    if (strcmp(in->type, type) != 0) {
        call_note(c, "%s: instance type %s -> %s", id, in->type, type);
        free(in->type);
        in->type = xstrdup(type);
    }
    call_xml_bool(c, "return", true);
    return true;
}
