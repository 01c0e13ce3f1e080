/* escher-worker options. The AWS group maps one to one onto
 * aws_client_options (lib/aws/aws_client.h); the server's own identity comes
 * from the standard credential chain, so no credential is an option. */
#include "worker_options.h"

#include "aws/aws_opts.h"
#include "core/log.h"
#include "core/seal.h"

static const opts_def worker_defs[] = {
    {.name = "database-url",
     .env = "ESCHER_WORKER_DATABASE_URL",
     .type = OPTS_URL,
     .def = "postgresql:///escher",
     .group = "Storage",
     .help = "PostgreSQL connection URI (libpq syntax) holding the job queue and job steps. A "
             "password in it is never printed; prefer PGPASSFILE or the environment to writing "
             "it here."},
    {.name = "redis-url",
     .env = "ESCHER_WORKER_REDIS_URL",
     .type = OPTS_URL,
     .def = "redis://127.0.0.1:6379/0",
     .group = "Storage",
     .help = "Redis URI for the per account and region AWS rate-limit buckets shared by all "
             "workers. Without Redis each worker limits itself alone."},
    {.name = "database-role",
     .env = "ESCHER_WORKER_DATABASE_ROLE",
     .type = OPTS_STRING,
     .def = "escher_worker",
     .group = "Storage",
     .metavar = "ROLE",
     .help = "Role the worker takes (SET ROLE) after connecting: escher_worker, which sees every "
             "tenant. The login role must be a member of it. Empty: keep the login role."},
    {.name = "concurrency",
     .env = "ESCHER_WORKER_CONCURRENCY",
     .type = OPTS_INT,
     .def = "32",
     .min = 1,
     .max = 1024,
     .group = "Jobs",
     .help = "Jobs this worker process runs at once on its one event loop. Jobs mostly wait "
             "on AWS, so this can be well above the number of cores; run several processes to "
             "use several cores."},
    {.name = "max-requests-in-flight",
     .env = "ESCHER_WORKER_MAX_REQUESTS_IN_FLIGHT",
     .type = OPTS_INT,
     .def = "64",
     .min = 1,
     .max = 4096,
     .group = "Jobs",
     .help = "AWS requests in flight at once across all jobs of this worker."},
    {.name = "lease",
     .env = "ESCHER_WORKER_LEASE",
     .type = OPTS_DURATION,
     .def = "1m",
     .min = 1000,
     .max = 3600000,
     .group = "Jobs",
     .help = "How long a leased job stays ours without a heartbeat; a worker that dies loses "
             "its jobs to others after this long."},
    {.name = "poll-interval",
     .env = "ESCHER_WORKER_POLL_INTERVAL",
     .type = OPTS_DURATION,
     .def = "2s",
     .min = 100,
     .max = 60000,
     .group = "Jobs",
     .help = "How often the queue is polled for jobs when no notification arrives (a safety "
             "net: idle workers wake at once on LISTEN/NOTIFY)."},
    {.name = "grace-period",
     .env = "ESCHER_WORKER_GRACE_PERIOD",
     .type = OPTS_DURATION,
     .def = "20s",
     .min = 0,
     .max = 3600000,
     .group = "Jobs",
     .help = "On SIGTERM or SIGINT the worker stops leasing at once and gives the jobs it is "
             "running this long to finish; the rest are handed back to the queue without "
             "counting an attempt, and the worker exits 0."},
    {.name = "role-session-duration",
     .env = "ESCHER_WORKER_ROLE_SESSION_DURATION",
     .type = OPTS_DURATION,
     .def = "15m",
     .min = 900000,
     .max = 43200000,
     .group = "AWS",
     .help = "DurationSeconds asked for when assuming a customer's role for a job that does not "
             "need longer; the credentials live only in this worker's memory."},
    {.name = "region",
     .env = "ESCHER_WORKER_REGION",
     .type = OPTS_STRING,
     .check = opts_check_region,
     .group = "AWS",
     .metavar = "REGION",
     .help = "Region for AWS calls that name none, such as STS. Unset: us-east-1."},
    AWS_OPTS_DEFS("ESCHER_WORKER_"),
    {.name = "master-key",
     .env = "ESCHER_WORKER_MASTER_KEY",
     .type = OPTS_SECRET,
     .check = seal_key_check,
     .group = "Secrets",
     .metavar = "KEY",
     .help = "The server master key that opens notification channel secrets (the one "
             "escher-api seals them with): 32 random bytes as 64 hex digits or base64. Unset: "
             "notify.deliver jobs fail, retryably, saying so."},
    {.name = "log-level",
     .env = "ESCHER_WORKER_LOG_LEVEL",
     .type = OPTS_ENUM,
     .def = "info",
     .choices = log_level_names,
     .group = "Process",
     .help = "Least severe log lines written to stderr (JSON, one object per line, each line "
             "of a job carrying its job_id)."},
};

static const opts_program worker_program = {
    .name = "escher-worker",
    .version = ESCHER_VERSION,
    .summary = "Escher's worker: leases jobs, assumes the customer's role with a session policy "
               "scoped to the job, calls AWS with many requests in flight, records every step "
               "and retries safely.",
    .config_env = "ESCHER_WORKER_CONFIG",
    .args_usage = "[kinds]",
    .defs = worker_defs,
    .ndefs = sizeof worker_defs / sizeof worker_defs[0],
};

const opts_program *worker_options(void)
{
    return &worker_program;
}
