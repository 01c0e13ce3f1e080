/* The escher-worker integration fixture: a migrated private database
 * (tests/support/pgtest.h) with a login role that is only a member of
 * escher_worker, escher-sandbox (tests/sandbox_libaws/sbx_fixture.h) with an
 * ExternalId long enough for a tenant and a world edited so that one member
 * lacks EscherOperator and one is suspended, the real escher-worker binary
 * spawned with the sandbox's profiles (AWS_PROFILE=hub), and SQL helpers.
 *
 * Every helper asserts with cmocka. */
#ifndef ESCHER_TESTS_WORKER_WTEST_H
#define ESCHER_TESTS_WORKER_WTEST_H

#include "queue/queue.h"
#include "sbx_fixture.h"
#include "support/pgtest.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The tenant's ExternalId; the sandbox's roles trust the hub with it. */
#define WT_EXTERNAL_ID "escher-worker-test-external-id-0123456789"
#define WT_WRONG_ID    "a-wrong-external-id-for-tenant-b-0123456789"
#define WT_MAX_WORKERS 32

typedef struct wtest {
    bool ready; /* false: no test database, every test skips */
    sbx sb;
    pgtest db;
    PGconn *conn;         /* the test program's own (superuser) connection */
    char worker_url[600]; /* the test database as db.role (a member of escher_worker) */
    char tmpdir[256];
    char tenant_a[QUEUE_ID_LEN]; /* ExternalId WT_EXTERNAL_ID */
    char tenant_b[QUEUE_ID_LEN]; /* ExternalId WT_WRONG_ID */
    /* The edited world: member_ids[1] is suspended, member_ids[2] has no
     * EscherOperator role (its other roles are intact). */
    const char *no_operator;    /* = sb.member_ids[2] */
    const char *suspended;      /* = sb.member_ids[1] */
    char *logs[WT_MAX_WORKERS]; /* every worker's log file, for the secrets check */
    size_t nlogs;
    /* Every job enqueued, for the call-log check: {"id", "kind", "tenant",
     * "created_by", "payload"} (the jobs table is emptied between tests). */
    json_t *jobs;
    /* Set before wt_setup to edit the world (a GET /state document) instead
     * of the edits above (tests/worker_ops wants every member intact). */
    void (*edit_world)(json_t *state);
} wtest;

extern wtest W;

/* cmocka group setup/teardown. */
int wt_setup(void **state);
int wt_teardown(void **state);
/* Test setup: empty queue (jobs, steps) and no AWS accounts; no faults. */
int wt_each(void **state);
/* Skips the test (from its body) when there is no database. */
void wt_need(void);

/* ---- workers ---- */

typedef struct wt_worker {
    pid_t pid;
    char log[320];
} wt_worker;

/* Spawns escher-worker with the database, Redis, the sandbox endpoint and
 * extra arguments (NULL-terminated, may be NULL); waits for "worker
 * started" in its log. */
void wt_worker_start(wt_worker *w, const char *const *extra);
/* Sends sig and waits up to timeout_ms; returns the exit status (asserts it
 * exited rather than died, and that the log has no sanitizer report). */
int wt_worker_stop(wt_worker *w, int sig, int timeout_ms);
/* SIGKILL and reap. */
void wt_worker_kill(wt_worker *w);
/* The log so far (caller frees). */
char *wt_read_file(const char *path);

/* ---- SQL ---- */

void wt_exec(const char *sql);
/* First column of the first row ("" for NULL or none) of sql with params. */
void wt_query1(const char *sql, int nparams, const char *const *params, char *out, size_t n);
long wt_query_long(const char *sql, const char *param);
/* Inserts an aws_accounts row (ro may be NULL, name may be NULL); its id into id. */
void wt_account(const char *tenant, const char *account_id, const char *role, const char *ro,
                const char *name, char id[QUEUE_ID_LEN]);
/* Enqueues through lib/queue; job id into id. account (row uuid) may be NULL. */
void wt_enqueue(const char *tenant, const char *kind, const char *payload, const char *created_by,
                const char *account, char id[QUEUE_ID_LEN]);
/* Waits until the job is in one of the states ("succeeded|failed"), up to
 * timeout_ms; its state into out. */
void wt_wait_state(const char *job, const char *states, int timeout_ms, char *out, size_t n);
/* The role ARN arn:aws:iam::<account>:role/<name> (caller frees). */
char *wt_arn(const char *account, const char *name);

/* True when account is one of the sandbox's member accounts. */
bool wt_is_member(const char *account);
/* Registers every member account for tenant A with its EscherOperator and
 * EscherReadOnly roles, verified, in both test regions (as a finished
 * verification would leave them). */
void wt_register_members(void);
/* The JSON result of job (caller decrefs); fails the test when it has none. */
json_t *wt_job_result(const char *job);

/* ---- sandbox ---- */

/* PUT /faults with body. */
void wt_faults(const char *body);

/* Sets tag key to value on a sandbox world object (GET /state's "tags"
 * list of {"Key", "Value"}), adding the list or the tag when missing. */
void wt_set_tag(json_t *obj, const char *key, const char *value);

/* The value of tag key on a world object, or NULL. Borrowed from x. */
const char *wt_tag_of(const json_t *x, const char *key);

#endif
