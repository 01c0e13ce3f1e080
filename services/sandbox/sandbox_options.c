/* escher-sandbox options. The sandbox simulates an organization of accounts
 * behind one AWS-compatible endpoint; it knows nothing of Escher beyond the
 * SigV4 signing it verifies, so these options describe only the simulation. */
#include "sandbox_options.h"

#include <ctype.h>
#include <string.h>

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

/* AWS allows 2-1224 characters from [A-Za-z0-9+=,.@:/_-] in an ExternalId. */
static bool check_external_id(const char *value, err *e)
{
    size_t n = strlen(value);
    if (n < 2 || n > 1224)
        return err_set(e, ERR_INVALID, "'%s' is %zu characters; an ExternalId has 2 to 1224", value,
                       n);
    for (const char *p = value; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("+=,.@:/_-", *p))
            return err_set(e, ERR_INVALID,
                           "'%s' has '%c', not allowed in an ExternalId (A-Z a-z 0-9 +=,.@:/_-)",
                           value, *p);
    return true;
}

static const opts_def sandbox_defs[] = {
    {.name = "listen",
     .env = "ESCHER_SANDBOX_LISTEN",
     .type = OPTS_STRING,
     .def = "127.0.0.1",
     .group = "Network",
     .metavar = "ADDRESS",
     .help = "IP address the AWS-compatible endpoint and the admin endpoint listen on."},
    {.name = "port",
     .env = "ESCHER_SANDBOX_PORT",
     .type = OPTS_INT,
     .def = "8900",
     .min = 1,
     .max = 65535,
     .group = "Network",
     .help = "TCP port of the AWS-compatible endpoint; point --endpoint-url of escher, "
             "escher-worker or the AWS CLI at it."},
    {.name = "admin-port",
     .env = "ESCHER_SANDBOX_ADMIN_PORT",
     .type = OPTS_INT,
     .def = "8901",
     .min = 1,
     .max = 65535,
     .group = "Network",
     .help = "TCP port of the admin endpoint used by tests and the demo to reset, inspect and "
             "inject faults."},
    {.name = "accounts",
     .env = "ESCHER_SANDBOX_ACCOUNTS",
     .type = OPTS_INT,
     .def = "3",
     .min = 1,
     .max = 1000,
     .group = "Simulation",
     .help = "Member accounts in the simulated organization, besides the management account."},
    {.name = "regions",
     .env = "ESCHER_SANDBOX_REGIONS",
     .type = OPTS_STRING,
     .def = "us-east-1,eu-west-1",
     .check = opts_check_region_list,
     .group = "Simulation",
     .metavar = "LIST",
     .help = "Comma-separated regions in which the simulated accounts have resources."},
    {.name = "seed",
     .env = "ESCHER_SANDBOX_SEED",
     .type = OPTS_INT,
     .def = "1",
     .min = 0,
     .max = 4294967295LL,
     .group = "Simulation",
     .help = "Seed of the generated estate; the same seed always gives the same accounts, "
             "resources, costs and findings."},
    {.name = "external-id",
     .env = "ESCHER_SANDBOX_EXTERNAL_ID",
     .type = OPTS_STRING,
     .check = check_external_id,
     .group = "Simulation",
     .metavar = "ID",
     .help = "ExternalId the simulated member roles require in sts:AssumeRole. Unset: a random "
             "one, written to the log at start."},
    {.name = "aws-config-dir",
     .env = "ESCHER_SANDBOX_AWS_CONFIG_DIR",
     .type = OPTS_STRING,
     .group = "Simulation",
     .metavar = "DIR",
     .help = "Directory where the sandbox writes an AWS config and credentials file with a "
             "profile per simulated account, for escher and the AWS CLI. Unset: none written."},
    {.name = "log-level",
     .env = "ESCHER_SANDBOX_LOG_LEVEL",
     .type = OPTS_ENUM,
     .def = "info",
     .choices = log_levels,
     .group = "Process",
     .help = "Least severe log lines written to stderr (JSON, one object per line)."},
};

static const opts_program sandbox_program = {
    .name = "escher-sandbox",
    .version = ESCHER_VERSION,
    .summary = "A local AWS-compatible endpoint simulating an organization of accounts, for the "
               "demo, the tests and the benchmarks.",
    .config_env = "ESCHER_SANDBOX_CONFIG",
    .defs = sandbox_defs,
    .ndefs = sizeof sandbox_defs / sizeof sandbox_defs[0],
};

const opts_program *sandbox_options(void)
{
    return &sandbox_program;
}
