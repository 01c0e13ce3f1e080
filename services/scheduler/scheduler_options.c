/* escher-scheduler options. The scheduler only turns schedules and cadences
 * into job rows in PostgreSQL; it never calls AWS and needs no Redis. */
#include "scheduler_options.h"

#include "core/log.h"

static const opts_def scheduler_defs[] = {
    {.name = "database-url",
     .env = "ESCHER_SCHEDULER_DATABASE_URL",
     .type = OPTS_URL,
     .def = "postgresql:///escher",
     .group = "Storage",
     .help = "PostgreSQL connection URI (libpq syntax) holding schedules and the job queue. A "
             "password in it is never printed; prefer PGPASSFILE or the environment to writing "
             "it here."},
    {.name = "tick",
     .env = "ESCHER_SCHEDULER_TICK",
     .type = OPTS_DURATION,
     .def = "15s",
     .min = 1000,
     .max = 300000,
     .group = "Scheduling",
     .help = "How often due schedules are looked for. Each fire time becomes exactly one job "
             "however many scheduler replicas run, so a shorter tick only lowers latency."},
    {.name = "misfire-grace",
     .env = "ESCHER_SCHEDULER_MISFIRE_GRACE",
     .type = OPTS_DURATION,
     .def = "1h",
     .min = 0,
     .max = 604800000,
     .group = "Scheduling",
     .help = "Fire times missed while no scheduler ran are still turned into jobs if they are at "
             "most this old; older ones are recorded as skipped."},
    {.name = "posture-scan-interval",
     .env = "ESCHER_SCHEDULER_POSTURE_SCAN_INTERVAL",
     .type = OPTS_DURATION,
     .def = "15m",
     .min = 60000,
     .max = 604800000,
     .group = "Scheduling",
     .help = "Default cadence of security posture scans for tenants that set none."},
    {.name = "cost-sync-interval",
     .env = "ESCHER_SCHEDULER_COST_SYNC_INTERVAL",
     .type = OPTS_DURATION,
     .def = "1d",
     .min = 3600000,
     .max = 2678400000,
     .group = "Scheduling",
     .help = "Default cadence of incremental Cost Explorer syncs for tenants that set none. Each "
             "page fetched is a billed request, so keep this long."},
    {.name = "log-level",
     .env = "ESCHER_SCHEDULER_LOG_LEVEL",
     .type = OPTS_ENUM,
     .def = "info",
     .choices = log_level_names,
     .group = "Process",
     .help = "Least severe log lines written to stderr (JSON, one object per line)."},
};

static const opts_program scheduler_program = {
    .name = "escher-scheduler",
    .version = ESCHER_VERSION,
    .summary = "Escher's scheduler: turns cron schedules, posture-scan cadences and cost-sync "
               "cadences into jobs, exactly once per fire time, safe with several replicas.",
    .config_env = "ESCHER_SCHEDULER_CONFIG",
    .defs = scheduler_defs,
    .ndefs = sizeof scheduler_defs / sizeof scheduler_defs[0],
};

const opts_program *scheduler_options(void)
{
    return &scheduler_program;
}
