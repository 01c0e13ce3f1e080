/* escher (the client) options. Immediate operations use the user's local AWS
 * credentials, which never leave this machine: `profile` only names which
 * local profile to use, and no AWS credential is ever an option. The AWS
 * group maps one to one onto aws_client_options (lib/aws/aws_client.h). */
#include "client_options.h"

#include "aws/aws_opts.h"
#include "core/log.h"

static const char *const outputs[] = {"table", "json", "csv", NULL};

static const opts_def client_defs[] = {
    {.name = "server-url",
     .env = "ESCHER_SERVER_URL",
     .type = OPTS_URL,
     .def = "http://127.0.0.1:8080",
     .group = "Server",
     .help = "Base URL of escher-api, for schedules, playbooks, approvals, reports and "
             "everything else the server keeps."},
    {.name = "api-token",
     .env = "ESCHER_API_TOKEN",
     .type = OPTS_SECRET,
     .group = "Server",
     .metavar = "TOKEN",
     .help = "Token that authenticates this user to escher-api."},
    {.name = "profile",
     .env = "ESCHER_PROFILE",
     .type = OPTS_STRING,
     .group = "AWS",
     .metavar = "NAME",
     .help = "Profile in ~/.aws/config and ~/.aws/credentials for immediate operations "
             "(role_arn and source_profile are followed). Unset: AWS_PROFILE, else the default "
             "credential chain."},
    {.name = "region",
     .env = "ESCHER_REGION",
     .type = OPTS_STRING,
     .check = opts_check_region,
     .group = "AWS",
     .metavar = "REGION",
     .help = "Region for immediate operations that name none. Unset: AWS_REGION, the profile's "
             "region, else us-east-1."},
    AWS_OPTS_DEFS("ESCHER_"),
    {.name = "data-dir",
     .env = "ESCHER_DATA_DIR",
     .type = OPTS_STRING,
     .group = "Local state",
     .metavar = "DIR",
     .help = "Directory for the local SQLite state (chat history, estate cache), which never "
             "leaves this machine. Unset: $XDG_DATA_HOME/escher, else ~/.local/share/escher."},
    {.name = "output",
     .env = "ESCHER_OUTPUT",
     .type = OPTS_ENUM,
     .def = "table",
     .choices = outputs,
     .group = "Display",
     .help = "Format of command results: table for people (colour only on a terminal), json for "
             "scripts, csv for spreadsheets."},
    {.name = "log-level",
     .env = "ESCHER_LOG_LEVEL",
     .type = OPTS_ENUM,
     .def = "warn",
     .choices = log_level_names,
     .group = "Display",
     .help = "Least severe diagnostic lines written to stderr (JSON, one object per line)."},
};

static const opts_program client_program = {
    .name = "escher",
    .version = ESCHER_VERSION,
    .summary = "Escher's client: a chat REPL and commands to run AWS operations now with your "
               "local credentials and to use everything escher-api offers.",
    .config_env = "ESCHER_CONFIG",
    .args_usage = "[COMMAND [ARGS...]]",
    .defs = client_defs,
    .ndefs = sizeof client_defs / sizeof client_defs[0],
};

const opts_program *client_options(void)
{
    return &client_program;
}
