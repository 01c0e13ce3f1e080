/* What the EC2 service's files share: request helpers (booleans, DryRun,
 * paging, ids), AWS's filter semantics, and the handlers the action table
 * in svc_ec2.c lists. Not a public interface: only svc_ec2_*.c include it. */
#ifndef ESCHER_SANDBOX_SVC_EC2_INTERNAL_H
#define ESCHER_SANDBOX_SVC_EC2_INTERNAL_H

#include "call.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- parameters ---- */

/* Reads an AWS boolean ("true"/"false", any case); absent gives def. A
 * value that is neither answers InvalidParameterValue and returns false. */
bool ec2_param_bool(sbx_call *c, const char *name, bool def, bool *out);

/* When DryRun=true, answers DryRunOperation (412) and returns true: the
 * handler has done every check a real call would (ids, authorization) and
 * returns false. Also true, with the error set, when DryRun is malformed. */
bool ec2_dry_run(sbx_call *c);

/* A required scalar parameter; answers MissingParameter when absent. */
const char *ec2_require(sbx_call *c, const char *name);

/* Whether id is prefix + 8 or 17 lower-case hex digits, as AWS ids are. */
bool ec2_id_wellformed(const char *id, const char *prefix);

/* Joins ids as AWS quotes several in one message: "a, b". Caller frees. */
char *ec2_join_ids(const char *const *ids, size_t n);

/* ---- paging ---- */

typedef struct ec2_page {
    size_t offset; /* first match to answer */
    size_t limit;  /* matches to answer; SIZE_MAX without MaxResults */
    bool limited;  /* MaxResults was given */
} ec2_page;

/* Reads MaxResults (min..max, AWS's bounds for the action) and NextToken. */
bool ec2_page_parse(sbx_call *c, long min, long max, ec2_page *p);
/* Whether match number i (0-based, in stable order) is on this page. */
static inline bool ec2_page_has(const ec2_page *p, size_t i)
{
    return i >= p->offset && i - p->offset < p->limit;
}
/* Writes <nextToken> when matches beyond this page remain. */
void ec2_page_finish(sbx_call *c, const ec2_page *p, size_t total);

/* ---- filters: values OR-ed, filters AND-ed, * and ? wildcards ---- */

typedef struct ec2_filter ec2_filter;
typedef bool (*ec2_match_fn)(const void *res, const ec2_filter *f);

/* One filter name a Describe action supports and how a resource matches it. */
typedef struct ec2_filter_def {
    const char *name;
    ec2_match_fn match;
} ec2_filter_def;

struct ec2_filter {
    const char *name;
    const char *const *values;
    size_t nvalues;
    ec2_match_fn match;  /* NULL for the tag filters */
    const char *tag_key; /* "tag:<key>": the key; NULL otherwise */
    int tag_kind;        /* 0 not a tag filter, 1 tag:<key>, 2 tag-key, 3 tag-value */
};

typedef struct ec2_filters {
    ec2_filter *items;
    size_t n;
    const sbx_tags *(*tags_of)(const void *res); /* NULL: no tag filters */
} ec2_filters;

/* Reads Filter.N.Name/Value.M, refusing names not in defs (and the tag
 * filters when tags_of is NULL) with InvalidParameterValue. */
bool ec2_filters_parse(sbx_call *c, const ec2_filter_def *defs, size_t ndefs,
                       const sbx_tags *(*tags_of)(const void *res), ec2_filters *out);
bool ec2_filters_match(const ec2_filters *fs, const void *res);
void ec2_filters_free(ec2_filters *fs);

/* AWS's filter wildcards: '*' any run, '?' one character, '\' escapes. */
bool ec2_wildcard(const char *pattern, const char *s);
/* Whether any of the filter's values matches s (NULL never matches). */
bool ec2_fv(const ec2_filter *f, const char *s);
bool ec2_fv_bool(const ec2_filter *f, bool v);
bool ec2_fv_int(const ec2_filter *f, long long v);

/* ---- id maps: open addressing from a borrowed string to an index ---- */

typedef struct ec2_idmap {
    const char **keys;
    size_t *vals;
    size_t cap;
} ec2_idmap;

/* An empty map sized for n keys. */
void ec2_idmap_init(ec2_idmap *m, size_t n);
/* A map of the n strings to their positions (a later duplicate wins). */
void ec2_idmap_of(ec2_idmap *m, const char *const *keys, size_t n);
/* Adds or replaces key (borrowed: it must outlive the map). */
void ec2_idmap_put(ec2_idmap *m, const char *key, size_t val);
bool ec2_idmap_get(const ec2_idmap *m, const char *key, size_t *val);
bool ec2_idmap_has(const ec2_idmap *m, const char *key);
void ec2_idmap_free(ec2_idmap *m);

/* ---- lookups in the caller's region (NULL region: nothing found) ---- */

sbx_instance *ec2_find_instance(sbx_region *r, const char *id);
sbx_volume *ec2_find_volume(sbx_region *r, const char *id);
sbx_snapshot *ec2_find_snapshot(sbx_region *r, const char *id);
sbx_sg *ec2_find_sg(sbx_region *r, const char *id);

/* ---- tags ---- */

/* Sets key to value (replacing an existing value). */
void ec2_tag_set(sbx_tags *t, const char *key, const char *value);
/* Removes key; when value is non-NULL only if the value equals it. */
void ec2_tag_delete(sbx_tags *t, const char *key, const char *value);

/* ---- instances (svc_ec2_render.c) ---- */

const char *ec2_state_name(sbx_istate s);
/* "arm64" for Graviton instance types, else "x86_64". */
const char *ec2_architecture_of(const char *type);
/* Writes <reservationSet> with one reservation per instance, in order;
 * idx[k] is inst[k]'s position in r->instances (runs of consecutive
 * positions are answered as one piece of the region's cached rendering). */
void ec2_render_reservations(sbx_call *c, sbx_region *r, const sbx_instance *const *inst,
                             const size_t *idx, size_t n);

/* ---- handlers ---- */

bool ec2_describe_regions(sbx_call *c);
bool ec2_describe_instances(sbx_call *c);
bool ec2_start_instances(sbx_call *c);
bool ec2_stop_instances(sbx_call *c);
bool ec2_reboot_instances(sbx_call *c);
bool ec2_terminate_instances(sbx_call *c);
bool ec2_modify_instance_attribute(sbx_call *c);
bool ec2_create_tags(sbx_call *c);
bool ec2_delete_tags(sbx_call *c);
bool ec2_describe_volumes(sbx_call *c);
bool ec2_delete_volume(sbx_call *c);
bool ec2_create_snapshot(sbx_call *c);
bool ec2_describe_snapshots(sbx_call *c);
bool ec2_delete_snapshot(sbx_call *c);
bool ec2_describe_snapshot_attribute(sbx_call *c);
bool ec2_get_ebs_encryption_by_default(sbx_call *c);
bool ec2_describe_security_groups(sbx_call *c);
bool ec2_describe_addresses(sbx_call *c);

#endif
