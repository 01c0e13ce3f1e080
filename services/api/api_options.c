/* escher-api options. The API never calls AWS and holds no AWS credentials
 * (anything that touches a customer account is a job), so there are no AWS
 * options here on purpose. */
#include "api_options.h"

#include "core/seal.h"

#include "core/log.h"

#include <string.h>

/* llm-url: an http or https URL (the chat-completions endpoint). */
static bool llm_url_check(const char *value, err *e)
{
    if (strncmp(value, "http://", 7) == 0 || strncmp(value, "https://", 8) == 0)
        return true;
    return err_set(e, ERR_INVALID, "want an http:// or https:// chat-completions URL");
}

static const opts_def api_defs[] = {
    {.name = "listen",
     .env = "ESCHER_API_LISTEN",
     .type = OPTS_STRING,
     .def = "127.0.0.1",
     .group = "HTTP",
     .metavar = "ADDRESS",
     .help = "IP address the HTTP/JSON API, /healthz and /metrics listen on. Use 0.0.0.0 or :: "
             "to accept connections from other hosts."},
    {.name = "port",
     .env = "ESCHER_API_PORT",
     .type = OPTS_INT,
     .def = "8080",
     .min = 0,
     .max = 65535,
     .group = "HTTP",
     .help =
         "TCP port of the HTTP/JSON API; 0 picks a free port (logged in the 'listening' line)."},
    {.name = "max-body-bytes",
     .env = "ESCHER_API_MAX_BODY_BYTES",
     .type = OPTS_INT,
     .def = "1048576",
     .min = 1024,
     .max = 67108864,
     .group = "HTTP",
     .help = "Largest request body accepted, in bytes; larger requests get 413 before the body "
             "is read."},
    {.name = "request-timeout",
     .env = "ESCHER_API_REQUEST_TIMEOUT",
     .type = OPTS_DURATION,
     .def = "30s",
     .min = 1000,
     .max = 600000,
     .group = "HTTP",
     .help = "Time allowed to receive a request and send its answer; slower clients are "
             "disconnected."},
    {.name = "threads",
     .env = "ESCHER_API_THREADS",
     .type = OPTS_INT,
     .def = "0",
     .min = 0,
     .max = 256,
     .group = "HTTP",
     .help = "Event loops serving the port, one thread and one PostgreSQL connection each; 0 "
             "means one per CPU. Every loop has its own SO_REUSEPORT socket, so several "
             "escher-api processes may also share one port."},
    {.name = "token-rate",
     .env = "ESCHER_API_TOKEN_RATE",
     .type = OPTS_INT,
     .def = "50",
     .min = 1,
     .max = 10000000,
     .group = "HTTP",
     .help = "Requests a second one API token may make (per process); more get 429 with "
             "Retry-After."},
    {.name = "token-burst",
     .env = "ESCHER_API_TOKEN_BURST",
     .type = OPTS_INT,
     .def = "100",
     .min = 1,
     .max = 10000000,
     .group = "HTTP",
     .help = "Requests one API token may make at once above token-rate before it is limited."},
    {.name = "escher-principal-arn",
     .env = "ESCHER_API_ESCHER_PRINCIPAL_ARN",
     .type = OPTS_STRING,
     .def = "",
     .group = "Onboarding",
     .metavar = "ARN",
     .help = "The AWS principal the workers run as, which customer roles trust "
             "(EscherPrincipalArn in the onboarding template). GET /v1/onboarding hands it to "
             "Managers; until it is set that route answers 503 naming this option."},
    {.name = "template-url",
     .env = "ESCHER_API_TEMPLATE_URL",
     .type = OPTS_STRING,
     .def = "",
     .group = "Onboarding",
     .metavar = "URL",
     .help = "Where Managers download deploy/aws/customer-role.yaml (an S3 URL for the "
             "CloudFormation quick-create link); empty to give only the parameters."},
    {.name = "master-key",
     .env = "ESCHER_API_MASTER_KEY",
     .type = OPTS_SECRET,
     .check = seal_key_check,
     .group = "Secrets",
     .metavar = "KEY",
     .help = "The server master key that seals notification channel secrets at rest "
             "(AES-256-GCM): 32 random bytes as 64 hex digits or base64 (openssl rand -hex "
             "32). escher-worker needs the same key to deliver. Unset: the /v1/channels routes "
             "answer 503 naming this option."},
    {.name = "llm-url",
     .env = "ESCHER_LLM_URL",
     .type = OPTS_URL,
     .check = llm_url_check,
     .group = "Chat",
     .help = "An OpenAI-compatible chat-completions URL (such as "
             "http://127.0.0.1:9999/v1/chat/completions) that POST /v1/chat asks for a plan "
             "through tool calls, one per catalog operation. Unset (the default): the builtin "
             "engine (lib/nlu) answers alone. The LLM receives the user's message and the "
             "request's context, nothing else; its plan is used only when it passes the "
             "operations catalog's checks."},
    {.name = "llm-model",
     .env = "ESCHER_LLM_MODEL",
     .type = OPTS_STRING,
     .def = "gpt-4o-mini",
     .group = "Chat",
     .metavar = "NAME",
     .help = "The model named in chat-completions requests to llm-url."},
    {.name = "llm-api-key",
     .env = "ESCHER_LLM_API_KEY",
     .type = OPTS_SECRET,
     .group = "Chat",
     .metavar = "KEY",
     .help = "Sent to llm-url as 'Authorization: Bearer KEY'; never logged, wiped when the "
             "server stops. Unset: no Authorization header (a local model)."},
    {.name = "llm-timeout",
     .env = "ESCHER_LLM_TIMEOUT",
     .type = OPTS_DURATION,
     .def = "20s",
     .min = 100,
     .max = 300000,
     .group = "Chat",
     .help = "How long POST /v1/chat waits for llm-url (without holding its event loop); "
             "later, or on any error, the builtin engine answers with a note. Must be shorter "
             "than request-timeout (checked at start)."},
    {.name = "database-url",
     .env = "ESCHER_API_DATABASE_URL",
     .type = OPTS_URL,
     .def = "postgresql:///escher",
     .group = "Storage",
     .help = "PostgreSQL connection URI (libpq syntax), the source of truth for tenants, jobs, "
             "schedules, findings, costs and audit. A password in it is never printed; prefer "
             "PGPASSFILE or the environment to writing it here."},
    {.name = "migrations-dir",
     .env = "ESCHER_API_MIGRATIONS_DIR",
     .type = OPTS_STRING,
     .def = "migrations",
     .group = "Storage",
     .metavar = "DIR",
     .help = "Directory of the NNNN_name.sql schema migrations that 'escher-api migrate' "
             "applies. The default is relative to the current directory, so it works from a "
             "source tree; installed deployments pass an absolute path."},
    {.name = "redis-url",
     .env = "ESCHER_API_REDIS_URL",
     .type = OPTS_URL,
     .def = "redis://127.0.0.1:6379/0",
     .group = "Storage",
     .help = "Redis URI for live event fan-out to clients and short caches. Losing Redis "
             "degrades the API (no live events), it never loses data."},
    {.name = "shutdown-grace",
     .env = "ESCHER_API_SHUTDOWN_GRACE",
     .type = OPTS_DURATION,
     .def = "250ms",
     .min = 0,
     .max = 600000,
     .group = "Process",
     .help = "On SIGTERM the server stops accepting at once, then keeps its loops running this "
             "long so that answers already queued are written and requests being received "
             "complete; then it closes every connection and exits. Handlers never outlive it: "
             "each runs to its end before the loop looks at anything else (a chat request "
             "still waiting for llm-url then gets no answer)."},
    {.name = "log-level",
     .env = "ESCHER_API_LOG_LEVEL",
     .type = OPTS_ENUM,
     .def = "info",
     .choices = log_level_names,
     .group = "Process",
     .help = "Least severe log lines written to stderr (JSON, one object per line)."},
};

static const opts_program api_program = {
    .name = "escher-api",
    .version = ESCHER_VERSION,
    .summary = "Escher's HTTP/JSON API server: tenants, accounts, schedules, playbooks, "
               "approvals, reports, findings, costs, chat and audit, with /healthz and /metrics.",
    .config_env = "ESCHER_API_CONFIG",
    .args_usage = "[COMMAND [ARGS...]]",
    .defs = api_defs,
    .ndefs = sizeof api_defs / sizeof api_defs[0],
};

const opts_program *api_options(void)
{
    return &api_program;
}
