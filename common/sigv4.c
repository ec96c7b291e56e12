/* sigv4.c -- AWS Signature Version 4 on libcrypto, for S3 and S3-compatible
 * servers. Pure functions: no sockets, and the clock is a parameter. */
#include "sigv4.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define EMPTY_SHA256                                                           \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A growing string whose allocation failure is sticky, so building a long
 * string needs one check at the end rather than one per piece. */
typedef struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
} sbuf;

static void sb_addn(sbuf *b, const char *s, size_t n)
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

static void sb_add(sbuf *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

static void sb_add_encoded(sbuf *b, const char *s)
{
    char *enc = sigv4_uri_encode(s, strlen(s), 0);

    if (!enc) {
        b->oom = 1;
        return;
    }
    sb_add(b, enc);
    free(enc);
}

/* Hands the string to the caller: NULL if any append failed. */
static char *sb_take(sbuf *b)
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

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL))
        return -1;
    if (mdlen != 32)
        return -1;
    hex_encode(md, 32, out);
    return 0;
}

static int hmac(const void *key, size_t klen, const char *msg,
                unsigned char out[32])
{
    unsigned int olen = 0;

    if (klen > INT_MAX)
        return -1;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
              strlen(msg), out, &olen))
        return -1;
    return olen == 32 ? 0 : -1;
}

int sigv4_signing_key(const char *secret_key, const char *date,
                      const char *region, const char *service,
                      unsigned char out[32])
{
    int rc = -1;
    size_t n = strlen(secret_key) + 5;
    unsigned char k1[32], k2[32];
    char *seed = malloc(n);

    if (!seed)
        goto fail;
    snprintf(seed, n, "AWS4%s", secret_key);
    if (hmac(seed, n - 1, date, k1) != 0)
        goto fail;
    if (hmac(k1, 32, region, k2) != 0)
        goto fail;
    if (hmac(k2, 32, service, k1) != 0)
        goto fail;
    if (hmac(k1, 32, "aws4_request", out) != 0)
        goto fail;
    rc = 0;
fail:
    /* The seed and the intermediate keys are as good as the secret. */
    if (seed)
        OPENSSL_cleanse(seed, n);
    free(seed);
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    return rc;
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
            sb_add(&b, "&");
        sb_add(&b, pairs[i].key);
        sb_add(&b, "=");
        sb_add(&b, pairs[i].value);
    }
    free_pairs(pairs, (size_t)n);
    return sb_take(&b);
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
            sb_add(block, ",");
            sb_add(block, h[i].value);
            continue;
        }
        if (i > 0) {
            sb_add(block, "\n");
            sb_add(names, ";");
        }
        sb_add(block, h[i].name);
        sb_add(block, ":");
        sb_add(block, h[i].value);
        sb_add(names, h[i].name);
    }
    sb_add(block, "\n");
}

/* The canonical headers block and the signed header list, from the
 * request's headers and the ones the signer adds. Returns 0 or -1. */
static int canon_headers(const sigv4_header *hs, size_t n,
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
    *block = sb_take(&b);
    *names = sb_take(&s);
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

/* An HTTP token (RFC 9110 tchar): a ';' or ',' in a header name would
 * make the SignedHeaders list ambiguous. */
static int valid_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return 1;
}

/* Control characters (CR, LF above all) would let a value smuggle in
 * another header; a tab is ordinary whitespace. */
static int valid_value(const char *s)
{
    if (!s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c < ' ' && c != '\t') || c == 127)
            return 0;
    }
    return 1;
}

static int has_token(const sigv4_creds *c)
{
    return c->session_token && *c->session_token;
}

/* Headers the signer sets itself must not come from the caller as well,
 * or the server would receive (and sign) two of them. */
static int signer_owned(const char *name, const sigv4_request *req,
                        const sigv4_creds *c)
{
    return strcasecmp(name, "authorization") == 0 ||
           strcasecmp(name, "x-amz-date") == 0 ||
           (req->add_content_sha256 &&
            strcasecmp(name, "x-amz-content-sha256") == 0) ||
           (has_token(c) && strcasecmp(name, "x-amz-security-token") == 0);
}

