/* Region names as people say them: codes ("eu-central-1"), spaced codes
 * ("us east 1"), and place names ("N. Virginia", "Frankfurt", "Tokyo"). */
#ifndef ESCHER_NLU_REGION_H
#define ESCHER_NLU_REGION_H

#include <stddef.h>

/* The region named by the words w[i..], or NULL; *used = how many words it
 * took (the longest alias wins). Codes are matched exactly, never guessed. */
const char *nlu_region_match(char *const *w, size_t n, size_t i, size_t *used);

#endif
