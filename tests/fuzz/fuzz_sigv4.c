/* fuzz_sigv4.c -- SigV4 canonicalization: sigv4_uri_encode,
 * sigv4_canonical_query, and signing (header and presigned query) of a
 * request built from the input.
 * Input: 8 bytes of clock, 1 byte of flags, then '\n'-separated fields:
 * method, path, query, secret key, session token, payload hash, and one
 * "name:value" header per remaining line.
 * Properties: no crash, leak or UB; encoding keeps only unreserved bytes
 * (and '/' when asked), uses uppercase %XX, and decodes back to the
 * input; the canonical query is sorted, fully encoded and idempotent; a
 * signature is 64 lowercase hex digits, deterministic, over a canonical
 * request that holds the canonical query and sorted lowercase header
 * names, hashed in the string to sign; a failed signing leaves nothing;
 * another secret key changes the signature and nothing else. */
#include "fuzz.h"

#include "../../common/sigv4.h"

#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 8

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int hexdig(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* Checks an encoding of s[0..n) and returns how many bytes it decodes to
 * (which must equal n, with the same bytes). */
static void check_encoding(const char *s, size_t n, const char *enc,
                           int keep_slash)
{
    size_t o = 0;

    for (const char *p = enc; *p; p++, o++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            FUZZ_CHECK(hexdig(p[1]) && hexdig(p[2]), "bad escape in %s", enc);
            unsigned v = (unsigned)strtoul((char[]){p[1], p[2], 0}, NULL, 16);
            FUZZ_CHECK(o < n && (unsigned char)s[o] == v,
                       "%%%c%c decodes to the wrong byte", p[1], p[2]);
            FUZZ_CHECK(!unreserved((unsigned char)v) &&
                           !(keep_slash && v == '/'),
                       "byte 0x%02x encoded needlessly", v);
            p += 2;
            continue;
        }
        FUZZ_CHECK(unreserved(c) || (keep_slash && c == '/'),
                   "byte 0x%02x left raw", c);
        FUZZ_CHECK(o < n && s[o] == (char)c, "raw byte differs");
    }
    FUZZ_CHECK(o == n, "decodes to %zu bytes, not %zu", o, n);
}

/* Text that is entirely in encoded form: unreserved bytes and %XX of
 * bytes that are not unreserved. */
static void check_encoded_form(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '%') {
            FUZZ_CHECK(hexdig(p[1]) && hexdig(p[2]), "bad escape in %s", s);
            unsigned v = (unsigned)strtoul((char[]){p[1], p[2], 0}, NULL, 16);
            FUZZ_CHECK(!unreserved((unsigned char)v), "%%%c%c needless", p[1],
                       p[2]);
            p += 2;
            continue;
        }
        FUZZ_CHECK(unreserved((unsigned char)*p), "raw 0x%02x in %s",
                   (unsigned char)*p, s);
    }
}

/* Sorted "k=v" pairs joined by '&', every key and value encoded. */
static void check_canonical_query(const char *q)
{
    char *c = sigv4_canonical_query(q);
    char *again;
    char *prev = NULL;
    char *save = NULL;
    char *copy;

    FUZZ_CHECK(c != NULL, "out of memory");
    again = sigv4_canonical_query(c);
    FUZZ_CHECK(again != NULL && strcmp(again, c) == 0,
               "not idempotent: \"%s\" -> \"%s\"", c, again);
    free(again);
    copy = strdup(c);
    for (char *pair = strtok_r(copy, "&", &save); pair;
         pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        FUZZ_CHECK(eq != NULL, "pair \"%s\" without '='", pair);
        *eq = '\0';
        check_encoded_form(pair);
        check_encoded_form(eq + 1);
        *eq = '=';
        if (prev) {
            /* Sorted by key, then value: compare the split forms. */
            char *pe = strchr(prev, '=');
            int k;
            *pe = '\0';
            *eq = '\0';
            k = strcmp(prev, pair);
            FUZZ_CHECK(k < 0 || (k == 0 && strcmp(pe + 1, eq + 1) <= 0),
                       "pairs out of order in \"%s\"", c);
            *pe = '=';
            *eq = '=';
        }
        prev = pair;
    }
    free(copy);
    free(c);
}

