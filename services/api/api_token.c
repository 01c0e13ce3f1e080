/* API bearer tokens (see api_token.h). */
#include "api_token.h"

#include "core/secure.h"

#include <openssl/sha.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void api_token_hash(const char *text, size_t len, char hash_hex[API_TOKEN_HASH_HEX])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, len, digest);
    hex_encode(digest, sizeof digest, hash_hex);
}

bool api_token_new(char token[API_TOKEN_LEN + 1], char hash_hex[API_TOKEN_HASH_HEX], err *e)
{
    unsigned char raw[32];
    if (!secure_random(raw, sizeof raw, e))
        return err_prefix(e, "drawing a new API token");
    memcpy(token, API_TOKEN_PREFIX, sizeof API_TOKEN_PREFIX - 1);
    hex_encode(raw, sizeof raw, token + sizeof API_TOKEN_PREFIX - 1);
    secure_wipe(raw, sizeof raw);
    api_token_hash(token, API_TOKEN_LEN, hash_hex);
    return true;
}

bool api_token_well_formed(const char *text, size_t len)
{
    size_t plen = sizeof API_TOKEN_PREFIX - 1;
    if (len != API_TOKEN_LEN || memcmp(text, API_TOKEN_PREFIX, plen) != 0)
        return false;
    for (size_t i = plen; i < len; i++)
        if (strchr(hex_digits, text[i]) == NULL || text[i] == '\0')
            return false;
    return true;
}
