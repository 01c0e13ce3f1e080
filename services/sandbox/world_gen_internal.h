/* Shared by world_gen.c (organization, IAM, S3, CloudTrail) and
 * world_gen_region.c (EC2, RDS, Auto Scaling in one account-region). */
#ifndef ESCHER_SANDBOX_WORLD_GEN_INTERNAL_H
#define ESCHER_SANDBOX_WORLD_GEN_INTERNAL_H

#include "world_internal.h"

#define DAY_SECONDS 86400L

/* What one account's generation needs to know. */
typedef struct gen_account {
    const world *w;
    sbx_account *a;
    const char *env; /* "dev", "prod", ... */
    int size;        /* world_account_size */
    int per_region;  /* instances per region before ASGs */
    time_t now;
} gen_account;

/* Appends item to a pointer array. */
#define GEN_PUSH(arr, n, item)                                                                     \
    do {                                                                                           \
        (arr) = xreallocarray((arr), (n) + 1, sizeof(*(arr)));                                     \
        (arr)[(n)++] = (item);                                                                     \
    } while (0)

void gen_tag(sbx_tags *t, const char *key, const char *value);
/* prefix + n random characters of alphabet. */
char *gen_id(wrng *r, const char *prefix, const char *alphabet, size_t n);
/* A random UUID-looking string, lower-case hex 8-4-4-4-12. */
char *gen_uuid(wrng *r);
/* A time uniformly within the last `days` days before now. */
time_t gen_ago(wrng *r, time_t now, long min_days, long max_days);
/* Picks one of n strings. */
const char *gen_pick(wrng *r, const char *const *set, size_t n);

/* Builds one region of an account. */
sbx_region *gen_region(const gen_account *g, const char *region);

#endif
