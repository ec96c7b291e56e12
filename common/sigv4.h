/* sigv4.h -- AWS Signature Version 4 on libcrypto, for S3 and S3-compatible
 * servers. Pure functions: no sockets, and the clock is a parameter. */
#ifndef MILLRACE_SIGV4_H
#define MILLRACE_SIGV4_H

#include <stddef.h>
#include <time.h>

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_MAX_ADDED 3
#define SIGV4_MAX_EXPIRES 604800 /* presigned URLs live at most 7 days */

typedef struct sigv4_header {
    const char *name;
    const char *value;
} sigv4_header;

typedef struct sigv4_request {
    const char *method; /* "PUT", "GET", ... */
    /* The path as sent, not yet percent-encoded ("/bucket/dt=1/a b").
     * Each byte other than unreserved ones and '/' is encoded once; dot
     * segments and repeated slashes are kept, since S3 keys may hold them
     * and S3 signs the path as it is. */
    const char *path;
    const char *query; /* raw query string without '?', or NULL */
    /* Headers to sign, Host among them. Duplicate names are joined with
     * commas in the order given. */
    const sigv4_header *headers;
    size_t n_headers;
    /* Hex SHA-256 of the body, or SIGV4_UNSIGNED_PAYLOAD; NULL means the
     * hash of an empty body. */
    const char *payload_hash;
    /* Header signing: also sign and send x-amz-content-sha256 (S3 requires
     * it on every request). Ignored by query signing. */
    int add_content_sha256;
    /* Leave the session token out of the signature and add it afterwards
     * (some services ask for this; S3 wants it signed, so 0 there). */
    int omit_session_token;
} sigv4_request;

typedef struct sigv4_creds {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" when there is none */
    const char *region;        /* "us-east-1" */
    const char *service;       /* "s3" */
} sigv4_creds;

/* A header the signer adds to the request; value owned by the result. */
typedef struct sigv4_added {
    const char *name;
    char *value;
} sigv4_added;

/* Every step of one signature, so tests can check each. Owned by the
 * caller; release with sigv4_result_free. */
typedef struct sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char *signed_headers; /* "host;x-amz-date" */
    char signature[65];   /* lowercase hex */
    char amz_date[17];    /* "20150830T123600Z" */
    /* Header signing: send add[] and "Authorization: <authorization>"
     * along with the request's own headers. */
    sigv4_added add[SIGV4_MAX_ADDED];
    size_t n_added;
    char *authorization;
    /* Query signing: the whole query string to send, without '?'. */
    char *query;
} sigv4_result;

/* Sign with the Authorization header. Returns 0, or -1 with a reason in
 * errbuf; on failure *out holds nothing to free. */
int sigv4_sign_header(const sigv4_request *req, const sigv4_creds *creds,
                      time_t now, sigv4_result *out, char *errbuf,
                      size_t errlen);

/* Presign: put the signature in the query string, valid for expires
 * seconds (1..SIGV4_MAX_EXPIRES). Same contract as sigv4_sign_header. */
int sigv4_presign_query(const sigv4_request *req, const sigv4_creds *creds,
                        time_t now, unsigned expires, sigv4_result *out,
                        char *errbuf, size_t errlen);

/* Accepts a zeroed or half-filled result; leaves it zeroed. */
void sigv4_result_free(sigv4_result *r);

/* Lowercase hex SHA-256 of data into out (64 digits and a NUL).
 * Returns 0, or -1 if libcrypto fails. */
int sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* The signing key: HMAC chain of secret, date (YYYYMMDD), region, service
 * and "aws4_request". Returns 0 or -1. */
int sigv4_signing_key(const char *secret_key, const char *date,
                      const char *region, const char *service,
                      unsigned char out[32]);

/* RFC 3986 percent-encoding of len bytes: unreserved characters stay,
 * everything else becomes %XX (uppercase); '/' stays when keep_slash.
 * Returns a heap string, or NULL when out of memory. */
char *sigv4_uri_encode(const char *s, size_t len, int keep_slash);

/* The canonical form of a raw query string: pairs decoded, re-encoded,
 * sorted by key then value; "a" becomes "a=". Heap string, NULL if out
 * of memory. */
char *sigv4_canonical_query(const char *query);

#endif
