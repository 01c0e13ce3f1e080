/* Secrets: random bytes from the OS CSPRNG and wiping memory that held keys. */
#ifndef ESCHER_CORE_SECURE_H
#define ESCHER_CORE_SECURE_H

#include "core/err.h"

#include <stddef.h>

/* Fills buf with n cryptographically secure random bytes (OpenSSL RAND_bytes).
 * Fails with ERR_INTERNAL if the generator cannot be seeded. */
bool secure_random(void *buf, size_t n, err *e);

/* Writes n random characters from `alphabet` plus a NUL into out (n+1 bytes).
 * Uses rejection sampling so each character is equally likely. */
bool secure_random_string(char *out, size_t n, const char *alphabet, err *e);

/* Overwrites n bytes in a way the compiler cannot optimize away (OPENSSL_cleanse). */
void secure_wipe(void *p, size_t n);

/* Wipes a NUL-terminated string in place and frees it. NULL is accepted. */
void secure_free_string(char *s);

/* Constant-time comparison of two byte ranges of equal length; true when equal. */
bool secure_equal(const void *a, const void *b, size_t n);

#endif
