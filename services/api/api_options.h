/* escher-api's options table. */
#ifndef ESCHER_API_OPTIONS_H
#define ESCHER_API_OPTIONS_H

#include "core/opts.h"

/* The escher-api options table: static data, never freed. */
const opts_program *api_options(void);

#endif
