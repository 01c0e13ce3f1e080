/* The sandbox fixture of the lib/aws tests: one escher-sandbox process on
 * free loopback ports (posix_spawn, --no-throttle, a temporary
 * --aws-config), its admin API, lib/aws clients built from the profiles
 * it writes, and one way to call AWS in either mode — blocking
 * (aws_client_call) or asynchronous (aws_client_call_async on the
 * fixture's event_base) — so each scenario runs through both.
 *
 * Every helper asserts with cmocka: a test that gets a value back can use it. */
#ifndef ESCHER_TESTS_SANDBOX_LIBAWS_FIXTURE_H
#define ESCHER_TESTS_SANDBOX_LIBAWS_FIXTURE_H

#include "aws/aws_client.h"
#include "aws/credprov.h"
#include "aws/http.h"
#include "aws/paging.h"
#include "aws/query.h"
#include "aws/restxml.h"
#include "aws/xml.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SBX_EXTERNAL_ID "libaws-test-external-id-0123"
#define SBX_SEED        "7"
#define SBX_ACCOUNTS    3 /* members besides the management account */
#define SBX_STATE_DELAY 2 /* seconds, --state-delay */
#define SBX_REGION1     "us-east-1"
#define SBX_REGION2     "eu-west-1"
#define SBX_MAX_CLIENTS 32

struct event_base;

typedef enum sbx_mode { SBX_BLOCKING, SBX_ASYNC } sbx_mode;

typedef struct sbx_client {
    char *name; /* profile name, or a label for static credentials */
    credprov *creds;
    aws_client *aws;
} sbx_client;

typedef struct sbx {
    pid_t pid;
    char tmpdir[256];
    char config_file[320];
    char credentials_file[320];
    char log_path[320];
    char endpoint[64];
    int port;
    int admin_port;
    struct event_base *base;
    http_client *admin;
    sbx_client *clients[SBX_MAX_CLIENTS]; /* cache of profile clients */
    size_t nclients;
    /* From GET /state at start. */
    char org_id[32];
    char root_id[32];
    char mgmt_id[16];
    char hub_id[16];
    char member_ids[SBX_ACCOUNTS][16];
} sbx;

/* The fixture of the running test program (set by the group setup). */
extern sbx *g_sbx;

const char *sbx_mode_name(sbx_mode mode);

/* ---- process ---- */

/* Starts the sandbox and waits for its "listening" log line; false with a
 * message (the log's tail) in e on failure. */
bool sbx_start(sbx *s, err *e);

/* What sbx_start_with may change; NULL fields keep the fixture's choice. */
typedef struct sbx_config {
    const char *external_id; /* --external-id (default SBX_EXTERNAL_ID) */
    /* --world FILE: a world saved from GET /state (made with the same
     * accounts and regions); its own external id must equal external_id. */
    const char *world_file;
} sbx_config;

/* sbx_start with c (NULL: as sbx_start). */
bool sbx_start_with(sbx *s, const sbx_config *c, err *e);
/* SIGTERM, then waits. False (message in e) unless it exited 0 with no
 * sanitizer report in its log. Frees clients and removes the temp dir. */
bool sbx_stop(sbx *s, err *e);
/* The sandbox's log so far (caller frees). */
char *sbx_log(const sbx *s);
/* A file's content, "" when it cannot be read (caller frees). */
char *sbx_read_file(const char *path);

/* ---- admin API ---- */

/* method path [JSON body] -> parsed JSON answer (caller decrefs); asserts 200. */
json_t *sbx_admin(sbx *s, const char *method, const char *path, const char *body);
/* POST /clock/advance. */
void sbx_advance(sbx *s, int seconds);
/* The sandbox's clock (GET /clock "epoch"). */
time_t sbx_now(sbx *s);
/* GET /state (caller decrefs). */
json_t *sbx_state(sbx *s);
/* The call-log entry whose request_id is id, or NULL (caller decrefs). */
json_t *sbx_call_log_entry(sbx *s, const char *request_id);

/* ---- world lookups in a GET /state document (borrowed) ---- */

json_t *sbx_world_account(json_t *state, const char *id);
json_t *sbx_world_region(json_t *account, const char *region);
/* Profile name of an organization account: "mgmt" or "acct-<id>" (static buffer per call). */
const char *sbx_profile_of(const sbx *s, const char *account_id, char *buf, size_t n);

/* ---- clients ---- */

/* Client on the profile, credentials through credprov_default_chain reading
 * the sandbox's config files (injected environment). Cached; owned by s. */
