/* sigv4_canon.c -- the canonical forms SigV4 signs: URI encoding, the
 * canonical query string, the canonical and signed headers; and the
 * growing string they are built in. Pure. */
#include "sigv4.h"
#include "sigv4_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sigv4_sb_addn(sbuf *b, const char *s, size_t n)
{
    size_t ncap;
    char *np;

    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        ncap = b->cap ? b->cap : 128;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sigv4_sb_add(sbuf *b, const char *s)
{
    sigv4_sb_addn(b, s, strlen(s));
}

void sigv4_sb_add_encoded(sbuf *b, const char *s)
{
    char *enc = sigv4_uri_encode(s, strlen(s), 0);

    if (!enc) {
        b->oom = 1;
        return;
    }
    sigv4_sb_add(b, enc);
    free(enc);
}

/* Hands the string to the caller: NULL if any append failed. */
char *sigv4_sb_take(sbuf *b)
{
    char *p = b->p;

    if (b->oom) {
        free(p);
        p = NULL;
    } else if (!p) {
        p = calloc(1, 1);
    }
    memset(b, 0, sizeof(*b));
    return p;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

char *sigv4_uri_encode(const char *s, size_t len, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    char *out;

    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (unreserved(c) || (keep_slash && c == '/')) {
            out[o++] = (char)c;
            continue;
        }
        out[o++] = '%';
        out[o++] = digits[c >> 4];
        out[o++] = digits[c & 15];
    }
    out[o] = '\0';
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX. A '%' without two hex digits stays literal, so it is
 * re-encoded as %25 rather than making the whole query unsignable. */
static char *pct_decode(const char *s, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < len ? hexval(s[i + 2]) : -1;

        if (s[i] == '%' && hi >= 0 && lo >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
            continue;
        }
        out[o++] = s[i];
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* Decodes, then encodes, one key or value: raw ("ሴ") and already-encoded
 * ("%E1%88%B4") input both occur and must sign the same. */
static char *recode(const char *s, size_t len)
{
    size_t n = 0;
    char *dec = pct_decode(s, len, &n);
    char *enc;

    if (!dec)
        return NULL;
    enc = sigv4_uri_encode(dec, n, 0);
    free(dec);
    return enc;
}

typedef struct qpair {
    char *key;
    char *value;
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a;
    const qpair *y = b;
    int c = strcmp(x->key, y->key);

    return c ? c : strcmp(x->value, y->value);
}

static void free_pairs(qpair *pairs, size_t n)
{
    for (size_t i = 0; pairs && i < n; i++) {
        free(pairs[i].key);
        free(pairs[i].value);
    }
    free(pairs);
}

/* Fills pair from one "k=v" (or bare "k") piece of a query string. */
static int parse_pair(const char *p, size_t plen, qpair *pair)
{
    const char *eq = memchr(p, '=', plen);
    size_t klen = eq ? (size_t)(eq - p) : plen;

    pair->key = recode(p, klen);
    pair->value = eq ? recode(eq + 1, plen - klen - 1) : calloc(1, 1);
    return pair->key && pair->value ? 0 : -1;
}

/* Splits a raw query into recoded pairs; empty pieces ("a&&b") are
 * dropped. Returns the count, or -1 when out of memory. */
static long parse_query(const char *q, qpair **out)
{
    size_t cap = 1;
    size_t n = 0;
    qpair *pairs;

    for (const char *p = q; *p; p++)
        cap += *p == '&';
    pairs = calloc(cap, sizeof(*pairs));
    if (!pairs)
        return -1;
    while (*q) {
        size_t plen = strcspn(q, "&");

        if (plen > 0 && parse_pair(q, plen, &pairs[n++]) != 0) {
            free_pairs(pairs, n);
            return -1;
        }
        q += plen;
        if (*q == '&')
            q++;
    }
    *out = pairs;
    return (long)n;
}

char *sigv4_canonical_query(const char *query)
{
    qpair *pairs = NULL;
    sbuf b = {0};
    long n = parse_query(query ? query : "", &pairs);

    if (n < 0)
        return NULL;
    qsort(pairs, (size_t)n, sizeof(*pairs), qpair_cmp);
    for (long i = 0; i < n; i++) {
        if (i > 0)
            sigv4_sb_add(&b, "&");
        sigv4_sb_add(&b, pairs[i].key);
        sigv4_sb_add(&b, "=");
        sigv4_sb_add(&b, pairs[i].value);
    }
    free_pairs(pairs, (size_t)n);
    return sigv4_sb_take(&b);
}

typedef struct chdr {
    char *name;
    char *value;
    size_t order; /* position in the request: duplicates keep it */
} chdr;

static int chdr_cmp(const void *a, const void *b)
{
    const chdr *x = a;
    const chdr *y = b;
    int c = strcmp(x->name, y->name);

    if (c)
        return c;
    return (x->order > y->order) - (x->order < y->order);
}

static char *lower_dup(const char *s)
{
    char *out = strdup(s);

    for (char *p = out; p && *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    return out;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims the value and collapses inner runs of blanks to one space, as
 * SigV4 canonicalizes them: "a   b" signs as "a b". */
static char *canon_value(const char *v)
{
    char *out = malloc(strlen(v) + 1);
    size_t o = 0;
    int gap = 0;

    if (!out)
        return NULL;
    for (; *v; v++) {
        if (blank(*v)) {
            gap = o > 0;
            continue;
        }
        if (gap)
            out[o++] = ' ';
        gap = 0;
        out[o++] = *v;
    }
    out[o] = '\0';
    return out;
}

static void emit_headers(const chdr *h, size_t n, sbuf *block, sbuf *names)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            sigv4_sb_add(block, ",");
            sigv4_sb_add(block, h[i].value);
            continue;
        }
        if (i > 0) {
            sigv4_sb_add(block, "\n");
            sigv4_sb_add(names, ";");
        }
        sigv4_sb_add(block, h[i].name);
        sigv4_sb_add(block, ":");
        sigv4_sb_add(block, h[i].value);
        sigv4_sb_add(names, h[i].name);
    }
    sigv4_sb_add(block, "\n");
}

/* The canonical headers block and the signed header list, from the
 * request's headers and the ones the signer adds. Returns 0 or -1. */
int sigv4_canon_headers(const sigv4_header *hs, size_t n,
                        const sigv4_added *add, size_t n_add, char **block,
                        char **names)
{
    int rc = -1;
    size_t total = n + n_add;
    chdr *h = calloc(total ? total : 1, sizeof(*h));
    sbuf b = {0};
    sbuf s = {0};

    if (!h)
        goto fail;
    for (size_t i = 0; i < total; i++) {
        h[i].name = lower_dup(i < n ? hs[i].name : add[i - n].name);
        h[i].value = canon_value(i < n ? hs[i].value : add[i - n].value);
        h[i].order = i;
        if (!h[i].name || !h[i].value)
            goto fail;
    }
    qsort(h, total, sizeof(*h), chdr_cmp);
    emit_headers(h, total, &b, &s);
    *block = sigv4_sb_take(&b);
    *names = sigv4_sb_take(&s);
    if (!*block || !*names) {
        free(*block);
        free(*names);
        *block = NULL;
        *names = NULL;
        goto fail;
    }
    rc = 0;
fail:
    for (size_t i = 0; h && i < total; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    free(b.p);
    free(s.p);
    return rc;
}
