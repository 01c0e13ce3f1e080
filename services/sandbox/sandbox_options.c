/* escher-sandbox options. The sandbox simulates an organization of accounts
 * behind one AWS-compatible endpoint; it knows nothing of Escher beyond the
 * SigV4 signing it verifies, so these options describe only the simulation. */
#include "sandbox_options.h"

#include "core/log.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

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

/* A share of calls, 0 to 1. */
static bool check_rate(const char *value, err *e)
{
    char *end;
    double d = strtod(value, &end);
    if (end == value || *end != '\0' || !(d >= 0 && d <= 1))
        return err_set(e, ERR_INVALID, "'%s' is not a number from 0 to 1", value);
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
     .min = 0,
     .max = 65535,
     .group = "Network",
     .help = "TCP port of the AWS-compatible endpoint; point --endpoint-url of escher, "
             "escher-worker or the AWS CLI at it. 0: any free port, written to the log."},
    {.name = "admin-port",
     .env = "ESCHER_SANDBOX_ADMIN_PORT",
     .type = OPTS_INT,
     .def = "8901",
     .min = 0,
     .max = 65535,
     .group = "Network",
     .help = "TCP port of the admin endpoint used by tests and the demo to reset, inspect and "
             "inject faults. 0: any free port, written to the log."},
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
    {.name = "aws-config",
     .env = "ESCHER_SANDBOX_AWS_CONFIG",
     .type = OPTS_STRING,
     .group = "Simulation",
     .metavar = "DIR",
     .help = "Directory where the sandbox writes an AWS config and credentials file with a "
             "profile per simulated account, for escher and the AWS CLI. Unset: none written."},
    {.name = "world",
     .env = "ESCHER_SANDBOX_WORLD",
     .type = OPTS_STRING,
     .group = "Simulation",
     .metavar = "FILE",
     .help = "Load the world from this JSON file (as written by --save-world or GET /state on "
             "the admin endpoint) instead of generating it; --accounts, --regions, --seed and "
             "--external-id are then ignored."},
    {.name = "save-world",
     .env = "ESCHER_SANDBOX_SAVE_WORLD",
     .type = OPTS_STRING,
     .group = "Simulation",
     .metavar = "FILE",
     .help = "Write the world as JSON to this file at start, then serve it."},
    {.name = "state-delay",
     .env = "ESCHER_SANDBOX_STATE_DELAY",
     .type = OPTS_DURATION,
     .def = "2s",
     .min = 0,
     .max = 3600000,
     .group = "Simulation",
     .help = "How long transitional states last on the sandbox clock (an instance pending or "
             "stopping, a database starting or stopping)."},
    {.name = "throttle",
     .env = "ESCHER_SANDBOX_THROTTLE",
     .type = OPTS_BOOL,
     .def = "true",
     .group = "Faults",
     .help = "Throttle requests as EC2 does, with token buckets per account, region and API "
             "class (describe: 100 burst, 20 per second; mutate: 50 burst, 5 per second). "
             "--no-throttle for benchmarks; the admin endpoint changes it at run time."},
    {.name = "latency",
     .env = "ESCHER_SANDBOX_LATENCY",
     .type = OPTS_DURATION,
     .def = "0",
     .min = 0,
     .max = 600000,
     .group = "Faults",
     .help = "Fixed delay before every answer, served by a timer (no thread waits)."},
    {.name = "error-rate",
     .env = "ESCHER_SANDBOX_ERROR_RATE",
     .type = OPTS_STRING,
     .def = "0",
     .check = check_rate,
     .group = "Faults",
     .metavar = "RATE",
     .help = "Share of calls, 0 to 1, answered with a 500 or 503 server error in the "
             "protocol's shape; chosen by a PRNG seeded with --seed, so runs repeat."},
    {.name = "call-log-size",
     .env = "ESCHER_SANDBOX_CALL_LOG_SIZE",
     .type = OPTS_INT,
     .def = "100000",
     .min = 1,
     .max = 10000000,
     .group = "Process",
     .help = "Calls the call log keeps (GET /calls on the admin endpoint); older ones are "
             "dropped."},
    {.name = "log-level",
     .env = "ESCHER_SANDBOX_LOG_LEVEL",
     .type = OPTS_ENUM,
     .def = "info",
     .choices = log_level_names,
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