sbx_client *sbx_client_profile(sbx *s, const char *profile);
/* Client on a provider (taken); owned by s. */
sbx_client *sbx_client_with(sbx *s, const char *label, credprov *creds);
/* Client with fixed credentials (credprov_static); owned by s. */
sbx_client *sbx_client_static(sbx *s, const char *label, const aws_creds *creds);
void sbx_client_free(sbx_client *c);
/* The injected environment (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE). */
const char *sbx_getenv(const char *name, void *arg);

/* ---- calls ---- */

/* An asynchronous call in flight and then its result. */
typedef struct sbx_pending {
    bool done;
    bool ok;
    http_response resp;
    err e;
} sbx_pending;

/* Fires req on c asynchronously; asserts the call was accepted and that
 * the callback did not run inside it. p must stay put until sbx_wait. */
void sbx_fire(sbx_client *c, const aws_request *req, sbx_pending *p);
/* Runs the loop until the n pending calls are done (asserts within 30 s). */
void sbx_wait(sbx *s, sbx_pending *p, size_t n);
void sbx_pending_free(sbx_pending *p);

/* One call in the given mode: fills *resp on success (free with
 * http_response_free), e on failure. */
bool sbx_call(sbx_client *c, sbx_mode mode, const aws_request *req, http_response *resp, err *e);

/* A call to run with others: blocking one after the other, or
 * asynchronous all at once (fired together, then the loop runs until every
 * one is done). */
typedef struct sbx_job {
    sbx_client *client;
    aws_request req;     /* freed by sbx_run_jobs */
    restxml_request *rx; /* S3: used instead of req when set (allocated; freed by sbx_run_jobs) */
    bool ok;
    http_response resp; /* on success; freed by sbx_jobs_free */
    err e;              /* on failure */
} sbx_job;

void sbx_run_jobs(sbx *s, sbx_mode mode, sbx_job *jobs, size_t n);
void sbx_jobs_free(sbx_job *jobs, size_t n);

/* Asserts a successful call, printing the error otherwise. */
#define SBX_ASSERT_OK(ok, e)                                                                       \
    do {                                                                                           \
        if (!(ok))                                                                                 \
            fail_msg("%s:%d: call failed: [%s] %s", __FILE__, __LINE__, err_code_name((e).code),   \
                     (e).message);                                                                 \
    } while (0)

/* Asserts an AWS error answer: ERR_AWS with the status, the code and a
 * request id; also that the sandbox's call log holds that request id with
 * the same error code. */
void sbx_assert_aws_error(sbx *s, bool ok, const err *e, int status, const char *code);

/* ---- protocol helpers ---- */

/* EC2/query request from q in region (NULL: the client's default). service
 * and operation must be literals. Frees q. */
void sbx_query_request(query_params *q, const char *service, const char *operation,
                       aws_protocol proto, const char *region, aws_request *req);
/* Parses an XML answer: root element (result NULL) or <OpResult>; asserts. */
xml_doc *sbx_xml(const http_response *resp, const char *result, const xml_node **out);
/* Parses a JSON answer; asserts. Caller decrefs. */
json_t *sbx_json(const http_response *resp);
/* Text at path, asserted present. */
const char *sbx_text(const xml_node *n, const char *path);

/* Pages through an operation in the given mode with paginator_fetch
 * (blocking) or paginator_feed on asynchronous answers; on_page sees every
 * page. Asserts the listing completed (not truncated). Returns the pages. */
typedef void (*sbx_page_fn)(paginator *p, void *ctx);
int sbx_page_all(sbx *s, sbx_client *c, sbx_mode mode, const paging_spec *spec,
                 paging_build_fn build, void *build_arg, sbx_page_fn on_page, void *ctx);

/* ---- string lists, to compare what AWS answered with the world ---- */

typedef struct sbx_strs {
    char **v;
    size_t n;
} sbx_strs;

void sbx_strs_add(sbx_strs *l, const char *s);
/* key of each object of a JSON array, or the strings themselves when key is NULL. */
void sbx_strs_from_json(sbx_strs *l, const json_t *array, const char *key);
/* Text at path (NULL: the node's own text) of first and each xml_next of it. */
void sbx_strs_from_xml(sbx_strs *l, const xml_node *first, const char *path);
bool sbx_strs_has(const sbx_strs *l, const char *s);
/* Asserts equal lists (ordered) or equal sets, printing both otherwise. */
void sbx_assert_strs(const sbx_strs *got, const sbx_strs *want, bool ordered, const char *what);
void sbx_strs_free(sbx_strs *l);

#endif
