/* test_s3.c -- building a signed PutObject without a network (URL, key
 * encoding, headers, signature for a fixed clock, checked against
 * botocore's S3SigV4Auth), and mapping S3 responses to store results. */
#include "s3.h"
#include "test.h"

#include <stdlib.h>
#include <strings.h>

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
     STORE_RETRY, "HTTP 503 SlowDown: Please reduce your request rate."},
    {500, "", STORE_RETRY, "HTTP 500"},
    {502, "<html>bad gateway</html>", STORE_RETRY, "HTTP 502"},
    {429, "", STORE_RETRY, "HTTP 429"},
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

    ASSERT_EQ(s3_classify(503, body, 20, err, sizeof(err)), STORE_RETRY);
    ASSERT_STR_EQ(err, "HTTP 503");
    ASSERT_EQ(s3_classify(500, NULL, 0, err, sizeof(err)), STORE_RETRY);
}

static void store_new_and_destroy(void)
{
    s3_options o = virtual_hosted();
    char err[256] = "";
    store *st = s3_store_new(&o, err, sizeof(err));

    ASSERT(st != NULL);
    ASSERT_STR_EQ(st->name, "s3");
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
    ASSERT(strstr(err, "curl: ") == err);
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
    ASSERT(strstr(err, "key") != NULL);
    store_destroy(st);
}

static void global_init(void)
{
    ASSERT_EQ(s3_global_init(), 0);
}

static void global_cleanup(void)
{
    s3_global_cleanup();
}

TEST_MAIN(T(global_init), T(build_put_path_style_url),
          T(build_put_virtual_hosted_url),
          T(build_put_url_path_is_canonical_uri), T(build_put_encodes_key_once),
          T(build_put_sends_every_header),
          T(build_put_signature_matches_botocore),
          T(build_put_session_token_signed),
          T(build_put_stable_for_fixed_clock),
          T(build_put_defaults_content_type), T(options_rejected),
          T(build_put_rejects_bad_objects), T(build_put_rejects_long_key),
          T(classify_maps_responses), T(classify_reads_only_len_bytes),
          T(store_new_and_destroy), T(put_unreachable_server_is_retry),
          T(put_rejects_bad_key_without_network), T(global_cleanup))
