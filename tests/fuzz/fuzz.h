/* fuzz.h -- what the libFuzzer harnesses share: cutting an input into
 * fields and failing loudly when a property does not hold. */
#ifndef MILLRACE_FUZZ_H
#define MILLRACE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A property that must hold for every input: print it and abort, which
 * libFuzzer reports as a crash and saves the input. */
#define FUZZ_CHECK(c, ...)                                                     \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: property failed: %s\n  ", __FILE__,        \
                    __LINE__, #c);                                             \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* The input, consumed from the front. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static inline uint8_t fuzz_u8(fuzz_in *in)
{
    uint8_t v = 0;

    if (in->n) {
        v = in->p[0];
        in->p++;
        in->n--;
    }
    return v;
}

/* Up to 8 bytes, little-endian; missing bytes are zero. */
static inline uint64_t fuzz_u64(fuzz_in *in)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)fuzz_u8(in) << (8 * i);
    return v;
}

/* The next field, up to (not including) the byte sep or the end, as a
 * heap copy of exactly len + 1 bytes (NUL-terminated) so that ASan sees
 * any read past it. The caller frees. */
static inline char *fuzz_field(fuzz_in *in, uint8_t sep, size_t *len)
{
    const uint8_t *e = memchr(in->p, sep, in->n);
    size_t n = e ? (size_t)(e - in->p) : in->n;
    char *s = malloc(n + 1);

    if (s == NULL)
        abort();
    if (n)
        memcpy(s, in->p, n);
    s[n] = '\0';
    in->p += n + (e ? 1 : 0);
    in->n -= n + (e ? 1 : 0);
    if (len)
        *len = n;
    return s;
}

/* The rest of the input as a heap copy of exactly n bytes (1 if empty). */
static inline char *fuzz_rest(fuzz_in *in, size_t *len)
{
    char *s = malloc(in->n ? in->n : 1);

    if (s == NULL)
        abort();
    if (in->n)
        memcpy(s, in->p, in->n);
    *len = in->n;
    in->p += in->n;
    in->n = 0;
    return s;
}

#endif
