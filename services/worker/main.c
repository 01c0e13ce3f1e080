/* escher-worker: runs jobs until SIGTERM (worker.h); `escher-worker kinds`
 * prints the job kinds it runs and the AWS actions each declares;
 * `escher-worker operations` prints the operations catalog as Markdown
 * (docs/operations.md is that output). */
#include "job_kinds.h"
#include "worker.h"
#include "worker_options.h"

#include "core/log.h"
#include "core/opts.h"
#include "ops/ops_catalog.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    opts *o = NULL;
    int status = opts_startup(worker_options(), argc, argv, stdout, stderr, &o);
    if (status >= 0)
        return status;
    int nargs = 0;
    char *const *args = opts_args(o, &nargs);
    if (nargs > 0) {
        status = 2;
        if (nargs == 1 && strcmp(args[0], "kinds") == 0) {
            job_kinds_print(stdout);
            status = 0;
        } else if (nargs == 1 && strcmp(args[0], "operations") == 0) {
            ops_catalog_markdown(stdout);
            status = 0;
        } else {
            fprintf(stderr, "escher-worker: unknown command '%s' (known: kinds, operations)\n",
                    args[0]);
        }
        opts_free(o);
        return status;
    }
    /* A peer closing a socket must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);
    log_level level = LOG_LEVEL_INFO;
    log_level_parse(opts_get_string(o, "log-level"), &level, NULL);
    logger *log = log_new("escher-worker", level, -1);
    err e;
    err_clear(&e);
    worker *w = worker_new(o, log, &e);
    status = 1;
    if (w != NULL && worker_run(w, &e))
        status = 0;
    if (status != 0)
        log_error(log, "cannot run", LOG_STR("error", e.message));
    worker_free(w);
    log_free(log);
    opts_free(o);
    return status;
}
