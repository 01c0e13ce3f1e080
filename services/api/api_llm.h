/* The optional LLM backend of POST /v1/chat: an OpenAI-compatible
 * chat-completions endpoint proposes a plan by calling one of the tools
 * built here from the operations catalog, and the call is read back into
 * the plan JSON lib/nlu writes (lib/nlu/nlu.h), checked against the same
 * catalog before anything uses it.
 *
 * Tools: one function per catalog operation, named after it with '.' as
 * '_' ("ec2.stop" -> "ec2_stop"); its parameters are the operation's own
 * (JSON Schema types, bounds, lengths, patterns, required ones) plus
 * "target" ({accounts, regions, tags, ids, name, state}) and the optional
 * "cron" and "time_zone" that make it a schedule. One more function,
 * "query_resources", mirrors lib/nlu's query plans.
 *
 * Everything here is pure (no I/O, no clock): api_chat.c sends and
 * receives. Free text from the model never becomes a plan. */
#ifndef ESCHER_API_LLM_H
#define ESCHER_API_LLM_H

#include "core/err.h"
#include "nlu/nlu.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define API_LLM_QUERY_TOOL "query_resources"

/* Writes the tool name of catalog operation op_name ("ec2.stop" ->
 * "ec2_stop") into out (n bytes, truncated to fit). */
void api_llm_tool_name(const char *op_name, char *out, size_t n);

/* The tool definitions in the chat-completions "tools" shape
 * ([{"type":"function","function":{"name","description","parameters"}}]):
 * one per catalog operation, then query_resources. New array; the caller
 * decrefs it. */
json_t *api_llm_tools(void);

/* The chat-completions request body for the user's message: model, a
 * system message saying how to answer, the context (when not NULL: the
 * request's "context" object, as JSON text in a second system message) and
 * the message itself, the tools and tool_choice "auto". Nothing else of the
 * server goes to the model. New object; the caller decrefs it. */
json_t *api_llm_request(const char *model, const char *message, const json_t *context);

/* Reads a chat-completions answer body (len bytes) into a plan.
 *
 * - One tool call: its function and arguments become a plan of lib/nlu's
 *   shape, checked with ops_lookup (unknown operation), ops_validate_params
 *   (parameters out of bounds, unknown or missing), target_parse and
 *   ops_check_target (the target), lib/cron (cron and time_zone); ctx fills
 *   the target's regions (default_region, else "all") and a schedule's zone
 *   (time_zone, else "UTC") when the call leaves them out. true, *plan set
 *   (the caller decrefs), *text NULL.
 * - No tool call, only assistant text: true, *plan NULL, *text the text
 *   (the caller frees). It is never a plan.
 * - Anything else fails with ERR_INVALID saying why the answer cannot be
 *   used (not JSON, no choice, several tool calls, unknown operation, a
 *   parameter out of bounds quoting it, ...). allow_mutating false (the
 *   builtin engine read the sentence as a question) also refuses operation
 *   and schedule plans: a question never becomes a change. */
bool api_llm_read(const char *body, size_t len, const nlu_context *ctx, bool allow_mutating,
                  json_t **plan, char **text, err *e);

#endif
