/* fuzz_gunzip.c -- gzip decoding: gunzip_capped with a small cap.
 * Input: one byte choosing the cap (64 B to 16 KiB), then the gzip data.
 * Properties: no crash, leak or UB; the output never exceeds the cap and
 * is NUL-terminated; the small cap agrees with a large one (the same
 * bytes when they fit, GUNZIP_TOO_LARGE when they do not, never OK for
 * data the large cap finds corrupt); and the input itself, gzipped by
 * zlib (as one member and as two), decodes back to exactly the input. */
#include "fuzz.h"

#include "../../ingest-api/gunzip.h"

#include <zlib.h>

#define BIG_CAP (1u << 22)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_out(int rc, const char *out, size_t outlen, size_t cap)
{
    if (rc != GUNZIP_OK) {
        FUZZ_CHECK(rc == GUNZIP_CORRUPT || rc == GUNZIP_TOO_LARGE, "rc %d", rc);
        FUZZ_CHECK(out == NULL && outlen == 0, "output on failure");
        return;
    }
    FUZZ_CHECK(out != NULL, "no output");
    FUZZ_CHECK(outlen <= cap, "%zu bytes, cap %zu", outlen, cap);
    FUZZ_CHECK(out[outlen] == '\0', "not NUL-terminated");
}

/* data gzipped by zlib into a heap buffer of exactly *zlen bytes. */
static unsigned char *gzip_of(const uint8_t *data, size_t size, size_t *zlen)
{
    z_stream zs;
    size_t cap = size + size / 100 + 64;
    unsigned char *buf = malloc(cap);

    memset(&zs, 0, sizeof(zs));
    FUZZ_CHECK(buf != NULL, "out of memory");
    FUZZ_CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                            Z_DEFAULT_STRATEGY) == Z_OK,
               "deflateInit2");
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)size;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END, "deflate");
    *zlen = cap - zs.avail_out;
    deflateEnd(&zs);
    return buf;
}

static void roundtrip(const uint8_t *data, size_t size)
{
    size_t zlen;
    unsigned char *z = gzip_of(data, size, &zlen);
    unsigned char *two = malloc(2 * zlen);
    char *out;
    size_t outlen;
    int rc;

    rc = gunzip_capped(z, zlen, size, &out, &outlen);
    FUZZ_CHECK(rc == GUNZIP_OK && outlen == size &&
                   (size == 0 || memcmp(out, data, size) == 0),
               "round trip of %zu bytes: rc %d, %zu bytes", size, rc, outlen);
    free(out);
    if (size > 0) {
        rc = gunzip_capped(z, zlen, size - 1, &out, &outlen);
        FUZZ_CHECK(rc == GUNZIP_TOO_LARGE, "one byte over the cap: rc %d", rc);
    }
    /* Two members, as `cat a.gz a.gz` makes: both halves come out. */
    FUZZ_CHECK(two != NULL, "out of memory");
    memcpy(two, z, zlen);
    memcpy(two + zlen, z, zlen);
    rc = gunzip_capped(two, 2 * zlen, 2 * size, &out, &outlen);
    FUZZ_CHECK(rc == GUNZIP_OK && outlen == 2 * size &&
                   (size == 0 || (memcmp(out, data, size) == 0 &&
                                  memcmp(out + size, data, size) == 0)),
               "two members of %zu bytes: rc %d, %zu bytes", size, rc, outlen);
    free(out);
    free(two);
    free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    size_t cap = (size_t)64 << (fuzz_u8(&in) % 9); /* 64 B .. 16 KiB */
    size_t len;
    char *gz = fuzz_rest(&in, &len);
    char *out = NULL, *big = NULL;
    size_t outlen = 0, biglen = 0;
    int rc, rcbig;

    rc = gunzip_capped(gz, len, cap, &out, &outlen);
    check_out(rc, out, outlen, cap);
    rcbig = gunzip_capped(gz, len, BIG_CAP, &big, &biglen);
    check_out(rcbig, big, biglen, BIG_CAP);
    if (rcbig == GUNZIP_OK && biglen <= cap)
        FUZZ_CHECK(rc == GUNZIP_OK && outlen == biglen &&
                       memcmp(out, big, biglen) == 0,
                   "cap %zu: rc %d, %zu bytes; large cap: %zu bytes", cap, rc,
                   outlen, biglen);
    else if (rcbig == GUNZIP_OK)
        FUZZ_CHECK(rc == GUNZIP_TOO_LARGE, "cap %zu, %zu bytes: rc %d", cap,
                   biglen, rc);
    else if (rcbig == GUNZIP_TOO_LARGE)
        FUZZ_CHECK(rc == GUNZIP_TOO_LARGE,
                   "cap %zu: rc %d, large cap: too "
                   "large",
                   cap, rc);
    else if (rcbig == GUNZIP_CORRUPT)
        FUZZ_CHECK(rc != GUNZIP_OK, "cap %zu: OK, large cap: corrupt", cap);
    free(out);
    free(big);
    roundtrip(data, size);
    free(gz);
    return 0;
}
