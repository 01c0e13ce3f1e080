/* escher-sandbox: loads and validates its options; the simulated AWS endpoint arrives with a later
 * issue. */
#include "sandbox_options.h"

#include "core/opts.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    opts *o = NULL;
    int status = opts_startup(sandbox_options(), argc, argv, stdout, stderr, &o);
    if (status >= 0)
        return status;
    /* Exit 2, not 0: a supervisor or script must not mistake this for a
     * program that ran and finished. */
    fprintf(stderr,
            "escher-sandbox: not built yet: the simulated AWS endpoint and organization arrive "
            "with a later issue, so nothing is served.\n"
            "escher-sandbox: the configuration is valid; see 'escher-sandbox --check-config'.\n");
    opts_free(o);
    return 2;
}
