/* escher-api's administrative commands (`escher-api [OPTIONS] COMMAND ...`):
 * a table of data (name, usage, help, function) next to the code that runs
 * them. Global options go before the command; the command's own arguments
 * after it. */
#ifndef ESCHER_API_COMMANDS_H
#define ESCHER_API_COMMANDS_H

#include "core/opts.h"

#include <stddef.h>
#include <stdio.h>

/* Runs one command with its own arguments (argv[0] is the command name).
 * Writes results to out and errors to err_stream; returns the exit status
 * (0 success, 1 failure, 2 usage error; a command may define more, as
 * `audit verify` returns 3 for a broken chain). */
typedef int (*api_command_fn)(const opts *o, int argc, char *const *argv, FILE *out,
                              FILE *err_stream);

typedef struct api_command {
    const char *name;  /* "migrate" */
    const char *usage; /* arguments after the name: "[--status]" */
    const char *help;  /* one or two sentences */
    api_command_fn run;
} api_command;

/* The command table: static data, never freed; *count receives its length. */
const api_command *api_commands(size_t *count);

/* The command named name, or NULL. */
const api_command *api_command_find(const char *name);

/* Writes the "Commands:" section of --help: each command's usage and help. */
void api_commands_print_help(FILE *out);

/* Runs the command named by args[0] (args from opts_args, nargs >= 1) and
 * returns the exit status; an unknown name prints the list of commands to
 * err_stream and returns 2. */
int api_commands_run(const opts *o, int nargs, char *const *args, FILE *out, FILE *err_stream);

#endif
