/* escher-api: with a command (migrate, bootstrap), runs it; without one it
 * would serve the HTTP API, which arrives with a later issue. */
#include "api_commands.h"
#include "api_options.h"

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
    /* Exit 2, not 0: a supervisor or script must not mistake this for a
     * program that ran and finished. */
    fprintf(stderr, "escher-api: not built yet: the HTTP/JSON API server (libevent, auth, tenants, "
                    "jobs) arrives with a later issue, so nothing is served.\n"
                    "escher-api: the configuration is valid; see 'escher-api --check-config'; "
                    "the commands 'migrate' and 'bootstrap' work (see 'escher-api --help').\n");
    opts_free(o);
    return 2;
}
