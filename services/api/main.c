/* escher-api: with a command (migrate, bootstrap, ...), runs it; without one
 * it serves the HTTP API until SIGTERM. */
#include "api_commands.h"
#include "api_options.h"
#include "api_server.h"

#include "core/log.h"

#include "core/opts.h"

#include <stdio.h>
#include <string.h>

/* Whether opts_startup will answer --help: the same scan it makes (options up
 * to the first argument or "--"), so a command's own arguments never count. */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0 || argv[i][0] != '-')
            return false;
        if (strcmp(argv[i], "--help") == 0)
            return true;
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "--print-example-config") == 0)
            return false;
    }
    return false;
}

int main(int argc, char **argv)
{
    opts *o = NULL;
    int status = opts_startup(api_options(), argc, argv, stdout, stderr, &o);
    if (status >= 0) {
        if (status == 0 && wants_help(argc, argv))
            api_commands_print_help(stdout);
        return status;
    }
    int nargs = 0;
    char *const *args = opts_args(o, &nargs);
    if (nargs > 0) {
        status = api_commands_run(o, nargs, args, stdout, stderr);
        opts_free(o);
        return status;
    }
    log_level level = LOG_LEVEL_INFO;
    log_level_parse(opts_get_string(o, "log-level"), &level, NULL);
    logger *log = log_new("escher-api", level, -1);
    err e;
    err_clear(&e);
    api_server *srv = api_server_new(o, log, &e);
    status = 1;
    if (srv != NULL && api_server_run(srv, &e))
        status = 0;
    if (status != 0)
        log_error(log, "cannot serve", LOG_STR("error", e.message));
    api_server_free(srv);
    log_free(log);
    opts_free(o);
    return status;
}
