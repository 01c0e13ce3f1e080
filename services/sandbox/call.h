/* One request being served by the sandbox, and the contract between the
 * edge server and the service handlers.
 *
 * The server (server.c) verifies the signature, finds the principal, routes
 * to a service and action from the tables below, applies faults, checks the
 * caller's policies, then runs the handler with a call. The handler reads
 * parameters, changes the world, and writes its answer with the reply
 * helpers; on failure it calls call_error and returns false. The server
 * renders errors in the protocol's shape (query <ErrorResponse>, EC2
 * <Response><Errors>, JSON __type, REST-XML <Error>) and logs the call.
 *
 * Services are data: each svc_<name>.c defines one sbx_service with its
 * action table, listed once in services.c. */
#ifndef ESCHER_SANDBOX_CALL_H
#define ESCHER_SANDBOX_CALL_H

#include "aws/awserror.h"
#include "core/strbuf.h"
#include "world.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct sbx_call sbx_call;

/* Throttling buckets and the call log group actions by class. */
typedef enum sbx_api_class {
    SBX_DESCRIBE, /* read-only: EC2's 100 burst / 20 per second */
    SBX_MUTATE,   /* changes state: 50 burst / 5 per second */
} sbx_api_class;

typedef bool (*sbx_handler)(sbx_call *c);

typedef struct sbx_action {
    const char *name; /* wire operation name, "DescribeInstances" */
    sbx_api_class cls;
    sbx_handler fn;
    /* false: the server authorizes "<prefix>:<name>" on Resource "*" before
     * the handler runs. true: the handler calls call_authorize for each
     * resource it touches (resource-level permissions). */
    bool per_resource;
    /* REST-XML only: HTTP method and the query marker that selects this
     * action on a bucket ("location", "publicAccessBlock", ...; NULL: none). */
    const char *rest_method;
    const char *rest_marker;
    bool rest_bucket; /* REST-XML: the path names a bucket ("/b") vs the service ("/") */
} sbx_action;

/* An action whose IAM name differs from its wire name (S3's ListBuckets is
 * authorized as s3:ListAllMyBuckets). A table on the service rather than a
 * field of sbx_action, whose tables are written positionally. */
typedef struct sbx_iam_name {
    const char *action;     /* wire name, "ListBuckets" */
    const char *iam_action; /* IAM name without the prefix, "ListAllMyBuckets" */
} sbx_iam_name;

typedef struct sbx_service {
    const char *signing_name; /* SigV4 scope service: "ec2", "sts", "s3", "ce", "monitoring" */
    const char *iam_prefix;   /* IAM action prefix: "ec2", "cloudwatch", "ce" */
    aws_protocol protocol;
    const char *xml_namespace; /* query/ec2/rest-xml answers' xmlns */
    const char *json_target;   /* JSON: X-Amz-Target prefix, "AWSOrganizationsV20161128" */
    bool global;               /* IAM, Organizations, CE: one endpoint, us-east-1 */
    const sbx_action *actions;
    size_t nactions;
    /* Optional: actions authorized under another name; the others are
     * authorized as "<iam_prefix>:<name>". */
    const sbx_iam_name *iam_names;
    size_t niam_names;
} sbx_service;

/* The table of every service (services.c). */
extern const sbx_service *const sbx_services[];
extern const size_t sbx_nservices;

/* ---- what the handler reads ---- */

world *call_world(const sbx_call *c);
const sbx_service *call_service(const sbx_call *c);
const sbx_action *call_action(const sbx_call *c);
const char *call_region(const sbx_call *c); /* from the credential scope */
const sbx_principal *call_principal(const sbx_call *c);
sbx_account *call_account(const sbx_call *c); /* the caller's account */
/* The caller's account's state in the request's region (settled to now);
 * NULL when the world does not simulate that region (handlers answer empty). */
sbx_region *call_region_state(const sbx_call *c);
time_t call_now(const sbx_call *c); /* sandbox clock */
const char *call_request_id(const sbx_call *c);

/* Query/EC2 parameters (decoded form body or query string). NULL if absent. */
const char *call_param(const sbx_call *c, const char *name);
/* Values of a flattened list: "InstanceId" gives InstanceId.1, .2, ... (EC2)
 * and "Names" gives Names.member.1, ... (query). *n receives the count; the
 * array and strings are owned by the call. */
const char *const *call_param_list(sbx_call *c, const char *name, size_t *n);
/* EC2 filters Filter.N.Name / Filter.N.Value.M: the values of filter `name`,
 * NULL when that filter is absent. */
const char *const *call_filter(sbx_call *c, const char *name, size_t *n);
/* Names of all filters given, to reject unknown ones. */
const char *const *call_filter_names(sbx_call *c, size_t *n);

/* JSON protocols: the parsed request body (an object; borrowed). */
json_t *call_json(const sbx_call *c);

