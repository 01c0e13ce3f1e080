/* Helpers for the credential tests: a scratch HOME, an injectable
 * environment and clock, small file writers. */
#ifndef ESCHER_TESTS_CREDS_TEST_H
#define ESCHER_TESTS_CREDS_TEST_H

#include "aws/credprov.h"

#include <stddef.h>
#include <time.h>

#define FAKE_ENV_MAX 64

typedef struct fake_env {
    char *names[FAKE_ENV_MAX];
    char *values[FAKE_ENV_MAX];
    size_t count;
} fake_env;

void fake_env_set(fake_env *env, const char *name, const char *value);
void fake_env_unset(fake_env *env, const char *name);
void fake_env_free(fake_env *env);
const char *fake_env_get(const char *name, void *arg);

typedef struct fake_clock {
    time_t now;
} fake_clock;

time_t fake_clock_get(void *arg);

/* A temporary directory used as HOME (with .aws/ inside) for one test. */
typedef struct scratch {
    char dir[256];
    char aws[300];
    fake_env env;
    fake_clock clock;
    credprov_options opts;
} scratch;

/* Creates the directory, sets HOME in the fake environment, points IMDS at a
 * closed local port and installs env and clock in opts. */
void scratch_init(scratch *s);
/* Removes the directory tree and frees the environment. */
void scratch_free(scratch *s);
/* Writes text to <dir>/<rel> (creating .aws/ as needed); returns the full
 * path in a static buffer that the next call overwrites. */
const char *scratch_write(scratch *s, const char *rel, const char *text);
/* Like scratch_write, mode 0755. */
const char *scratch_write_exec(scratch *s, const char *rel, const char *text);
/* "http://127.0.0.1:<port>" of a port nothing listens on. */
const char *closed_port_url(void);

/* Percent-decoded value of `key` in a form-encoded body, in a static buffer;
 * NULL when absent. */
const char *form_value(const char *body, const char *key);

#endif
