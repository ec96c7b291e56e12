/* request.c -- the HTTP request contract of POST /v1/events that is decided
 * from the request head alone (before any body byte is read), and the
 * bounded reading of the body. Pure: the reader and the clock are passed
 * in, so it runs without sockets. */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(request_error *err, int status, const char *code,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(request_error *err, int status, const char *code,
                const char *fmt, ...)
{
    va_list ap;

    err->status = status;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    return -1;
}

/* A header value equal to word, ignoring case and surrounding blanks. */
static int token_is(const char *v, const char *word)
{
    size_t n = strlen(word);

    while (*v == ' ' || *v == '\t')
        v++;
    if (strncasecmp(v, word, n) != 0)
        return 0;
    for (v += n; *v; v++)
        if (*v != ' ' && *v != '\t')
            return 0;
    return 1;
}

/* A media type equal to type, parameters (";charset=...") aside. */
static int media_is(const char *ct, const char *type)
{
    size_t n = strlen(type);

    while (*ct == ' ' || *ct == '\t')
        ct++;
    return strncasecmp(ct, type, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* No type, and curl's default form type, are read as JSON so that
 * `curl -d '{...}'` works. Returns -1 for a type we do not take. */
static int kind_of(const char *ct)
{
    static const char *const json[] = {"application/json", "text/json",
                                       "application/x-www-form-urlencoded"};
    static const char *const ndjson[] = {
        "application/x-ndjson", "application/ndjson", "application/jsonl",
        "application/x-jsonlines", "application/json-seq"};

    if (ct == NULL || ct[0] == '\0')
        return BODY_JSON;
    for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++)
        if (media_is(ct, json[i]))
            return BODY_JSON;
    for (size_t i = 0; i < sizeof(ndjson) / sizeof(ndjson[0]); i++)
        if (media_is(ct, ndjson[i]))
            return BODY_NDJSON;
    return -1;
}

/* RFC 9110 5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_token(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return 0;
    return 1;
}

/* 1*DIGIT without a leading zero (but "0"), at most 18 digits. */
static int is_plain_length(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > 18 || (v[0] == '0' && n > 1))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}

const char *request_framing_error(const request_field *fields, int n)
{
    int cl = 0;
    int te = 0;

    for (int i = 0; i < n; i++) {
        const char *name = fields[i].name;
        const char *value = fields[i].value ? fields[i].value : "";
        if (!is_token(name))
            return "a header field name that is not a token (whitespace "
                   "before the colon, or a folded line)";
        if (strpbrk(value, "\r\n"))
            return "a bare CR or LF in a header field";
        if (strcasecmp(name, "Content-Length") == 0) {
            cl++;
            if (!is_plain_length(value))
                return "Content-Length must be plain digits";
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            te++;
            if (strcasecmp(value, "chunked") != 0)
                return "the only Transfer-Encoding understood is chunked";
        }
    }
    if (cl > 1 || te > 1)
        return "Content-Length or Transfer-Encoding given twice";
    if (cl && te)
        return "both Content-Length and Transfer-Encoding";
    return NULL;
}

const char *request_head_layout_error(const request_field *fields, int n)
{
    /* The request line ends in CR LF, both now NUL. */
    if (fields[0].name[-1] != '\0' || fields[0].name[-2] != '\0')
        return "a line of the head ends in a bare LF";
    for (int i = 0; i < n; i++) {
        const char *colon = fields[i].name + strlen(fields[i].name);
        const char *end = fields[i].value + strlen(fields[i].value);
        for (const char *p = colon + 1; p < fields[i].value; p++)
            if (*p != ' ' && *p != '\t')
                return "whitespace between a header field name and its "
                       "colon";
        if (end[0] != '\0' || end[1] != '\0')
            return "a line of the head ends in a bare LF";
        /* Next: the following field, or the blank line's CR. */
        if (i + 1 < n ? fields[i + 1].name != end + 2 : end[2] != '\r')
            return "a folded (obs-fold) or malformed header line";
    }
    return NULL;
}

int request_plan_of(const request_head *h, long long max_body,
                    request_plan *plan, request_error *err)
{
    const char *ce = h->content_encoding;
    int kind = kind_of(h->content_type);

    memset(plan, 0, sizeof(*plan));
    if (kind < 0)
        return fail(err, 415, "unsupported_media_type",
                    "Content-Type must be application/json or "
                    "application/x-ndjson");
    plan->kind = (body_kind)kind;
    if (ce && (token_is(ce, "gzip") || token_is(ce, "x-gzip")))
        plan->gzip = 1;
    else if (ce && !token_is(ce, "identity") && !token_is(ce, ""))
        return fail(err, 415, "unsupported_encoding",
                    "Content-Encoding must be gzip or identity");
    if (h->expect && token_is(h->expect, "100-continue"))
        plan->send_continue = 1;
    else if (h->expect)
        return fail(err, 417, "expectation_failed",
                    "the only expectation understood is 100-continue");
    plan->chunked =
        h->transfer_encoding && token_is(h->transfer_encoding, "chunked");
    if (h->content_length < 0 && !plan->chunked)
        return fail(err, 411, "length_required",
                    "send Content-Length or a chunked body");
    if (h->content_length > max_body)
        return fail(err, 413, "body_too_large",
                    "Content-Length %lld exceeds the limit of %lld bytes",
                    h->content_length, max_body);
    return 0;
}

/* Why a read stopped short: the deadline, or the client. */
static int short_body(const request_reader *r, long long deadline_ms,
                      request_error *err, const char *why)
{
    if (r->now_ms() >= deadline_ms)
        return fail(err, 408, "request_timeout",
                    "the body did not arrive in time");
    return fail(err, 400, "bad_body", "%s", why);
}

int request_read_body(const request_reader *r, long long declared, size_t max,
                      long long deadline_ms, char **out, size_t *outlen,
                      size_t *nread, request_error *err)
{
    size_t cap = declared >= 0 ? (size_t)declared + 1 : 16384;
    size_t len = 0;
    char *buf;
    int rc = -1;

    *out = NULL;
    *outlen = 0;
    *nread = 0;
    if (cap > max + 2)
        cap = max + 2;
    buf = malloc(cap);
    if (buf == NULL)
        return fail(err, 503, "out_of_memory", "out of memory");
    while (declared < 0 || len < (size_t)declared) {
        int n;
        if (len == cap - 1) {
            char *grown;
            if (len > max)
                break;
            cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            grown = realloc(buf, cap);
            if (grown == NULL) {
                fail(err, 503, "out_of_memory", "out of memory");
                goto done;
            }
            buf = grown;
        }
        if (r->now_ms() >= deadline_ms) {
            fail(err, 408, "request_timeout",
                 "the body did not arrive in time");
            goto done;
        }
        n = r->read(r->ctx, buf + len, cap - 1 - len);
        if (n < 0) {
            short_body(r, deadline_ms, err,
                       "the body could not be read (broken chunked "
                       "encoding or connection)");
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        *nread = len;
    }
    if (len > max) {
        fail(err, 413, "body_too_large",
             "the body exceeds the limit of %zu bytes", max);
        goto done;
    }
    if (declared >= 0 && len < (size_t)declared) {
        short_body(r, deadline_ms, err,
                   "the body ended before Content-Length bytes");
        goto done;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    return rc;
}
