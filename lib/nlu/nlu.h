/* The intent engine: a sentence in plain English becomes a plan, as JSON, of
 * one of five kinds (docs/nlu.md):
 *
 *   {"kind":"query","resource":"instances","action":"list|count",
 *    "filters":{"regions":[..],"state":..,"tags":{"env":["dev"]},"name":..,
 *               "type":..,"ids":[..],"older_than_days":N}}
 *   {"kind":"operation","operation":"ec2.stop","params":{..},
 *    "target":{lib/ops target},"risk":"medium"}
 *   {"kind":"schedule","cron":"0 20 * * 1-5","time_zone":"Europe/Berlin",
 *    "operation":..,"params":..,"target":..,"risk":..}
 *   {"kind":"server_question","topic":"cost|security"}
 *   {"kind":"clarify","understood":"...","missing":"..."}
 *
 * Pure: no I/O, no clock, no randomness; the same sentence and context
 * always give the same plan. A question ("which...", "how many...", "show
 * me...") never becomes an operation or a schedule: the mood is decided
 * before operation verbs are looked at. */
#ifndef ESCHER_NLU_H
#define ESCHER_NLU_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct nlu_context {
    const char *env_tag;        /* tag key for "dev", "prod"...; NULL: "env" */
    const char *default_region; /* operations without a region; NULL: "all" */
    const char *time_zone;      /* schedules without a zone; NULL: "UTC" */
    /* The ids of the resources the conversation showed last (a listing, a
     * preview), for "them", "those", "these", "it": an operation or query
     * on them selects those of its resource type. NULL/0: none, and the
     * words mean nothing. */
    const char *const *recent_ids;
    size_t nrecent;
    /* The regions those resources were seen in: where "them" are when the
     * sentence names no region (else default_region). */
    const char *const *recent_regions;
    size_t nrecent_regions;
} nlu_context;

typedef struct nlu_plan nlu_plan;

/* Parses sentence (ctx may be NULL). Fails only on input that is not a
 * sentence (empty, too long); anything not understood is a clarify plan. */
bool nlu_parse(const char *sentence, const nlu_context *ctx, nlu_plan **out, err *e);

/* The plan's JSON (owned by the plan). */
const json_t *nlu_plan_json(const nlu_plan *p);

/* Was the sentence a question (its mood: a question or read word first,
 * or a '?' without a polite opening)? Such a sentence never has a plan that
 * changes anything, from this engine or from anyone a caller asks instead. */
bool nlu_plan_question(const nlu_plan *p);

/* Does the plan change anything (operation or schedule)? */
bool nlu_plan_mutating(const nlu_plan *p);

void nlu_plan_free(nlu_plan *p);

#endif
