/* The operations catalog: every operation Escher can run on a customer's
 * resources, as ONE table (ops_catalog.c), each entry with the AWS actions
 * it calls (describe calls included: they are the role session's whole
 * policy), its risk level, its parameters with types and bounds, and its
 * executor.
 *
 * An executor is the AWS side of an operation as data and pure functions
 * over lib/aws requests and answers: how to list the resources a selector
 * names, how to read one resource again, what a resource's state means for
 * the operation (act, nothing to do, cannot), and the mutating request (with
 * EC2's DryRun where it exists). The worker's ops.run job drives any
 * executor the same way. An entry whose executor is not built yet has NULL
 * there: it is listed, validated and documented, and refused by the worker
 * as "not executable yet".
 *
 * docs/operations.md is ops_catalog_markdown's output (`escher-worker
 * operations`); a unit test fails when the two differ. */
#ifndef ESCHER_OPS_OPS_CATALOG_H
#define ESCHER_OPS_OPS_CATALOG_H

#include "core/err.h"
#include "ops/target.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct aws_request;
struct xml_node;
struct paging_spec;

typedef enum ops_risk {
    OPS_RISK_READ,     /* reads only */
    OPS_RISK_LOW,      /* adds something, or starts what was stopped */
    OPS_RISK_MEDIUM,   /* interrupts a service, reversibly */
    OPS_RISK_HIGH,     /* changes capacity or configuration */
    OPS_RISK_CRITICAL, /* destroys data */
} ops_risk;

/* "read", "low", "medium", "high", "critical". */
const char *ops_risk_name(ops_risk r);

typedef enum ops_param_type {
    OPS_PARAM_BOOL,
    OPS_PARAM_INT,         /* bounds: min..max */
    OPS_PARAM_STRING,      /* bounds: length min_len..max_len characters, pattern */
    OPS_PARAM_STRING_LIST, /* bounds: items min_len..max_len, each 1..128 characters */
    OPS_PARAM_TAG_MAP,     /* {"key": "value"}: min_len..max_len entries, keys 1..128,
                              values 0..256 characters, no "aws:" keys */
} ops_param_type;

typedef struct ops_param {
    const char *name;
    ops_param_type type;
    bool required;
    long long min, max;      /* OPS_PARAM_INT */
    size_t min_len, max_len; /* strings, lists and maps (see the type) */
    /* OPS_PARAM_STRING: POSIX extended regular expression the whole value
     * must match, or NULL. */
    const char *pattern;
    const char *pattern_hint; /* what the pattern means, for messages ("such as m5.large") */
    const char *default_text; /* for the docs; NULL when required or none */
    const char *summary;
} ops_param;

/* One resource as an executor sees it. Strings owned by the holder. */
typedef struct ops_resource {
    char *id;
    char *name;  /* the Name tag; "" when none */
    char *state; /* "running", "stopped", ... */
    /* What the resource hangs on: a volume's instance (ec2.snapshot_volumes
     * lists the volumes of the selected instances; ebs.delete_unattached sees
     * a volume's attachment here). "" when none; NULL counts as "". */
    char *parent;
    long long created; /* creation time (Unix seconds), 0 when unknown */
    json_t *tags;      /* {"key": "value"} when the listing gave them, else NULL */
    char *type;        /* an instance's type ("m5.large"); NULL when not read */
    /* The state the resource was in when the job first looked at it (the
     * first phase's re-check, or that step's recorded detail on a retry), so
     * a later phase can tell what to restore (ec2.resize starts again only
     * what was running). The worker fills it; NULL before. */
    char *before;
} ops_resource;

void ops_resource_clear(ops_resource *r);

/* Takes a re-check's word (fresh, as get_parse or list_parse read it) on
 * r's state, attachment, tags, creation time and type, where fresh has
 * them; r keeps the listing's id and name (a volume's name is its
 * instance's) and its before. */
void ops_resource_refresh(ops_resource *r, const ops_resource *fresh);

/* What the resource's state means for the operation. */
typedef enum ops_decision {
    OPS_ACT,     /* send the action */
    OPS_NOTHING, /* already as wanted: nothing to do (not a failure) */
    OPS_CANNOT,  /* the state does not allow it (terminated, ...): recorded as failed */
    /* Nothing to do in this phase, whichever it is: recorded as "nothing to
     * do" and the resource goes on to the next phase (NOTHING at phase 0
     * ends the resource instead). */
    OPS_PASS,
    /* Not yet: the state is still moving (stopping, pending). The worker
     * reads the resource again after the executor's wait_ms, without
     * blocking its loop, and decides again, for at most wait_max_ms. */
    OPS_WAIT,
} ops_decision;

/* What one mutating call is sent with. */
typedef struct ops_call {
    const json_t *params; /* validated */
    const char *region;
    /* Marks what the call creates (the escher:job tag of a snapshot), so an
     * attempt's leftovers can be found: the job id. */
    const char *job_id;
    /* The job's creation time, UTC, "20261124-045455": the same on every
     * attempt, so a name made from it (an RDS snapshot identifier) is too,
     * and a retry meets its own earlier snapshot instead of making a second. */
    const char *stamp;
    unsigned phase; /* 0 .. nphases-1 */
    bool dry_run;
} ops_call;

/* The AWS side of an operation. Every function is pure: it builds a request
 * (aws_request_init'd; the caller frees it) or reads an answer. */
