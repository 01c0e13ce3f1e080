/* Private to the world_*.c files: the deterministic random generator, the
 * hashes that make costs and CPU series pure functions, and the layout
 * schema that drives JSON save/load and freeing. Handlers use world.h. */
#ifndef ESCHER_SANDBOX_WORLD_INTERNAL_H
#define ESCHER_SANDBOX_WORLD_INTERNAL_H

#include "world.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* splitmix64: tiny, fast, and well mixed; never rand(), whose sequence
 * differs between C libraries and would break byte-identical worlds. */
typedef struct wrng {
    uint64_t s;
} wrng;

/* Mixes one 64-bit value (splitmix64's finalizer). */
uint64_t wmix(uint64_t x);
/* FNV-1a of s folded into h, then mixed: stable string hashing. */
uint64_t whash_str(uint64_t h, const char *s);
/* Folds v into h. */
uint64_t whash_u64(uint64_t h, uint64_t v);
/* Uniform double in [0, 1) from a hash. */
double wunit(uint64_t h);

/* A generator for one independent stream: (seed, tag, index). Streams per
 * account and region keep an account's contents independent of how many
 * other accounts the world has. */
wrng wrng_stream(uint64_t seed, const char *tag, uint64_t index);
uint64_t wrng_next(wrng *r);
/* Uniform in [0, n); n > 0. */
uint64_t wrng_below(wrng *r, uint64_t n);
/* Uniform integer in [lo, hi]. */
long wrng_range(wrng *r, long lo, long hi);
/* True with probability p. */
bool wrng_chance(wrng *r, double p);
double wrng_unit(wrng *r);
/* Random characters from alphabet into a new string of length n. */
char *wrng_string(wrng *r, const char *alphabet, size_t n);

extern const char WORLD_HEX[];    /* "0123456789abcdef" */
extern const char WORLD_LOWER[];  /* lower-case alphanumerics */
extern const char WORLD_UPPER[];  /* upper-case letters and digits 2-7 (AWS key ids) */
extern const char WORLD_SECRET[]; /* base64's alphabet */

/* Account size class from (seed, account id): 0 small, 1 medium, 2 large.
 * Generation sizes the account from it and costs scale by it, so a big
 * account is big in both. */
int world_account_size(uint64_t seed, const char *account_id);
/* Whether an account uses a cost service in a region; generation creates
 * RDS instances exactly where the cost model bills RDS. */
bool world_cost_uses(uint64_t seed, const char *account_id, const char *service,
                     const char *region);

/* ---- layout schema: one description of every struct drives save, load
 * and free, so a field added to world.h is added in one table. ---- */

typedef enum wfield_kind {
    WF_STR,    /* char *, required */
    WF_OSTR,   /* char *, NULL saved as null */
    WF_INT,    /* int */
    WF_LONG,   /* long */
    WF_U64,    /* uint64_t: a JSON integer, or a decimal string above 2^63 */
    WF_DOUBLE, /* double */
    WF_BOOL,   /* bool */
    WF_TIME,   /* time_t as ISO 8601; 0 saved as null */
    WF_ISTATE, /* sbx_istate by name ("running") */
    WF_TAGS,   /* sbx_tags as [{"Key":..,"Value":..}] */
    WF_STRS,   /* char ** + size_t count */
    WF_PTRS,   /* T ** + size_t count, each element described by sub */
    WF_ARRAY,  /* T * + size_t count, elements inline */
    WF_STRUCT, /* an embedded struct described by sub */
    WF_OBJ,    /* T *, a single owned object or NULL */
    WF_BOOLS4, /* bool[4] */
} wfield_kind;

typedef struct wschema wschema;

/* Semantic check of a loaded value; fills why (e.g. "is not an instance
 * state") and returns false when it is wrong. */
typedef bool (*wcheck_fn)(const void *field, char *why, size_t whylen);

typedef struct wfield {
    const char *name;
    wfield_kind kind;
    size_t off;       /* offset of the field */
    size_t count_off; /* WF_STRS/WF_PTRS/WF_ARRAY: offset of the size_t count */
    const wschema *sub;
    wcheck_fn check; /* NULL: none */
} wfield;

struct wschema {
    const char *name;
    size_t size;
    const wfield *fields;
    size_t nfields;
};

extern const wschema world_schema;
extern const wschema world_account_schema;
extern const wschema world_instance_schema, world_volume_schema, world_snapshot_schema,
    world_sg_schema, world_address_schema, world_db_schema, world_db_snapshot_schema,
    world_asg_schema, world_session_schema;

/* Frees everything an object described by s owns (not the object itself). */
void wschema_free_fields(const wschema *s, void *obj);

/* Drops the lookup tables; they are rebuilt on the next lookup. */
void world_index_free(world *w);

#endif