static int check_headers(const sigv4_request *req, const sigv4_creds *c,
                         int header_mode, char *errbuf, size_t errlen)
{
    int host = 0;

    for (size_t i = 0; i < req->n_headers; i++) {
        const sigv4_header *h = &req->headers[i];

        if (!valid_name(h->name) || !valid_value(h->value)) {
            errbuf_set(errbuf, errlen, "sigv4: invalid header %zu \"%s\"", i,
                       h->name ? h->name : "(null)");
            return -1;
        }
        if (header_mode && signer_owned(h->name, req, c)) {
            errbuf_set(errbuf, errlen, "sigv4: header %s is set by the signer",
                       h->name);
            return -1;
        }
        host |= strcasecmp(h->name, "host") == 0;
    }
    if (!host) {
        errbuf_set(errbuf, errlen, "sigv4: request has no Host header");
        return -1;
    }
    return 0;
}

static int empty(const char *s)
{
    return !s || !*s;
}

static int check_request(const sigv4_request *req, const sigv4_creds *c,
                         int header_mode, char *errbuf, size_t errlen)
{
    if (!req || !c) {
        errbuf_set(errbuf, errlen, "sigv4: no request or credentials");
        return -1;
    }
    if (empty(req->method) || !req->path || req->path[0] != '/') {
        errbuf_set(errbuf, errlen, "sigv4: need a method and a path from '/'");
        return -1;
    }
    if (empty(c->access_key) || empty(c->secret_key) || empty(c->region) ||
        empty(c->service)) {
        errbuf_set(errbuf, errlen,
                   "sigv4: need access key, secret key, region and service");
        return -1;
    }
    /* A hash goes into a header and a line of its own: one plain token. */
    if (req->payload_hash && !valid_name(req->payload_hash)) {
        errbuf_set(errbuf, errlen, "sigv4: invalid payload hash");
        return -1;
    }
    return check_headers(req, c, header_mode, errbuf, errlen);
}