static int lowercase_sorted(const char *names)
{
    const char *prev = NULL;
    size_t prevlen = 0;

    for (const char *p = names; *p;) {
        size_t l = strcspn(p, ";");
        for (size_t i = 0; i < l; i++)
            if (isupper((unsigned char)p[i]))
                return 0;
        if (prev) {
            int c = memcmp(prev, p, prevlen < l ? prevlen : l);
            if (c > 0 || (c == 0 && prevlen >= l))
                return 0;
        }
        prev = p;
        prevlen = l;
        p += l + (p[l] == ';');
    }
    return 1;
}

static void check_signed(const sigv4_result *r, const sigv4_request *req,
                         const char *cquery)
{
    char hash[65];
    char line[4096];

    FUZZ_CHECK(strlen(r->signature) == 64, "signature %s", r->signature);
    for (int i = 0; i < 64; i++)
        FUZZ_CHECK(isdigit((unsigned char)r->signature[i]) ||
                       (r->signature[i] >= 'a' && r->signature[i] <= 'f'),
                   "signature %s", r->signature);
    FUZZ_CHECK(lowercase_sorted(r->signed_headers), "signed headers %s",
               r->signed_headers);
    FUZZ_CHECK(strstr(r->signed_headers, "host") != NULL, "host unsigned");
    snprintf(line, sizeof(line), "\n%s\n", cquery);
    FUZZ_CHECK(strstr(r->canonical_request, line) != NULL || req->query == NULL,
               "canonical query missing from\n%s", r->canonical_request);
    FUZZ_CHECK(sigv4_sha256_hex(r->canonical_request,
                                strlen(r->canonical_request), hash) == 0,
               "sha256");
    FUZZ_CHECK(strlen(r->string_to_sign) > 64 &&
                   strcmp(r->string_to_sign + strlen(r->string_to_sign) - 64,
                          hash) == 0,
               "string to sign does not end in the request's hash");
}

static void check_failed(const sigv4_result *r)
{
    sigv4_result zero;

    memset(&zero, 0, sizeof(zero));
    FUZZ_CHECK(memcmp(r, &zero, sizeof(zero)) == 0,
               "a failed signing left a result");
}

/* a and b are equal but for the signature each holds at the same place. */
static int same_but_signature(const char *a, const char *sa, const char *b,
                              const char *sb)
{
    const char *pa = strstr(a, sa);
    const char *pb = strstr(b, sb);

    return pa && pb && pa - a == pb - b &&
           strncmp(a, b, (size_t)(pa - a)) == 0 &&
           strcmp(pa + 64, pb + 64) == 0;
}

/* Signing with another secret changes the signature and nothing else, so
 * the secret flows nowhere but into the HMAC. */
