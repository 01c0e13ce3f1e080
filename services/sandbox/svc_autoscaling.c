/* Amazon EC2 Auto Scaling (query protocol): DescribeAutoScalingGroups and
 * UpdateAutoScalingGroup with Auto Scaling's size rules and messages. */
#include "call.h"

#include "core/xmalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AS_XMLNS "http://autoscaling.amazonaws.com/doc/2011-01-01/"

static sbx_asg *as_find(sbx_region *r, const char *name)
{
    for (size_t i = 0; r && i < r->nasgs; i++)
        if (strcmp(r->asgs[i]->name, name) == 0 || strcmp(r->asgs[i]->arn, name) == 0)
            return r->asgs[i];
    return NULL;
}

static const sbx_instance *as_instance(const sbx_region *r, const char *id)
{
    for (size_t i = 0; r && i < r->ninstances; i++)
        if (strcmp(r->instances[i]->id, id) == 0)
            return r->instances[i];
    return NULL;
}

/* Auto Scaling's lifecycle for an EC2 state. */
static const char *as_lifecycle(const sbx_instance *in)
{
    switch (in ? in->state : SBX_TERMINATED) {
    case SBX_PENDING:
        return "Pending";
    case SBX_RUNNING:
        return "InService";
    case SBX_STOPPING:
    case SBX_STOPPED:
        return "Standby";
    case SBX_SHUTTING_DOWN:
        return "Terminating";
    case SBX_TERMINATED:
        return "Terminated";
    }
    return "InService";
}

static void as_write_lt(sbx_call *c, const sbx_asg *g)
{
    call_xml_open(c, "LaunchTemplate");
    call_xml_text(c, "LaunchTemplateName", g->launch_template);
    call_xml_text(c, "Version", "$Default");
    call_xml_close(c, "LaunchTemplate");
}

static void as_write_group(sbx_call *c, const sbx_region *r, const sbx_asg *g)
{
    call_xml_open(c, "member");
    call_xml_text(c, "AutoScalingGroupName", g->name);
    call_xml_text(c, "AutoScalingGroupARN", g->arn);
    if (g->launch_template)
        as_write_lt(c, g);
    call_xml_int(c, "MinSize", g->min_size);
    call_xml_int(c, "MaxSize", g->max_size);
    call_xml_int(c, "DesiredCapacity", g->desired);
    call_xml_int(c, "DefaultCooldown", 300);
    /* The group spans the AZs of its instances, at least the region's first. */
    call_xml_open(c, "AvailabilityZones");
    char first_az[64];
    snprintf(first_az, sizeof first_az, "%sa", call_region(c));
    const char *seen[16];
    size_t nseen = 0;
    for (size_t i = 0; i < g->ninstances && nseen < 16; i++) {
        const sbx_instance *in = as_instance(r, g->instance_ids[i]);
        bool dup = !in;
        for (size_t k = 0; !dup && k < nseen; k++)
            dup = strcmp(seen[k], in->az) == 0;
        if (!dup)
            seen[nseen++] = in->az;
    }
    if (nseen == 0)
        seen[nseen++] = first_az;
    for (size_t k = 0; k < nseen; k++)
        call_xml_text(c, "member", seen[k]);
    call_xml_close(c, "AvailabilityZones");
    call_xml_open(c, "LoadBalancerNames");
    call_xml_close(c, "LoadBalancerNames");
    call_xml_open(c, "TargetGroupARNs");
    call_xml_close(c, "TargetGroupARNs");
    call_xml_text(c, "HealthCheckType", "EC2");
    call_xml_int(c, "HealthCheckGracePeriod", 300);
    call_xml_open(c, "Instances");
    for (size_t i = 0; i < g->ninstances; i++) {
        const sbx_instance *in = as_instance(r, g->instance_ids[i]);
        call_xml_open(c, "member");
        call_xml_text(c, "InstanceId", g->instance_ids[i]);
        if (in) {
            call_xml_text(c, "InstanceType", in->type);
            call_xml_text(c, "AvailabilityZone", in->az);
        }
        call_xml_text(c, "LifecycleState", as_lifecycle(in));
        call_xml_text(c, "HealthStatus", in && in->state == SBX_RUNNING ? "Healthy" : "Unhealthy");
        if (g->launch_template)
            as_write_lt(c, g);
        call_xml_bool(c, "ProtectedFromScaleIn", false);
        call_xml_close(c, "member");
    }
    call_xml_close(c, "Instances");
    call_xml_time(c, "CreatedTime", g->create_time);
    call_xml_open(c, "SuspendedProcesses");
    call_xml_close(c, "SuspendedProcesses");
    if (r && r->nsubnets)
        call_xml_text(c, "VPCZoneIdentifier", r->subnet_ids[0]);
    call_xml_open(c, "EnabledMetrics");
    call_xml_close(c, "EnabledMetrics");
    call_xml_open(c, "Tags");
    for (size_t i = 0; i < g->tags.n; i++) {
        call_xml_open(c, "member");
        call_xml_text(c, "ResourceId", g->name);
        call_xml_text(c, "ResourceType", "auto-scaling-group");
        call_xml_text(c, "Key", g->tags.items[i].key);
        call_xml_text(c, "Value", g->tags.items[i].value);
        call_xml_bool(c, "PropagateAtLaunch", true);
        call_xml_close(c, "member");
    }
    call_xml_close(c, "Tags");
    call_xml_open(c, "TerminationPolicies");
    call_xml_text(c, "member", "Default");
    call_xml_close(c, "TerminationPolicies");
    call_xml_bool(c, "NewInstancesProtectedFromScaleIn", false);
    char slr[160];
    snprintf(slr, sizeof slr,
             "arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/"
             "AWSServiceRoleForAutoScaling",
             call_account(c)->id);
    call_xml_text(c, "ServiceLinkedRoleARN", slr);
    call_xml_bool(c, "CapacityRebalance", false);
    call_xml_close(c, "member");
}

