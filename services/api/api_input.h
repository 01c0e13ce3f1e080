/* Checks on the fields of a JSON request body, shared by the route handlers.
 *
 * Each api_input_* function that takes an api_req records the 400 answer
 * itself (code "invalid_field", the message naming the field, quoting the
 * value, and saying what is wanted) and returns false, so a handler writes
 * `if (!api_input_...(r, ...)) return;`. The pure api_input_is_* checks take
 * no request, for callers that build their own message (and for unit tests).
 *
 * Strings from the body are borrowed from the JSON object (which lives as
 * long as the request). Lengths are counted in characters (UTF-8 code
 * points), as an operator counts them; control characters are refused in
 * every string field, since no field of the API holds free text with line
 * breaks and they only serve to forge log lines. */
#ifndef ESCHER_API_INPUT_H
#define ESCHER_API_INPUT_H

#include "api_req.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define API_ACCOUNT_ID_LEN 13 /* 12 digits and the NUL */
#define API_REGIONS_MAX    32
#define API_NAME_MAX       256 /* names of accounts, tokens...: characters */

/* What an optional field held. */
typedef enum api_field {
    API_FIELD_ABSENT, /* not in the object */
    API_FIELD_NULL,   /* present as JSON null (only where nullable) */
    API_FIELD_SET,    /* present with a value */
} api_field;

/* A role ARN taken apart: arn:<partition>:iam::<account>:role/<path/><name>. */
typedef struct api_role_arn {
    char partition[16]; /* "aws", "aws-cn" or "aws-us-gov" */
    char account_id[API_ACCOUNT_ID_LEN];
    const char *name; /* points into the parsed string: the role's name (after the path) */
} api_role_arn;

/* ---- body shape ------------------------------------------------------- */

/* Refuses the first member of obj whose name is not in the NULL-terminated
 * list known: 400 "unknown field 'foo' (known: a, b)". */
bool api_input_only(api_req *r, const json_t *obj, const char *const *known);

/* A required, non-empty string of at most max_len characters (0: no limit).
 * *out is borrowed from obj. */
bool api_input_string(api_req *r, const json_t *obj, const char *name, size_t max_len,
                      const char **out);

/* An optional string, like api_input_string when present. nullable admits
 * JSON null (state API_FIELD_NULL); otherwise null is refused. *out is NULL
 * unless the state is API_FIELD_SET; state may be NULL. */
bool api_input_opt_string(api_req *r, const json_t *obj, const char *name, size_t max_len,
                          bool nullable, const char **out, api_field *state);

/* An optional boolean: *out keeps its value (the default) when absent. */
bool api_input_opt_bool(api_req *r, const json_t *obj, const char *name, bool *out);

/* An optional integer (a JSON number without a fraction) within min..max:
 * *out keeps its value (the default) when absent. */
bool api_input_opt_int(api_req *r, const json_t *obj, const char *name, long long min,
                       long long max, long long *out);

/* An optional JSON object (null refused): *out (borrowed) is NULL when
 * absent. Its members are the caller's to check. */
bool api_input_opt_object(api_req *r, const json_t *obj, const char *name, json_t **out);

/* An optional array of at most max_items non-empty strings of at most
 * max_len characters each. *out (borrowed) is NULL unless the state is
 * API_FIELD_SET; nullable as in api_input_opt_string; state may be NULL. */
bool api_input_opt_strings(api_req *r, const json_t *obj, const char *name, size_t max_items,
                           size_t max_len, bool nullable, json_t **out, api_field *state);

/* Whether s is a dotted lower-case name of 1..max_len characters of
 * a-z 0-9 _ . : - (job kinds such as "account.verify", audit actions such
 * as "accounts.create"): a shape check for query filters. */
bool api_input_is_dotted_name(const char *s, size_t max_len);

/* ---- AWS shapes ------------------------------------------------------- */

/* Whether s is exactly 12 ASCII digits. */
bool api_input_is_account_id(const char *s);

/* Whether s looks like an AWS region code: <area>-<direction>-<digit(s)>,
 * optionally with a "gov" or "iso*" part ("us-east-1", "eu-central-2",
 * "us-gov-west-1", "cn-north-1"). A shape check: new regions pass. */
bool api_input_is_region(const char *s);

/* Whether s is an IAM role name or path/name: optional path segments then a
 * name of 1..64 of [A-Za-z0-9+=,.@_-] (path segments use the same set). */
bool api_input_is_role_path_name(const char *s);

/* Parses s as a role ARN; out may be NULL. */
bool api_input_parse_role_arn(const char *s, api_role_arn *out);

/* Records 400 invalid_field "field '<name>' is '<value>': want <want>"
 * (value shortened when long). Returns false. */
bool api_input_fail_field(api_req *r, const char *name, const char *value, const char *want);

/* api_input_parse_role_arn with the 400 naming the field. out may be NULL. */
bool api_input_role_arn(api_req *r, const char *name, const char *value, api_role_arn *out);

/* An account id field's value: 12 digits, or the 400 naming the field. */
bool api_input_account_id(api_req *r, const char *name, const char *value);

/* An optional array of region codes: each checked, duplicates dropped (first
 * kept), at most API_REGIONS_MAX. *out is a new array (caller decrefs) unless
 * the state is not API_FIELD_SET (then NULL); state may be NULL. */
bool api_input_opt_regions(api_req *r, const json_t *obj, const char *name, bool nullable,
                           json_t **out, api_field *state);

#endif
