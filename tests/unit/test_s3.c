/* test_s3.c -- building signed S3 requests without a network (PutObject,
 * the multipart operations, ListObjectsV2: URL, key and query encoding,
 * headers,
 * signature for a fixed clock, checked against botocore's S3SigV4Auth),
 * reading S3's XML answers, mapping responses to store results, and the
 * store's operations against a canned HTTP server on loopback. */
#include "../../uploader/store/s3.h"
#include "../../uploader/store/s3_error.h"
#include "../../uploader/store/s3_parse.h"
#include "../../uploader/store/s3_request.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIVE_KEY                                                               \
    "prefix/events/dt=2026-11-27/hour=18/"                                     \
    "events+3+00000000000000000042.ndjson.gz"
#define HIVE_PATH                                                              \
    "/prefix/events/dt%3D2026-11-27/hour%3D18/"                                \
    "events%2B3%2B00000000000000000042.ndjson.gz"
#define BODY "{\"a\":1}\n"
#define NOW 1795804200 /* 2026-11-27T18:30:00Z */

static s3_options path_style(void)
{
    s3_options o = {"http://127.0.0.1:17070",
                    "millrace",
                    "us-east-1",
                    "AKIAIOSFODNN7EXAMPLE",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    NULL,
                    1,
                    0,
                    0,
                    NULL};
    return o;
}

static s3_options virtual_hosted(void)
{
    s3_options o = path_style();

    o.endpoint = "https://s3.us-east-1.amazonaws.com/";
    o.path_style = 0;
    o.session_token = "tok/en+=";
    return o;
}

static const store_object hive_object = {HIVE_KEY, BODY, sizeof(BODY) - 1,
                                         "application/x-ndjson", "gzip"};

/* The value of header name in r, or NULL. */
static const char *header(const s3_request *r, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < r->n_headers; i++) {
        if (strncasecmp(r->headers[i], name, n) == 0 &&
            strncmp(r->headers[i] + n, ": ", 2) == 0)
            return r->headers[i] + n + 2;
    }
    return NULL;
}

/* The second line of the canonical request: the path as signed. */
static void canonical_uri(const s3_request *r, char *out, size_t len)
{
    const char *s = strchr(r->sig.canonical_request, '\n') + 1;

    snprintf(out, len, "%.*s", (int)strcspn(s, "\n"), s);
}

static void build_put_path_style_url(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(r.url, "http://127.0.0.1:17070/millrace" HIVE_PATH);
    ASSERT_STR_EQ(header(&r, "Host"), "127.0.0.1:17070");
    s3_request_free(&r);
}

static void build_put_virtual_hosted_url(void)
{
    s3_options o = virtual_hosted();
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(r.url,
                  "https://millrace.s3.us-east-1.amazonaws.com" HIVE_PATH);
    ASSERT_STR_EQ(header(&r, "Host"), "millrace.s3.us-east-1.amazonaws.com");
    s3_request_free(&r);
}

/* The server decodes the path it receives and signs it encoded again:
 * the URL must carry exactly the canonical URI. */
static void build_put_url_path_is_canonical_uri(void)
{
    static const char *const keys[] = {
        HIVE_KEY, "a b/c\xc3\xbc/\xe2\x82\xac.json", "x/../y//z/./w",
        "odd %2F ?#&;:@!$'()*,[]|\\^`{}\"<>", "~tilde-dot._"};
    s3_options o = path_style();
    char uri[2048];
    char err[256] = "";

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        store_object obj = {keys[i], "x", 1, NULL, NULL};
        s3_request r;
        const char *path;

        ASSERT_EQ(s3_build_put(&o, &obj, NOW, &r, err, sizeof(err)), 0);
        canonical_uri(&r, uri, sizeof(uri));
        path = r.url + strlen("http://127.0.0.1:17070");
        ASSERT_STR_EQ(path, uri);
        ASSERT(strpbrk(path, " ?#+=") == NULL);
        s3_request_free(&r);
    }
}

static void build_put_encodes_key_once(void)
{
    s3_options o = path_style();
    store_object obj = {"a b/\xc3\xbc%20.json", "x", 1, NULL, NULL};
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(s3_build_put(&o, &obj, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(r.url,
                  "http://127.0.0.1:17070/millrace/a%20b/%C3%BC%2520.json");
    s3_request_free(&r);
}

static void build_put_sends_every_header(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(header(&r, "Content-Type"), "application/x-ndjson");
    ASSERT_STR_EQ(header(&r, "Content-Encoding"), "gzip");
    ASSERT_STR_EQ(header(&r, "Content-Length"), "8");
    ASSERT_STR_EQ(header(&r, "Content-MD5"), "RYj/N5e3jYGdhY+jvdgrCQ==");
    ASSERT_STR_EQ(
        header(&r, "x-amz-content-sha256"),
        "e346432021b04179518d9614f3560ccd71354a4ee101ddcb893d6959a9d6301c");
    ASSERT_STR_EQ(header(&r, "X-Amz-Date"), "20261127T183000Z");
    ASSERT(header(&r, "X-Amz-Security-Token") == NULL);
    ASSERT_STR_EQ(header(&r, "Authorization"), r.sig.authorization);
    ASSERT_EQ(r.n_headers, 8);
    s3_request_free(&r);
}

/* Reference values from botocore's S3SigV4Auth for the same request. */
static void build_put_signature_matches_botocore(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(r.sig.signed_headers,
                  "content-encoding;content-length;content-md5;content-type;"
                  "host;x-amz-content-sha256;x-amz-date");
    ASSERT_STR_EQ(
        r.sig.signature,
        "c088feeb69ef2878b8cbf4b8e03e4254530bfe70b165928609d418df734fa0d2");
    ASSERT_STR_EQ(
        header(&r, "Authorization"),
        "AWS4-HMAC-SHA256 "
        "Credential=AKIAIOSFODNN7EXAMPLE/20261127/us-east-1/s3/aws4_request, "
        "SignedHeaders=content-encoding;content-length;content-md5;"
        "content-type;host;x-amz-content-sha256;x-amz-date, "
        "Signature="
        "c088feeb69ef2878b8cbf4b8e03e4254530bfe70b165928609d418df734fa0d2");
    s3_request_free(&r);
}

static void build_put_session_token_signed(void)
{
    s3_options o = virtual_hosted();
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(header(&r, "X-Amz-Security-Token"), "tok/en+=");
    ASSERT(strstr(r.sig.signed_headers, ";x-amz-security-token") != NULL);
    ASSERT_STR_EQ(
        r.sig.signature,
        "db7605ba754a3a03f076587590ab0a68c3cb24be18cf0b3e398f500de6fbccce");
    s3_request_free(&r);
}

static void build_put_stable_for_fixed_clock(void)
{
    s3_options o = path_style();
    s3_request a;
    s3_request b;
    s3_request c;
    char err[256] = "";

    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &a, err, sizeof(err)), 0);
    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &b, err, sizeof(err)), 0);
    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW + 1, &c, err, sizeof(err)), 0);
    ASSERT_STR_EQ(a.sig.authorization, b.sig.authorization);
    ASSERT(strcmp(a.sig.signature, c.sig.signature) != 0);
    s3_request_free(&a);
    s3_request_free(&b);
    s3_request_free(&c);
}

static void build_put_defaults_content_type(void)
{
    s3_options o = path_style();
    store_object obj = {"k", NULL, 0, NULL, NULL};
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(s3_build_put(&o, &obj, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(header(&r, "Content-Type"), "application/octet-stream");
    ASSERT(header(&r, "Content-Encoding") == NULL);
    ASSERT_STR_EQ(header(&r, "Content-Length"), "0");
    ASSERT_STR_EQ(header(&r, "Content-MD5"), "1B2M2Y8AsgTpgAmY7PhCfg==");
    s3_request_free(&r);
}

static void expect_bad_options(s3_options o, const char *why)
{
    s3_request r;
    char err[256] = "";
    store *st;

    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &r, err, sizeof(err)), -1);
    if (!strstr(err, why))
        TEST_FAIL_("error \"%s\" lacks \"%s\"", err, why);
    st = s3_store_new(&o, err, sizeof(err));
    ASSERT(st == NULL);
}

static void options_rejected(void)
{
    static const char *const endpoints[] = {
        "ftp://h",      "http://",    "http://h/base", "h:9000",
        "http://u:p@h", "http://h?x", "http:// h",     NULL,
    };
    s3_options o;

    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        o = path_style();
        o.endpoint = endpoints[i];
        expect_bad_options(o, "endpoint");
    }
    o = path_style();
    o.bucket = "a/b";
    expect_bad_options(o, "bucket");
    o.bucket = "";
    expect_bad_options(o, "bucket");
    o = path_style();
    o.secret_key = "";
    expect_bad_options(o, "secret key");
    o = path_style();
    o.request_timeout_ms = -1;
    expect_bad_options(o, "timeouts");
}

static void build_put_rejects_bad_objects(void)
{
    s3_options o = path_style();
    store_object objs[] = {
        {"", "x", 1, NULL, NULL},
        {NULL, "x", 1, NULL, NULL},
        {"/abs", "x", 1, NULL, NULL},
        {"k", NULL, 1, NULL, NULL},
        {"k", "x", 1, "text/plain\r\nX-Evil: 1", NULL},
        {"k", "x", 1, NULL, "gzip\n"},
    };
    char err[256];

    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
        s3_request r;

        err[0] = '\0';
        if (s3_build_put(&o, &objs[i], NOW, &r, err, sizeof(err)) != -1)
            TEST_FAIL_("object %zu accepted", i);
        ASSERT(err[0] != '\0');
        ASSERT(r.url == NULL);
    }
}

static void build_put_rejects_long_key(void)
{
    s3_options o = path_style();
    char key[1100];
    store_object obj = {key, "x", 1, NULL, NULL};
    s3_request r;
    char err[256] = "";

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    ASSERT_EQ(s3_build_put(&o, &obj, NOW, &r, err, sizeof(err)), -1);
    ASSERT(strstr(err, "longer") != NULL);
    key[1024] = '\0';
    ASSERT_EQ(s3_build_put(&o, &obj, NOW, &r, err, sizeof(err)), 0);
    s3_request_free(&r);
}

