/* Tokens of a sentence for the intent engine: lower-cased words, with the
 * punctuation that belongs inside tokens kept (m5.large, us-east-1, 07:00,
 * web-*, team=web) and keyword typos within one edit corrected. */
#ifndef ESCHER_NLU_LEX_H
#define ESCHER_NLU_LEX_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define NLU_LEX_MAX_CHARS  1000
#define NLU_LEX_MAX_TOKENS 200

typedef struct nlu_tokens {
    char **w;   /* lower-cased words */
    bool *used; /* set by the parser as each word finds its meaning */
    size_t n;
    bool question_mark; /* the sentence has a '?' */
} nlu_tokens;

/* Splits s into words, corrects keyword typos (nlu_lex_correct). Fails on
 * empty input or input over the limits. */
bool nlu_lex(const char *s, nlu_tokens *t, err *e);
void nlu_tokens_clear(nlu_tokens *t);

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent
 * transpositions), stopping early once it exceeds cap. */
size_t nlu_lex_distance(const char *a, const char *b, size_t cap);

/* Is w a word the engine knows (keyword or filler)? */
bool nlu_lex_known(const char *w);

/* The keyword one edit away from w when there is exactly one, else NULL.
 * Only words of 4+ letters without digits are corrected: region codes,
 * ids and types are never guessed at. */
const char *nlu_lex_correct(const char *w);

#endif
