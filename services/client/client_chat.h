/* The conversation: `escher chat` (a prompt on libedit) and `escher ask`
 * (one sentence). Each sentence becomes a plan, from the server's POST
 * /v1/chat when one is configured and reachable (sent only the sentence and
 * non-secret context: default region, account ids, recent resource ids),
 * else from the built-in engine (lib/nlu). Queries are answered with the
 * local AWS credentials; operations are previewed (client_plan.h), confirmed
 * by risk and run here with the local credentials (client_exec.h);
 * schedules are created on the server after confirmation. */
#ifndef ESCHER_CLIENT_CHAT_H
#define ESCHER_CLIENT_CHAT_H

#include "client_api.h"
#include "client_out.h"

#include "core/opts.h"

#include <stdbool.h>

/* The prompt `escher chat` prints when it is ready for a sentence. */
#define CLIENT_CHAT_PROMPT "escher> "

/* Answers one sentence; returns the exit status (client_cmd.h). yes
 * confirms plans up to high risk; without it a plan runs only when the
 * terminal's answer confirms it. api may be NULL (no server). */
int client_chat_ask(const opts *o, const char *sentence, client_out_format out, client_api *api,
                    bool yes);

/* The REPL on stdin until end of input or "exit"/"quit"; history across
 * runs in the local state database. Returns 0, or 1 when the local state
 * cannot be opened. */
int client_chat_repl(const opts *o, client_out_format out, client_api *api, bool yes);

#endif
