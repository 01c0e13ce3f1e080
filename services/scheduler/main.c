/* escher-scheduler: loads and validates its options; scheduling arrives with a later issue. */
#include "scheduler_options.h"

#include "core/opts.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    opts *o = NULL;
    int status = opts_startup(scheduler_options(), argc, argv, stdout, stderr, &o);
    if (status >= 0)
        return status;
    /* Exit 2, not 0: a supervisor or script must not mistake this for a
     * program that ran and finished. */
    fprintf(
        stderr,
        "escher-scheduler: not built yet: turning schedules and cadences into jobs arrives with a "
        "later issue, so no job is created.\n"
        "escher-scheduler: the configuration is valid; see 'escher-scheduler --check-config'.\n");
    opts_free(o);
    return 2;
}
