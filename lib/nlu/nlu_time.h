/* Schedule phrases: days ("every weekday", "on mondays", "daily"), a time of
 * day ("at 8pm", "at 07:00", "at noon") and a zone ("Berlin time", "UTC",
 * "Pacific"), turned into a cron expression and an IANA zone name. */
#ifndef ESCHER_NLU_TIME_H
#define ESCHER_NLU_TIME_H

#include "nlu/nlu_lex.h"

#include <stdbool.h>

typedef struct nlu_when {
    bool seen;      /* any schedule word at all */
    bool have_time; /* hour and minute are set */
    int hour, minute;
    unsigned days;    /* bit d = weekday d (0 Sunday); 0: every day */
    const char *zone; /* IANA name, NULL when the sentence names none */
    bool bad_time;    /* "at 25:00": a time that is no time */
    bool bad_zone;    /* "<word> time" with a word that names no zone */
} nlu_when;

/* Finds the schedule words in t, marks them used and fills *w. */
void nlu_time_scan(nlu_tokens *t, nlu_when *w);

/* The zone named by the words at t->w[i..] ("berlin time", "utc"), with the
 * number of words taken in *used; NULL when none. */
const char *nlu_time_zone(const nlu_tokens *t, size_t i, size_t *used);

/* "M H * * D" for w (which must have a time): writes into buf. */
void nlu_time_cron(const nlu_when *w, char *buf, size_t size);

/* Parses a clock word ("8pm", "20:00", "7:30am", "9") and an optional
 * following "am"/"pm" word; returns the words taken (0: not a clock). */
size_t nlu_time_clock(const nlu_tokens *t, size_t i, int *hour, int *minute, bool *bad);

#endif
