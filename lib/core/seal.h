/* Sealing small secrets at rest (channel secrets in PostgreSQL) with
 * AES-256-GCM under the server's master key (OpenSSL EVP).
 *
 * A sealed value is nonce (12 random bytes) || ciphertext || tag (16 bytes).
 * The additional data binds it to where it belongs (the tenant and row ids):
 * a ciphertext moved elsewhere, tampered with, or opened under another key
 * fails to open with ERR_AUTH. A fresh random nonce per seal: 2^32 seals
 * under one key keep the collision risk below 2^-32, far more than a
 * tenant's channels will ever be. Plaintexts handed out are the caller's to
 * wipe (secure_free_string / seal_free). */
#ifndef ESCHER_CORE_SEAL_H
#define ESCHER_CORE_SEAL_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define SEAL_KEY_LEN    32
#define SEAL_NONCE_LEN  12
#define SEAL_TAG_LEN    16
#define SEAL_OVERHEAD   (SEAL_NONCE_LEN + SEAL_TAG_LEN)
#define SEAL_IDS_AD_LEN 32 /* two uuids as raw bytes */

typedef struct seal_key {
    unsigned char bytes[SEAL_KEY_LEN];
} seal_key;

/* Parses a master key: 64 hex digits, or standard base64 of 32 bytes.
 * ERR_CONFIG saying which form is wanted (never quoting the text). */
bool seal_key_parse(const char *text, seal_key *out, err *e);

/* An opts_check_fn for the master-key option: seal_key_parse without
 * keeping the key. */
bool seal_key_check(const char *text, err *e);

/* Wipes the key. */
void seal_key_wipe(seal_key *k);

/* The additional data for a row: tenant uuid's 16 bytes || row uuid's 16
 * bytes. False when either is not a canonical uuid. */
bool seal_ids_ad(const char *tenant_id, const char *row_id, unsigned char out[SEAL_IDS_AD_LEN]);

/* Seals pt[0..n) with additional data ad[0..adn): *out (caller frees with
 * free: it holds no secret) gets n + SEAL_OVERHEAD bytes. ERR_INTERNAL when
 * OpenSSL fails. */
bool seal_encrypt(const seal_key *k, const void *ad, size_t adn, const void *pt, size_t n,
                  unsigned char **out, size_t *outn, err *e);

/* Opens sealed[0..n): *out gets the plaintext followed by a NUL (not
 * counted in *outn), to be freed with seal_free. ERR_AUTH "cannot open the
 * sealed secret: wrong master key, tampered, or not this row's" when the tag
 * does not verify, ERR_INVALID when n is too short. */
bool seal_decrypt(const seal_key *k, const void *ad, size_t adn, const void *sealed, size_t n,
                  unsigned char **out, size_t *outn, err *e);

/* Wipes and frees a plaintext from seal_decrypt (n its length). NULL is
 * accepted. */
void seal_free(unsigned char *p, size_t n);

#endif
