/* lib/nlu's vocabulary tables (nlu_words.c), for nlu.c only: the verbs
 * and resources a sentence may name, with the types they are read into. */
#ifndef ESCHER_NLU_WORDS_H
#define ESCHER_NLU_WORDS_H

#include <stddef.h>

typedef enum verb {
    V_NONE,
    V_START,
    V_STOP,
    V_HIBERNATE,
    V_REBOOT,
    V_RESIZE,
    V_SNAPSHOT,
    V_TAG,
    V_DELETE,
    V_TERMINATE,
} verb;

/* One or more words and what they mean (a verb, a resource, a state). */
typedef struct phrase {
    const char *words; /* space-separated */
    int value;
} phrase;

typedef enum resource {
    R_NONE,
    R_INSTANCES,
    R_VOLUMES,
    R_SNAPSHOTS,
    R_BUCKETS,
    R_DATABASES,
    R_SECURITY_GROUPS,
    R_ELASTIC_IPS,
} resource;

/* An environment word and the tag value it means ("production" -> prod). */
typedef struct env_word {
    const char *word;
    const char *value;
} env_word;

typedef struct op_entry {
    verb v;
    resource r;
    const char *operation; /* a lib/ops catalog name (test_nlu_parts checks) */
} op_entry;

extern const char *const nlu_verb_names[];     /* by verb */
extern const char *const nlu_resource_names[]; /* by resource, as plans name them */
extern const phrase nlu_verbs[];
extern const size_t nlu_nverbs;
extern const phrase nlu_resources[];
extern const size_t nlu_nresources;
/* Verbs whose particle may come after the object ("turn X off"). */
extern const char *const nlu_phrasal[];
extern const size_t nlu_nphrasal;
/* Rankings a query cannot express yet: a list of all would mislead. */
extern const char *const nlu_rankings[];
extern const size_t nlu_nrankings;
/* Words that make a one-off time, which a schedule cannot express. */
extern const char *const nlu_one_off[];
extern const size_t nlu_none_off;
/* Words that make a sentence a question or a read: checked first. */
extern const char *const nlu_question_words[];
extern const size_t nlu_nquestion_words;
/* State words; the value indexes nlu.c's state names (1 running .. 8 attached). */
extern const phrase nlu_states[];
extern const size_t nlu_nstates;
extern const env_word nlu_envs[];
extern const size_t nlu_nenvs;
/* The topic words of server questions. */
extern const char *const nlu_cost_words[];
extern const size_t nlu_ncost_words;
extern const char *const nlu_security_words[];
extern const size_t nlu_nsecurity_words;
/* Verb x resource -> catalog operation (its risk is the catalog's). */
extern const op_entry nlu_ops[];
extern const size_t nlu_nops;

#endif
