/* Endpoint resolution: which URL to send a (service, region) request to and
 * which region to sign it for.
 *
 * Defaults follow botocore's endpoints.json: regional
 * "https://<prefix>.<region>.<dnsSuffix>" with the partition's suffix
 * (amazonaws.com, amazonaws.com.cn for cn-*, c2s.ic.gov / sc2s.sgov.gov for
 * the ISO partitions); global services (iam, organizations, ce, route53) use
 * their partition endpoint and signing region; STS is regional (the SDKs'
 * modern default); S3 is "https://s3.<region>.<suffix>" used path-style.
 *
 * Overrides, highest first, as the SDKs' "service-specific endpoints" spec:
 *   1. the program's endpoint_url option;
 *   2. AWS_ENDPOINT_URL_<SERVICE_ID> (service id upper-cased, spaces to
 *      underscores: AWS_ENDPOINT_URL_COST_EXPLORER for ce,
 *      AWS_ENDPOINT_URL_CLOUDWATCH for monitoring);
 *   3. AWS_ENDPOINT_URL;
 *   4. the default.
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true disables 2 and 3.
 *
 * Everything here is pure: the environment comes through a getter so tests
 * pass a fake one. */
#ifndef ESCHER_AWS_ENDPOINT_H
#define ESCHER_AWS_ENDPOINT_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define ENDPOINT_URL_MAX  512
#define ENDPOINT_HOST_MAX 256
#define ENDPOINT_NAME_MAX 64

/* Returns the value of environment variable `name` or NULL; the string must
 * stay valid until the resolving call returns. */
typedef const char *(*endpoint_env_fn)(const char *name, void *arg);

/* endpoint_env_fn over the process environment (getenv); arg is ignored. */
const char *endpoint_process_env(const char *name, void *arg);

typedef struct endpoint {
    char url[ENDPOINT_URL_MAX];             /* scheme://authority[/base path], no trailing '/' */
    char host[ENDPOINT_HOST_MAX];           /* Host header: host[:port] as in the URL */
    char base_path[ENDPOINT_URL_MAX];       /* path part of an override URL, "" for defaults */
    char signing_region[ENDPOINT_NAME_MAX]; /* region in the SigV4 credential scope */
    char signing_name[ENDPOINT_NAME_MAX];   /* service in the credential scope */
    bool path_style;                        /* S3: bucket goes in the path */
    char source[96]; /* where it came from, for messages: "default", "the endpoint_url option",
                        "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL" */
} endpoint;

/* Checks a region name the way botocore validates host labels: 1..63 of
 * [a-z0-9-], starting with a letter, not ending with '-'. Fails with
 * ERR_INVALID quoting the value. */
bool endpoint_region_valid(const char *region, err *e);

/* The SDK service id for a service name ("ce" -> "Cost Explorer",
 * "monitoring" -> "CloudWatch"); for services it does not know, the name
 * itself. Static string or `service`. */
const char *endpoint_service_id(const char *service);

/* Writes "AWS_ENDPOINT_URL_<ID>" for service into out (upper-cased, spaces and
 * '-' to '_'). Truncates to n bytes. */
void endpoint_env_name(const char *service, char *out, size_t n);

/* Resolves the endpoint for (service, region). endpoint_url (may be NULL or
 * "") is the program option; env (NULL: no environment) supplies the
 * AWS_ENDPOINT_URL* variables. Fails with ERR_INVALID quoting a bad region,
 * service or override URL (naming where the URL came from). */
bool endpoint_resolve(const char *service, const char *region, const char *endpoint_url,
                      endpoint_env_fn env, void *env_arg, endpoint *out, err *e);

#endif
