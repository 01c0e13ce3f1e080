/* Loading response fixtures from $ESCHER_TEST_DATA/aws for the proto tests. */
#ifndef ESCHER_TESTS_PROTO_FIXTURE_H
#define ESCHER_TESTS_PROTO_FIXTURE_H

#include <stddef.h>

/* Reads $ESCHER_TEST_DATA/aws/<rel> into a NUL-terminated buffer (caller
 * frees); aborts the test when the file is missing, so a renamed fixture
 * cannot turn a test into a no-op. */
char *fixture_load(const char *rel, size_t *len);

#endif