typedef struct classify_case {
    long status;
    const char *body;
    store_result want;
    const char *want_err; /* NULL: errbuf untouched */
} classify_case;

static const classify_case classify_cases[] = {
    {200, "", STORE_OK, NULL},
    {204, "", STORE_OK, NULL},
    {403,
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
     "SignatureDoesNotMatch</Code><Message>The request signature we "
     "calculated does not match the signature you provided.</Message>"
     "<RequestId>1</RequestId></Error>",
     STORE_PERMANENT,
     "HTTP 403 SignatureDoesNotMatch: The request signature we calculated "
     "does not match the signature you provided."},
    {404, "<Error><Code>NoSuchBucket</Code></Error>", STORE_PERMANENT,
     "HTTP 404 NoSuchBucket"},
    {403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>",
     STORE_PERMANENT, "HTTP 403 AccessDenied: Access Denied"},
    {301, "<Error><Code>PermanentRedirect</Code></Error>", STORE_PERMANENT,
     "HTTP 301 PermanentRedirect"},
    {503,
     "<Error><Code>SlowDown</Code><Message>Please reduce your request "
     "rate.</Message></Error>",
     STORE_THROTTLED, "HTTP 503 SlowDown: Please reduce your request rate."},
    {500, "", STORE_RETRY, "HTTP 500"},
    {502, "<html>bad gateway</html>", STORE_RETRY, "HTTP 502"},
    {429, "", STORE_THROTTLED, "HTTP 429"},
    {503, "", STORE_THROTTLED, "HTTP 503"},
    {503, "<Error><Code>ServiceUnavailable</Code></Error>", STORE_THROTTLED,
     "HTTP 503 ServiceUnavailable"},
    {400, "<Error><Code>TooManyRequests</Code></Error>", STORE_THROTTLED,
     "HTTP 400 TooManyRequests"},
    {403, "<Error><Code>RequestLimitExceeded</Code></Error>", STORE_THROTTLED,
     "HTTP 403 RequestLimitExceeded"},
    {400, "<Error><Code>ThrottlingException</Code></Error>", STORE_THROTTLED,
     "HTTP 400 ThrottlingException"},
    {504, "", STORE_RETRY, "HTTP 504"},
    {408, "", STORE_RETRY, "HTTP 408"},
    {400, "<Error><Code>XAmzContentSHA256Mismatch</Code></Error>", STORE_RETRY,
     "HTTP 400 XAmzContentSHA256Mismatch"},
    {403, "<Error><Code>RequestTimeTooSkewed</Code></Error>", STORE_RETRY,
     "HTTP 403 RequestTimeTooSkewed"},
    {500, "<Error><Code>InternalError</Code></Error>", STORE_RETRY,
     "HTTP 500 InternalError"},
    {501, "<Error><Code>NotImplemented</Code></Error>", STORE_PERMANENT,
     "HTTP 501 NotImplemented"},
    {404, "<Error><Code>NoSuchUpload</Code></Error>", STORE_PERMANENT,
     "HTTP 404 NoSuchUpload"},
    {400, "<Error><Code>InvalidToken</Code></Error>", STORE_PERMANENT,
     "HTTP 400 InvalidToken"},
    {400, "<Error><Code>EntityTooSmall</Code></Error>", STORE_PERMANENT,
     "HTTP 400 EntityTooSmall"},
    {400, "<Error><Code>RequestTimeout</Code></Error>", STORE_RETRY,
     "HTTP 400 RequestTimeout"},
    {400, "<Error><Code>BadDigest</Code></Error>", STORE_RETRY,
     "HTTP 400 BadDigest"},
    {400, "<Error><Code>InvalidArgument</Code></Error>", STORE_PERMANENT,
     "HTTP 400 InvalidArgument"},
    {400,
     "<Error><Code>X</Code><Message>&quot;a&amp;b&quot;\n&lt;c&gt; "
     "&apos;d&apos;</Message></Error>",
     STORE_PERMANENT, "HTTP 400 X: \"a&b\" <c> 'd'"},
    {400,
     "<Error><Code>X</Code><Message>&#34;a&#39;&#xA;&#x20AC; &bogus; &#0; "
     "&</Message></Error>",
     STORE_PERMANENT, "HTTP 400 X: \"a' \xe2\x82\xac &bogus; &#0; &"},
    {400, "<Error><Code>Unterminated", STORE_PERMANENT, "HTTP 400"},
};

static void classify_maps_responses(void)
{
    for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]);
         i++) {
        const classify_case *c = &classify_cases[i];
        char err[256] = "untouched";

        ASSERT_EQ(
            s3_classify(c->status, c->body, strlen(c->body), err, sizeof(err)),
            c->want);
        ASSERT_STR_EQ(err, c->want_err ? c->want_err : "untouched");
    }
}

/* The body need not end in NUL: only len bytes are looked at. */
static void classify_reads_only_len_bytes(void)
{
    const char body[] = "<Error><Code>SlowDown</Code></Error>";
    char err[256] = "";

    ASSERT_EQ(s3_classify(503, body, 20, err, sizeof(err)), STORE_THROTTLED);
    ASSERT_STR_EQ(err, "HTTP 503");
    ASSERT_EQ(s3_classify(500, NULL, 0, err, sizeof(err)), STORE_RETRY);
}

static void store_new_and_destroy(void)
{
    s3_options o = virtual_hosted();
    char err[256] = "";
    store *st = s3_store_new(&o, err, sizeof(err));

    ASSERT(st != NULL);
    ASSERT_STR_EQ(store_name(st), "s3");
    store_destroy(st);
    store_destroy(NULL);
}

