/* The client's login state: the server URL and token `escher login` saved, in
 * $XDG_CONFIG_HOME/escher/config (else ~/.config/escher/config), mode 0600.
 * ESCHER_URL and ESCHER_TOKEN override it (deploy/local/demo.sh's
 * .escher-local/env sets them). */
#ifndef ESCHER_CLIENT_CONFIG_H
#define ESCHER_CLIENT_CONFIG_H

#include "core/err.h"

#include <stdbool.h>

/* Path of the state file (caller frees); NULL with e set when neither
 * XDG_CONFIG_HOME nor HOME is set. */
char *client_config_path(err *e);

/* Reads the saved server and token into *url and *token (caller frees; NULL
 * when absent). A missing file is not an error. */
bool client_config_load(char **url, char **token, err *e);

/* Writes the state file with mode 0600 (its directory 0700). */
bool client_config_save(const char *url, const char *token, err *e);

#endif
