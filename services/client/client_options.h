/* escher (the client)'s options table. */
#ifndef ESCHER_CLIENT_OPTIONS_H
#define ESCHER_CLIENT_OPTIONS_H

#include "core/opts.h"

/* The options table: static data, never freed. */
const opts_program *client_options(void);

#endif
