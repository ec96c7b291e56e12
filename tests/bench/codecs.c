/* codecs.c -- compares the uploader's candidate compressors on the bench
 * data (tests/bench/gen_events.c): zlib streamed line by line (as the
 * uploader did), zlib and libdeflate on the whole batch, zstd.
 *
 *   codecs FILE [BATCH_BYTES]
 *
 * Splits FILE (NDJSON) into batches of about BATCH_BYTES (default 26 MB, a
 * bench batch of 50,000 records) at line ends, compresses each with every
 * codec and prints one line per codec: MB/s of input on one core (CPU
 * time), and the ratio input / output. A benchmark, not a test. */
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

static double cpu_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
        perror(path);
        exit(1);
    }
    rewind(f);
    p = malloc((size_t)n);
    if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* zlib fed one line and its newline at a time: the old uploader. */
static size_t zlib_lines(const char *in, size_t len, char *out, size_t cap,
                         int level)
{
    z_stream zs = {0};
    const char *p = in, *end = in + len;

    deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        zs.next_in = (Bytef *)p;
        zs.avail_in = (uInt)n;
        deflate(&zs, Z_NO_FLUSH);
        zs.next_in = (Bytef *)"\n";
        zs.avail_in = 1;
        deflate(&zs, Z_NO_FLUSH);
        p += n + 1;
    }
    deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    return cap - zs.avail_out;
}

static size_t zlib_whole(const char *in, size_t len, char *out, size_t cap,
                         int level)
{
    z_stream zs = {0};

    deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    return cap - zs.avail_out;
}

static size_t deflate_whole(const char *in, size_t len, char *out, size_t cap,
                            int level)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    size_t n = libdeflate_gzip_compress(c, in, len, out, cap);

    libdeflate_free_compressor(c);
    return n;
}

static size_t zstd_whole(const char *in, size_t len, char *out, size_t cap,
                         int level)
{
    return ZSTD_compress(out, cap, in, len, level);
}

typedef size_t (*codec_fn)(const char *, size_t, char *, size_t, int);

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        codec_fn fn;
        int level;
    } codecs[] = {
        {"zlib -6, line by line", zlib_lines, 6},
        {"zlib -6, whole batch", zlib_whole, 6},
        {"zlib -1, whole batch", zlib_whole, 1},
        {"libdeflate -1", deflate_whole, 1},
        {"libdeflate -4", deflate_whole, 4},
        {"libdeflate -6", deflate_whole, 6},
        {"libdeflate -9", deflate_whole, 9},
        {"zstd -1", zstd_whole, 1},
        {"zstd -3", zstd_whole, 3},
    };
    size_t len, batch = argc > 2 ? strtoull(argv[2], NULL, 10) : 26000000;
    char *in, *out;
    size_t cap;

    if (argc < 2) {
        fprintf(stderr, "usage: codecs FILE [BATCH_BYTES]\n");
        return 2;
    }
    in = slurp(argv[1], &len);
    cap = ZSTD_compressBound(batch + 65536) + 65536;
    out = malloc(cap);
    printf("codec\tMB_s\tratio\n");
    for (size_t k = 0; k < sizeof(codecs) / sizeof(codecs[0]); k++) {
        size_t done = 0, outn = 0;
        double t0 = cpu_s();
        while (done < len) {
            size_t n = len - done < batch ? len - done : batch;
            const char *nl =
                memchr(in + done + n - 1, '\n', len - done - n + 1);
            if (nl)
                n = (size_t)(nl - (in + done)) + 1;
            outn += codecs[k].fn(in + done, n, out, cap, codecs[k].level);
            done += n;
        }
        printf("%s\t%.1f\t%.2f\n", codecs[k].name,
               (double)len / 1e6 / (cpu_s() - t0), (double)len / (double)outn);
        fflush(stdout);
    }
    free(in);
    free(out);
    return 0;
}
