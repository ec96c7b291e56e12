/* test_gunzip.c -- capped gzip decompression: round trips, concatenated
 * members, corrupt and truncated input, the cap to the byte, and a bomb.
 * Inputs are compressed here with zlib itself. */
#include "test.h"

#include "../../ingest-api/gunzip.h"

#include <stdlib.h>
#include <zlib.h>

/* A growing buffer of compressed bytes. */
typedef struct gzbuf {
    unsigned char *p;
    size_t len, cap;
} gzbuf;

static int gz_reserve(gzbuf *g, size_t more)
{
    unsigned char *np;
    size_t c = g->cap ? g->cap : 4096;

    if (g->len + more <= g->cap)
        return 0;
    while (c < g->len + more)
        c *= 2;
    np = realloc(g->p, c);
    if (np == NULL)
        return -1;
    g->p = np;
    g->cap = c;
    return 0;
}

/* Appends one gzip member holding reps copies of data[0..len). */
static int gz_append(gzbuf *g, const void *data, size_t len, size_t reps)
{
    z_stream zs;
    int zrc = Z_OK;

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    for (size_t r = 0; r <= reps && zrc != Z_STREAM_END; r++) {
        int flush = r == reps ? Z_FINISH : Z_NO_FLUSH;
        zs.next_in = (Bytef *)(r == reps ? "" : data);
        zs.avail_in = r == reps ? 0 : (uInt)len;
        do {
            if (gz_reserve(g, 65536) < 0) {
                deflateEnd(&zs);
                return -1;
            }
            zs.next_out = g->p + g->len;
            zs.avail_out = (uInt)(g->cap - g->len);
            zrc = deflate(&zs, flush);
            g->len = g->cap - zs.avail_out;
        } while (zs.avail_out == 0 ||
                 (flush == Z_FINISH && zrc != Z_STREAM_END));
    }
    deflateEnd(&zs);
    return zrc == Z_STREAM_END ? 0 : -1;
}

static gzbuf gz_of(const void *data, size_t len)
{
    gzbuf g = {0};

    if (gz_append(&g, data, len, 1) < 0) {
        free(g.p);
        memset(&g, 0, sizeof(g));
    }
    return g;
}

/* n bytes that deflate cannot shrink much. */
static char *noise(size_t n, unsigned seed)
{
    char *p = malloc(n);

    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (char)(seed >> 16);
    }
    return p;
}

static void gunzip_round_trip_text(void)
{
    static const char text[] = "{\"a\":1}\n{\"b\":2}\n";
    gzbuf g = gz_of(text, strlen(text));
    char *out = NULL;
    size_t outlen = 0;
    int rc;

    ASSERT(g.p != NULL);
    rc = gunzip_capped(g.p, g.len, 1 << 20, &out, &outlen);
    free(g.p);
    ASSERT_EQ(rc, GUNZIP_OK);
    ASSERT_EQ(outlen, strlen(text));
    ASSERT_STR_EQ(out, text); /* also checks the terminating NUL */
    free(out);
}

/* Sizes around the first buffer's and the cap's edges, both compressible
 * (the buffer grows) and incompressible data. */
static void gunzip_round_trip_sizes(void)
{
    static const size_t sizes[] = {1, 63, 64, 65, 4096, 65537, 1 << 20};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int compressible = 0; compressible < 2; compressible++) {
            size_t n = sizes[i];
            char *data = noise(n, (unsigned)i);
            gzbuf g;
            char *out = NULL;
            size_t outlen = 0;
            int rc;
            if (compressible)
                memset(data, 'a', n);
            g = gz_of(data, n);
            rc = gunzip_capped(g.p, g.len, 4 << 20, &out, &outlen);
            free(g.p);
            if (rc != GUNZIP_OK || outlen != n || memcmp(out, data, n) != 0)
                TEST_FAIL_("size %zu compressible %d: rc %d outlen %zu", n,
                           compressible, rc, outlen);
            ASSERT_EQ(out[n], '\0');
            free(out);
            free(data);
        }
    }
}

