/* jsonlex.h -- the tokens of JSON text (RFC 8259): whitespace, strings
 * (escapes and UTF-8 checked), numbers, literals. One lexer for ingest-api's
 * fast validator and the uploader's record check. Pure, no allocation.
 *
 * Header-only, static inline: both scanners run it on every byte of every
 * event, and a call per token across files costs them 20-35%. */
#ifndef MILLRACE_JSONLEX_H
#define MILLRACE_JSONLEX_H

#include <stddef.h>
#include <string.h>

/* jsonlex_string's flags. */
enum {
    /* jansson's rules on \u escapes besides RFC 8259's: no \u0000, and a
     * surrogate only as a high-low pair. */
    JSONLEX_STRICT_ESCAPES = 1,
};

/* The shape of a number, for callers' own limits. */
typedef struct jsonlex_number_info {
    int neg;            /* a leading '-' */
    int real;           /* a fraction or an exponent */
    const char *digits; /* the integer part's first digit */
    long int_digits;    /* digits of the integer part */
    long frac_digits;   /* digits of the fraction */
    long exp_digits;    /* digits of the exponent */
    long exp;           /* its value, signed, from its first 9 digits */
} jsonlex_number_info;

#define JSONLEX_EXP_DIGITS_READ 9 /* more cannot change a double's fate */

/* Past the blanks (space, tab, LF, CR) at p. */
static inline const char *jsonlex_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The length of the valid UTF-8 sequence at p (a lead byte >= 0x80), or 0
 * when it is not one: overlong, a surrogate, beyond U+10FFFF, cut short. */
static inline size_t jsonlex_utf8(const unsigned char *p,
                                  const unsigned char *end)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;

    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0; /* overlong */
    else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    else if (c == 0xF0)
        lo = 0x90; /* overlong */
    else if (c == 0xF4)
        hi = 0x8F; /* beyond U+10FFFF */
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

/* Four hex digits at p into *cp (fewer than four before end: -1). */
static inline int jsonlex_hex4(const char *p, const char *end, unsigned *cp)
{
    unsigned v = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *cp = v;
    return 0;
}

/* The \u escape at p (its backslash): past it, or NULL. Strict: no
 * \u0000, and surrogates only as a high-low pair. */
static inline const char *jsonlex_unicode_escape_(const char *p,
                                                  const char *end, int strict)
{
    unsigned cp, lo;

    if (jsonlex_hex4(p + 2, end, &cp) < 0)
        return NULL;
    p += 6;
    if (!strict)
        return p;
    if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return NULL;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
            jsonlex_hex4(p + 2, end, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
            return NULL;
        p += 6;
    }
    return p;
}

/* The escape at p (its backslash): past it, or NULL with *why. */
static inline const char *jsonlex_escape_(const char *p, const char *end,
                                          int flags, const char **why)
{
    const char *q;

    if (p[1] != 'u') {
        if (p[1] == '\0' || !strchr("\"\\/bfnrt", p[1])) {
            *why = "bad escape";
            return NULL;
        }
        return p + 2;
    }
    q = jsonlex_unicode_escape_(p, end, flags & JSONLEX_STRICT_ESCAPES);
    if (q == NULL)
        *why = "bad \\u escape";
    return q;
}

/* A byte that a string holds as it is: printable ASCII but '"' and
 * '\\'. */
static inline int jsonlex_plain_(char ch)
{
    unsigned char c = (unsigned char)ch;

    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* A string at p (its opening quote): returns the pointer past its closing
 * quote, or NULL with *why naming the problem. *escaped (may be NULL) is
 * set when it holds a backslash. */
static inline const char *jsonlex_string(const char *p, const char *end,
                                         int flags, int *escaped,
                                         const char **why)
{
    int esc = 0;

    for (p++; p < end;) {
        unsigned char c;
        size_t n;

        /* The bulk of a string: printable ASCII but '"' and '\\'. */
        while (p < end && jsonlex_plain_(*p))
            p++;
        if (p >= end)
            break;
        c = (unsigned char)*p;
        if (c == '"') {
            if (escaped)
                *escaped = esc;
            return p + 1;
        }
        if (c < 0x20) {
            *why = "control character in a string";
            return NULL;
        }
        if (c == '\\') {
            esc = 1;
            if (p + 1 >= end)
                break;
            p = jsonlex_escape_(p, end, flags, why);
            if (p == NULL)
                return NULL;
            continue;
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        n = jsonlex_utf8((const unsigned char *)p, (const unsigned char *)end);
        if (n == 0) {
            *why = "invalid UTF-8";
            return NULL;
        }
        p += n;
    }
    *why = "unterminated string";
    return NULL;
}

/* Past the digits at p; *n counts them. */
static inline const char *jsonlex_digits_(const char *p, const char *end,
                                          long *n)
{
    const char *start = p;

    while (p < end && *p >= '0' && *p <= '9')
        p++;
    *n = (long)(p - start);
    return p;
}

/* The exponent after 'e' or 'E' at p. */
static inline const char *jsonlex_exponent_(const char *p, const char *end,
                                            jsonlex_number_info *info)
{
    int neg = 0;
    const char *e;

    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    e = p;
    p = jsonlex_digits_(p, end, &info->exp_digits);
    info->exp = 0;
    for (long i = 0; i < info->exp_digits && i < JSONLEX_EXP_DIGITS_READ; i++)
        info->exp = info->exp * 10 + (e[i] - '0');
    if (neg)
        info->exp = -info->exp;
    return p;
}

/* A number at p: returns the pointer past it, or NULL with *why. info may
 * be NULL. */
static inline const char *jsonlex_number(const char *p, const char *end,
                                         jsonlex_number_info *info,
                                         const char **why)
{
    jsonlex_number_info local;

    if (info == NULL)
        info = &local;
    memset(info, 0, sizeof(*info));
    *why = "bad number";
    if (p < end && *p == '-') {
        info->neg = 1;
        p++;
    }
    info->digits = p;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        p = jsonlex_digits_(p, end, &info->int_digits);
    else
        return NULL;
    info->int_digits = (long)(p - info->digits);
    if (p < end && *p == '.') {
        info->real = 1;
        p = jsonlex_digits_(p + 1, end, &info->frac_digits);
        if (info->frac_digits == 0)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        info->real = 1;
        p = jsonlex_exponent_(p + 1, end, info);
        if (info->exp_digits == 0)
            return NULL;
    }
    return p;
}

/* The literal word ("true", "false", "null") at p: past it, or NULL. */
static inline const char *jsonlex_literal(const char *p, const char *end,
                                          const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0)
        return NULL;
    return p + n;
}

#endif
