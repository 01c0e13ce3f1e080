/* AWS JSON 1.0 / 1.1 protocol (Organizations, Cost Explorer, ...): every
 * call is POST / with the operation in X-Amz-Target and a JSON object body;
 * answers are JSON objects. jansson values are used on both sides. */
#ifndef ESCHER_AWS_AWSJSON_H
#define ESCHER_AWS_AWSJSON_H

#include "aws/aws_client.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What the model's metadata says about a JSON service. */
typedef struct awsjson_service {
    const char *service;       /* endpointPrefix / signing name, e.g. "organizations" */
    const char *json_version;  /* metadata.jsonVersion: "1.0" or "1.1" */
    const char *target_prefix; /* metadata.targetPrefix */
} awsjson_service;

/* From botocore's organizations/2016-11-28 and ce/2017-10-25 models. */
extern const awsjson_service AWSJSON_ORGANIZATIONS;
extern const awsjson_service AWSJSON_CE;
extern const awsjson_service AWSJSON_CLOUDTRAIL;

/* Initialises req (aws_request_init) as POST / with
 * X-Amz-Target: <target_prefix>.<operation> and
 * Content-Type: application/x-amz-json-<json_version>, and body serialised
 * compactly (NULL sends "{}", which the services require for no input).
 * body is only read (the caller keeps its reference). svc and operation are
 * borrowed and must outlive req. */
void awsjson_request(const awsjson_service *svc, const char *operation, const json_t *body,
                     aws_request *req);

/* Parses an answer body into a new reference to a JSON object (caller
 * json_decref's it). An empty body is an empty object (operations without
 * output answer so). ERR_PARSE with line and column for malformed JSON, or
 * when the top level is not an object. */
bool awsjson_parse(const char *body, size_t len, json_t **out, err *e);

/* String member of obj or NULL when absent, null or not a string. */
const char *awsjson_get_string(const json_t *obj, const char *key);

/* Follows dotted keys through nested objects ("Credentials.AccessKeyId");
 * NULL when any step is missing or not an object. Borrowed reference. */
json_t *awsjson_find(const json_t *obj, const char *path);

/* AWS JSON timestamps are epoch seconds as a number (possibly fractional);
 * some services send ISO 8601 strings. ERR_NOT_FOUND when absent, ERR_PARSE
 * quoting a value of another type. */
bool awsjson_get_time(const json_t *obj, const char *key, time_t *out, err *e);

#endif
