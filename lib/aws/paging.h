/* Following AWS pagination tokens one page at a time.
 *
 * Every paged AWS operation returns a token for the next page in its answer
 * and takes it back as a request parameter; only the names and the "more
 * results" flag differ:
 *
 *   style                 answer (output_token)                 flag (more_results)
 *   EC2                   <nextToken>                            -
 *   query (RDS, ASG, CW)  <OpResult><Marker> / <NextToken>        -
 *   IAM                   <OpResult><Marker>                     <OpResult><IsTruncated>
 *   S3 ListObjectsV2      <NextContinuationToken>               <IsTruncated>
 *   JSON (Organizations)  "NextToken"                            -
 *   Cost Explorer         "NextPageToken"                        -
 *
 * A paginator holds the current page only (its raw answer and the parsed
 * document) plus the token for the next request. It stops when the token is
 * absent or empty, when the flag says false, when a token repeats (a server
 * returning the same token forever would loop us forever) or at the page
 * limit; the last two set paginator_truncated so callers can tell a complete
 * listing from a cut one.
 *
 * The paginator does no I/O itself: paginator_feed takes an answer obtained
 * any way (blocking or asynchronous), so workers on an event loop use the
 * same state machine; paginator_fetch is the blocking convenience. */
#ifndef ESCHER_AWS_PAGING_H
#define ESCHER_AWS_PAGING_H

#include "aws/aws_client.h"
#include "aws/awserror.h"
#include "aws/xml.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>

#define PAGING_DEFAULT_MAX_PAGES 1000

typedef struct paging_spec {
    aws_protocol protocol; /* XML (query, ec2, rest-xml) or JSON answers */
    /* XML: path of the token from the root element ("ListUsersResult/Marker",
     * "nextToken"); JSON: dotted key path ("NextToken"). */
    const char *output_token;
    /* Path of a boolean "more results" flag, or NULL when the token decides. */
    const char *more_results;
    int max_pages; /* 0: PAGING_DEFAULT_MAX_PAGES */
} paging_spec;

/* Ready-made specs for the operations Escher pages through. */
extern const paging_spec PAGING_EC2_DESCRIBE_INSTANCES;
extern const paging_spec PAGING_EC2_DESCRIBE_VOLUMES;
extern const paging_spec PAGING_EC2_DESCRIBE_SNAPSHOTS;
extern const paging_spec PAGING_EC2_DESCRIBE_SECURITY_GROUPS;
extern const paging_spec PAGING_IAM_LIST_USERS;
extern const paging_spec PAGING_RDS_DESCRIBE_DB_INSTANCES;
extern const paging_spec PAGING_S3_LIST_OBJECTS_V2;
extern const paging_spec PAGING_ORGANIZATIONS_LIST_ACCOUNTS;
extern const paging_spec PAGING_CE_GET_COST_AND_USAGE;

typedef struct paginator paginator;

/* New paginator before the first page. spec is copied, but its strings are
 * borrowed (string literals in practice). Caller frees with paginator_free. */
paginator *paginator_new(const paging_spec *spec);
void paginator_free(paginator *p);

/* Token to send with the next request: NULL before the first page (send
 * none), then the token of the current page. Owned by p; valid until the
 * next feed. */
const char *paginator_token(const paginator *p);

/* True once the last page has been fed (or a limit/repeat stopped paging). */
bool paginator_done(const paginator *p);

/* True when paging stopped early: page limit reached, a token repeated, or
 * the answer said there were more results but carried no token. */
bool paginator_truncated(const paginator *p);

/* Pages fed so far. */
int paginator_pages(const paginator *p);

/* Makes a successful answer the current page: parses its body (XML or JSON
 * by protocol), reads the next token and decides whether paging is done.
 * Takes resp's body (resp->body is left empty); the previous page is freed.
 * Fails with ERR_PARSE on a malformed body (the paginator is then done), and
 * ERR_INTERNAL if called after done. */
bool paginator_feed(paginator *p, http_response *resp, err *e);

/* paginator_feed for an answer the caller may not take from (an asynchronous
 * call's callback gets a const response): the body is copied first. */
bool paginator_feed_copy(paginator *p, const http_response *resp, err *e);

/* The current page: raw body and its parsed form (xml for XML protocols,
 * json for JSON). Owned by p, valid until the next feed/fetch/free. */
const char *paginator_body(const paginator *p);
const xml_node *paginator_xml(const paginator *p);
json_t *paginator_json(const paginator *p);

/* Builds the request for one page: token is NULL for the first page,
 * otherwise the value to send as the operation's input token (e.g.
 * "NextToken", "Marker", "continuation-token"). Initialises req on success;
 * on failure leaves nothing in req to free. */
typedef bool (*paging_build_fn)(void *arg, const char *token, aws_request *req, err *e);

/* Blocking: builds the next request, calls AWS, feeds the answer. Sets *got
 * to false (and returns true) when there are no more pages. When the build
 * or the call fails its error is returned and the paginator is left as it
 * was, so the caller may retry; a malformed answer fails as paginator_feed. */
bool paginator_fetch(paginator *p, aws_client *c, paging_build_fn build, void *arg, bool *got,
                     err *e);

#endif
