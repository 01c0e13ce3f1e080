/* escher-scheduler's options table. */
#ifndef ESCHER_SCHEDULER_OPTIONS_H
#define ESCHER_SCHEDULER_OPTIONS_H

#include "core/opts.h"

/* The options table: static data, never freed. */
const opts_program *scheduler_options(void);

#endif
