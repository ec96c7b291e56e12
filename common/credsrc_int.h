/* credsrc_int.h -- what the credential sources' files share (credsrc.c,
 * credsrc_endpoint.c); not for other callers. */
#ifndef MILLRACE_CREDSRC_INT_H
#define MILLRACE_CREDSRC_INT_H

#include "credsrc.h"

/* The variable name of the environment e, NULL when unset or empty. */
const char *credsrc_env_get(const credsrc_env *e, const char *name);

/* A file's contents, trailing line ends stripped: a token or a profile
 * file. Heap string, or NULL with a reason naming the file. */
char *credsrc_read_text(const char *path, char *errbuf, size_t errlen);

/* Cleanses and frees a secret string. Accepts NULL. */
void credsrc_free_secret(char *s);

/* One request through e's transport; 0, or -1 with errbuf set. resp is
 * freed with credsrc_response_free either way. */
int credsrc_ask(const credsrc_env *e, creds_http_request *req,
                creds_http_response *resp, char *errbuf, size_t errlen);
void credsrc_response_free(creds_http_response *r);

/* The sources of credsrc_endpoint.c, with credsrc_fetch's contract. */
credsrc_result credsrc_from_container(const credsrc_env *e, creds **out,
                                      char *detail, size_t detaillen,
                                      char *errbuf, size_t errlen);
credsrc_result credsrc_from_imds(const credsrc_env *e, creds **out,
                                 char *detail, size_t detaillen, char *errbuf,
                                 size_t errlen);

#endif