/* REST-XML: bucket from the path ("" for service-level), raw path, method. */
const char *call_bucket(const sbx_call *c);
const char *call_method(const sbx_call *c);
/* The request path as sent (still percent-encoded, without the query). */
const char *call_path(const sbx_call *c);
/* The request body (REST-XML documents such as PutPublicAccessBlock's);
 * "" with *len 0 when none. len may be NULL. */
const char *call_body(const sbx_call *c, size_t *len);
/* A request header (case-insensitive name), NULL when absent. */
const char *call_request_header(const sbx_call *c, const char *name);

/* Seconds a transitional state lasts (pending, stopping, shutting-down,
 * RDS starting/stopping): --state-delay. Handlers set
 * transition_at = call_now(c) + call_state_delay(c). */
int call_state_delay(const sbx_call *c);

/* Checks the caller may do this call's action on `resource` (an ARN), with
 * identity and session policies; on denial sets the protocol's AccessDenied
 * / UnauthorizedOperation error and returns false. */
bool call_authorize(sbx_call *c, const char *resource);

/* ---- what the handler writes ---- */

/* Sets an error answer and returns false: status, AWS code, message. */
bool call_error(sbx_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* XML answers. For query and EC2 the server writes the envelope
 * (<ActionResponse xmlns=...>, <ActionResult> for query, <requestId> for EC2,
 * <ResponseMetadata> for query); the handler writes the result's inside.
 * For REST-XML the handler writes the whole document after the declaration. */
void call_xml_open(sbx_call *c, const char *name);
void call_xml_close(sbx_call *c, const char *name);
/* <name>escaped text</name>; NULL text writes nothing. */
void call_xml_text(sbx_call *c, const char *name, const char *text);
void call_xml_int(sbx_call *c, const char *name, long long v);
void call_xml_bool(sbx_call *c, const char *name, bool v);
void call_xml_double(sbx_call *c, const char *name, double v);
/* ISO 8601 UTC with milliseconds as AWS writes it: 2024-05-01T12:00:00.000Z */
void call_xml_time(sbx_call *c, const char *name, time_t t);
/* EC2-style tagSet/item list, or query-style Tags/member: name is the list element. */
void call_xml_tags(sbx_call *c, const char *list_name, const char *item_name, const sbx_tags *tags);

/* Appends XML the caller has already escaped, copied into the answer. The
 * caller vouches that it is well-formed in place. */
void call_xml_raw(sbx_call *c, const char *xml, size_t len);

/* Pre-rendered XML shared by many answers without copying: a handler
 * renders a fragment once, keeps it (a cache), and appends it to every
 * answer that needs it; the bytes go from the fragment to the socket.
 *
 * Ownership: a fragment is immutable and reference-counted.
 * sbx_frag_new returns it with one reference, the creator's.
 * call_xml_frag takes a reference of the answer's own, released once
 * libevent has written the bytes (or the answer is discarded: an error
 * replacing it, a dropped connection), so the creator may drop its
 * reference at any time, even while answers holding the fragment wait
 * for the socket. Single-threaded, like the server. */
typedef struct sbx_frag sbx_frag;

/* A fragment holding a copy of xml[0..len) (already escaped XML). */
sbx_frag *sbx_frag_new(const char *xml, size_t len);
/* Another reference to f; returns f. */
sbx_frag *sbx_frag_ref(sbx_frag *f);
/* Drops one reference; the last frees the fragment. NULL is a no-op. */
void sbx_frag_unref(sbx_frag *f);
/* The fragment's bytes and their count. */
const char *sbx_frag_data(const sbx_frag *f, size_t *len);
/* Bytes the fragment occupies in memory, header included (cache budgets). */
size_t sbx_frag_footprint(const sbx_frag *f);
/* Appends f to the answer by reference, with no copy. */
void call_xml_frag(sbx_call *c, sbx_frag *f);
/* Appends f's bytes [off, off + len) by reference (a piece of a larger
 * rendering); the answer holds a reference to the whole of f. */
void call_xml_frag_range(sbx_call *c, sbx_frag *f, size_t off, size_t len);

/* JSON answers: takes the reference to `body` (an object). */
void call_json_reply(sbx_call *c, json_t *body);

/* Extra answer header (REST-XML, e.g. x-amz-bucket-region). */
void call_header(sbx_call *c, const char *name, const char *value);

/* Records a note in the call log entry (e.g. "stopped 3 instances"). */
void call_note(sbx_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Paging over handler-made token strings: opaque tokens the sandbox issues
 * and checks (a bad token answers InvalidParameterValue / InvalidNextToken
 * in the protocol's way). Encodes an offset with a hash of the filter so a
 * token reused with other filters is refused. */
char *call_page_token(sbx_call *c, size_t offset);
bool call_page_offset(sbx_call *c, const char *token, size_t *offset);

#endif
