/* SHA-256 (FIPS 180-4) through OpenSSL's EVP interface: the digest Hugging Face records for
 * every LFS file (`lfs.oid`, `X-Linked-Etag`). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "hub/hub.h"

struct hub_sha256 {
    EVP_MD_CTX *ctx;
};

hub_sha256 *hub_sha256_new(void) {
    hub_sha256 *h = malloc(sizeof *h);
    if (!h) return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void hub_sha256_update(hub_sha256 *h, const void *data, size_t n) {
    EVP_DigestUpdate(h->ctx, data, n);
}

void hub_sha256_final(hub_sha256 *h, char hex[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = 0;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}