/* Port 1 on loopback refuses at once: a transport error, worth a retry. */
static void put_unreachable_server_is_retry(void)
{
    s3_options o = path_style();
    char err[256] = "";
    store *st;

    o.endpoint = "http://127.0.0.1:1";
    o.connect_timeout_ms = 2000;
    st = s3_store_new(&o, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(store_put(st, &hive_object, err, sizeof(err)), STORE_RETRY);
    ASSERT(strstr(err, "PutObject: curl: ") == err);
    store_destroy(st);
}

static void put_rejects_bad_key_without_network(void)
{
    s3_options o = path_style();
    store_object obj = {"/abs", "x", 1, NULL, NULL};
    char err[256] = "";
    store *st;

    o.endpoint = "http://127.0.0.1:1";
    st = s3_store_new(&o, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(store_put(st, &obj, err, sizeof(err)), STORE_PERMANENT);
    ASSERT(strstr(err, "PutObject: s3: object key") == err);
    store_destroy(st);
}

/* --- encryption and storage class options ---------------------------- */

static s3_options encrypted(void)
{
    s3_options o = path_style();

    o.sse = "aws:kms";
    o.sse_kms_key_id = "arn:aws:kms:us-east-1:111122223333:key/k-1";
    o.storage_class = "STANDARD_IA";
    return o;
}

static void build_put_sends_sse_and_storage_class(void)
{
    s3_options o = encrypted();
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(header(&r, "x-amz-server-side-encryption"), "aws:kms");
    ASSERT_STR_EQ(header(&r, "x-amz-server-side-encryption-aws-kms-key-id"),
                  "arn:aws:kms:us-east-1:111122223333:key/k-1");
    ASSERT_STR_EQ(header(&r, "x-amz-storage-class"), "STANDARD_IA");
    ASSERT_STR_EQ(r.sig.signed_headers,
                  "content-encoding;content-length;content-md5;content-type;"
                  "host;x-amz-content-sha256;x-amz-date;"
                  "x-amz-server-side-encryption;"
                  "x-amz-server-side-encryption-aws-kms-key-id;"
                  "x-amz-storage-class");
    ASSERT_EQ(r.n_headers, 11);
    s3_request_free(&r);
}

static void build_put_sends_aes256_alone(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";

    o.sse = "AES256";
    o.storage_class = "";
    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(header(&r, "x-amz-server-side-encryption"), "AES256");
    ASSERT(header(&r, "x-amz-server-side-encryption-aws-kms-key-id") == NULL);
    ASSERT(header(&r, "x-amz-storage-class") == NULL);
    s3_request_free(&r);
}

static void options_rejected_encryption(void)
{
    s3_options o = path_style();

    o.sse = "aes256";
    expect_bad_options(o, "sse \"aes256\"");
    o.sse = "aws:kms:dsse";
    expect_bad_options(o, "sse");
    o.sse = "AES256";
    o.sse_kms_key_id = "k";
    expect_bad_options(o, "sse_kms_key_id needs sse aws:kms");
    o.sse = "aws:kms";
    o.sse_kms_key_id = "k 1";
    expect_bad_options(o, "sse_kms_key_id");
    o = path_style();
    o.storage_class = "STANDARD IA";
    expect_bad_options(o, "storage class");
    o.storage_class = "GLACIER\r\nX: 1";
    expect_bad_options(o, "storage class");
}

static void store_new_accepts_encryption(void)
{
    s3_options o = encrypted();
    char err[256] = "";
    store *st = s3_store_new(&o, err, sizeof(err));

    ASSERT(st != NULL);
    store_destroy(st);
    o.sse_kms_key_id = NULL; /* the account's default key */
    st = s3_store_new(&o, err, sizeof(err));
    ASSERT(st != NULL);
    store_destroy(st);
}

/* --- multipart requests ------------------------------------------------ */

#define UPLOAD_ID "2~iCw/+b=z"
#define UPLOAD_ID_ENC "2~iCw%2F%2Bb%3Dz"

/* Line n (0-based) of the canonical request. */
static void canonical_line(const s3_request *r, int n, char *out, size_t len)
{
    const char *s = r->sig.canonical_request;

    for (int i = 0; i < n; i++)
        s = strchr(s, '\n') + 1;
    snprintf(out, len, "%.*s", (int)strcspn(s, "\n"), s);
}

static void build_mpu_begin_request(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";
    char line[512];

    ASSERT_EQ(s3_build_mpu_begin(&o, &hive_object, NOW, &r, err, sizeof(err)),
              0);
    ASSERT_STR_EQ(r.method, "POST");
    ASSERT_STR_EQ(r.url,
                  "http://127.0.0.1:17070/millrace" HIVE_PATH "?uploads");
    canonical_line(&r, 0, line, sizeof(line));
    ASSERT_STR_EQ(line, "POST");
    canonical_line(&r, 1, line, sizeof(line));
    ASSERT_STR_EQ(line, "/millrace" HIVE_PATH);
    ASSERT_STR_EQ(header(&r, "Content-Type"), "application/x-ndjson");
    ASSERT_STR_EQ(header(&r, "Content-Encoding"), "gzip");
    ASSERT_STR_EQ(header(&r, "Content-Length"), "0");
    ASSERT(header(&r, "Content-MD5") == NULL);
    ASSERT_STR_EQ(
        header(&r, "x-amz-content-sha256"),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ASSERT(r.body == NULL);
    s3_request_free(&r);
}

/* A bare "uploads" is signed as "uploads=", as S3 canonicalizes it. */
static void build_mpu_begin_signs_bare_uploads(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";
    char line[512];

    ASSERT_EQ(s3_build_mpu_begin(&o, &hive_object, NOW, &r, err, sizeof(err)),
              0);
    canonical_line(&r, 2, line, sizeof(line));
    ASSERT_STR_EQ(line, "uploads=");
    s3_request_free(&r);
}

static void build_mpu_begin_sends_sse_and_storage_class(void)
{
    s3_options o = encrypted();
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(s3_build_mpu_begin(&o, &hive_object, NOW, &r, err, sizeof(err)),
              0);
    ASSERT_STR_EQ(header(&r, "x-amz-server-side-encryption"), "aws:kms");
    ASSERT_STR_EQ(header(&r, "x-amz-server-side-encryption-aws-kms-key-id"),
                  "arn:aws:kms:us-east-1:111122223333:key/k-1");
    ASSERT_STR_EQ(header(&r, "x-amz-storage-class"), "STANDARD_IA");
    ASSERT(strstr(r.sig.signed_headers, ";x-amz-server-side-encryption;"
                                        "x-amz-server-side-encryption-aws-kms-"
                                        "key-id;x-amz-storage-class") != NULL);
    s3_request_free(&r);
}

static void build_mpu_part_request(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";
    char line[512];

    ASSERT_EQ(s3_build_mpu_part(&o, "a b/k", UPLOAD_ID, 3, BODY,
                                sizeof(BODY) - 1, NOW, &r, err, sizeof(err)),
              0);
    ASSERT_STR_EQ(r.method, "PUT");
    ASSERT_STR_EQ(r.url, "http://127.0.0.1:17070/millrace/a%20b/k"
                         "?partNumber=3&uploadId=" UPLOAD_ID_ENC);
    canonical_line(&r, 2, line, sizeof(line));
    ASSERT_STR_EQ(line, "partNumber=3&uploadId=" UPLOAD_ID_ENC);
    ASSERT_STR_EQ(header(&r, "Content-Length"), "8");
    ASSERT_STR_EQ(header(&r, "Content-MD5"), "RYj/N5e3jYGdhY+jvdgrCQ==");
    ASSERT_STR_EQ(
        header(&r, "x-amz-content-sha256"),
        "e346432021b04179518d9614f3560ccd71354a4ee101ddcb893d6959a9d6301c");
    ASSERT_STR_EQ(r.sig.signed_headers, "content-length;content-md5;host;"
                                        "x-amz-content-sha256;x-amz-date");
    s3_request_free(&r);
}

/* The object's encryption and class are set once, at the begin. */
static void build_mpu_part_omits_object_headers(void)
{
    s3_options o = encrypted();
    s3_request r;
    char err[256] = "";

    ASSERT_EQ(
        s3_build_mpu_part(&o, "k", "u", 1, "x", 1, NOW, &r, err, sizeof(err)),
        0);
    ASSERT(header(&r, "x-amz-server-side-encryption") == NULL);
    ASSERT(header(&r, "x-amz-server-side-encryption-aws-kms-key-id") == NULL);
    ASSERT(header(&r, "x-amz-storage-class") == NULL);
    ASSERT(header(&r, "Content-Type") == NULL);
    s3_request_free(&r);
}

static void build_mpu_part_rejects_bad_arguments(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256];

    ASSERT_EQ(
        s3_build_mpu_part(&o, "k", "u", 0, "x", 1, NOW, &r, err, sizeof(err)),
        -1);
    ASSERT(strstr(err, "part number 0") != NULL);
    ASSERT_EQ(s3_build_mpu_part(&o, "k", "u", 10001, "x", 1, NOW, &r, err,
                                sizeof(err)),
              -1);
    ASSERT_EQ(
        s3_build_mpu_part(&o, "k", "", 1, "x", 1, NOW, &r, err, sizeof(err)),
        -1);
    ASSERT(strstr(err, "upload id") != NULL);
    ASSERT_EQ(
        s3_build_mpu_part(&o, "/k", "u", 1, "x", 1, NOW, &r, err, sizeof(err)),
        -1);
    ASSERT_EQ(
        s3_build_mpu_part(&o, "k", "u", 1, NULL, 1, NOW, &r, err, sizeof(err)),
        -1);
    ASSERT(r.url == NULL);
    ASSERT_EQ(s3_build_mpu_part(&o, "k", "u", 10000, NULL, 0, NOW, &r, err,
                                sizeof(err)),
              0);
    s3_request_free(&r);
}

static void build_mpu_complete_request(void)
{
    static const char *const etags[] = {"\"a1\"", "\"b&<2>\""};
    static const char want[] =
        "<CompleteMultipartUpload "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Part><PartNumber>1</PartNumber><ETag>\"a1\"</ETag></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>\"b&amp;&lt;2&gt;\"</ETag>"
        "</Part></CompleteMultipartUpload>";
    s3_options o = encrypted();
    s3_request r;
    char err[256] = "";
    char sha[65];
    char len[16];

    ASSERT_EQ(s3_build_mpu_complete(&o, "k", UPLOAD_ID, etags, 2, NOW, &r, err,
                                    sizeof(err)),
              0);
    ASSERT_STR_EQ(r.method, "POST");
    ASSERT_STR_EQ(r.url,
                  "http://127.0.0.1:17070/millrace/k?uploadId=" UPLOAD_ID_ENC);
    ASSERT_EQ(r.body_len, strlen(want));
    ASSERT_STR_EQ(r.body, want);
    ASSERT_EQ(sigv4_sha256_hex(want, strlen(want), sha), 0);
    ASSERT_STR_EQ(header(&r, "x-amz-content-sha256"), sha);
    snprintf(len, sizeof(len), "%zu", strlen(want));
    ASSERT_STR_EQ(header(&r, "Content-Length"), len);
    ASSERT_STR_EQ(header(&r, "Content-Type"), "application/xml");
    ASSERT(header(&r, "x-amz-server-side-encryption") == NULL);
    ASSERT(header(&r, "x-amz-storage-class") == NULL);
    s3_request_free(&r);
}

static void build_mpu_complete_rejects_bad_etags(void)
{
    static const char *const bad[] = {"\"a\"", "\"b\nc\""};
    static const char *const missing[] = {"\"a\"", NULL};
    s3_options o = path_style();
    s3_request r;
    char err[256];

    ASSERT_EQ(
        s3_build_mpu_complete(&o, "k", "u", bad, 0, NOW, &r, err, sizeof(err)),
        -1);
    ASSERT(strstr(err, "0 parts") != NULL);
    ASSERT_EQ(
        s3_build_mpu_complete(&o, "k", "u", bad, 2, NOW, &r, err, sizeof(err)),
        -1);
    ASSERT(strstr(err, "part 2") != NULL);
    ASSERT_EQ(s3_build_mpu_complete(&o, "k", "u", missing, 2, NOW, &r, err,
                                    sizeof(err)),
              -1);
    ASSERT(r.body == NULL);
}

static void build_mpu_abort_request(void)
{
    s3_options o = virtual_hosted();
    s3_request r;
    char err[256] = "";
    char line[512];

    ASSERT_EQ(
        s3_build_mpu_abort(&o, "k/x=1", UPLOAD_ID, NOW, &r, err, sizeof(err)),
        0);
    ASSERT_STR_EQ(r.method, "DELETE");
    ASSERT_STR_EQ(r.url, "https://millrace.s3.us-east-1.amazonaws.com/k/x%3D1"
                         "?uploadId=" UPLOAD_ID_ENC);
    canonical_line(&r, 0, line, sizeof(line));
    ASSERT_STR_EQ(line, "DELETE");
    ASSERT(header(&r, "Content-Length") == NULL);
    ASSERT(header(&r, "Content-MD5") == NULL);
    s3_request_free(&r);
}

static void build_mpu_list_request(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";
    char line[512];

    ASSERT_EQ(s3_build_mpu_list(&o, "s3test/a b", NULL, "", NOW, &r, err,
                                sizeof(err)),
              0);
    ASSERT_STR_EQ(r.method, "GET");
    ASSERT_STR_EQ(r.url, "http://127.0.0.1:17070/millrace"
                         "?uploads&prefix=s3test%2Fa%20b&max-uploads=1000");
    canonical_line(&r, 1, line, sizeof(line));
    ASSERT_STR_EQ(line, "/millrace");
    canonical_line(&r, 2, line, sizeof(line));
    ASSERT_STR_EQ(line, "max-uploads=1000&prefix=s3test%2Fa%20b&uploads=");
    ASSERT(header(&r, "Content-Length") == NULL);
    s3_request_free(&r);
}

static void build_mpu_list_continues_from_markers(void)
{
    s3_options o = virtual_hosted();
    s3_request r;
    char err[256] = "";
    char line[512];

    ASSERT_EQ(s3_build_mpu_list(&o, NULL, "p/a&b", UPLOAD_ID, NOW, &r, err,
                                sizeof(err)),
              0);
    ASSERT_STR_EQ(
        r.url, "https://millrace.s3.us-east-1.amazonaws.com/"
               "?uploads&key-marker=p%2Fa%26b&upload-id-marker=" UPLOAD_ID_ENC
               "&max-uploads=1000");
    canonical_line(&r, 1, line, sizeof(line));
    ASSERT_STR_EQ(line, "/");
    canonical_line(&r, 2, line, sizeof(line));
    ASSERT_STR_EQ(line, "key-marker=p%2Fa%26b&max-uploads=1000&"
                        "upload-id-marker=" UPLOAD_ID_ENC "&uploads=");
    s3_request_free(&r);
}

/* Every operation carries the session token, signed. */
static void build_mpu_all_send_session_token(void)
{
    static const char *const etags[] = {"\"e\""};
    s3_options o = virtual_hosted();
    s3_request r[5];
    char err[256] = "";

    ASSERT_EQ(
        s3_build_mpu_begin(&o, &hive_object, NOW, &r[0], err, sizeof(err)), 0);
    ASSERT_EQ(s3_build_mpu_part(&o, "k", "u", 1, "x", 1, NOW, &r[1], err,
                                sizeof(err)),
              0);
    ASSERT_EQ(s3_build_mpu_complete(&o, "k", "u", etags, 1, NOW, &r[2], err,
                                    sizeof(err)),
              0);
    ASSERT_EQ(s3_build_mpu_abort(&o, "k", "u", NOW, &r[3], err, sizeof(err)),
              0);
    ASSERT_EQ(
        s3_build_mpu_list(&o, "p", NULL, NULL, NOW, &r[4], err, sizeof(err)),
        0);
    for (int i = 0; i < 5; i++) {
        ASSERT_STR_EQ(header(&r[i], "X-Amz-Security-Token"), "tok/en+=");
        ASSERT(strstr(r[i].sig.signed_headers, ";x-amz-security-token"));
        s3_request_free(&r[i]);
    }
}

/* --- listing objects ---------------------------------------------------- */

#define LIST_PREFIX "s3test/a b/x=1+2"
#define LIST_PREFIX_ENC "s3test%2Fa%20b%2Fx%3D1%2B2"
#define LIST_TOKEN "1ueG/xLP+Rx=="
#define LIST_TOKEN_ENC "1ueG%2FxLP%2BRx%3D%3D"

/* Reference signature from botocore's S3SigV4Auth for the same request. */
static void build_list_request(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";
    char line[512];

    ASSERT_EQ(s3_build_list(&o, LIST_PREFIX, LIST_PREFIX "/k", NULL, NOW, &r,
                            err, sizeof(err)),
              0);
    ASSERT_STR_EQ(r.method, "GET");
    ASSERT_STR_EQ(r.url, "http://127.0.0.1:17070/millrace?list-type=2"
                         "&prefix=" LIST_PREFIX_ENC
                         "&start-after=" LIST_PREFIX_ENC "%2Fk&max-keys=1000");
    canonical_line(&r, 1, line, sizeof(line));
    ASSERT_STR_EQ(line, "/millrace");
    canonical_line(&r, 2, line, sizeof(line));
    ASSERT_STR_EQ(line, "list-type=2&max-keys=1000&prefix=" LIST_PREFIX_ENC
                        "&start-after=" LIST_PREFIX_ENC "%2Fk");
    ASSERT(header(&r, "Content-Length") == NULL);
    ASSERT_STR_EQ(r.sig.signed_headers, "host;x-amz-content-sha256;x-amz-date");
    ASSERT_STR_EQ(
        r.sig.signature,
        "b75e89c99f147176cebfb06af9c8c21fbe306c4965931eda3885f1c326b8dba8");
    s3_request_free(&r);
}

/* Virtual-hosted: the bucket is in the host and the path is "/". */
static void build_list_continues_from_token(void)
{
    s3_options o = virtual_hosted();
    s3_request r;
    char err[256] = "";
    char line[512];

    ASSERT_EQ(
        s3_build_list(&o, "p/", "", LIST_TOKEN, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(r.url,
                  "https://millrace.s3.us-east-1.amazonaws.com/"
                  "?list-type=2&prefix=p%2F"
                  "&continuation-token=" LIST_TOKEN_ENC "&max-keys=1000");
    ASSERT_STR_EQ(header(&r, "Host"), "millrace.s3.us-east-1.amazonaws.com");
    canonical_line(&r, 1, line, sizeof(line));
    ASSERT_STR_EQ(line, "/");
    canonical_line(&r, 2, line, sizeof(line));
    ASSERT_STR_EQ(line, "continuation-token=" LIST_TOKEN_ENC
                        "&list-type=2&max-keys=1000&prefix=p%2F");
    ASSERT_STR_EQ(header(&r, "X-Amz-Security-Token"), "tok/en+=");
    ASSERT_STR_EQ(
        r.sig.signature,
        "bdbbab9a8acb54f58099ad7eb1182473bc877b2d93bf92ad49b685016f32691b");
    s3_request_free(&r);
}

static void build_list_leaves_out_empty_parameters(void)
{
    s3_options o = path_style();
    s3_request r;
    char err[256] = "";
    char line[512];

    ASSERT_EQ(s3_build_list(&o, NULL, "", NULL, NOW, &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(r.url,
                  "http://127.0.0.1:17070/millrace?list-type=2&max-keys=1000");
    canonical_line(&r, 2, line, sizeof(line));
    ASSERT_STR_EQ(line, "list-type=2&max-keys=1000");
    s3_request_free(&r);
}

static void build_list_rejects_long_arguments(void)
{
    static char key[S3_MAX_KEY + 2];
    static char token[S3_MAX_TOKEN + 2];
    s3_options o = path_style();
    s3_request r;
    char err[256];

    memset(key, 'k', S3_MAX_KEY + 1);
    memset(token, 't', S3_MAX_TOKEN + 1);
    ASSERT_EQ(s3_build_list(&o, key, NULL, NULL, NOW, &r, err, sizeof(err)),
              -1);
    ASSERT(strstr(err, "too long") != NULL);
    ASSERT_EQ(s3_build_list(&o, NULL, key, NULL, NOW, &r, err, sizeof(err)),
              -1);
    ASSERT_EQ(s3_build_list(&o, NULL, NULL, token, NOW, &r, err, sizeof(err)),
              -1);
    ASSERT(r.url == NULL);
    key[S3_MAX_KEY] = '\0';
    token[S3_MAX_TOKEN] = '\0';
    ASSERT_EQ(s3_build_list(&o, key, key, token, NOW, &r, err, sizeof(err)), 0);
    s3_request_free(&r);
}

/* --- reading answers ---------------------------------------------------- */

static int parse_id(const char *body, char *id, size_t idlen)
{
    return s3_parse_upload_id(body, body ? strlen(body) : 0, id, idlen);
}

static void parse_upload_id_cases(void)
{
    char id[8];

    ASSERT_EQ(parse_id("<InitiateMultipartUploadResult><Key>k</Key>"
                       "<UploadId>a&amp;b&#x2F;c</UploadId>",
                       id, sizeof(id)),
              0);
    ASSERT_STR_EQ(id, "a&b/c");
    ASSERT_EQ(parse_id("<UploadId>1234567</UploadId>", id, sizeof(id)), 0);
    ASSERT_STR_EQ(id, "1234567");
    ASSERT_EQ(parse_id("<UploadId>12345678</UploadId>", id, sizeof(id)), -2);
    ASSERT_EQ(parse_id("<UploadId></UploadId>", id, sizeof(id)), -1);
    ASSERT_EQ(parse_id("<UploadId>a&bogus;</UploadId>", id, sizeof(id)), -1);
    ASSERT_EQ(parse_id("<UploadId>abc", id, sizeof(id)), -1);
    ASSERT_EQ(parse_id("<Error><Code>X</Code></Error>", id, sizeof(id)), -1);
    ASSERT_EQ(parse_id(NULL, id, sizeof(id)), -1);
}

typedef struct seen {
    char text[1024];
    int n;
} seen;

static void collect(const char *key, const char *upload_id, void *arg)
{
    seen *s = arg;
    size_t o = strlen(s->text);

    snprintf(s->text + o, sizeof(s->text) - o, "[%s|%s]", key, upload_id);
    s->n++;
}

#define PAGE_HEAD                                                              \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult " \
    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>millrace"       \
    "</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
#define PAGE_TAIL "</ListMultipartUploadsResult>"
#define UPLOAD(k, id)                                                          \
    "<Upload><Initiated>2026-11-27T18:37:14Z</Initiated><Key>" k "</Key>"      \
    "<UploadId>" id "</UploadId><Initiator><ID></ID></Initiator>"              \
    "<StorageClass>STANDARD</StorageClass></Upload>"

static void parse_uploads_truncated_page(void)
{
    static const char body[] = PAGE_HEAD
        "<NextKeyMarker>s3test/a&amp;b</NextKeyMarker>"
        "<NextUploadIdMarker>u-2</NextUploadIdMarker>"
        "<Prefix>s3test/</Prefix><MaxUploads>2</MaxUploads>"
        "<IsTruncated>true</IsTruncated>" UPLOAD("s3test/&#34;q&#39; &lt;x&gt;",
                                                 "u-1")
            UPLOAD("s3test/a&amp;b", "u-2") PAGE_TAIL;
    s3_upload_page page;
    seen s = {"", 0};

    ASSERT_EQ(s3_parse_uploads(body, sizeof(body) - 1, collect, &s, &page), 2);
    ASSERT_STR_EQ(s.text, "[s3test/\"q' <x>|u-1][s3test/a&b|u-2]");
    ASSERT_EQ(page.truncated, 1);
    ASSERT_STR_EQ(page.next_key_marker, "s3test/a&b");
    ASSERT_STR_EQ(page.next_upload_id_marker, "u-2");
}

static void parse_uploads_last_page(void)
{
    static const char body[] =
        PAGE_HEAD "<NextKeyMarker></NextKeyMarker><NextUploadIdMarker>"
                  "</NextUploadIdMarker><IsTruncated>false</IsTruncated>"
                  "<Upload><Key>k\xc3\xbc&#x20AC;</Key><UploadId>u</UploadId>"
                  "</Upload>" PAGE_TAIL;
    s3_upload_page page;
    seen s = {"", 0};

    ASSERT_EQ(s3_parse_uploads(body, sizeof(body) - 1, collect, &s, &page), 1);
    ASSERT_STR_EQ(s.text, "[k\xc3\xbc\xe2\x82\xac|u]");
    ASSERT_EQ(page.truncated, 0);
    ASSERT_STR_EQ(page.next_key_marker, "");
}

static void parse_uploads_empty_page(void)
{
    static const char body[] =
        PAGE_HEAD "<IsTruncated>false</IsTruncated>" PAGE_TAIL;
    s3_upload_page page;
    seen s = {"", 0};

    ASSERT_EQ(s3_parse_uploads(body, sizeof(body) - 1, collect, &s, &page), 0);
    ASSERT_EQ(s.n, 0);
}

/* A page is taken whole or not at all: fn sees nothing of a bad one. */
static void parse_uploads_rejects_bad_pages(void)
{
    static const char *const bodies[] = {
        PAGE_HEAD UPLOAD("a", "1") "<Upload><Key>b</Key></Upload>" PAGE_TAIL,
        PAGE_HEAD UPLOAD("a", "1") UPLOAD("b&nbsp;", "2") PAGE_TAIL,
        PAGE_HEAD UPLOAD("a", "1") UPLOAD("b&#0;", "2") PAGE_TAIL,
        PAGE_HEAD UPLOAD("a", "1") UPLOAD("", "2") PAGE_TAIL,
        PAGE_HEAD UPLOAD("a", "1") "<Upload><Key>b</Key>" PAGE_TAIL,
        PAGE_HEAD UPLOAD("a", "1"), /* cut short */
        "<Error><Code>AccessDenied</Code></Error>",
        "",
    };
    s3_upload_page page;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        seen s = {"", 0};

        if (s3_parse_uploads(bodies[i], strlen(bodies[i]), collect, &s,
                             &page) != -1)
            TEST_FAIL_("page %zu accepted", i);
        ASSERT_EQ(s.n, 0);
    }
}

static void parse_uploads_key_of_max_length(void)
{
    char key[S3_MAX_KEY * 5 + 2];
    char body[sizeof(key) + 512];
    s3_upload_page page;
    int n;

    /* 1024 '&', each escaped: 5120 bytes of XML for a 1024-byte key. */
    for (int i = 0; i < S3_MAX_KEY; i++)
        memcpy(key + 5 * i, "&amp;", 5);
    key[S3_MAX_KEY * 5] = '\0';
    n = snprintf(body, sizeof(body), PAGE_HEAD UPLOAD("%s", "u") PAGE_TAIL,
                 key);
    ASSERT_EQ(s3_parse_uploads(body, (size_t)n, NULL, NULL, &page), 1);
    memcpy(key + 5 * S3_MAX_KEY, "a", 2); /* one byte too many */
    n = snprintf(body, sizeof(body), PAGE_HEAD UPLOAD("%s", "u") PAGE_TAIL,
                 key);
    ASSERT_EQ(s3_parse_uploads(body, (size_t)n, NULL, NULL, &page), -1);
}

typedef struct listed {
    char text[1024];
    int n;
    int stop_after; /* 0: never stop */
} listed;

static int collect_object(const char *key, size_t size, void *arg)
{
    listed *l = arg;
    size_t o = strlen(l->text);

    snprintf(l->text + o, sizeof(l->text) - o, "[%s|%zu]", key, size);
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

/* As versitygw writes them: the token is the last key, escaped. */
#define LIST_HEAD                                                              \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "           \
    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>millrace</Name>"  \
    "<Prefix>p/</Prefix>"
#define LIST_TAIL "<EncodingType></EncodingType></ListBucketResult>"
#define OBJECT(k, size)                                                        \
    "<Contents><LastModified>2026-11-27T18:56:26Z</LastModified>"              \
    "<ETag>&#34;aa23da01eff8cabfb6c524ff9596742d&#34;</ETag><Key>" k "</Key>"  \
    "<Size>" size "</Size><StorageClass>STANDARD</StorageClass></Contents>"

static void parse_list_truncated_page(void)
{
    static const char body[] = LIST_HEAD
        "<NextContinuationToken>p/a&amp;b&lt;c&gt;&#34;d&#39;"
        "</NextContinuationToken><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
        "<IsTruncated>true</IsTruncated>" OBJECT("p/A", "3")
            OBJECT("p/a b", "0")
                OBJECT("p/a&amp;b&lt;c&gt;&#34;d&#39;", "18446744073709551615")
                    LIST_TAIL;
    s3_object_page page;
    listed l = {"", 0, 0};

    ASSERT_EQ(s3_parse_list(body, sizeof(body) - 1, collect_object, &l, &page),
              3);
    ASSERT_STR_EQ(l.text,
                  "[p/A|3][p/a b|0][p/a&b<c>\"d'|18446744073709551615]");
    ASSERT_EQ(page.truncated, 1);
    ASSERT_EQ(page.stopped, 0);
    ASSERT_STR_EQ(page.next_token, "p/a&b<c>\"d'");
}

/* As AWS writes them: an opaque token, named entities, an Owner. */
static void parse_list_last_page(void)
{
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>"
        "millrace</Name><Prefix>p/</Prefix><ContinuationToken>1ueG/xLP+Rx=="
        "</ContinuationToken><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>"
        "<IsTruncated>false</IsTruncated><Contents><Key>p/k\xc3\xbc&#x20AC;"
        "</Key><LastModified>2026-11-27T18:30:00.000Z</LastModified><ETag>"
        "&quot;e&quot;</ETag><Size>42</Size><Owner><ID>o</ID></Owner>"
        "<StorageClass>STANDARD</StorageClass></Contents><Contents><Key>"
        "p/&apos;q&apos;</Key><Size>7</Size></Contents></ListBucketResult>";
    s3_object_page page;
    listed l = {"", 0, 0};

    ASSERT_EQ(s3_parse_list(body, sizeof(body) - 1, collect_object, &l, &page),
              2);
    ASSERT_STR_EQ(l.text, "[p/k\xc3\xbc\xe2\x82\xac|42][p/'q'|7]");
    ASSERT_EQ(page.truncated, 0);
    ASSERT_STR_EQ(page.next_token, "");
}

static void parse_list_empty_result(void)
{
    static const char body[] =
        LIST_HEAD "<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
                  "<IsTruncated>false</IsTruncated>" LIST_TAIL;
    s3_object_page page;
    listed l = {"", 0, 0};

    ASSERT_EQ(s3_parse_list(body, sizeof(body) - 1, collect_object, &l, &page),
              0);
    ASSERT_EQ(l.n, 0);
    ASSERT_EQ(page.truncated, 0);
    ASSERT_EQ(page.stopped, 0);
}

static void parse_list_stops_when_fn_asks(void)
{
    static const char body[] =
        LIST_HEAD "<NextContinuationToken>p/c</NextContinuationToken>"
                  "<IsTruncated>true</IsTruncated>" OBJECT("p/a", "1")
                      OBJECT("p/b", "2") OBJECT("p/c", "3") LIST_TAIL;
    s3_object_page page;
    listed l = {"", 0, 2};

    ASSERT_EQ(s3_parse_list(body, sizeof(body) - 1, collect_object, &l, &page),
              3);
    ASSERT_STR_EQ(l.text, "[p/a|1][p/b|2]");
    ASSERT_EQ(page.stopped, 1);
    ASSERT_EQ(page.truncated, 1);
}

/* A page is taken whole or not at all: fn sees nothing of a bad one. */
static void parse_list_rejects_bad_pages(void)
{
    static const char *const bodies[] = {
        LIST_HEAD OBJECT("a",
                         "1") "<Contents><Key>b</Key></Contents>" LIST_TAIL,
        LIST_HEAD OBJECT("a",
                         "1") "<Contents><Size>1</Size></Contents>" LIST_TAIL,
        LIST_HEAD OBJECT("a", "1") OBJECT("", "1") LIST_TAIL,
        LIST_HEAD OBJECT("a", "1") OBJECT("b&nbsp;", "1") LIST_TAIL,
        LIST_HEAD OBJECT("a", "1") OBJECT("b&#0;", "1") LIST_TAIL,
        LIST_HEAD OBJECT("a", "1") OBJECT("b", "") LIST_TAIL,
        LIST_HEAD OBJECT("a", "1") OBJECT("b", "-1") LIST_TAIL,
        LIST_HEAD OBJECT("a", "1") OBJECT("b", "1.5") LIST_TAIL,
        LIST_HEAD OBJECT("a", "1") OBJECT("b", "18446744073709551616")
            LIST_TAIL,
        LIST_HEAD OBJECT("a", "1") "<Contents><Key>b</Key>" LIST_TAIL,
        LIST_HEAD
        "<NextContinuationToken>a&bogus;</NextContinuationToken>" LIST_TAIL,
        LIST_HEAD OBJECT("a", "1"), /* cut short */
        "<Error><Code>AccessDenied</Code></Error>",
        "",
    };
    s3_object_page page;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        listed l = {"", 0, 0};

        if (s3_parse_list(bodies[i], strlen(bodies[i]), collect_object, &l,
                          &page) != -1)
            TEST_FAIL_("page %zu accepted", i);
        ASSERT_EQ(l.n, 0);
    }
    ASSERT_EQ(s3_parse_list(NULL, 0, collect_object, NULL, &page), -1);
}

static void parse_list_key_and_token_of_max_length(void)
{
    static char key[S3_MAX_KEY * 5 + 2];
    static char token[S3_MAX_TOKEN + 2];
    static char body[sizeof(key) + sizeof(token) + 1024];
    s3_object_page page;
    int n;

    /* 1024 '&', each escaped: 5120 bytes of XML for a 1024-byte key. */
    for (int i = 0; i < S3_MAX_KEY; i++)
        memcpy(key + 5 * i, "&amp;", 5);
    key[S3_MAX_KEY * 5] = '\0';
    memset(token, 't', S3_MAX_TOKEN);
    token[S3_MAX_TOKEN] = '\0';
    n = snprintf(body, sizeof(body),
                 LIST_HEAD "<NextContinuationToken>%s</NextContinuationToken>"
                           "<IsTruncated>true</IsTruncated>" OBJECT("%s", "1")
                               LIST_TAIL,
                 token, key);
    ASSERT_EQ(s3_parse_list(body, (size_t)n, NULL, NULL, &page), 1);
    ASSERT_EQ(strlen(page.next_token), S3_MAX_TOKEN);
    memcpy(key + 5 * S3_MAX_KEY, "a", 2); /* one byte too many */
    n = snprintf(body, sizeof(body), LIST_HEAD OBJECT("%s", "1") LIST_TAIL,
                 key);
    ASSERT_EQ(s3_parse_list(body, (size_t)n, NULL, NULL, &page), -1);
    memcpy(token + S3_MAX_TOKEN, "t", 2);
    n = snprintf(body, sizeof(body),
                 LIST_HEAD "<NextContinuationToken>%s</NextContinuationToken>"
                           "<IsTruncated>true</IsTruncated>" LIST_TAIL,
                 token);
    ASSERT_EQ(s3_parse_list(body, (size_t)n, NULL, NULL, &page), -1);
}

typedef struct complete_case {
    const char *body;
    store_result want;
    const char *want_err; /* NULL: errbuf untouched */
} complete_case;

static const complete_case complete_cases[] = {
    {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     "<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/"
     "2006-03-01/\"><Bucket>b</Bucket><Key>k</Key><ETag>\"e-3\"</ETag>"
     "</CompleteMultipartUploadResult>",
     STORE_OK, NULL},
    {"<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>We "
     "encountered an internal error. Please try again.</Message></Error>",
     STORE_RETRY,
     "HTTP 200 InternalError: We encountered an internal error. Please try "
     "again."},
    {"<Error><Code>SlowDown</Code></Error>", STORE_THROTTLED,
     "HTTP 200 SlowDown"},
    {"<Error><Code>InvalidPart</Code></Error>", STORE_PERMANENT,
     "HTTP 200 InvalidPart"},
    {"<Error><Message>?</Message></Error>", STORE_RETRY, "HTTP 200"},
    {"", STORE_RETRY, "HTTP 200 without a CompleteMultipartUploadResult"},
    {"<?xml version=\"1.0\"?>\n", STORE_RETRY,
     "HTTP 200 without a CompleteMultipartUploadResult"},
};

static void check_complete_reads_200_bodies(void)
{
    for (size_t i = 0; i < sizeof(complete_cases) / sizeof(complete_cases[0]);
         i++) {
        const complete_case *c = &complete_cases[i];
        char err[256] = "untouched";

        ASSERT_EQ(s3_check_complete(c->body, strlen(c->body), err, sizeof(err)),
                  c->want);
        ASSERT_STR_EQ(err, c->want_err ? c->want_err : "untouched");
    }
}

static void store_new_has_multipart(void)
{
    s3_options o = path_style();
    char err[256] = "";
    store *st = s3_store_new(&o, err, sizeof(err));

    ASSERT(st != NULL);
    ASSERT(st->ops->mpu_begin && st->ops->mpu_part && st->ops->mpu_complete &&
           st->ops->mpu_abort && st->ops->mpu_list && st->ops->list);
    ASSERT(store_has_multipart(st));
    store_destroy(st);
}

static void mpu_part_rejects_bad_number_without_network(void)
{
    s3_options o = path_style();
    char err[256] = "";
    char etag[64];
    store *st;

    o.endpoint = "http://127.0.0.1:1";
    st = s3_store_new(&o, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(store_mpu_part(st, "k", "u", 0, "x", 1, etag, sizeof(etag), err,
                             sizeof(err)),
              STORE_PERMANENT);
    ASSERT(strstr(err, "UploadPart 0: s3: part number 0") == err);
    store_destroy(st);
}

static void mpu_unreachable_server_is_retry(void)
{
    s3_options o = path_style();
    char err[256] = "";
    char id[64];
    store *st;

    o.endpoint = "http://127.0.0.1:1";
    o.connect_timeout_ms = 2000;
    st = s3_store_new(&o, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(
        store_mpu_begin(st, &hive_object, id, sizeof(id), err, sizeof(err)),
        STORE_RETRY);
    ASSERT(strstr(err, "CreateMultipartUpload: curl: ") == err);
    ASSERT_EQ(store_mpu_abort(st, "k", "u", err, sizeof(err)), STORE_RETRY);
    ASSERT(strstr(err, "AbortMultipartUpload: curl: ") == err);
    store_destroy(st);
}

/* --- the store against a canned HTTP server ------------------------------
 * Answers a real server cannot be made to give (SlowDown, a 200 carrying
 * an <Error>, keep-alive blanks, NoSuchUpload) come from a thread that
 * answers each connection with the next canned response. */

#define CANNED_MAX 4

typedef struct canned {
    int fd;
    int port;
    const char *responses[CANNED_MAX];
    size_t n;
    char requests[CANNED_MAX][4096]; /* request line and headers */
    size_t n_served;
    pthread_t thread;
} canned;

/* The head of one request into out; the body is read and dropped. */
static int read_request(int c, char *out, size_t outlen)
{
    size_t got = 0;
    long body = 0;
    char *end = NULL;
    char *h;
    char buf[8192];

    while (!end) {
        ssize_t n = recv(c, out + got, outlen - 1 - got, 0);

        if (n <= 0)
            return -1;
        got += (size_t)n;
        out[got] = '\0';
        end = strstr(out, "\r\n\r\n");
        if (!end && got + 1 >= outlen)
            return -1;
    }
    h = strcasestr(out, "\r\nContent-Length:");
    if (h && h < end)
        body = strtol(h + 17, NULL, 10);
    body -= (long)(got - (size_t)(end + 4 - out));
    end[2] = '\0';
    while (body > 0) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);

        if (n <= 0)
            return -1;
        body -= n;
    }
    return 0;
}

static void *canned_serve(void *arg)
{
    canned *cs = arg;

    for (size_t i = 0; i < cs->n; i++) {
        struct pollfd p = {cs->fd, POLLIN, 0};
        int c;
        size_t off = 0;
        size_t len = strlen(cs->responses[i]);

        if (poll(&p, 1, 5000) != 1)
            break;
        c = accept(cs->fd, NULL, NULL);
        if (c < 0)
            break;
        if (read_request(c, cs->requests[i], sizeof(cs->requests[i])) == 0) {
            while (off < len) {
                ssize_t n =
                    send(c, cs->responses[i] + off, len - off, MSG_NOSIGNAL);

                if (n <= 0)
                    break;
                off += (size_t)n;
            }
            cs->n_served++;
        }
        close(c);
    }
    return NULL;
}

static int canned_start(canned *cs)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cs->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cs->fd < 0 || bind(cs->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(cs->fd, 8) != 0 ||
        getsockname(cs->fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    cs->port = ntohs(a.sin_port);
    return pthread_create(&cs->thread, NULL, canned_serve, cs) == 0 ? 0 : -1;
}

static void canned_stop(canned *cs)
{
    pthread_join(cs->thread, NULL);
    close(cs->fd);
}

/* A store on the canned server; responses answered in order. */
static store *canned_store(canned *cs, const char *const *responses, size_t n)
{
    s3_options o = path_style();
    char endpoint[64];
    char err[256] = "";

    memset(cs, 0, sizeof(*cs));
    for (size_t i = 0; i < n && i < CANNED_MAX; i++)
        cs->responses[i] = responses[i];
    cs->n = n;
    if (canned_start(cs) != 0)
        return NULL;
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", cs->port);
    o.endpoint = endpoint;
    o.request_timeout_ms = 5000;
    return s3_store_new(&o, err, sizeof(err));
}

static const char *const slow_down[] = {
    "HTTP/1.1 503 Slow Down\r\nConnection: close\r\n\r\n"
    "<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"};

static void put_slow_down_is_throttled(void)
{
    canned cs;
    store *st = canned_store(&cs, slow_down, 1);
    char err[256] = "";

    ASSERT(st != NULL);
    ASSERT_EQ(store_put(st, &hive_object, err, sizeof(err)), STORE_THROTTLED);
    ASSERT_STR_EQ(err, "PutObject: HTTP 503 SlowDown: Reduce your rate");
    store_destroy(st);
    canned_stop(&cs);
    ASSERT(strstr(cs.requests[0], "PUT /millrace/prefix/") == cs.requests[0]);
}

static const char *const begun[] = {
    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
    "<InitiateMultipartUploadResult><Bucket>millrace</Bucket><Key>k</Key>"
    "<UploadId>id&amp;1</UploadId></InitiateMultipartUploadResult>"};

static void mpu_begin_returns_upload_id(void)
{
    canned cs;
    store *st = canned_store(&cs, begun, 1);
    char err[256] = "";
    char id[16] = "";

    ASSERT(st != NULL);
    ASSERT_EQ(
        store_mpu_begin(st, &hive_object, id, sizeof(id), err, sizeof(err)),
        STORE_OK);
    ASSERT_STR_EQ(id, "id&1");
    store_destroy(st);
    canned_stop(&cs);
    ASSERT(strstr(cs.requests[0], "POST /millrace" HIVE_PATH
                                  "?uploads HTTP/1.1\r\n") == cs.requests[0]);
    ASSERT(
        strcasestr(cs.requests[0], "\r\nContent-Type: application/x-ndjson"));
}

/* An id the caller cannot hold would be lost: the upload is aborted. */
static void mpu_begin_aborts_id_too_long_for_caller(void)
{
    static const char *const answers[] = {
        begun[0], "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"};
    canned cs;
    store *st = canned_store(&cs, answers, 2);
    char err[256] = "";
    char id[4] = "";

    ASSERT(st != NULL);
    ASSERT_EQ(
        store_mpu_begin(st, &hive_object, id, sizeof(id), err, sizeof(err)),
        STORE_PERMANENT);
    ASSERT(strstr(err, "does not fit") != NULL);
    store_destroy(st);
    canned_stop(&cs);
    ASSERT(strstr(cs.requests[1],
                  "DELETE /millrace" HIVE_PATH
                  "?uploadId=id%261 HTTP/1.1\r\n") == cs.requests[1]);
}

/* A 1xx before the answer carries headers of its own: not the ETag. */
static void mpu_part_returns_etag(void)
{
    static const char *const answers[] = {
        "HTTP/1.1 100 Continue\r\nETag: \"wrong\"\r\n\r\n"
        "HTTP/1.1 200 OK\r\netag:   \"d41d8cd98f00b204e9800998ecf8427e\"  \r\n"
        "Connection: close\r\nContent-Length: 0\r\n\r\n"};
    canned cs;
    store *st = canned_store(&cs, answers, 1);
    char err[256] = "";
    char etag[64] = "";

    ASSERT(st != NULL);
    ASSERT_EQ(store_mpu_part(st, "k", "u+1", 2, BODY, sizeof(BODY) - 1, etag,
                             sizeof(etag), err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
    store_destroy(st);
    canned_stop(&cs);
    ASSERT(strstr(cs.requests[0], "PUT /millrace/k?partNumber=2&uploadId=u%2B1 "
                                  "HTTP/1.1\r\n") == cs.requests[0]);
    ASSERT(strcasestr(cs.requests[0],
                      "\r\nContent-MD5: RYj/N5e3jYGdhY+jvdgrCQ==\r\n"));
}

/* The ETag of a 1xx is not the part's. */
static void mpu_part_without_etag_is_permanent(void)
{
    static const char *const answers[] = {
        "HTTP/1.1 100 Continue\r\nETag: \"e\"\r\n\r\n"
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"};
    canned cs;
    store *st = canned_store(&cs, answers, 1);
    char err[256] = "";
    char etag[64] = "";

    ASSERT(st != NULL);
    ASSERT_EQ(store_mpu_part(st, "k", "u", 1, "x", 1, etag, sizeof(etag), err,
                             sizeof(err)),
              STORE_PERMANENT);
    ASSERT_STR_EQ(err, "UploadPart 1: s3: no valid ETag in the answer");
    store_destroy(st);
    canned_stop(&cs);
}

static const char *const etags_2[] = {"\"a\"", "\"b\""};

static void mpu_complete_200_with_error_is_retry(void)
{
    static const char *const answers[] = {
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n   "
        "<Error><Code>InternalError</Code><Message>Try again.</Message>"
        "</Error>"};
    canned cs;
    store *st = canned_store(&cs, answers, 1);
    char err[256] = "";

    ASSERT(st != NULL);
    ASSERT_EQ(store_mpu_complete(st, "k", "u", etags_2, 2, err, sizeof(err)),
              STORE_RETRY);
    ASSERT_STR_EQ(
        err, "CompleteMultipartUpload: HTTP 200 InternalError: Try again.");
    store_destroy(st);
    canned_stop(&cs);
    ASSERT(strstr(cs.requests[0], "POST /millrace/k?uploadId=u HTTP/1.1\r\n") ==
           cs.requests[0]);
}

/* S3 keeps a slow Complete alive with blanks before the result; far more
 * of them than the bytes kept of an answer must not hide it. */
static void mpu_complete_after_keepalive_blanks(void)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    static const char tail[] =
        "<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag>"
        "</CompleteMultipartUploadResult>";
    size_t blanks = 300000;
    char *resp = malloc(sizeof(head) + blanks + sizeof(tail));
    const char *answers[1] = {resp};
    canned cs;
    store *st;
    char err[256] = "";

    ASSERT(resp != NULL);
    memcpy(resp, head, sizeof(head) - 1);
    for (size_t i = 0; i < blanks; i++)
        resp[sizeof(head) - 1 + i] = i % 2 ? ' ' : '\n';
    memcpy(resp + sizeof(head) - 1 + blanks, tail, sizeof(tail));
    st = canned_store(&cs, answers, 1);
    ASSERT(st != NULL);
    ASSERT_EQ(store_mpu_complete(st, "k", "u", etags_2, 2, err, sizeof(err)),
              STORE_OK);
    store_destroy(st);
    canned_stop(&cs);
    free(resp);
}

static void mpu_abort_no_such_upload_is_done(void)
{
    static const char *const answers[] = {
        "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n"
        "<Error><Code>NoSuchUpload</Code></Error>",
        "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n"
        "<Error><Code>NoSuchBucket</Code></Error>"};
    canned cs;
    store *st = canned_store(&cs, answers, 2);
    char err[256] = "untouched";

    ASSERT(st != NULL);
    ASSERT_EQ(store_mpu_abort(st, "k", "u", err, sizeof(err)), STORE_OK);
    ASSERT_STR_EQ(err, "untouched");
    ASSERT_EQ(store_mpu_abort(st, "k", "u", err, sizeof(err)), STORE_PERMANENT);
    ASSERT_STR_EQ(err, "AbortMultipartUpload: HTTP 404 NoSuchBucket");
    store_destroy(st);
    canned_stop(&cs);
    ASSERT(strstr(cs.requests[0], "DELETE /millrace/k?uploadId=u HTTP/1.1") ==
           cs.requests[0]);
}

#define PAGE_RESPONSE(body)                                                    \
    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" PAGE_HEAD body PAGE_TAIL

static void mpu_list_follows_pages(void)
{
    static const char *const answers[] = {
        PAGE_RESPONSE("<NextKeyMarker>p/a&amp;b</NextKeyMarker>"
                      "<NextUploadIdMarker>u2</NextUploadIdMarker>"
                      "<IsTruncated>true</IsTruncated>" UPLOAD("p/a", "u1")
                          UPLOAD("p/a&amp;b", "u2")),
        PAGE_RESPONSE("<IsTruncated>false</IsTruncated>" UPLOAD(
            "p/a&amp;b", "u3") UPLOAD("p/c", "u4")),
    };
    canned cs;
    store *st = canned_store(&cs, answers, 2);
    char err[256] = "";
    seen s = {"", 0};

    ASSERT(st != NULL);
    ASSERT_EQ(store_mpu_list(st, "p/", collect, &s, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(s.text, "[p/a|u1][p/a&b|u2][p/a&b|u3][p/c|u4]");
    store_destroy(st);
    canned_stop(&cs);
    ASSERT(strstr(cs.requests[0],
                  "GET /millrace?uploads&prefix=p%2F&"
                  "max-uploads=1000 HTTP/1.1") == cs.requests[0]);
    ASSERT(strstr(cs.requests[1],
                  "GET /millrace?uploads&prefix=p%2F&key-marker=p%2Fa%26b&"
                  "upload-id-marker=u2&max-uploads=1000 HTTP/1.1") ==
           cs.requests[1]);
}

/* Calls fn for the pages before a failure, then reports it. */
static void mpu_list_stops_on_page_without_marker(void)
{
    static const char *const answers[] = {
        PAGE_RESPONSE("<IsTruncated>true</IsTruncated>" UPLOAD("p/a", "u1")),
    };
    canned cs;
    store *st = canned_store(&cs, answers, 1);
    char err[256] = "";
    seen s = {"", 0};

    ASSERT(st != NULL);
    ASSERT_EQ(store_mpu_list(st, "p/", collect, &s, err, sizeof(err)),
              STORE_PERMANENT);
    ASSERT_STR_EQ(err,
                  "ListMultipartUploads: s3: truncated page, no new marker");
    ASSERT_STR_EQ(s.text, "[p/a|u1]");
    store_destroy(st);
    canned_stop(&cs);
}

static void mpu_list_error_page_is_classified(void)
{
    static const char *const answers[] = {
        "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n"
        "<Error><Code>AccessDenied</Code></Error>"};
    canned cs;
    store *st = canned_store(&cs, answers, 1);
    char err[256] = "";
    seen s = {"", 0};

    ASSERT(st != NULL);
    ASSERT_EQ(store_mpu_list(st, NULL, collect, &s, err, sizeof(err)),
              STORE_PERMANENT);
    ASSERT_STR_EQ(err, "ListMultipartUploads: HTTP 403 AccessDenied");
    ASSERT_EQ(s.n, 0);
    store_destroy(st);
    canned_stop(&cs);
}

#define LIST_RESPONSE(body)                                                    \
    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" LIST_HEAD body LIST_TAIL

/* start-after on the first request only: versitygw lets it override the
 * token, which would list the first page again. */
static void list_follows_pages(void)
{
    static const char *const answers[] = {
        LIST_RESPONSE(
            "<NextContinuationToken>" LIST_TOKEN
            "</NextContinuationToken><IsTruncated>true</IsTruncated>" OBJECT(
                "p/b", "1") OBJECT("p/c&amp;d", "22")),
        LIST_RESPONSE("<IsTruncated>false</IsTruncated>" OBJECT("p/e", "333")),
    };
    canned cs;
    store *st = canned_store(&cs, answers, 2);
    char err[256] = "";
    listed l = {"", 0, 0};

    ASSERT(st != NULL);
    ASSERT_EQ(store_list(st, "p/", "p/a", collect_object, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(l.text, "[p/b|1][p/c&d|22][p/e|333]");
    store_destroy(st);
    canned_stop(&cs);
    ASSERT(strstr(cs.requests[0],
                  "GET /millrace?list-type=2&prefix=p%2F&start-after=p%2Fa&"
                  "max-keys=1000 HTTP/1.1") == cs.requests[0]);
    ASSERT(strstr(cs.requests[1], "GET /millrace?list-type=2&prefix=p%2F&"
                                  "continuation-token=" LIST_TOKEN_ENC
                                  "&max-keys=1000 HTTP/1.1") == cs.requests[1]);
}

/* Once fn says stop, no further page is asked for. */
static void list_stops_early(void)
{
    static const char *const answers[] = {
        LIST_RESPONSE("<NextContinuationToken>t</NextContinuationToken>"
                      "<IsTruncated>true</IsTruncated>" OBJECT("p/a", "1")
                          OBJECT("p/b", "2")),
    };
    canned cs;
    store *st = canned_store(&cs, answers, 1);
    char err[256] = "untouched";
    listed l = {"", 0, 1};

    ASSERT(st != NULL);
    ASSERT_EQ(store_list(st, "p/", NULL, collect_object, &l, err, sizeof(err)),
              STORE_OK);
    ASSERT_STR_EQ(l.text, "[p/a|1]");
    ASSERT_STR_EQ(err, "untouched");
    store_destroy(st);
    canned_stop(&cs);
    ASSERT_EQ(cs.n_served, 1);
}

/* Calls fn for the pages before a failure, then reports it. */
static void list_stops_on_page_without_new_token(void)
{
    static const char *const answers[] = {
        LIST_RESPONSE("<IsTruncated>true</IsTruncated>" OBJECT("p/a", "1")),
        LIST_RESPONSE("<NextContinuationToken>t</NextContinuationToken>"
                      "<IsTruncated>true</IsTruncated>" OBJECT("p/a", "1")),
        LIST_RESPONSE("<NextContinuationToken>t</NextContinuationToken>"
                      "<IsTruncated>true</IsTruncated>" OBJECT("p/b", "2")),
    };
    canned cs;
    store *st = canned_store(&cs, answers, 3);
    char err[256] = "";
    listed l = {"", 0, 0};

    ASSERT(st != NULL);
    ASSERT_EQ(store_list(st, "p/", NULL, collect_object, &l, err, sizeof(err)),
              STORE_PERMANENT);
    ASSERT_STR_EQ(err, "ListObjectsV2: s3: truncated page, no new token");
    ASSERT_STR_EQ(l.text, "[p/a|1]");
    l = (listed){"", 0, 0};
    ASSERT_EQ(store_list(st, "p/", NULL, collect_object, &l, err, sizeof(err)),
              STORE_PERMANENT);
    ASSERT_STR_EQ(err, "ListObjectsV2: s3: truncated page, no new token");
    ASSERT_STR_EQ(l.text, "[p/a|1][p/b|2]");
    store_destroy(st);
    canned_stop(&cs);
}

static void list_error_page_is_classified(void)
{
    static const char *const answers[] = {
        "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n"
        "<Error><Code>AccessDenied</Code></Error>",
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" LIST_HEAD OBJECT("a",
                                                                        "1"),
    };
    canned cs;
    store *st = canned_store(&cs, answers, 2);
    char err[256] = "";
    listed l = {"", 0, 0};

    ASSERT(st != NULL);
    ASSERT_EQ(store_list(st, NULL, NULL, collect_object, &l, err, sizeof(err)),
              STORE_PERMANENT);
    ASSERT_STR_EQ(err, "ListObjectsV2: HTTP 403 AccessDenied");
    ASSERT_EQ(store_list(st, NULL, NULL, collect_object, &l, err, sizeof(err)),
              STORE_PERMANENT);
    ASSERT_STR_EQ(err, "ListObjectsV2: s3: not a page of objects");
    ASSERT_EQ(l.n, 0);
    store_destroy(st);
    canned_stop(&cs);
    ASSERT(strstr(cs.requests[0],
                  "GET /millrace?list-type=2&max-keys=1000 HTTP/1.1") ==
           cs.requests[0]);
}

static void list_unreachable_server_is_retry(void)
{
    s3_options o = path_style();
    char err[256] = "";
    store *st;

    o.endpoint = "http://127.0.0.1:1";
    o.connect_timeout_ms = 2000;
    st = s3_store_new(&o, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(
        store_list(st, "p/", NULL, collect_object, NULL, err, sizeof(err)),
        STORE_RETRY);
    ASSERT(strstr(err, "ListObjectsV2: curl: ") == err);
    store_destroy(st);
}

static const char *no_env(const char *name)
{
    return strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0 ? "true" : NULL;
}

static creds_provider *static_provider(const char *ak, const char *sk,
                                       const char *tok)
{
    creds_options co = {ak, sk, tok, "us-east-1", no_env, NULL, NULL, NULL, 1};
    char err[256];
    creds_provider *p = creds_provider_new(&co, err, sizeof(err));

    if (p && ak)
        creds_provider_resolve(p, err, sizeof(err));
    return p;
}

/* With a provider, the keys of the options are ignored: the request is
 * signed exactly as with the provider's keys given directly. */
static void build_put_signs_with_the_provider_snapshot(void)
{
    s3_options direct = virtual_hosted(); /* has a session token */
    s3_options via = path_style();
    creds_provider *p = static_provider(direct.access_key, direct.secret_key,
                                        direct.session_token);
    s3_request a, b;
    char err[256] = "";

    via.endpoint = direct.endpoint;
    via.path_style = 0;
    via.access_key = "IGNORED";
    via.secret_key = "ignored";
    via.session_token = NULL;
    via.creds = p;
    ASSERT_EQ(s3_build_put(&direct, &hive_object, NOW, &a, err, sizeof(err)),
              0);
    ASSERT_EQ(s3_build_put(&via, &hive_object, NOW, &b, err, sizeof(err)), 0);
    ASSERT_STR_EQ(header(&b, "Authorization"), header(&a, "Authorization"));
    ASSERT_STR_EQ(header(&b, "X-Amz-Security-Token"), "tok/en+=");
    s3_request_free(&a);
    s3_request_free(&b);
    creds_provider_free(p);
}

/* No usable credentials: nothing is sent, and the store answers retry
 * (they come back by themselves), naming why. */
static void put_without_credentials_is_retry(void)
{
    s3_options o = path_style();
    creds_provider *p = static_provider(NULL, NULL, NULL);
    store *st;
    s3_request r;
    char err[512] = "";

    o.endpoint = "http://127.0.0.1:9"; /* nothing listens */
    o.access_key = NULL;
    o.secret_key = NULL;
    o.creds = p;
    ASSERT_EQ(s3_build_put(&o, &hive_object, NOW, &r, err, sizeof(err)), -1);
    ASSERT_EQ(r.no_credentials, 1);
    ASSERT(strstr(err, "no credentials") != NULL);
    st = s3_store_new(&o, err, sizeof(err));
    ASSERT(st != NULL);
    ASSERT_EQ(store_put(st, &hive_object, err, sizeof(err)), STORE_RETRY);
    ASSERT(strncmp(err, "PutObject: no credentials: ", 27) == 0);
    store_destroy(st);
    creds_provider_free(p);
}

TEST_MAIN_WITH(
    s3_global_init, s3_global_cleanup, T(build_put_path_style_url),
    T(build_put_virtual_hosted_url), T(build_put_url_path_is_canonical_uri),
    T(build_put_encodes_key_once), T(build_put_sends_every_header),
    T(build_put_signature_matches_botocore), T(build_put_session_token_signed),
    T(build_put_stable_for_fixed_clock), T(build_put_defaults_content_type),
    T(options_rejected), T(build_put_rejects_bad_objects),
    T(build_put_rejects_long_key), T(classify_maps_responses),
    T(classify_reads_only_len_bytes), T(store_new_and_destroy),
    T(put_unreachable_server_is_retry), T(put_rejects_bad_key_without_network),
    T(build_put_sends_sse_and_storage_class), T(build_put_sends_aes256_alone),
    T(options_rejected_encryption), T(store_new_accepts_encryption),
    T(build_mpu_begin_request), T(build_mpu_begin_signs_bare_uploads),
    T(build_mpu_begin_sends_sse_and_storage_class), T(build_mpu_part_request),
    T(build_mpu_part_omits_object_headers),
    T(build_mpu_part_rejects_bad_arguments), T(build_mpu_complete_request),
    T(build_mpu_complete_rejects_bad_etags), T(build_mpu_abort_request),
    T(build_mpu_list_request), T(build_mpu_list_continues_from_markers),
    T(build_mpu_all_send_session_token), T(build_list_request),
    T(build_list_continues_from_token),
    T(build_list_leaves_out_empty_parameters),
    T(build_list_rejects_long_arguments), T(parse_upload_id_cases),
    T(parse_uploads_truncated_page), T(parse_uploads_last_page),
    T(parse_uploads_empty_page), T(parse_uploads_rejects_bad_pages),
    T(parse_uploads_key_of_max_length), T(parse_list_truncated_page),
    T(parse_list_last_page), T(parse_list_empty_result),
    T(parse_list_stops_when_fn_asks), T(parse_list_rejects_bad_pages),
    T(parse_list_key_and_token_of_max_length),
    T(check_complete_reads_200_bodies), T(store_new_has_multipart),
    T(mpu_part_rejects_bad_number_without_network),
    T(mpu_unreachable_server_is_retry), T(put_slow_down_is_throttled),
    T(mpu_begin_returns_upload_id), T(mpu_begin_aborts_id_too_long_for_caller),
    T(mpu_part_returns_etag), T(mpu_part_without_etag_is_permanent),
    T(mpu_complete_200_with_error_is_retry),
    T(mpu_complete_after_keepalive_blanks), T(mpu_abort_no_such_upload_is_done),
    T(mpu_list_follows_pages), T(mpu_list_stops_on_page_without_marker),
    T(mpu_list_error_page_is_classified), T(list_follows_pages),
    T(list_stops_early), T(list_stops_on_page_without_new_token),
    T(list_error_page_is_classified), T(list_unreachable_server_is_retry),
    T(build_put_signs_with_the_provider_snapshot),
    T(put_without_credentials_is_retry))
