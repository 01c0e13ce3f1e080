#include "nlu/nlu_region.h"

#include <stdio.h>
#include <string.h>

/* Every code also matches spelled with spaces ("us east 1"). */
static const char *const codes[] = {
    "us-east-1",      "us-east-2",      "us-west-1",      "us-west-2",      "ca-central-1",
    "eu-central-1",   "eu-central-2",   "eu-west-1",      "eu-west-2",      "eu-west-3",
    "eu-north-1",     "eu-south-1",     "eu-south-2",     "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-south-1",     "ap-east-1",
    "sa-east-1",      "me-south-1",     "af-south-1",
};

typedef struct alias {
    const char *words; /* space-separated, lower case */
    const char *code;
} alias;

static const alias aliases[] = {
    {"n virginia", "us-east-1"},
    {"north virginia", "us-east-1"},
    {"northern virginia", "us-east-1"},
    {"virginia", "us-east-1"},
    {"ohio", "us-east-2"},
    {"n california", "us-west-1"},
    {"northern california", "us-west-1"},
    {"california", "us-west-1"},
    {"oregon", "us-west-2"},
    {"canada", "ca-central-1"},
    {"montreal", "ca-central-1"},
    {"frankfurt", "eu-central-1"},
    {"zurich", "eu-central-2"},
    {"ireland", "eu-west-1"},
    {"dublin", "eu-west-1"},
    {"london", "eu-west-2"},
    {"paris", "eu-west-3"},
    {"stockholm", "eu-north-1"},
    {"milan", "eu-south-1"},
    {"spain", "eu-south-2"},
    {"tokyo", "ap-northeast-1"},
    {"seoul", "ap-northeast-2"},
    {"osaka", "ap-northeast-3"},
    {"singapore", "ap-southeast-1"},
    {"sydney", "ap-southeast-2"},
    {"mumbai", "ap-south-1"},
    {"hong kong", "ap-east-1"},
    {"sao paulo", "sa-east-1"},
    {"bahrain", "me-south-1"},
    {"cape town", "af-south-1"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Do the words w[i..] start with the space-separated phrase p? */
static size_t phrase_at(char *const *w, size_t n, size_t i, const char *p, char sep)
{
    size_t k = 0;
    while (*p) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i + k >= n || strlen(w[i + k]) != len || strncmp(w[i + k], p, len) != 0)
            return 0;
        k++;
        p += len;
        if (*p)
            p++;
    }
    return k;
}

const char *nlu_region_match(char *const *w, size_t n, size_t i, size_t *used)
{
    const char *best = NULL;
    size_t best_n = 0;
    for (size_t c = 0; c < COUNT(codes); c++) {
        if (strcmp(w[i], codes[c]) == 0) {
            *used = 1;
            return codes[c];
        }
        size_t k = phrase_at(w, n, i, codes[c], '-');
        if (k > best_n) {
            best = codes[c];
            best_n = k;
        }
    }
    for (size_t a = 0; a < COUNT(aliases); a++) {
        size_t k = phrase_at(w, n, i, aliases[a].words, ' ');
        if (k > best_n) {
            best = aliases[a].code;
            best_n = k;
        }
    }
    *used = best_n;
    return best;
}
