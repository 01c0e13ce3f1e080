/* `escher ask "SENTENCE"`: one sentence through the intent engine (lib/nlu),
 * answered with the user's local AWS credentials. Only queries on instances
 * are answered so far; plans that would change anything are described and
 * never executed (the preview and confirmation are not built yet). */
#ifndef ESCHER_CLIENT_ASK_H
#define ESCHER_CLIENT_ASK_H

#include "client_api.h"
#include "client_out.h"

#include "core/opts.h"

/* Answers sentence; returns the exit status (client_cmd.h). api is the
 * configured server or NULL: it is only asked whether it is reachable (GET
 * /healthz), and is never sent the sentence, its answers or credentials. */
int client_ask_run(const opts *o, const char *sentence, client_out_format out, client_api *api);

#endif
