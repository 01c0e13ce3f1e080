/* The conversation. See client_chat.h. */
#include "client_chat.h"

#include "client_ask.h"
#include "client_cmd.h"

#include <editline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int client_chat_ask(const opts *o, const char *sentence, client_out_format out, client_api *api,
                    bool yes)
{
    (void)yes;
    return client_ask_run(o, sentence, out, api);
}

int client_chat_repl(const opts *o, client_out_format out, client_api *api, bool yes)
{
    char *line;
    while ((line = readline(CLIENT_CHAT_PROMPT)) != NULL) {
        if (line[0])
            client_chat_ask(o, line, out, api, yes);
        free(line);
    }
    return CLIENT_EXIT_OK;
}
