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
#include "sigv4_int.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define EMPTY_SHA256                                                           \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

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
    sigv4_sb_add(b, c->access_key);
    sigv4_sb_add(b, "/");
    sigv4_sb_add(b, date);
    sigv4_sb_add(b, "/");
    sigv4_sb_add(b, c->region);
    sigv4_sb_add(b, "/");
    sigv4_sb_add(b, c->service);
    sigv4_sb_add(b, "/aws4_request");
}

static char *credential(const sigv4_creds *c, const char *date)
{
    sbuf b = {0};

    add_credential(&b, c, date);
    return sigv4_sb_take(&b);
}

static char *canonical_request(const sigv4_request *req, const char *cquery,
                               const char *cheaders, const char *signed_headers,
                               const char *payload_hash)
{
    sbuf b = {0};
    char *cpath = sigv4_uri_encode(req->path, strlen(req->path), 1);

    if (!cpath)
        return NULL;
    sigv4_sb_add(&b, req->method);
    sigv4_sb_add(&b, "\n");
    sigv4_sb_add(&b, cpath);
    sigv4_sb_add(&b, "\n");
    sigv4_sb_add(&b, cquery);
    sigv4_sb_add(&b, "\n");
    sigv4_sb_add(&b, cheaders);
    sigv4_sb_add(&b, "\n");
    sigv4_sb_add(&b, signed_headers);
    sigv4_sb_add(&b, "\n");
    sigv4_sb_add(&b, payload_hash);
    free(cpath);
    return sigv4_sb_take(&b);
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
    sigv4_sb_add(&b, ALGORITHM "\n");
    sigv4_sb_add(&b, out->amz_date);
    sigv4_sb_add(&b, "\n");
    sigv4_sb_add(&b, date);
    sigv4_sb_add(&b, "/");
    sigv4_sb_add(&b, c->region);
    sigv4_sb_add(&b, "/");
    sigv4_sb_add(&b, c->service);
    sigv4_sb_add(&b, "/aws4_request\n");
    sigv4_sb_add(&b, crhash);
    out->string_to_sign = sigv4_sb_take(&b);
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

    sigv4_sb_add(&b, ALGORITHM " Credential=");
    add_credential(&b, c, date);
    sigv4_sb_add(&b, ", SignedHeaders=");
    sigv4_sb_add(&b, r->signed_headers);
    sigv4_sb_add(&b, ", Signature=");
    sigv4_sb_add(&b, r->signature);
    return sigv4_sb_take(&b);
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
    if (sigv4_canon_headers(req->headers, req->n_headers, out->add,
                            out->n_added, &cheaders, &out->signed_headers) != 0)
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
        sigv4_sb_add(&b, req->query);
        sigv4_sb_add(&b, "&");
    }
    sigv4_sb_add(&b, "X-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=");
    sigv4_sb_add_encoded(&b, cred);
    sigv4_sb_add(&b, "&X-Amz-Date=");
    sigv4_sb_add(&b, r->amz_date);
    snprintf(num, sizeof(num), "%u", expires);
    sigv4_sb_add(&b, "&X-Amz-Expires=");
    sigv4_sb_add(&b, num);
    if (has_token(c) && !req->omit_session_token) {
        sigv4_sb_add(&b, "&X-Amz-Security-Token=");
        sigv4_sb_add_encoded(&b, c->session_token);
    }
    sigv4_sb_add(&b, "&X-Amz-SignedHeaders=");
    sigv4_sb_add_encoded(&b, r->signed_headers);
    free(cred);
    return sigv4_sb_take(&b);
}

static char *presigned_query(const sigv4_request *req, const sigv4_creds *c,
                             const char *cquery, const char *signature)
{
    sbuf b = {0};

    sigv4_sb_add(&b, cquery);
    sigv4_sb_add(&b, "&X-Amz-Signature=");
    sigv4_sb_add(&b, signature);
    if (has_token(c) && req->omit_session_token) {
        sigv4_sb_add(&b, "&X-Amz-Security-Token=");
        sigv4_sb_add_encoded(&b, c->session_token);
    }
    return sigv4_sb_take(&b);
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
    if (sigv4_canon_headers(req->headers, req->n_headers, NULL, 0, &cheaders,
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