/* Reads an optional integer; malformed answers ValidationError. */
static bool as_param_int(sbx_call *c, const char *name, const char *field, int *out, bool *present)
{
    const char *s = call_param(c, name);
    *present = s != NULL;
    if (!s)
        return true;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX)
        return call_error(c, 400, "ValidationError",
                          "1 validation error detected: Value '%s' at '%s' failed to satisfy "
                          "constraint: Member must be an integer",
                          s, field);
    *out = (int)v;
    return true;
}

static bool as_describe_groups(sbx_call *c)
{
    sbx_region *r = call_region_state(c);
    int max = 50;
    bool has_max;
    if (!as_param_int(c, "MaxRecords", "maxRecords", &max, &has_max))
        return false;
    if (has_max && (max < 1 || max > 100))
        return call_error(c, 400, "ValidationError",
                          "1 validation error detected: Value '%d' at 'maxRecords' failed to "
                          "satisfy constraint: Member must have value %s",
                          max,
                          max < 1 ? "greater than or equal to 1" : "less than or equal to 100");
    size_t offset = 0;
    const char *tok = call_param(c, "NextToken");
    if (tok && !call_page_offset(c, tok, &offset))
        return false;
    size_t nnames;
    const char *const *names = call_param_list(c, "AutoScalingGroupNames", &nnames);
    /* Matches in the region's order; unknown names are simply absent. */
    size_t matched = 0, written = 0;
    call_xml_open(c, "AutoScalingGroups");
    for (size_t i = 0; r && i < r->nasgs; i++) {
        bool want = nnames == 0;
        for (size_t k = 0; !want && k < nnames; k++)
            want = strcmp(names[k], r->asgs[i]->name) == 0;
        if (!want)
            continue;
        if (matched++ < offset || written == (size_t)max)
            continue;
        as_write_group(c, r, r->asgs[i]);
        written++;
    }
    call_xml_close(c, "AutoScalingGroups");
    if (offset + written < matched) {
        char *next = call_page_token(c, offset + written);
        call_xml_text(c, "NextToken", next);
    }
    call_note(c, "%zu of %zu groups", written, matched);
    return true;
}

static bool as_update_group(sbx_call *c)
{
    sbx_region *r = call_region_state(c);
    const char *name = call_param(c, "AutoScalingGroupName");
    if (!name)
        return call_error(c, 400, "ValidationError",
                          "1 validation error detected: Value null at 'autoScalingGroupName' "
                          "failed to satisfy constraint: Member must not be null");
    sbx_asg *g = as_find(r, name);
    if (!g)
        return call_error(c, 400, "ValidationError", "AutoScalingGroup name not found - null");
    if (!call_authorize(c, g->arn))
        return false;
    int mn = g->min_size, mx = g->max_size, want = g->desired;
    bool has_min, has_max, has_desired;
    if (!as_param_int(c, "MinSize", "minSize", &mn, &has_min) ||
        !as_param_int(c, "MaxSize", "maxSize", &mx, &has_max) ||
        !as_param_int(c, "DesiredCapacity", "desiredCapacity", &want, &has_desired))
        return false;
    if (mn < 0 || mx < 0 || want < 0)
        return call_error(c, 400, "ValidationError",
                          "1 validation error detected: Value '%d' at '%s' failed to satisfy "
                          "constraint: Member must have value greater than or equal to 0",
                          mn < 0   ? mn
                          : mx < 0 ? mx
                                   : want,
                          mn < 0   ? "minSize"
                          : mx < 0 ? "maxSize"
                                   : "desiredCapacity");
    if (mn > mx)
        return call_error(c, 400, "ValidationError",
                          "The specified min size %d is greater than the max size %d.", mn, mx);
    /* Auto Scaling pulls an untouched desired capacity into the new bounds. */
    if (!has_desired) {
        if (want < mn)
            want = mn;
        if (want > mx)
            want = mx;
    }
    if (want < mn || want > mx)
        return call_error(c, 400, "ValidationError",
                          "Desired capacity:%d must be between the specified min size:%d and "
                          "max size:%d",
                          want, mn, mx);
    call_note(c, "%s min %d->%d max %d->%d desired %d->%d", g->name, g->min_size, mn, g->max_size,
              mx, g->desired, want);
    g->min_size = mn;
    g->max_size = mx;
    g->desired = want;
    return true;
}

static const sbx_action as_actions[] = {
    {"DescribeAutoScalingGroups", SBX_DESCRIBE, as_describe_groups, false, NULL, NULL, false},
    {"UpdateAutoScalingGroup", SBX_MUTATE, as_update_group, true, NULL, NULL, false},
};

/* Amazon EC2 Auto Scaling, API version 2011-01-01. */
const sbx_service svc_autoscaling = {
    .signing_name = "autoscaling",
    .iam_prefix = "autoscaling",
    .protocol = AWS_PROTO_QUERY,
    .xml_namespace = AS_XMLNS,
    .json_target = NULL,
    .global = false,
    .actions = as_actions,
    .nactions = sizeof as_actions / sizeof as_actions[0],
};