/* "20150830T123600Z" and its date "20150830". */
static int format_dates(time_t now, char amz_date[17], char date[9])
{
    struct tm tm;

    if (!gmtime_r(&now, &tm))
        return -1;
    if (strftime(amz_date, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return -1;
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    return 0;
}

static int add_header(sigv4_result *out, const char *name, const char *value)
{
    char *v;

    if (out->n_added >= SIGV4_MAX_ADDED)
        return -1;
    v = strdup(value);
    if (!v)
        return -1;
    out->add[out->n_added].name = name;
    out->add[out->n_added].value = v;
    out->n_added++;
    return 0;
}

/* "AKID/20150830/us-east-1/s3/aws4_request" */
static void add_credential(sbuf *b, const sigv4_creds *c, const char *date)
{
    sb_add(b, c->access_key);
    sb_add(b, "/");
    sb_add(b, date);
    sb_add(b, "/");
    sb_add(b, c->region);
    sb_add(b, "/");
    sb_add(b, c->service);
    sb_add(b, "/aws4_request");
}

static char *credential(const sigv4_creds *c, const char *date)
{
    sbuf b = {0};

    add_credential(&b, c, date);
    return sb_take(&b);
}

static char *canonical_request(const sigv4_request *req, const char *cquery,
                               const char *cheaders, const char *signed_headers,
                               const char *payload_hash)
{
    sbuf b = {0};
    char *cpath = sigv4_uri_encode(req->path, strlen(req->path), 1);

    if (!cpath)
        return NULL;
    sb_add(&b, req->method);
    sb_add(&b, "\n");
    sb_add(&b, cpath);
    sb_add(&b, "\n");
    sb_add(&b, cquery);
    sb_add(&b, "\n");
    sb_add(&b, cheaders);
    sb_add(&b, "\n");
    sb_add(&b, signed_headers);
    sb_add(&b, "\n");
    sb_add(&b, payload_hash);
    free(cpath);
    return sb_take(&b);
}

/* String to sign and signature, from out->canonical_request. */
static int sign(const sigv4_creds *c, const char *date, sigv4_result *out)
{
    int rc = -1;
    char crhash[65];
    unsigned char key[32];
    unsigned char sig[32];
    sbuf b = {0};

    if (sigv4_sha256_hex(out->canonical_request, strlen(out->canonical_request),
                         crhash) != 0)
        goto fail;
    sb_add(&b, ALGORITHM "\n");
    sb_add(&b, out->amz_date);
    sb_add(&b, "\n");
    sb_add(&b, date);
    sb_add(&b, "/");
    sb_add(&b, c->region);
    sb_add(&b, "/");
    sb_add(&b, c->service);
    sb_add(&b, "/aws4_request\n");
    sb_add(&b, crhash);
    out->string_to_sign = sb_take(&b);
    if (!out->string_to_sign)
        goto fail;
    if (sigv4_signing_key(c->secret_key, date, c->region, c->service, key))
        goto fail;
    if (hmac(key, sizeof(key), out->string_to_sign, sig) != 0)
        goto fail;
    hex_encode(sig, sizeof(sig), out->signature);
    rc = 0;
fail:
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

static char *authorization(const sigv4_creds *c, const char *date,
                           const sigv4_result *r)
{
    sbuf b = {0};

    sb_add(&b, ALGORITHM " Credential=");
    add_credential(&b, c, date);
    sb_add(&b, ", SignedHeaders=");
    sb_add(&b, r->signed_headers);
    sb_add(&b, ", Signature=");
    sb_add(&b, r->signature);
    return sb_take(&b);
}

/* The headers the signer adds before signing: the date always, the
 * payload hash when asked, the session token unless it is left out. */
static int add_signed_headers(const sigv4_request *req, const sigv4_creds *c,
                              const char *payload, sigv4_result *out)
{
    if (add_header(out, "X-Amz-Date", out->amz_date) != 0)
        return -1;
    if (req->add_content_sha256 &&
        add_header(out, "x-amz-content-sha256", payload) != 0)
        return -1;
    if (has_token(c) && !req->omit_session_token &&
        add_header(out, "X-Amz-Security-Token", c->session_token) != 0)
        return -1;
    return 0;
}

int sigv4_sign_header(const sigv4_request *req, const sigv4_creds *creds,
                      time_t now, sigv4_result *out, char *errbuf,
                      size_t errlen)
{
    int rc = -1;
    char date[9];
    char *cheaders = NULL;
    char *cquery = NULL;
    const char *payload;

    memset(out, 0, sizeof(*out));
    if (check_request(req, creds, 1, errbuf, errlen) != 0)
        return -1;
    if (format_dates(now, out->amz_date, date) != 0) {
        errbuf_set(errbuf, errlen, "sigv4: time %lld out of range",
                   (long long)now);
        return -1;
    }
    payload = req->payload_hash ? req->payload_hash : EMPTY_SHA256;
    if (add_signed_headers(req, creds, payload, out) != 0)
        goto fail;
    if (canon_headers(req->headers, req->n_headers, out->add, out->n_added,
                      &cheaders, &out->signed_headers) != 0)
        goto fail;
    cquery = sigv4_canonical_query(req->query);
    if (!cquery)
        goto fail;
    out->canonical_request =
        canonical_request(req, cquery, cheaders, out->signed_headers, payload);
    if (!out->canonical_request || sign(creds, date, out) != 0)
        goto fail;
    out->authorization = authorization(creds, date, out);
    if (!out->authorization)
        goto fail;
    /* A token left out of the signature still has to be sent. */
    if (has_token(creds) && req->omit_session_token &&
        add_header(out, "X-Amz-Security-Token", creds->session_token) != 0)
        goto fail;
    rc = 0;
fail:
    if (rc != 0) {
        errbuf_set(errbuf, errlen, "sigv4: out of memory or libcrypto error");
        sigv4_result_free(out);
    }
    free(cheaders);
    free(cquery);
    return rc;
}

/* The request's own query plus the X-Amz-* parameters, before
 * canonicalization (which sorts them in). */
static char *presign_params(const sigv4_request *req, const sigv4_creds *c,
                            const char *date, const sigv4_result *r,
                            unsigned expires)
{
    sbuf b = {0};
    char num[16];
    char *cred = credential(c, date);

    if (!cred)
        return NULL;
    if (!empty(req->query)) {
        sb_add(&b, req->query);
        sb_add(&b, "&");
    }
    sb_add(&b, "X-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=");
    sb_add_encoded(&b, cred);
    sb_add(&b, "&X-Amz-Date=");
    sb_add(&b, r->amz_date);
    snprintf(num, sizeof(num), "%u", expires);
    sb_add(&b, "&X-Amz-Expires=");
    sb_add(&b, num);
    if (has_token(c) && !req->omit_session_token) {
        sb_add(&b, "&X-Amz-Security-Token=");
        sb_add_encoded(&b, c->session_token);
    }
    sb_add(&b, "&X-Amz-SignedHeaders=");
    sb_add_encoded(&b, r->signed_headers);
    free(cred);
    return sb_take(&b);
}

static char *presigned_query(const sigv4_request *req, const sigv4_creds *c,
                             const char *cquery, const char *signature)
{
    sbuf b = {0};

    sb_add(&b, cquery);
    sb_add(&b, "&X-Amz-Signature=");
    sb_add(&b, signature);
    if (has_token(c) && req->omit_session_token) {
        sb_add(&b, "&X-Amz-Security-Token=");
        sb_add_encoded(&b, c->session_token);
    }
    return sb_take(&b);
}

int sigv4_presign_query(const sigv4_request *req, const sigv4_creds *creds,
                        time_t now, unsigned expires, sigv4_result *out,
                        char *errbuf, size_t errlen)
{
    int rc = -1;
    char date[9];
    char *cheaders = NULL;
    char *params = NULL;
    char *cquery = NULL;
    const char *payload;

    memset(out, 0, sizeof(*out));
    if (check_request(req, creds, 0, errbuf, errlen) != 0)
        return -1;
    if (expires < 1 || expires > SIGV4_MAX_EXPIRES) {
        errbuf_set(errbuf, errlen, "sigv4: expires %u not in 1..%d", expires,
                   SIGV4_MAX_EXPIRES);
        return -1;
    }
    if (format_dates(now, out->amz_date, date) != 0) {
        errbuf_set(errbuf, errlen, "sigv4: time %lld out of range",
                   (long long)now);
        return -1;
    }
    payload = req->payload_hash ? req->payload_hash : EMPTY_SHA256;
    if (canon_headers(req->headers, req->n_headers, NULL, 0, &cheaders,
                      &out->signed_headers) != 0)
        goto fail;
    params = presign_params(req, creds, date, out, expires);
    cquery = params ? sigv4_canonical_query(params) : NULL;
    if (!cquery)
        goto fail;
    out->canonical_request =
        canonical_request(req, cquery, cheaders, out->signed_headers, payload);
    if (!out->canonical_request || sign(creds, date, out) != 0)
        goto fail;
    out->query = presigned_query(req, creds, cquery, out->signature);
    if (!out->query)
        goto fail;
    rc = 0;
fail:
    if (rc != 0) {
        errbuf_set(errbuf, errlen, "sigv4: out of memory or libcrypto error");
        sigv4_result_free(out);
    }
    free(cheaders);
    free(params);
    free(cquery);
    return rc;
}

void sigv4_result_free(sigv4_result *r)
{
    if (!r)
        return;
    free(r->canonical_request);
    free(r->string_to_sign);
    free(r->signed_headers);
    free(r->authorization);
    free(r->query);
    for (size_t i = 0; i < r->n_added && i < SIGV4_MAX_ADDED; i++)
        free(r->add[i].value);
    memset(r, 0, sizeof(*r));
}
