/* auth.h -- bearer tokens: which Authorization headers may post events.
 * Tokens are kept only as SHA-256 digests and every one is compared, in
 * constant time, with the digest of what the client sent, so neither a
 * token's bytes nor its length leak through timing. Pure: no sockets. */
#ifndef MILLRACE_AUTH_H
#define MILLRACE_AUTH_H

#include <stddef.h>

typedef struct auth auth;

typedef enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING, /* no Authorization header, or not a Bearer one */
    AUTH_INVALID, /* a Bearer token that is not one of ours */
} auth_result;

/* Shortest token accepted: a guessable token is no protection. */
#define AUTH_MIN_TOKEN_LEN 16
#define AUTH_MAX_TOKEN_LEN 512

/* tokens: '\n'-separated (a CFG_LIST value); NULL or empty turns auth
 * off. Returns NULL and fills errbuf (never with a token's text) for a
 * token shorter than AUTH_MIN_TOKEN_LEN or holding blanks or commas. */
auth *auth_new(const char *tokens, char *errbuf, size_t errlen);

/* Checks the tokens without keeping them: the same errors as auth_new. */
int auth_check_tokens(const char *tokens, char *errbuf, size_t errlen);

/* 1 when at least one token is set. */
int auth_enabled(const auth *a);

/* Checks an Authorization header value (NULL: not sent). With auth off
 * every request is AUTH_OK. */
auth_result auth_check(const auth *a, const char *authorization);

/* Accepts NULL. Wipes the digests. */
void auth_free(auth *a);

#endif