typedef struct ops_executor {
    const char *verb;    /* "stop": the result says "stop" / "would stop" */
    bool dry_run_native; /* the action takes DryRun=true (EC2) */
    const struct paging_spec *paging;
    /* One page of the listing of region's resources the selector names;
     * token NULL for the first page. */
    void (*list_request)(const target_selector *sel, const char *region, const char *token,
                         struct aws_request *req);
    /* Appends the resources of a listing page (its root element) to
     * the array *out of *n (capacity *cap, grown with xreallocarray; the
     * caller clears each). sel is the selector for services whose listing
     * cannot filter on it (RDS, Auto Scaling: tags, state and name are
     * matched here); NULL on a re-check's answer (take everything). */
    bool (*list_parse)(const struct xml_node *root, const target_selector *sel, ops_resource **out,
                       size_t *n, size_t *cap, err *e);
    /* The request reading resource r again (re-check before acting). */
    void (*get_request)(const char *region, const ops_resource *r, struct aws_request *req);
    /* Reads the re-check's answer like list_parse; NULL: list_parse does
     * (with sel NULL). */
    bool (*get_parse)(const struct xml_node *root, ops_resource **out, size_t *n, size_t *cap,
                      err *e);
    /* What r's state means for phase `phase`; *why gets a static explanation
     * for NOTHING and CANNOT ("already stopped", "terminated"). NOTHING at
     * phase 0 ends the resource; at a later phase it goes on to the next. */
    ops_decision (*decide)(const ops_resource *r, const json_t *params, unsigned phase,
                           const char **why);
    /* Mutating calls per resource, in order (tags.apply: CreateTags then
     * DeleteTags; ebs.delete_unattached: CreateSnapshot then DeleteVolume).
     * Each is a step of its own, so a retry resumes after the last done. */
    unsigned nphases;
    /* The verb of each phase for the result and step names ("snapshot",
     * "delete"); NULL: verb for every phase. */
    const char *const *phase_verbs;
    /* Phases that make no call (bit p for phase p): the phase is its
     * re-check and decision alone. ACT there means the state is as wanted
     * (recorded "done" with the state as "after"), WAIT to look again later
     * (ec2.resize's waits for stopped and running, and its first phase,
     * which records the state before anything changes). A dry run passes
     * over them, except phase 0's NOTHING or CANNOT, which end the resource
     * as in a real run. action_request is not asked for them. */
    unsigned nocall_phases;
    /* OPS_WAIT: the time between looks, and the longest wait before the
     * phase fails as transient (a retry waits again). 0: 2 s and 10 min. */
    unsigned wait_ms, wait_max_ms;
    /* The words for phase c->phase's action on r in the result ("resize from
     * m5.large to m5.xlarge", "would ..." in a dry run); NULL: the phase's
     * verb. */
    void (*phase_text)(const ops_resource *r, const ops_call *c, char *buf, size_t n);
    /* The mutating request of c->phase for r. False: the phase has nothing
     * to send with these parameters (tags.apply without "remove"): skipped. */
    bool (*action_request)(const ops_resource *r, const ops_call *c, struct aws_request *req);
    /* Paths in the action's answer (its root element; NULL: none): the
     * resource's state after the call, and the id of what it created. */
    const char *after_path, *created_path;
    /* An error code that means an earlier attempt already did it (RDS's
     * DBSnapshotAlreadyExists for the job's own snapshot name); NULL: none. */
    const char *already_code;
} ops_executor;

/* Reads a mutating call's answer (its body, len bytes) into the result d:
 * "request_id", and x's "after" and "created" where the answer has them.
 * An answer that does not parse adds nothing (the call itself succeeded). */
void ops_action_answer(const ops_executor *x, const char *body, size_t len, json_t *d);

/* Phase p's verb of x. */
const char *ops_phase_verb(const ops_executor *x, unsigned p);

/* True when phase p of x makes a call (is not in nocall_phases). */
bool ops_phase_calls(const ops_executor *x, unsigned p);

/* True when r matches sel's tags, state, ids and name glob, for executors
 * that filter a listing themselves. tags: n pairs keys[i] = values[i]. */
bool ops_selector_match(const target_selector *sel, const char *id, const char *name,
                        const char *state, const char *const *keys, const char *const *values,
                        size_t n);

typedef struct ops_op {
    const char *name;          /* "ec2.stop" */
    const char *service;       /* "ec2" */
    const char *resource_type; /* "ec2:instance" */
    const char *summary;
    const char *const *actions; /* "ec2:StopInstances", ...: the session policy */
    size_t nactions;
    ops_risk risk;
    const ops_param *params;
    size_t nparams;
    /* Checks between parameters after each passed on its own (min <= desired
     * <= max); NULL when none. */
    bool (*check)(const struct ops_op *op, const json_t *params, err *e);
    const ops_executor *executor; /* NULL: not executable yet */
} ops_op;

/* The table (static data) and its length. */
const ops_op *ops_catalog(size_t *n);

/* The operation named name, or NULL. */
const ops_op *ops_find(const char *name);

/* Like ops_find, failing with ERR_INVALID "unknown operation 'x' (known:
 * ec2.start, ...)". */
const ops_op *ops_lookup(const char *name, err *e);

/* Checks params (an object; NULL counts as {}) against op's table: unknown
 * names refused listing the known ones, required ones present, types and
 * bounds, then the entry's check. Messages name the operation, the parameter
 * and the value: "ec2.resize: parameter 'instance_type' is 'M5 large': want
 * an instance type such as m5.large". */
bool ops_validate_params(const ops_op *op, const json_t *params, err *e);

/* Checks what the target's selector asks against op's resource type: states
 * the type has, id prefixes. */
bool ops_check_target(const ops_op *op, const target *t, err *e);

/* Writes the catalog as Markdown: the content of docs/operations.md. */
void ops_catalog_markdown(FILE *out);

#endif