static void gunzip_empty_member(void)
{
    gzbuf g = gz_of("", 0);
    char *out = NULL;
    size_t outlen = 99;
    int rc;

    rc = gunzip_capped(g.p, g.len, 1024, &out, &outlen);
    free(g.p);
    ASSERT_EQ(rc, GUNZIP_OK);
    ASSERT_EQ(outlen, 0);
    ASSERT(out != NULL);
    ASSERT_EQ(out[0], '\0');
    free(out);
}

/* As `cat a.gz b.gz c.gz` makes: the output is all three, in order. */
static void gunzip_concatenated_members(void)
{
    gzbuf g = {0};
    char *out = NULL;
    size_t outlen = 0;
    int rc;

    ASSERT_EQ(gz_append(&g, "hello ", 6, 1), 0);
    ASSERT_EQ(gz_append(&g, "gzip ", 5, 1), 0);
    ASSERT_EQ(gz_append(&g, "world", 5, 1), 0);
    rc = gunzip_capped(g.p, g.len, 1024, &out, &outlen);
    free(g.p);
    ASSERT_EQ(rc, GUNZIP_OK);
    ASSERT_EQ(outlen, 16);
    ASSERT_STR_EQ(out, "hello gzip world");
    free(out);
}

/* Members large enough that the output buffer grows across a member
 * boundary. */
static void gunzip_concatenated_large_members(void)
{
    const size_t n = 200000;
    char *a = noise(n, 1);
    char *b = noise(n, 2);
    gzbuf g = {0};
    char *out = NULL;
    size_t outlen = 0;
    int rc;

    ASSERT_EQ(gz_append(&g, a, n, 1), 0);
    ASSERT_EQ(gz_append(&g, b, n, 1), 0);
    rc = gunzip_capped(g.p, g.len, 2 * n, &out, &outlen);
    free(g.p);
    ASSERT_EQ(rc, GUNZIP_OK);
    ASSERT_EQ(outlen, 2 * n);
    ASSERT_MEM_EQ(out, a, n);
    ASSERT_MEM_EQ(out + n, b, n);
    free(out);
    free(a);
    free(b);
}

/* The total of all members counts against the cap. */
static void gunzip_concatenated_members_capped_in_total(void)
{
    gzbuf g = {0};
    char *out = NULL;
    size_t outlen = 0;
    int rc;

    ASSERT_EQ(gz_append(&g, "0123456789", 10, 1), 0);
    ASSERT_EQ(gz_append(&g, "0123456789", 10, 1), 0);
    rc = gunzip_capped(g.p, g.len, 15, &out, &outlen);
    free(g.p);
    ASSERT_EQ(rc, GUNZIP_TOO_LARGE);
    ASSERT(out == NULL);
    ASSERT_EQ(outlen, 0);
}

static void gunzip_truncated_is_corrupt(void)
{
    static const char text[] = "a line of text that is long enough, twice: "
                               "a line of text that is long enough";
    gzbuf g = gz_of(text, strlen(text));
    const size_t cuts[] = {1, 4, 8, g.len / 2, 10, 5};

    ASSERT(g.p != NULL);
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char *out = (char *)1;
        size_t outlen = 99;
        int rc = gunzip_capped(g.p, g.len - cuts[i], 1 << 20, &out, &outlen);
        if (rc != GUNZIP_CORRUPT || out != NULL || outlen != 0)
            TEST_FAIL_("cut %zu of %zu: rc %d outlen %zu", cuts[i], g.len, rc,
                       outlen);
    }
    free(g.p);
}

static void gunzip_not_gzip_is_corrupt(void)
{
    static const char plain[] = "{\"a\":1}";
    unsigned char zlib_fmt[64];
    uLongf zlen = sizeof(zlib_fmt);
    char *out = NULL;
    size_t outlen = 0;

    ASSERT_EQ(gunzip_capped(plain, strlen(plain), 1024, &out, &outlen),
              GUNZIP_CORRUPT);
    ASSERT(out == NULL);
    ASSERT_EQ(gunzip_capped("", 0, 1024, &out, &outlen), GUNZIP_CORRUPT);
    ASSERT_EQ(gunzip_capped("\x1f\x8b", 2, 1024, &out, &outlen),
              GUNZIP_CORRUPT);
    /* zlib's own format is not gzip. */
    ASSERT_EQ(compress(zlib_fmt, &zlen, (const Bytef *)plain, strlen(plain)),
              Z_OK);
    ASSERT_EQ(gunzip_capped(zlib_fmt, zlen, 1024, &out, &outlen),
              GUNZIP_CORRUPT);
    ASSERT(out == NULL);
}

