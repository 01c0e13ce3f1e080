/* AWS query protocol requests (STS, IAM, RDS, Auto Scaling, CloudWatch) and
 * the EC2 variant: an ordered list of name=value parameters sent as a
 * form-urlencoded POST body.
 *
 *     query_params q;
 *     query_init(&q, "AssumeRole", "2011-06-15");
 *     query_add(&q, "RoleArn", arn);
 *     query_add_list(&q, AWS_PROTO_QUERY, "PolicyArns", arns, n);
 *     query_to_request(&q, "sts", "AssumeRole", AWS_PROTO_QUERY, &req);
 *     query_free(&q);
 *
 * Lists flatten as Name.member.N in query and Name.N in EC2 (N from 1);
 * maps as Name.entry.N.key / Name.entry.N.value. The caller passes wire names
 * (the member's locationName / queryName from the model where it has one). */
#ifndef ESCHER_AWS_QUERY_H
#define ESCHER_AWS_QUERY_H

#include "aws/aws_client.h"
#include "aws/awserror.h"
#include "aws/xml.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct query_param {
    char *name;
    char *value;
} query_param;

/* Public so it can live on the stack; change it only through these functions. */
typedef struct query_params {
    query_param *items;
    size_t count;
    size_t cap;
} query_params;

/* Starts a parameter list with Action and Version (both copied). */
void query_init(query_params *q, const char *action, const char *version);

/* Appends name=value (both copied). Order is kept; names are not deduplicated. */
void query_add(query_params *q, const char *name, const char *value);
/* Appends name=<printf result>. */
void query_addf(query_params *q, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void query_add_int(query_params *q, const char *name, long long value);
/* AWS booleans: "true" / "false". */
void query_add_bool(query_params *q, const char *name, bool value);

/* A list of strings: Name.member.N (query) or Name.N (EC2). An empty list in
 * the query protocol is sent as "Name=" so the service sees it as present and
 * empty (botocore does the same); EC2 sends nothing for an empty list. */
void query_add_list(query_params *q, aws_protocol proto, const char *name,
                    const char *const *values, size_t n);

/* Field of the index-th (1-based) structure of a list:
 * "Tags.member.2.Key" (query) or "TagSpecification.2.ResourceType" (EC2).
 * field may be NULL for a list of scalars. */
void query_add_list_field(query_params *q, aws_protocol proto, const char *list, size_t index,
                          const char *field, const char *value);

/* A map: Name.entry.N.key=K, Name.entry.N.value=V. key_name / value_name
 * default to "key" / "value" when NULL (some models rename them). */
void query_add_map(query_params *q, const char *name, const char *key_name, const char *value_name,
                   const char *const *keys, const char *const *values, size_t n);

/* Value of the first parameter called name, or NULL. Owned by q. */
const char *query_get(const query_params *q, const char *name);

/* The body: name=value pairs joined by '&', each percent-encoded the way
 * AWS's SigV4 expects (RFC 3986 unreserved characters kept, everything else
 * %XX in upper case, space as %20). Caller frees. */
char *query_encode(const query_params *q);

/* Percent-encodes n bytes of s onto sb (the rule of query_encode). When
 * keep_slash is true '/' stays literal, as needed for URI paths. */
void query_uri_encode(strbuf *sb, const char *s, size_t n, bool keep_slash);

/* Initialises req (aws_request_init) as POST / with the form content type
 * and the encoded body. `service` and `operation` (the Action, for logs and
 * errors) are borrowed by req and must outlive it: pass string literals. q
 * may be freed as soon as this returns. */
void query_to_request(const query_params *q, const char *service, const char *operation,
                      aws_protocol proto, aws_request *req);

void query_free(query_params *q);

/* The common parse step of query/EC2 answers: parses body and returns the
 * result element: <OpResponse><OpResult> for the query protocol (the
 * resultWrapper; `result` names it, e.g. "AssumeRoleResult"), or the root
 * <OpResponse> itself for EC2 and when result is NULL. ERR_PARSE when the
 * document is malformed or the wrapper is missing; *doc must be freed with
 * xml_free when this succeeds. */
bool query_parse_result(const char *body, size_t len, const char *result, xml_doc **doc,
                        const xml_node **out, err *e);

#endif
