/* Private temporary directories for test fixtures: under $TMPDIR (else
 * /tmp), removed with everything in them after. */
#ifndef ESCHER_TESTS_TMPDIR_H
#define ESCHER_TESTS_TMPDIR_H

#include <stddef.h>

/* Makes "<TMPDIR>/<prefix>-XXXXXX" and writes its path into out; aborts
 * when it cannot. */
void tmpdir_make(char *out, size_t n, const char *prefix);

/* Removes dir and everything below it (links are removed, not followed). */
void tmpdir_remove(const char *dir);

#endif