static void check_secret_stays_in(const sigv4_request *req,
                                  const sigv4_creds *c, time_t now,
                                  const sigv4_result *r, int presign,
                                  unsigned expires)
{
    sigv4_creds other = *c;
    sigv4_result o;
    char err[128];
    int rc;

    other.secret_key = "another-secret-of-a-different-length";
    rc = presign ? sigv4_presign_query(req, &other, now, expires, &o, err,
                                       sizeof(err))
                 : sigv4_sign_header(req, &other, now, &o, err, sizeof(err));
    FUZZ_CHECK(rc == 0, "signs with one secret, not another: %s", err);
    FUZZ_CHECK(strcmp(r->canonical_request, o.canonical_request) == 0 &&
                   strcmp(r->string_to_sign, o.string_to_sign) == 0,
               "the canonical request depends on the secret");
    if (presign)
        FUZZ_CHECK(
            same_but_signature(r->query, r->signature, o.query, o.signature),
            "the presigned query depends on the secret");
    else
        FUZZ_CHECK(same_but_signature(r->authorization, r->signature,
                                      o.authorization, o.signature),
                   "the authorization depends on the secret");
    sigv4_result_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    time_t now = (time_t)(fuzz_u64(&in) % 253402300800ULL); /* < 10000 */
    uint8_t flags = fuzz_u8(&in);
    size_t len;
    char *method = fuzz_field(&in, '\n', NULL);
    char *path = fuzz_field(&in, '\n', &len);
    char *query = fuzz_field(&in, '\n', NULL);
    char *secret = fuzz_field(&in, '\n', NULL);
    char *token = fuzz_field(&in, '\n', NULL);
    char *payload = fuzz_field(&in, '\n', NULL);
    char *lines[MAX_HEADERS];
    sigv4_header hs[MAX_HEADERS + 1];
    size_t nh = 0, nl = 0;
    sigv4_request req;
    sigv4_creds c = {"AKIDEXAMPLE", secret, token, "us-east-1", "s3"};
    sigv4_result r1, r2;
    char err[128];
    char *enc;
    char *cquery;
    unsigned expires = 1 + (flags >> 5) * 86400u;
    int rc;

    for (int k = 0; k < 2; k++) {
        enc = sigv4_uri_encode(path, len, k);
        FUZZ_CHECK(enc != NULL, "out of memory");
        check_encoding(path, len, enc, k);
        free(enc);
    }
    check_canonical_query(query);
    if (flags & 1)
        hs[nh++] = (sigv4_header){"Host", "bucket.s3.amazonaws.com"};
    while (in.n && nl < MAX_HEADERS) {
        char *l = fuzz_field(&in, '\n', NULL);
        char *colon = strchr(l, ':');
        lines[nl++] = l;
        if (colon) {
            *colon = '\0';
            hs[nh++] = (sigv4_header){l, colon + 1};
        }
    }
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.query = (flags & 2) ? NULL : query;
    req.headers = hs;
    req.n_headers = nh;
    req.payload_hash = (flags & 4) ? payload : NULL;
    req.add_content_sha256 = (flags >> 3) & 1;
    req.omit_session_token = (flags >> 4) & 1;
    cquery = sigv4_canonical_query(req.query);
    rc = sigv4_sign_header(&req, &c, now, &r1, err, sizeof(err));
    if (rc == 0) {
        check_signed(&r1, &req, cquery);
        FUZZ_CHECK(strstr(r1.authorization, r1.signature) != NULL,
                   "authorization lacks the signature");
        FUZZ_CHECK(sigv4_sign_header(&req, &c, now, &r2, err, sizeof(err)) ==
                           0 &&
                       strcmp(r1.signature, r2.signature) == 0,
                   "signing twice differs");
        sigv4_result_free(&r2);
        check_secret_stays_in(&req, &c, now, &r1, 0, 0);
    } else {
        FUZZ_CHECK(rc == -1, "rc %d", rc);
        check_failed(&r1);
    }
    sigv4_result_free(&r1);
    rc = sigv4_presign_query(&req, &c, now, 1 + (flags >> 5) * 86400u, &r1, err,
                             sizeof(err));
    if (rc == 0) {
        FUZZ_CHECK(strstr(r1.query, r1.signature) != NULL,
                   "presigned query lacks the signature");
        FUZZ_CHECK(strlen(r1.signature) == 64, "signature");
        check_secret_stays_in(&req, &c, now, &r1, 1, expires);
    } else {
        check_failed(&r1);
    }
    sigv4_result_free(&r1);
    free(cquery);
    for (size_t i = 0; i < nl; i++)
        free(lines[i]);
    free(method);
    free(path);
    free(query);
    free(secret);
    free(token);
    free(payload);
    return 0;
}
