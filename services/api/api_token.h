/* API bearer tokens: "esk_" followed by 64 hex digits (32 random bytes).
 * Only the SHA-256 of the token text, exactly as the client sends it, is
 * stored (api_tokens.token_sha256); the token itself is shown once. */
#ifndef ESCHER_API_TOKEN_H
#define ESCHER_API_TOKEN_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define API_TOKEN_PREFIX   "esk_"
#define API_TOKEN_LEN      (sizeof API_TOKEN_PREFIX - 1 + 64)
#define API_TOKEN_HASH_HEX 65 /* 64 hex digits and a NUL */

/* Draws a new token into token (API_TOKEN_LEN + 1 bytes) and its SHA-256 in
 * hex into hash_hex. The caller wipes token (secure_wipe) once shown. Fails
 * with ERR_IO when the system's random source fails. */
bool api_token_new(char token[API_TOKEN_LEN + 1], char hash_hex[API_TOKEN_HASH_HEX], err *e);

/* The SHA-256 of text (len bytes) in lower-case hex. Pure. */
void api_token_hash(const char *text, size_t len, char hash_hex[API_TOKEN_HASH_HEX]);

/* True when text has the token's shape (prefix, 64 lower-case hex digits):
 * anything else is refused before a database round trip. */
bool api_token_well_formed(const char *text, size_t len);

#endif
