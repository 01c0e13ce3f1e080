/* escher-scheduler: turns due schedules into jobs until SIGTERM
 * (scheduler.h). */
#include "scheduler.h"
#include "scheduler_options.h"

#include "core/log.h"
#include "core/opts.h"

#include <signal.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    opts *o = NULL;
    int status = opts_startup(scheduler_options(), argc, argv, stdout, stderr, &o);
    if (status >= 0)
        return status;
    /* A peer closing a socket must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);
    log_level level = LOG_LEVEL_INFO;
    log_level_parse(opts_get_string(o, "log-level"), &level, NULL);
    logger *log = log_new("escher-scheduler", level, -1);
    err e;
    err_clear(&e);
    scheduler *s = scheduler_new(o, log, &e);
    status = 1;
    if (s != NULL && scheduler_run(s, &e))
        status = 0;
    if (status != 0)
        log_error(log, "cannot run", LOG_STR("error", e.message));
    scheduler_free(s);
    log_free(log);
    opts_free(o);
    return status;
}