static void gunzip_bad_checksum_is_corrupt(void)
{
    static const char text[] = "checksummed text";
    gzbuf g = gz_of(text, strlen(text));
    char *out = NULL;
    size_t outlen = 0;
    int rc_crc, rc_len;

    g.p[g.len - 8] ^= 0x01; /* CRC-32 */
    rc_crc = gunzip_capped(g.p, g.len, 1024, &out, &outlen);
    g.p[g.len - 8] ^= 0x01;
    g.p[g.len - 4] ^= 0x01; /* ISIZE */
    rc_len = gunzip_capped(g.p, g.len, 1024, &out, &outlen);
    free(g.p);
    ASSERT_EQ(rc_crc, GUNZIP_CORRUPT);
    ASSERT_EQ(rc_len, GUNZIP_CORRUPT);
    ASSERT(out == NULL);
}

static void gunzip_trailing_garbage_is_corrupt(void)
{
    gzbuf g = gz_of("data", 4);
    char *out = NULL;
    size_t outlen = 0;
    int rc;

    ASSERT_EQ(gz_reserve(&g, 4), 0);
    memcpy(g.p + g.len, "junk", 4);
    g.len += 4;
    rc = gunzip_capped(g.p, g.len, 1024, &out, &outlen);
    free(g.p);
    ASSERT_EQ(rc, GUNZIP_CORRUPT);
    ASSERT(out == NULL);
}

/* Exactly cap bytes decompress; one more is too large. */
static void gunzip_cap_is_exact(void)
{
    static const size_t sizes[] = {1, 100, 1000, 65536, 300000};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int compressible = 0; compressible < 2; compressible++) {
            size_t n = sizes[i];
            char *data = noise(n, 7);
            gzbuf g;
            char *out = NULL;
            size_t outlen = 0;
            int at_cap, below_cap;
            if (compressible)
                memset(data, 0, n);
            g = gz_of(data, n);
            at_cap = gunzip_capped(g.p, g.len, n, &out, &outlen);
            free(out);
            out = NULL;
            below_cap = gunzip_capped(g.p, g.len, n - 1, &out, &outlen);
            free(g.p);
            free(data);
            if (at_cap != GUNZIP_OK || below_cap != GUNZIP_TOO_LARGE ||
                out != NULL)
                TEST_FAIL_("%zu bytes compressible %d: cap %zu -> %d, "
                           "cap %zu -> %d",
                           n, compressible, n, at_cap, n - 1, below_cap);
        }
    }
}

/* 100 MB of zeros (about 100 KB compressed) against a 1 MB cap: refused
 * after at most cap + 1 bytes of output, without inflating the rest. */
static void gunzip_bomb_is_too_large(void)
{
    const size_t chunk = 1 << 20;
    char *zeros = calloc(1, chunk);
    gzbuf g = {0};
    char *out = (char *)1;
    size_t outlen = 99;
    int rc;

    ASSERT_EQ(gz_append(&g, zeros, chunk, 100), 0);
    free(zeros);
    ASSERT(g.len < 200 * 1024);
    rc = gunzip_capped(g.p, g.len, 1 << 20, &out, &outlen);
    free(g.p);
    ASSERT_EQ(rc, GUNZIP_TOO_LARGE);
    ASSERT(out == NULL);
    ASSERT_EQ(outlen, 0);
}

TEST_MAIN(T(gunzip_round_trip_text), T(gunzip_round_trip_sizes),
          T(gunzip_empty_member), T(gunzip_concatenated_members),
          T(gunzip_concatenated_large_members),
          T(gunzip_concatenated_members_capped_in_total),
          T(gunzip_truncated_is_corrupt), T(gunzip_not_gzip_is_corrupt),
          T(gunzip_bad_checksum_is_corrupt),
          T(gunzip_trailing_garbage_is_corrupt), T(gunzip_cap_is_exact),
          T(gunzip_bomb_is_too_large))
