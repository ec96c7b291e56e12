/* gunzip.h -- decompresses a gzip request body with a hard cap on the output,
 * so a gzip bomb costs at most the cap in memory. Pure: no sockets. */
#ifndef MILLRACE_GUNZIP_H
#define MILLRACE_GUNZIP_H

#include <stddef.h>

enum { GUNZIP_OK = 0, GUNZIP_CORRUPT = -1, GUNZIP_TOO_LARGE = -2 };

/* On GUNZIP_OK, *out is a heap buffer (NUL-terminated, not counted in
 * *outlen) the caller frees. Concatenated gzip members are accepted. */
int gunzip_capped(const void *in, size_t inlen, size_t cap, char **out,
                  size_t *outlen);

#endif
