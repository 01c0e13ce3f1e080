/* Private to the command table (client_cmd.c) and the command files: the
 * parsed command line a command function gets, and the helpers they share.
 * Nothing outside services/client/client_cmd*.c includes this. */
#ifndef ESCHER_CLIENT_CMD_INTERNAL_H
#define ESCHER_CLIENT_CMD_INTERNAL_H

#include "client_api.h"
#include "client_cmd.h"
#include "client_out.h"

#include "core/err.h"
#include "core/opts.h"

#include <jansson.h>
#include <stdbool.h>

#define MAX_FLAGS 16

/* One command's invocation: the global options, the positional arguments
 * (exactly the table entry's count), the flags given (names without "--",
 * values "" for switches) and the --output format. */
typedef struct cmd_ctx {
    const opts *o;
    const char *name; /* the table entry's words, "accounts add" */
    int npos;
    char *const *pos;
    const char *flag_name[MAX_FLAGS];
    const char *flag_value[MAX_FLAGS];
    int nflags;
    client_out_format out;
} cmd_ctx;

/* The value of flag `name` (the last one given), "" for a switch, NULL when
 * absent. */
const char *cmd_flag(const cmd_ctx *c, const char *name);

/* Prints "escher: CMD: <message>" and the --help hint to stderr; returns
 * CLIENT_EXIT_USAGE. */
int cmd_usage(const cmd_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints e's message to stderr; returns CLIENT_EXIT_FAILED. */
int cmd_failed(const err *e);

/* A client for the configured server and token (ESCHER_URL/ESCHER_TOKEN,
 * then --server-url/--api-token when set, then the login file); NULL and e
 * when the login file cannot be read. Caller frees. */
client_api *cmd_connect(const cmd_ctx *c, err *e);

/* Sends one request (body may be NULL) and prints the answer as an object
 * in the --output format; returns the exit status. */
int cmd_call_print(cmd_ctx *c, const char *method, const char *path, const json_t *body);

/* Sends one request and stores the answer in *out (NULL for an empty body;
 * caller decrefs); on failure prints the error and returns false. */
bool cmd_call(cmd_ctx *c, const char *method, const char *path, const json_t *body, json_t **out);

/* GETs every page of a listing (path may carry a query) and prints the
 * items with columns; returns the exit status. */
int cmd_list(cmd_ctx *c, const char *path, const char *const *columns);

/* GETs every page of a listing into *items (a new array; caller decrefs);
 * on failure prints the error and returns false. */
bool cmd_fetch_all(cmd_ctx *c, client_api *a, const char *path, json_t **items);

/* Whether s looks like an id that may go into a path (hex digits, dashes). */
bool cmd_id_ok(const char *s);

/* method /v1/<coll>/<ID><tail> with the first positional argument as ID
 * (a usage error naming it when it is no id); prints the answer. */
int cmd_by_id(cmd_ctx *c, const char *method, const char *coll, const char *tail,
              const json_t *body);

/* DELETE /v1/<coll>/<ID> (cmd_by_id), then "<done> <ID><note>." on success
 * ("Deleted channel", "" gives "Deleted channel <ID>."). */
int cmd_delete(cmd_ctx *c, const char *coll, const char *done, const char *note);

/* Parses flag `name`'s JSON text; NULL after printing a usage error naming
 * the flag and jansson's complaint (*rc is then CLIENT_EXIT_USAGE). */
json_t *cmd_json_flag(const cmd_ctx *c, const char *name, int *rc);

/* Splits a comma-separated flag value into a JSON array of strings; NULL
 * after a usage error naming the flag and the empty element. */
json_t *cmd_list_flag(const cmd_ctx *c, const char *name, int *rc);

/* Appends "?name=value" or "&name=value" (value percent-encoded) to the
 * path in *path (reallocated). */
void cmd_query_add(char **path, const char *name, const char *value);

/* Exit status of a finished job (client_cmd_runs.c): 0 succeeded, 3 a run
 * that ended partial, 1 otherwise. */
int cmd_job_status(const json_t *job);

/* Polls GET /v1/jobs/ID once a second until the job finishes (client_cmd_runs.c). With
 * steps, prints each step's progress to stdout; else says on stderr, once,
 * that it is waiting. Stores the finished job in *job (caller decrefs);
 * false after printing the error. */
bool cmd_wait_job(cmd_ctx *c, client_api *a, const char *id, bool steps, json_t **job);

/* ---- flag helpers (client_cmd_admin.c) ---------------------------------------- */

/* A whole number flag in [min, max] into *out (unchanged when absent);
 * false after a usage error naming the value (*rc CLIENT_EXIT_USAGE). */
bool cmd_number_flag(const cmd_ctx *c, const char *name, long min, long max, long *out, int *rc);

/* *out is the flag's value when it is one of words ("a|b|c"), NULL when the
 * flag is absent; false after a usage error naming the value. */
bool cmd_word_flag(const cmd_ctx *c, const char *name, const char *words, const char **out,
                   int *rc);

/* False after a usage error naming both when flags a and b are both given. */
bool cmd_exclusive(const cmd_ctx *c, const char *a, const char *b, int *rc);

/* Sets body[key] to flag's string value when the flag is given. */
void cmd_set_string(json_t *body, const cmd_ctx *c, const char *flag, const char *key);

/* printf to stdout for table output only (confirmations of a 204 such as
 * "Deleted ..."): json and csv output stay empty. */
void cmd_say(const cmd_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the commands (client_cmd_admin.c, client_cmd_runs.c) ------------------------ */

int cmd_whoami(cmd_ctx *c);
int cmd_users_list(cmd_ctx *c);
int cmd_users_show(cmd_ctx *c);
int cmd_users_create(cmd_ctx *c);
int cmd_tokens_list(cmd_ctx *c);
int cmd_tokens_create(cmd_ctx *c);
int cmd_tokens_revoke(cmd_ctx *c);
int cmd_accounts_list(cmd_ctx *c);
int cmd_accounts_show(cmd_ctx *c);
int cmd_accounts_add(cmd_ctx *c);
int cmd_accounts_update(cmd_ctx *c);
int cmd_accounts_delete(cmd_ctx *c);
int cmd_accounts_verify(cmd_ctx *c);
int cmd_accounts_discover(cmd_ctx *c);
int cmd_onboarding_show(cmd_ctx *c);
int cmd_channels_list(cmd_ctx *c);
int cmd_channels_show(cmd_ctx *c);
int cmd_channels_create(cmd_ctx *c);
int cmd_channels_update(cmd_ctx *c);
int cmd_channels_delete(cmd_ctx *c);
int cmd_channels_test(cmd_ctx *c);
int cmd_schedules_list(cmd_ctx *c);
int cmd_schedules_show(cmd_ctx *c);
int cmd_schedules_preview(cmd_ctx *c);
int cmd_schedules_try(cmd_ctx *c);
int cmd_schedules_create(cmd_ctx *c);
int cmd_schedules_update(cmd_ctx *c);
int cmd_schedules_enable(cmd_ctx *c);
int cmd_schedules_disable(cmd_ctx *c);
int cmd_schedules_delete(cmd_ctx *c);
int cmd_schedules_run(cmd_ctx *c);
int cmd_runs_list(cmd_ctx *c);
int cmd_runs_show(cmd_ctx *c);
int cmd_runs_watch(cmd_ctx *c);
int cmd_runs_cancel(cmd_ctx *c);
int cmd_runs_start(cmd_ctx *c);
int cmd_runs_plan(cmd_ctx *c);
int cmd_audit_list(cmd_ctx *c);
int cmd_audit_verify(cmd_ctx *c);

#endif
