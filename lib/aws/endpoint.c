#include "aws/endpoint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct service_info {
    const char *name;       /* what callers pass: the signing name */
    const char *prefix;     /* endpoint prefix (host's first label) */
    const char *service_id; /* botocore metadata.serviceId */
} service_info;

/* From botocore's service-2.json metadata. Services not listed use their
 * name as prefix and id, which is right for most. */
static const service_info services[] = {
    {"ec2", "ec2", "EC2"},
    {"sts", "sts", "STS"},
    {"iam", "iam", "IAM"},
    {"organizations", "organizations", "Organizations"},
    {"s3", "s3", "S3"},
    {"rds", "rds", "RDS"},
    {"autoscaling", "autoscaling", "Auto Scaling"},
    {"monitoring", "monitoring", "CloudWatch"},
    {"ce", "ce", "Cost Explorer"},
    {"logs", "logs", "CloudWatch Logs"},
    {"lambda", "lambda", "Lambda"},
    {"dynamodb", "dynamodb", "DynamoDB"},
    {"elasticloadbalancing", "elasticloadbalancing", "Elastic Load Balancing v2"},
    {"ssm", "ssm", "SSM"},
    {"sns", "sns", "SNS"},
    {"sqs", "sqs", "SQS"},
    {"kms", "kms", "KMS"},
    {"cloudtrail", "cloudtrail", "CloudTrail"},
    {"cloudformation", "cloudformation", "CloudFormation"},
    {"secretsmanager", "secretsmanager", "Secrets Manager"},
    {"ecs", "ecs", "ECS"},
    {"eks", "eks", "EKS"},
    {"ecr", "api.ecr", "ECR"},
    {"elasticache", "elasticache", "ElastiCache"},
    {"route53", "route53", "Route 53"},
};

typedef struct partition {
    const char *name;
    const char *region_prefix; /* matched against the region's start */
    const char *dns_suffix;
} partition;

/* Order matters: "us-isob-" before "us-iso-", both before the catch-all. */
static const partition partitions[] = {
    {"aws-cn", "cn-", "amazonaws.com.cn"},
    {"aws-us-gov", "us-gov-", "amazonaws.com"},
    {"aws-iso-b", "us-isob-", "sc2s.sgov.gov"},
    {"aws-iso", "us-iso-", "c2s.ic.gov"},
    {"aws", "", "amazonaws.com"},
};

typedef struct global_endpoint {
    const char *service;
    const char *partition;
    const char *host;
    const char *signing_region;
} global_endpoint;

/* Partition endpoints of the non-regionalized services (endpoints.json
 * "partitionEndpoint" entries with their credentialScope). */
