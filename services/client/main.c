/* escher: loads its options, then runs the command named after them
 * (client_cmd.c). The chat REPL and immediate operations arrive later. */
#include "client_cmd.h"
#include "client_options.h"

#include "core/opts.h"

#include <curl/curl.h>

int main(int argc, char **argv)
{
    opts *o = NULL;
    int status = opts_startup(client_options(), argc, argv, stdout, stderr, &o);
    if (status >= 0)
        return status;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int nargs = 0;
    char *const *args = opts_args(o, &nargs);
    status = client_cmd_run(o, nargs, args);
    opts_free(o);
    curl_global_cleanup();
    return status;
}
