/* auth.c -- bearer tokens: which Authorization headers may post events.
 * Tokens are kept only as SHA-256 digests and every one is compared, in
 * constant time, with the digest of what the client sent, so neither a
 * token's bytes nor its length leak through timing. Pure: no sockets. */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"

struct auth {
    unsigned char (*digest)[SHA256_DIGEST_LENGTH];
    size_t n;
};

/* Item i of the list is bad: say which and why, never what it holds. */
static int bad_token(const char *item, size_t i, char *errbuf, size_t errlen)
{
    size_t len = strlen(item);

    if (len < AUTH_MIN_TOKEN_LEN) {
        snprintf(errbuf, errlen,
                 "token %zu is %zu characters long; at least %d are needed",
                 i + 1, len, AUTH_MIN_TOKEN_LEN);
        return 1;
    }
    if (len > AUTH_MAX_TOKEN_LEN) {
        snprintf(errbuf, errlen,
                 "token %zu is %zu characters long; at most %d are allowed",
                 i + 1, len, AUTH_MAX_TOKEN_LEN);
        return 1;
    }
    for (const char *p = item; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r' ||
            (unsigned char)*p < 0x20) {
            snprintf(errbuf, errlen,
                     "token %zu holds a blank, a comma or a control "
                     "character",
                     i + 1);
            return 1;
        }
    }
    return 0;
}

int auth_check_tokens(const char *tokens, char *errbuf, size_t errlen)
{
    const char *cur = tokens;
    char item[1024];
    size_t i = 0;
    int rc = 0;

    while (cur && cfg_list_next(&cur, item, sizeof(item))) {
        if (bad_token(item, i++, errbuf, errlen)) {
            rc = -1;
            break;
        }
    }
    OPENSSL_cleanse(item, sizeof(item));
    return rc;
}

auth *auth_new(const char *tokens, char *errbuf, size_t errlen)
{
    auth *a = calloc(1, sizeof(*a));
    const char *cur = tokens;
    char item[1024];
    size_t n = 0;

    if (a == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (auth_check_tokens(tokens, errbuf, errlen) < 0)
        goto fail;
    while (cur && cfg_list_next(&cur, item, sizeof(item)))
        n++;
    if (n == 0)
        return a;
    a->digest = calloc(n, sizeof(*a->digest));
    if (a->digest == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    cur = tokens;
    while (a->n < n && cfg_list_next(&cur, item, sizeof(item))) {
        SHA256((const unsigned char *)item, strlen(item), a->digest[a->n]);
        a->n++;
    }
    OPENSSL_cleanse(item, sizeof(item));
    return a;
fail:
    OPENSSL_cleanse(item, sizeof(item));
    auth_free(a);
    return NULL;
}

int auth_enabled(const auth *a)
{
    return a != NULL && a->n > 0;
}

auth_result auth_check(const auth *a, const char *authorization)
{
    unsigned char got[SHA256_DIGEST_LENGTH];
    const char *tok;
    size_t len;
    int match = 0;

    if (!auth_enabled(a))
        return AUTH_OK;
    if (authorization == NULL)
        return AUTH_MISSING;
    while (*authorization == ' ')
        authorization++;
    if (strncasecmp(authorization, "Bearer", 6) != 0 ||
        (authorization[6] != ' ' && authorization[6] != '\t'))
        return AUTH_MISSING;
    tok = authorization + 6;
    while (*tok == ' ' || *tok == '\t')
        tok++;
    len = strlen(tok);
    while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
        len--;
    if (len == 0)
        return AUTH_INVALID;
    SHA256((const unsigned char *)tok, len, got);
    /* Every digest is compared: the time does not say which one matched. */
    for (size_t i = 0; i < a->n; i++)
        match |= CRYPTO_memcmp(got, a->digest[i], sizeof(got)) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return match ? AUTH_OK : AUTH_INVALID;
}

void auth_free(auth *a)
{
    if (a == NULL)
        return;
    if (a->digest)
        OPENSSL_cleanse(a->digest, a->n * sizeof(*a->digest));
    free(a->digest);
    free(a);
}
