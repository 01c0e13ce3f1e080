/* escher-worker's options table. */
#ifndef ESCHER_WORKER_OPTIONS_H
#define ESCHER_WORKER_OPTIONS_H

#include "core/opts.h"

/* The options table: static data, never freed. */
const opts_program *worker_options(void);

#endif
