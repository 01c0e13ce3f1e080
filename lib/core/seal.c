/* AES-256-GCM sealing. See seal.h. */
#include "core/text.h"
#include "core/seal.h"

#include "core/secure.h"
#include "core/xmalloc.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

bool seal_key_parse(const char *text, seal_key *out, err *e)
{
    size_t n = text ? strlen(text) : 0;
    if (n == 2 * SEAL_KEY_LEN) {
        bool hex = true;
        for (size_t i = 0; i < SEAL_KEY_LEN && hex; i++) {
            int hi = text_hex_digit((unsigned char)text[2 * i]),
                lo = text_hex_digit((unsigned char)text[2 * i + 1]);
            hex = hi >= 0 && lo >= 0;
            out->bytes[i] = hex ? (unsigned char)(hi << 4 | lo) : 0;
        }
        if (hex)
            return true;
    }
    /* Base64 of 32 bytes is 44 characters ending in one '='. */
    if (n == 44 && text[43] == '=' && text[42] != '=') {
        unsigned char buf[36];
        int got = EVP_DecodeBlock(buf, (const unsigned char *)text, 44);
        if (got == 33) { /* EVP_DecodeBlock counts the padding as a byte */
            memcpy(out->bytes, buf, SEAL_KEY_LEN);
            secure_wipe(buf, sizeof buf);
            return true;
        }
        secure_wipe(buf, sizeof buf);
    }
    seal_key_wipe(out);
    return err_set(e, ERR_CONFIG,
                   "want 32 random bytes as 64 hex digits or 44 characters of base64 (openssl "
                   "rand -hex 32)");
}

bool seal_key_check(const char *text, err *e)
{
    seal_key k;
    bool ok = seal_key_parse(text, &k, e);
    seal_key_wipe(&k);
    return ok;
}

void seal_key_wipe(seal_key *k)
{
    secure_wipe(k->bytes, sizeof k->bytes);
}

bool seal_ids_ad(const char *tenant_id, const char *row_id, unsigned char out[SEAL_IDS_AD_LEN])
{
    const char *ids[2] = {tenant_id, row_id};
    for (int u = 0; u < 2; u++) {
        const char *s = ids[u];
        if (s == NULL || strlen(s) != 36)
            return false;
        size_t o = 0;
        for (size_t i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (s[i] != '-')
                    return false;
                continue;
            }
            int hi = text_hex_digit((unsigned char)s[i]),
                lo = text_hex_digit((unsigned char)s[i + 1]);
            if (hi < 0 || lo < 0)
                return false;
            out[u * 16 + o++] = (unsigned char)(hi << 4 | lo);
            i++;
        }
    }
    return true;
}

bool seal_encrypt(const seal_key *k, const void *ad, size_t adn, const void *pt, size_t n,
                  unsigned char **out, size_t *outn, err *e)
{
    *out = NULL;
    *outn = 0;
    if (n > (size_t)1 << 24 || adn > (size_t)1 << 20)
        return err_set(e, ERR_INVALID, "secret too long to seal (%zu bytes)", n);
    unsigned char *buf = xmalloc(n + SEAL_OVERHEAD);
    if (!secure_random(buf, SEAL_NONCE_LEN, e)) {
        free(buf);
        return false;
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    bool ok =
        ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) == 1 &&
        EVP_EncryptInit_ex(ctx, NULL, NULL, k->bytes, buf) == 1 &&
        (adn == 0 || EVP_EncryptUpdate(ctx, NULL, &len, ad, (int)adn) == 1) &&
        EVP_EncryptUpdate(ctx, buf + SEAL_NONCE_LEN, &len, pt, (int)n) == 1 &&
        EVP_EncryptFinal_ex(ctx, buf + SEAL_NONCE_LEN + len, &fin) == 1 &&
        (size_t)(len + fin) == n &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, buf + SEAL_NONCE_LEN + n) == 1;
    EVP_CIPHER_CTX_free(ctx); /* cleanses the expanded key */
    if (!ok) {
        free(buf);
        return err_set(e, ERR_INTERNAL, "AES-256-GCM encryption failed in OpenSSL");
    }
    *out = buf;
    *outn = n + SEAL_OVERHEAD;
    return true;
}

bool seal_decrypt(const seal_key *k, const void *ad, size_t adn, const void *sealed, size_t n,
                  unsigned char **out, size_t *outn, err *e)
{
    *out = NULL;
    *outn = 0;
    if (n < SEAL_OVERHEAD)
        return err_set(e, ERR_INVALID, "sealed secret too short (%zu bytes, want at least %d)", n,
                       SEAL_OVERHEAD);
    const unsigned char *s = sealed;
    size_t ctn = n - SEAL_OVERHEAD;
    unsigned char *pt = xmalloc(ctn + 1);
    unsigned char tag[SEAL_TAG_LEN];
    memcpy(tag, s + n - SEAL_TAG_LEN, SEAL_TAG_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    bool setup = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
                 EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) == 1 &&
                 EVP_DecryptInit_ex(ctx, NULL, NULL, k->bytes, s) == 1 &&
                 (adn == 0 || EVP_DecryptUpdate(ctx, NULL, &len, ad, (int)adn) == 1) &&
                 EVP_DecryptUpdate(ctx, pt, &len, s + SEAL_NONCE_LEN, (int)ctn) == 1 &&
                 EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) == 1;
    bool ok = setup && EVP_DecryptFinal_ex(ctx, pt + len, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        seal_free(pt, ctn + 1);
        if (!setup)
            return err_set(e, ERR_INTERNAL, "AES-256-GCM decryption failed in OpenSSL");
        return err_set(e, ERR_AUTH,
                       "cannot open the sealed secret: wrong master key, tampered, or not this "
                       "row's");
    }
    pt[ctn] = '\0';
    *out = pt;
    *outn = ctn;
    return true;
}

void seal_free(unsigned char *p, size_t n)
{
    if (p == NULL)
        return;
    secure_wipe(p, n);
    free(p);
}
