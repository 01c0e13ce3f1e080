/* escher-worker: loads and validates its options; job execution arrives with a later issue. */
#include "worker_options.h"

#include "core/opts.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    opts *o = NULL;
    int status = opts_startup(worker_options(), argc, argv, stdout, stderr, &o);
    if (status >= 0)
        return status;
    /* Exit 2, not 0: a supervisor or script must not mistake this for a
     * program that ran and finished. */
    fprintf(stderr,
            "escher-worker: not built yet: leasing and running jobs against AWS arrives with a "
            "later issue, so no job is run.\n"
            "escher-worker: the configuration is valid; see 'escher-worker --check-config'.\n");
    opts_free(o);
    return 2;
}
