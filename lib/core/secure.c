#include "core/secure.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

bool secure_random(void *buf, size_t n, err *e)
{
    if (n > (size_t)__INT_MAX__)
        return err_set(e, ERR_INVALID, "secure_random: %zu bytes is more than one call can give",
                       n);
    if (RAND_bytes(buf, (int)n) != 1)
        return err_set(e, ERR_INTERNAL, "RAND_bytes failed: %s",
                       ERR_error_string(ERR_get_error(), NULL));
    return true;
}

bool secure_random_string(char *out, size_t n, const char *alphabet, err *e)
{
    size_t alen = strlen(alphabet);
    if (alen == 0 || alen > 256)
        return err_set(e, ERR_INVALID, "secure_random_string: alphabet of %zu characters", alen);
    /* Reject bytes above the largest multiple of alen so every character is equally likely. */
    unsigned limit = 256 - (256 % (unsigned)alen);
    size_t filled = 0;
    unsigned char chunk[64];
    while (filled < n) {
        if (!secure_random(chunk, sizeof chunk, e))
            return false;
        for (size_t i = 0; i < sizeof chunk && filled < n; i++)
            if (chunk[i] < limit)
                out[filled++] = alphabet[chunk[i] % alen];
    }
    out[n] = '\0';
    secure_wipe(chunk, sizeof chunk);
    return true;
}

void secure_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

void secure_free_string(char *s)
{
    if (s == NULL)
        return;
    secure_wipe(s, strlen(s));
    free(s);
}

bool secure_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
