/* xml.c -- reading the flat, machine-written XML that AWS services answer
 * with (S3, STS): an element's text by name, entities decoded. */
#include "xml.h"

#include <stdio.h>
#include <string.h>

/* Code point cp as UTF-8 into out; returns its bytes, 0 when XML cannot
 * hold it (NUL, surrogates, beyond Unicode). */
static size_t utf8_put(unsigned long cp, char out[4])
{
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int digit_value(char c, int hex)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (hex && c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (hex && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "&#38;" or "&#x26;" at s, ending at semi. */
static size_t char_ref(const char *s, const char *semi, char out[4])
{
    int hex = s[2] == 'x';
    const char *p = s + 2 + hex;
    unsigned long cp = 0;

    if (p == semi)
        return 0;
    for (; p < semi; p++) {
        int d = digit_value(*p, hex);

        if (d < 0)
            return 0;
        cp = cp * (hex ? 16 : 10) + (unsigned long)d;
    }
    return utf8_put(cp, out);
}

/* The entity at s (a '&' with n bytes left): its text into out, its
 * length into *used. Returns the text's bytes, 0 for no known entity. */
static size_t xml_entity(const char *s, size_t n, char out[4], size_t *used)
{
    static const char *const named[][2] = {{"&amp;", "&"},
                                           {"&lt;", "<"},
                                           {"&gt;", ">"},
                                           {"&quot;", "\""},
                                           {"&apos;", "'"}};
    const char *semi = memchr(s, ';', n < 12 ? n : 12);
    size_t k;
    size_t w;

    if (!semi)
        return 0;
    k = (size_t)(semi - s) + 1;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        if (k == strlen(named[i][0]) && memcmp(s, named[i][0], k) == 0) {
            out[0] = named[i][1][0];
            *used = k;
            return 1;
        }
    }
    w = k > 3 && s[1] == '#' ? char_ref(s, semi, out) : 0;
    if (w > 0)
        *used = k;
    return w;
}

/* The n bytes of text at s, entities decoded, into out (NUL-terminated
 * even on failure). Strict, for keys and ids: an unknown entity or a NUL
 * is -1, no room -2. Lenient, for error messages: unknown entities stay,
 * control characters become blanks, the text is cut to fit. Returns the
 * length written. */
static long xml_text(const char *s, size_t n, char *out, size_t outlen,
                     int strict)
{
    size_t o = 0;
    size_t i = 0;
    int full = 0;

    if (outlen == 0)
        return -2;
    while (i < n) {
        char c[4];
        size_t used = 1;
        size_t k = s[i] == '&' ? xml_entity(s + i, n - i, c, &used) : 0;

        if (k == 0 && strict && (s[i] == '&' || s[i] == '\0'))
            break;
        if (k == 0) {
            c[0] = s[i];
            k = 1;
        }
        if (!strict && k == 1 && ((unsigned char)c[0] < ' ' || c[0] == 127))
            c[0] = ' ';
        full = o + k >= outlen;
        if (full)
            break;
        memcpy(out + o, c, k);
        o += k;
        i += used;
    }
    out[o] = '\0';
    if (strict && i < n)
        return full ? -2 : -1;
    return (long)o;
}

/* The text between the first <tag> and the </tag> after it, within
 * len bytes. Returns 1 when found. */
int xml_find(const char *body, size_t len, const char *tag, const char **val,
             size_t *vlen)
{
    char open[40];
    char close[40];
    const char *s;
    const char *e;

    if (!body)
        return 0;
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    s = memmem(body, len, open, strlen(open));
    if (!s)
        return 0;
    s += strlen(open);
    e = memmem(s, len - (size_t)(s - body), close, strlen(close));
    if (!e)
        return 0;
    *val = s;
    *vlen = (size_t)(e - s);
    return 1;
}

/* Lenient copy of the first <tag>'s text, "" when there is none: for
 * error messages, so errbuf stays one line. */
void xml_field(const char *body, size_t len, const char *tag, char *out,
               size_t outlen)
{
    const char *v;
    size_t vlen;

    out[0] = '\0';
    if (xml_find(body, len, tag, &v, &vlen))
        xml_text(v, vlen, out, outlen, 0);
}

/* Strict copy of the first <tag>'s text: 0, 1 when absent (out is ""),
 * -1 malformed, -2 longer than outlen - 1. */
int xml_value(const char *body, size_t len, const char *tag, char *out,
              size_t outlen)
{
    const char *v;
    size_t vlen;
    long n;

    out[0] = '\0';
    if (!xml_find(body, len, tag, &v, &vlen))
        return 1;
    n = xml_text(v, vlen, out, outlen, 1);
    return n < 0 ? (int)n : 0;
}
