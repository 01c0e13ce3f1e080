/* Private to policy.c and policy_parse.c: the parsed form of a policy
 * document and the parse cache (see policy.h for the design). */
#ifndef ESCHER_SANDBOX_POLICY_INTERNAL_H
#define ESCHER_SANDBOX_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum cond_kind {
    CK_STRING,
    CK_STRING_IC,
    CK_LIKE,
    CK_NUMERIC,
    CK_DATE,
    CK_BOOL,
    CK_ARN_EQ,
    CK_ARN_LIKE,
    CK_IP,
    CK_NULL,
} cond_kind;

/* How a comparison operator compares: equality or an ordering. */
typedef enum cond_cmp {
    CMP_EQ,
    CMP_LT,
    CMP_LE,
    CMP_GT,
    CMP_GE,
} cond_cmp;

typedef struct cond_op {
    const char *name;
    cond_kind kind;
    cond_cmp cmp;
    bool negated;
} cond_op;

/* Set operators for multi-valued keys. */
typedef enum cond_set {
    SET_PLAIN,
    SET_ANY,
    SET_ALL,
} cond_set;

typedef struct pcond {
    const cond_op *op;
    cond_set set;
    bool if_exists;
    char *key;
    char **vals;
    size_t nvals;
} pcond;

typedef struct pstmt {
    bool deny;
    bool not_action;
    char **actions; /* lower-cased */
    size_t nactions;
    bool has_resource;
    bool not_resource;
    char **resources;
    size_t nresources;
    bool has_principal;
    bool not_principal;
    char **principals; /* "*", AWS values as given, other types prefixed "service:" etc. */
    size_t nprincipals;
    pcond *conds;
    size_t nconds;
} pstmt;

typedef struct ppolicy {
    pstmt *st;
    size_t n;
    bool vars; /* Version 2012-10-17: ${...} in Resource are policy variables */
} ppolicy;

/* The parse of text from the cache, parsing it on first sight. NULL when
 * the text is not a policy; then *error (when not NULL) is AWS's message. */
const ppolicy *policy_cache_get(const char *text, const char **error);

/* Empties the cache when it is full. Entry points call it before any
 * lookup, so a parse handed out during one evaluation is never freed under
 * it. */
void policy_cache_trim(void);

#endif
