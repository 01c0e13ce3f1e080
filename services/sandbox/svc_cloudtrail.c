/* AWS CloudTrail (JSON 1.1): DescribeTrails and GetTrailStatus.
 *
 * A region sees the trails whose home it is, plus the multi-region trails
 * of other regions as "shadow" trails (DescribeTrails' includeShadowTrails,
 * default true). Trails are named by name or ARN. */
#include "call.h"

#include "core/xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether the trail is visible from region: home, or a multi-region shadow. */
static bool ct_visible(const sbx_trail *t, const char *region, bool shadows)
{
    if (strcmp(t->home_region, region) == 0)
        return true;
    return shadows && t->multi_region;
}

/* Matches a requested name: the trail's name (home region only, as AWS
 * requires an ARN for a shadow trail) or its ARN. */
static bool ct_named(const sbx_trail *t, const char *name, const char *region)
{
    if (strcmp(t->arn, name) == 0)
        return true;
    return strcmp(t->name, name) == 0 && strcmp(t->home_region, region) == 0;
}

static json_t *ct_trail_json(const sbx_trail *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "Name", json_string(t->name));
    json_object_set_new(o, "S3BucketName", json_string(t->s3_bucket));
    json_object_set_new(o, "IncludeGlobalServiceEvents", json_true());
    json_object_set_new(o, "IsMultiRegionTrail", json_boolean(t->multi_region));
    json_object_set_new(o, "HomeRegion", json_string(t->home_region));
    json_object_set_new(o, "TrailARN", json_string(t->arn));
    json_object_set_new(o, "LogFileValidationEnabled", json_boolean(t->log_file_validation));
    if (t->kms_key_id)
        json_object_set_new(o, "KmsKeyId", json_string(t->kms_key_id));
    json_object_set_new(o, "HasCustomEventSelectors", json_false());
    json_object_set_new(o, "HasInsightSelectors", json_false());
    json_object_set_new(o, "IsOrganizationTrail", json_false());
    return o;
}

static bool ct_describe_trails(sbx_call *c)
{
    json_t *body = call_json(c);
    json_t *names = json_object_get(body, "trailNameList");
    json_t *sh = json_object_get(body, "includeShadowTrails");
    bool shadows = sh ? json_is_true(sh) : true;
    const char *region = call_region(c);
    sbx_account *a = call_account(c);
    json_t *list = json_array();
    for (size_t i = 0; i < a->ntrails; i++) {
        const sbx_trail *t = a->trails[i];
        if (!ct_visible(t, region, shadows))
            continue;
        bool want = !json_is_array(names) || json_array_size(names) == 0;
        for (size_t k = 0; !want && k < json_array_size(names); k++) {
            const char *n = json_string_value(json_array_get(names, k));
            /* A named shadow trail is found by ARN, not by name. */
            want = n && ct_named(t, n, region);
        }
        if (want)
            json_array_append_new(list, ct_trail_json(t));
    }
    call_note(c, "%zu trails", json_array_size(list));
    call_json_reply(c, json_pack("{s:o}", "trailList", list));
    return true;
}

/* Stable minutes-ago for delivery times, so answers do not jitter. */
static long ct_minutes_ago(const sbx_trail *t, long mod)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = t->arn; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return 1 + (long)((h >> 7) % (uint64_t)mod);
}

static bool ct_get_trail_status(sbx_call *c)
{
    const char *name = json_string_value(json_object_get(call_json(c), "Name"));
    const char *region = call_region(c);
    sbx_account *a = call_account(c);
    if (!name || !*name)
        return call_error(c, 400, "InvalidTrailNameException", "Trail name cannot be empty.");
    const sbx_trail *t = NULL;
    for (size_t i = 0; i < a->ntrails && !t; i++)
        if (ct_named(a->trails[i], name, region))
            t = a->trails[i];
    if (!t) {
        char *arn = strncmp(name, "arn:", 4) == 0
                        ? xstrdup(name)
                        : xasprintf("arn:aws:cloudtrail:%s:%s:trail/%s", region, a->id, name);
        call_error(c, 400, "TrailNotFoundException", "Unknown trail: %s for the user: %s", arn,
                   a->id);
        free(arn);
        return false;
    }
    time_t now = call_now(c);
    json_t *o = json_object();
    json_object_set_new(o, "IsLogging", json_boolean(t->logging));
    time_t started = now - 86400 * (30 + ct_minutes_ago(t, 300));
    json_object_set_new(o, "StartLoggingTime", json_integer(started));
    char iso[32];
    struct tm tm;
    if (t->logging) {
        time_t delivered = now - 60 * ct_minutes_ago(t, 15);
        json_object_set_new(o, "LatestDeliveryTime", json_integer(delivered));
        gmtime_r(&delivered, &tm);
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(o, "LatestDeliveryAttemptTime", json_string(iso));
        json_object_set_new(o, "LatestDeliveryAttemptSucceeded", json_string(iso));
        if (t->log_file_validation)
            json_object_set_new(o, "LatestDigestDeliveryTime",
                                json_integer(now - 3600 + 60 * ct_minutes_ago(t, 30)));
    } else {
        time_t stopped = now - 86400 * ct_minutes_ago(t, 20);
        json_object_set_new(o, "StopLoggingTime", json_integer(stopped));
        gmtime_r(&stopped, &tm);
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(o, "TimeLoggingStopped", json_string(iso));
        json_object_set_new(o, "LatestDeliveryAttemptTime", json_string(""));
        json_object_set_new(o, "LatestDeliveryAttemptSucceeded", json_string(""));
    }
    gmtime_r(&started, &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(o, "TimeLoggingStarted", json_string(iso));
    json_object_set_new(o, "LatestNotificationAttemptTime", json_string(""));
    json_object_set_new(o, "LatestNotificationAttemptSucceeded", json_string(""));
    call_note(c, "%s logging=%d", t->name, t->logging);
    call_json_reply(c, o);
    return true;
}

static const sbx_action ct_actions[] = {
    {"DescribeTrails", SBX_DESCRIBE, ct_describe_trails, false, NULL, NULL, false},
    {"GetTrailStatus", SBX_DESCRIBE, ct_get_trail_status, false, NULL, NULL, false},
};

/* AWS CloudTrail, API version 2013-11-01. */
const sbx_service svc_cloudtrail = {
    .signing_name = "cloudtrail",
    .iam_prefix = "cloudtrail",
    .protocol = AWS_PROTO_JSON,
    .xml_namespace = NULL,
    .json_target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
    .global = false,
    .actions = ct_actions,
    .nactions = sizeof ct_actions / sizeof ct_actions[0],
};
