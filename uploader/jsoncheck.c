/* jsoncheck.c -- a fast, allocation-free check that a record is one JSON
 * object, and a lookup of a top-level field in it. Pure.
 *
 * A scanner over RFC 8259 (its tokens read by common/jsonlex.c) that keeps
 * the open containers in a bit stack instead of recursing, so the call
 * stack stays small at any depth. */
#include "jsoncheck.h"

#include <string.h>

#include "jsonlex.h"

typedef struct scan {
    const char *p, *end;
    int depth, max_depth;
    const char *why;
    /* The open containers, one bit each (1: an object), innermost at
     * depth - 1: nesting costs bits here, not call frames, so a record
     * nested 100000 deep needs no deep stack. */
    unsigned char is_obj[JSONCHECK_MAX_DEPTH / 8];
} scan;

static void ws(scan *s)
{
    s->p = jsonlex_ws(s->p, s->end);
}

static int bad(scan *s, const char *why)
{
    if (s->why == NULL)
        s->why = why;
    return -1;
}

/* Moves past a token the lexer read (q), or reports why it could not. */
static int token(scan *s, const char *q, const char *why)
{
    if (q == NULL)
        return bad(s, why);
    s->p = q;
    return 0;
}

static int string(scan *s)
{
    const char *why = NULL;
    const char *q = jsonlex_string(s->p, s->end, 0, NULL, &why);

    return token(s, q, why);
}

static int number(scan *s)
{
    const char *why = NULL;
    const char *q = jsonlex_number(s->p, s->end, NULL, &why);

    return token(s, q, why);
}

static int literal(scan *s, const char *word)
{
    return token(s, jsonlex_literal(s->p, s->end, word),
                 "unexpected character");
}

static int scalar(scan *s)
{
    switch (*s->p) {
    case '"':
        return string(s);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return number(s);
        return bad(s, "unexpected character");
    }
}

/* "name": before a member's value. */
static int member_name(scan *s)
{
    ws(s);
    if (s->p >= s->end || *s->p != '"')
        return bad(s, "expected a member name");
    if (string(s) < 0)
        return -1;
    ws(s);
    if (s->p >= s->end || *s->p != ':')
        return bad(s, "expected ':'");
    s->p++;
    return 0;
}

static int top_is_obj(const scan *s)
{
    int i = s->depth - 1;

    return (s->is_obj[i / 8] >> (i % 8)) & 1;
}

enum { NEXT = 1, DONE = 0 }; /* another value follows; the value ended */

/* Opens '{' or '['. An empty one is a whole value (DONE); otherwise its
 * first value follows (NEXT), after the member name in an object. */
static int open_container(scan *s)
{
    int obj = *s->p == '{';
    int i = s->depth;

    if (++s->depth > s->max_depth)
        return bad(s, "nested too deep");
    if (obj)
        s->is_obj[i / 8] |= (unsigned char)(1u << (i % 8));
    else
        s->is_obj[i / 8] &= (unsigned char)~(1u << (i % 8));
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == (obj ? '}' : ']')) {
        s->p++;
        s->depth--;
        return DONE;
    }
    if (obj && member_name(s) < 0)
        return -1;
    return NEXT;
}

/* After a value at depth base + k: closes the containers it ends, until
 * a ',' starts the next value (NEXT) or the value at depth base ends. */
static int after_value(scan *s, int base)
{
    while (s->depth > base) {
        int obj = top_is_obj(s);
        ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            if (obj && member_name(s) < 0)
                return -1;
            return NEXT;
        }
        if (s->p < s->end && *s->p == (obj ? '}' : ']')) {
            s->p++;
            s->depth--;
            continue;
        }
        return bad(s, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    return DONE;
}

/* One whole value, nested ones included, without recursion. */
static int value(scan *s)
{
    int base = s->depth;
    int r;

    for (;;) {
        ws(s);
        if (s->p >= s->end)
            return bad(s, "truncated");
        if (*s->p == '{' || *s->p == '[')
            r = open_container(s);
        else
            r = scalar(s) < 0 ? -1 : DONE;
        if (r == DONE)
            r = after_value(s, base);
        if (r < 0)
            return -1;
        if (r == DONE)
            return 0;
    }
}

static void scan_init(scan *s, const char *p, size_t len, int max_depth)
{
    s->p = p;
    s->end = p + len;
    s->depth = 0;
    s->max_depth =
        max_depth < JSONCHECK_MAX_DEPTH ? max_depth : JSONCHECK_MAX_DEPTH;
    s->why = NULL;
}

int jsoncheck_object(const char *p, size_t len, int max_depth, const char **why)
{
    scan s;

    scan_init(&s, p, len, max_depth);
    ws(&s);
    if (s.p >= s.end || *s.p != '{') {
        *why = "not a JSON object";
        return -1;
    }
    if (value(&s) < 0) {
        *why = s.why;
        return -1;
    }
    ws(&s);
    if (s.p != s.end) {
        *why = "data after the object";
        return -1;
    }
    return 0;
}

int jsoncheck_field(const char *p, size_t len, const char *name,
                    const char **val, size_t *vlen)
{
    scan s;
    size_t nlen = strlen(name);

    scan_init(&s, p, len, JSONCHECK_MAX_DEPTH);
    ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return -1;
    s.p++;
    for (;;) {
        const char *key;
        size_t keylen;
        const char *v;
        ws(&s);
        if (s.p >= s.end || *s.p != '"')
            return -1;
        key = s.p + 1;
        if (string(&s) < 0)
            return -1;
        keylen = (size_t)(s.p - 1 - key); /* up to the closing quote */
        ws(&s);
        if (s.p >= s.end || *s.p != ':')
            return -1;
        s.p++;
        ws(&s);
        v = s.p;
        if (value(&s) < 0)
            return -1;
        /* The whole name, and only a name written without escapes: its
         * text is then the name itself. A quote after a prefix of it can
         * be escaped ({"a\\"b":1} is not the member "a\\"), and the text
         * "\\\\" is the name "\\", not the name "\\\\". */
        if (keylen == nlen && memcmp(key, name, nlen) == 0 &&
            memchr(key, '\\', keylen) == NULL) {
            *val = v;
            *vlen = (size_t)(s.p - v);
            return 0;
        }
        ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            continue;
        }
        return -1;
    }
}