static const global_endpoint globals[] = {
    {"iam", "aws", "iam.amazonaws.com", "us-east-1"},
    {"iam", "aws-cn", "iam.cn-north-1.amazonaws.com.cn", "cn-north-1"},
    {"iam", "aws-us-gov", "iam.us-gov.amazonaws.com", "us-gov-west-1"},
    {"iam", "aws-iso", "iam.us-iso-east-1.c2s.ic.gov", "us-iso-east-1"},
    {"iam", "aws-iso-b", "iam.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1"},
    {"organizations", "aws", "organizations.us-east-1.amazonaws.com", "us-east-1"},
    {"organizations", "aws-cn", "organizations.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"},
    {"organizations", "aws-us-gov", "organizations.us-gov-west-1.amazonaws.com", "us-gov-west-1"},
    {"ce", "aws", "ce.us-east-1.amazonaws.com", "us-east-1"},
    {"ce", "aws-cn", "ce.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"},
    {"route53", "aws", "route53.amazonaws.com", "us-east-1"},
    {"route53", "aws-cn", "route53.amazonaws.com.cn", "cn-northwest-1"},
    {"route53", "aws-us-gov", "route53.us-gov.amazonaws.com", "us-gov-west-1"},
    {"route53", "aws-iso", "route53.c2s.ic.gov", "us-iso-east-1"},
    {"route53", "aws-iso-b", "route53.sc2s.sgov.gov", "us-isob-east-1"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *endpoint_process_env(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

static const service_info *find_service(const char *service)
{
    for (size_t i = 0; i < COUNT(services); i++)
        if (strcmp(services[i].name, service) == 0)
            return &services[i];
    return NULL;
}

static const partition *find_partition(const char *region)
{
    for (size_t i = 0; i < COUNT(partitions); i++)
        if (strncmp(region, partitions[i].region_prefix, strlen(partitions[i].region_prefix)) == 0)
            return &partitions[i];
    return &partitions[COUNT(partitions) - 1];
}

bool endpoint_region_valid(const char *region, err *e)
{
    if (region == NULL || *region == '\0')
        return err_set(e, ERR_INVALID, "region is empty");
    size_t n = strlen(region);
    bool ok = n <= 63 && islower((unsigned char)region[0]) && region[n - 1] != '-';
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char ch = (unsigned char)region[i];
        ok = islower(ch) || isdigit(ch) || ch == '-';
    }
    if (!ok)
        return err_set(e, ERR_INVALID,
                       "region \"%.80s\" is not valid (expected lower-case letters, digits and "
                       "'-', like \"us-east-1\")",
                       region);
    return true;
}

static bool service_name_valid(const char *service)
{
    if (service == NULL || *service == '\0' || strlen(service) >= ENDPOINT_NAME_MAX)
        return false;
    for (const char *p = service; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' && *p != '.')
            return false;
    return true;
}

const char *endpoint_service_id(const char *service)
{
    const service_info *s = find_service(service);
    return s ? s->service_id : service;
}

void endpoint_env_name(const char *service, char *out, size_t n)
{
    if (n == 0)
        return;
    const char *id = endpoint_service_id(service);
    int w = snprintf(out, n, "AWS_ENDPOINT_URL_");
    size_t i = w > 0 ? (size_t)w : 0;
    for (const char *p = id; *p && i + 1 < n; p++, i++) {
        unsigned char ch = (unsigned char)*p;
        out[i] = (ch == ' ' || ch == '-') ? '_' : (char)toupper(ch);
    }
    if (i < n)
        out[i] = '\0';
    else
        out[n - 1] = '\0';
}

/* Splits an override URL into the endpoint's url, host and base path. */
static bool parse_override(const char *url, const char *source, endpoint *out, err *e)
{
    const char *rest;
    if (strncasecmp(url, "https://", 8) == 0)
        rest = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else
        return err_set(e, ERR_INVALID,
                       "endpoint URL \"%.200s\" from %s must start with https:// "
                       "or http://",
                       url, source);
    size_t auth_len = strcspn(rest, "/?#");
    if (auth_len == 0 || auth_len >= ENDPOINT_HOST_MAX)
        return err_set(e, ERR_INVALID, "endpoint URL \"%.200s\" from %s has no usable host", url,
                       source);
    if (memchr(rest, '@', auth_len))
        return err_set(e, ERR_INVALID,
                       "endpoint URL \"%.200s\" from %s must not carry user "
                       "information",
                       url, source);
    const char *after = rest + auth_len;
    if (*after == '?' || *after == '#')
        return err_set(e, ERR_INVALID,
                       "endpoint URL \"%.200s\" from %s must not have a query "
                       "or fragment",
                       url, source);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ')
            return err_set(e, ERR_INVALID,
                           "endpoint URL \"%.200s\" from %s contains spaces or "
                           "control characters",
                           url, source);
    if (strpbrk(after, "?#"))
        return err_set(e, ERR_INVALID,
                       "endpoint URL \"%.200s\" from %s must not have a query "
                       "or fragment",
                       url, source);
    size_t total = strlen(url);
    while (total > (size_t)(after - url) && url[total - 1] == '/')
        total--; /* a trailing '/' would double with the request path */
    if (total >= ENDPOINT_URL_MAX)
        return err_set(e, ERR_INVALID, "endpoint URL \"%.200s...\" from %s is too long", url,
                       source);
    memcpy(out->url, url, total);
    out->url[total] = '\0';
    memcpy(out->host, rest, auth_len);
    out->host[auth_len] = '\0';
    size_t path_len = total - (size_t)(after - url);
    memcpy(out->base_path, after, path_len);
    out->base_path[path_len] = '\0';
    snprintf(out->source, sizeof out->source, "%s", source);
    return true;
}

static bool env_true(const char *v)
{
    return v && strcasecmp(v, "true") == 0;
}

bool endpoint_resolve(const char *service, const char *region, const char *endpoint_url,
                      endpoint_env_fn env, void *env_arg, endpoint *out, err *e)
{
    memset(out, 0, sizeof *out);
    if (!service_name_valid(service))
        return err_set(e, ERR_INVALID, "service name \"%.80s\" is not valid",
                       service ? service : "(null)");
    if (!endpoint_region_valid(region, e))
        return false;
    const service_info *si = find_service(service);
    const char *prefix = si ? si->prefix : service;
    snprintf(out->signing_name, sizeof out->signing_name, "%s", service);
    snprintf(out->signing_region, sizeof out->signing_region, "%s", region);
    out->path_style = strcmp(service, "s3") == 0;

    /* Overrides: the program option first, then the environment. An override
     * signs for the caller's region, as the SDKs' endpoint rules do when an
     * Endpoint parameter is set. */
    if (endpoint_url && *endpoint_url)
        return parse_override(endpoint_url, "the endpoint_url option", out, e);
    if (env && !env_true(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", env_arg))) {
        char specific[sizeof out->source];
        endpoint_env_name(service, specific, sizeof specific);
        const char *v = env(specific, env_arg);
        if (v && *v)
            return parse_override(v, specific, out, e);
        v = env("AWS_ENDPOINT_URL", env_arg);
        if (v && *v)
            return parse_override(v, "AWS_ENDPOINT_URL", out, e);
    }

    const partition *p = find_partition(region);
    snprintf(out->source, sizeof out->source, "default");
    for (size_t i = 0; i < COUNT(globals); i++) {
        if (strcmp(globals[i].service, service) == 0 &&
            strcmp(globals[i].partition, p->name) == 0) {
            snprintf(out->host, sizeof out->host, "%s", globals[i].host);
            snprintf(out->url, sizeof out->url, "https://%s", globals[i].host);
            snprintf(out->signing_region, sizeof out->signing_region, "%s",
                     globals[i].signing_region);
            return true;
        }
    }
    snprintf(out->host, sizeof out->host, "%s.%s.%s", prefix, region, p->dns_suffix);
    snprintf(out->url, sizeof out->url, "https://%s", out->host);
    return true;
}
