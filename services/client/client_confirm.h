/* What it takes to confirm a plan, by its risk (docs/cli.md): y for read,
 * low and medium risk; the number of resources typed back for high risk;
 * critical operations never run from chat or ask. --yes stands for the
 * answer up to high risk. Pure, so the rules are tested alone. */
#ifndef ESCHER_CLIENT_CONFIRM_H
#define ESCHER_CLIENT_CONFIRM_H

#include "ops/ops_catalog.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum client_confirm_need {
    CLIENT_CONFIRM_Y,       /* answer y or yes */
    CLIENT_CONFIRM_COUNT,   /* type the number of resources */
    CLIENT_CONFIRM_REFUSED, /* not from chat at all */
} client_confirm_need;

client_confirm_need client_confirm_need_for(ops_risk risk);

/* The question to print for risk and count (what to type). */
void client_confirm_question(ops_risk risk, size_t count, char *buf, size_t n);

/* Does answer (a line, surrounding blanks ignored) confirm? */
bool client_confirm_accepts(ops_risk risk, size_t count, const char *answer);

/* May --yes confirm a plan of this risk? */
bool client_confirm_yes_allowed(ops_risk risk);

#endif
