/* The AWS transport options, declared once for every program that calls AWS
 * (escher, escher-worker): endpoint override, timeouts, attempts, CA file.
 * A program puts AWS_OPTS_DEFS("ESCHER_WORKER_") in its options table (the
 * argument prefixes each environment variable) and, after loading, reads them
 * with aws_opts_client_options. The region option stays with each program
 * because its fallback differs (the client follows the profile). */
#ifndef ESCHER_AWS_AWS_OPTS_H
#define ESCHER_AWS_AWS_OPTS_H

#include "aws/aws_client.h"
#include "core/opts.h"

#define AWS_OPTS_DEFS(ENV_PREFIX)                                                                  \
    {.name = "endpoint-url",                                                                       \
     .env = ENV_PREFIX "ENDPOINT_URL",                                                             \
     .type = OPTS_URL,                                                                             \
     .group = "AWS",                                                                               \
     .help = "Send every AWS request to this URL instead of the AWS endpoints, e.g. "              \
             "http://127.0.0.1:8900 for escher-sandbox. Overrides AWS_ENDPOINT_URL."},             \
        {.name = "connect-timeout",                                                                \
         .env = ENV_PREFIX "CONNECT_TIMEOUT",                                                      \
         .type = OPTS_DURATION,                                                                    \
         .def = "3s",                                                                              \
         .min = 100,                                                                               \
         .max = 120000,                                                                            \
         .group = "AWS",                                                                           \
         .help = "Time allowed to connect to an AWS endpoint, TLS included."},                     \
        {.name = "timeout",                                                                        \
         .env = ENV_PREFIX "TIMEOUT",                                                              \
         .type = OPTS_DURATION,                                                                    \
         .def = "30s",                                                                             \
         .min = 1000,                                                                              \
         .max = 900000,                                                                            \
         .group = "AWS",                                                                           \
         .help =                                                                                   \
             "Time allowed for one attempt of an AWS request, from connect to the last byte."},    \
        {.name = "max-attempts",                                                                   \
         .env = ENV_PREFIX "MAX_ATTEMPTS",                                                         \
         .type = OPTS_INT,                                                                         \
         .def = "0",                                                                               \
         .min = 0,                                                                                 \
         .max = 10,                                                                                \
         .group = "AWS",                                                                           \
         .help = "Attempts per AWS request, first try included, with jittered backoff between "    \
                 "them. 0: AWS_MAX_ATTEMPTS if set, else 3."},                                     \
    {                                                                                              \
        .name = "ca-file", .env = ENV_PREFIX "CA_FILE", .type = OPTS_STRING, .group = "AWS",       \
        .metavar = "FILE",                                                                         \
        .help = "PEM file of certificate authorities trusted for AWS endpoints. Unset: the "       \
                "system store."                                                                    \
    }

/* Fills *out from the options AWS_OPTS_DEFS declared plus `region` (every
 * program calling AWS has one). Strings are borrowed from o and live as long
 * as it does. Fields not covered stay zero, meaning the client's defaults. */
void aws_opts_client_options(const opts *o, aws_client_options *out);

#endif
