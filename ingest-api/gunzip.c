/* gunzip.c -- decompresses a gzip request body with a hard cap on the output,
 * so a gzip bomb costs at most the cap in memory. Pure: no sockets. */
#include "gunzip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int gunzip_capped(const void *in, size_t inlen, size_t cap, char **out,
                  size_t *outlen)
{
    z_stream zs;
    size_t size = inlen * 4 < cap ? inlen * 4 + 64 : cap + 1;
    size_t have = 0; /* output so far; zs.total_out restarts per member */
    char *buf = malloc(size + 1);
    int rc = GUNZIP_CORRUPT;
    int zrc;

    *out = NULL;
    *outlen = 0;
    memset(&zs, 0, sizeof(zs));
    if (buf == NULL || inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        free(buf);
        return GUNZIP_CORRUPT;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)inlen;
    for (;;) {
        if (have == size) {
            char *grown;
            if (size > cap) {
                rc = GUNZIP_TOO_LARGE;
                goto done;
            }
            size = size * 2 > cap ? cap + 1 : size * 2;
            grown = realloc(buf, size + 1);
            if (grown == NULL)
                goto done;
            buf = grown;
        }
        zs.next_out = (Bytef *)buf + have;
        zs.avail_out = (uInt)(size - have);
        zrc = inflate(&zs, Z_NO_FLUSH);
        have = size - zs.avail_out;
        if (zrc == Z_STREAM_END) {
            if (zs.avail_in == 0)
                break;
            /* Another gzip member follows (as `cat a.gz b.gz` makes). */
            if (inflateReset(&zs) != Z_OK)
                goto done;
            continue;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            goto done;
        if (zrc == Z_BUF_ERROR && zs.avail_in == 0)
            goto done; /* truncated input */
    }
    if (have > cap) {
        rc = GUNZIP_TOO_LARGE;
        goto done;
    }
    buf[have] = '\0';
    *out = buf;
    *outlen = have;
    buf = NULL;
    rc = GUNZIP_OK;
done:
    inflateEnd(&zs);
    free(buf);
    return rc;
}
