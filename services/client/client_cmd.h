/* escher's commands as data (name, usage, help, function), tmux style: help,
 * per-command --help and docs/cli.md are generated from the table. */
#ifndef ESCHER_CLIENT_CMD_H
#define ESCHER_CLIENT_CMD_H

#include "core/opts.h"

/* Exit statuses (documented in docs/cli.md). */
enum {
    CLIENT_EXIT_OK = 0,
    CLIENT_EXIT_FAILED = 1,
    CLIENT_EXIT_USAGE = 2,
    CLIENT_EXIT_PARTIAL = 3,
};

/* Runs the command in args (what opts left after the global options). */
int client_cmd_run(const opts *o, int argc, char *const *argv);

#endif
