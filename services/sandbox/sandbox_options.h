/* escher-sandbox's options table. */
#ifndef ESCHER_SANDBOX_OPTIONS_H
#define ESCHER_SANDBOX_OPTIONS_H

#include "core/opts.h"

/* The options table: static data, never freed. */
const opts_program *sandbox_options(void);

#endif
