/* escher-scheduler options. The scheduler only turns schedules into job rows
 * in PostgreSQL; it never calls AWS and needs no Redis. */
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
    {.name = "database-role",
     .env = "ESCHER_SCHEDULER_DATABASE_ROLE",
     .type = OPTS_STRING,
     .def = "escher_worker",
     .group = "Storage",
     .metavar = "ROLE",
     .help = "Role the scheduler takes (SET ROLE) after connecting: escher_worker, which sees "
             "every tenant's schedules. The login role must be a member of it. Empty: keep the "
             "login role."},
    {.name = "batch-size",
     .env = "ESCHER_SCHEDULER_BATCH_SIZE",
     .type = OPTS_INT,
     .def = "500",
     .min = 1,
     .max = 10000,
     .group = "Scheduling",
     .help = "Due schedules taken (locked) and turned into jobs in one transaction. Replicas "
             "skip each other's locked schedules, so several schedulers share a busy minute "
             "batch by batch. Each batch waits for one WAL flush at its commit: 500 keeps "
             "100,000 per-minute schedules on time even when flushes are slow "
             "(docs/performance.md)."},
    {.name = "max-sleep",
     .env = "ESCHER_SCHEDULER_MAX_SLEEP",
     .type = OPTS_DURATION,
     .def = "30s",
     .min = 100,
     .max = 3600000,
     .group = "Scheduling",
     .help = "Longest sleep between looks at the schedules. The scheduler sleeps until the "
             "earliest next fire time or until a change to the schedules is notified; this is "
             "only the safety net for a lost notification or connection."},
    {.name = "misfire-threshold",
     .env = "ESCHER_SCHEDULER_MISFIRE_THRESHOLD",
     .type = OPTS_DURATION,
     .def = "1m",
     .min = 1000,
     .max = 3600000,
     .group = "Scheduling",
     .help = "A fire reached more than this late (no scheduler ran, or all were far behind) "
             "was missed and follows its schedule's missed-fire policy: skip, run once or run "
             "each within the schedule's window. A fire reached sooner is simply on time."},
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
    .summary = "Escher's scheduler: turns cron and one-off schedules into jobs, exactly once per "
               "fire time however many replicas run, sleeping until the next fire or a change.",
    .config_env = "ESCHER_SCHEDULER_CONFIG",
    .defs = scheduler_defs,
    .ndefs = sizeof scheduler_defs / sizeof scheduler_defs[0],
};

const opts_program *scheduler_options(void)
{
    return &scheduler_program;
}
