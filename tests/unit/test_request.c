/* test_request.c -- the request head's contract (415, 417, 411, 413 before
 * any body byte is read) and the bounded body reader: counting, deadline,
 * short and broken bodies, with a scripted reader and a fake clock. */
#include "test.h"

#include "../../ingest-api/request.h"

#include <stdlib.h>

static request_head head(const char *ct, const char *ce, const char *te,
                         long long cl)
{
    request_head h = {ct, ce, te, NULL, cl};
    return h;
}

/* ---- the head ---- */

static void request_content_types_pick_the_body_kind(void)
{
    static const struct {
        const char *ct;
        int kind;
    } cases[] = {
        {NULL, BODY_JSON},
        {"", BODY_JSON},
        {"application/json", BODY_JSON},
        {"Application/JSON; charset=utf-8", BODY_JSON},
        {"text/json", BODY_JSON},
        {"application/x-www-form-urlencoded", BODY_JSON},
        {"application/x-ndjson", BODY_NDJSON},
        {"application/ndjson", BODY_NDJSON},
        {"application/jsonl", BODY_NDJSON},
        {"application/x-ndjson;charset=UTF-8", BODY_NDJSON},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        request_head h = head(cases[i].ct, NULL, NULL, 10);
        request_plan p;
        request_error e;
        ASSERT_EQ(request_plan_of(&h, 100, &p, &e), 0);
        ASSERT_EQ(p.kind, cases[i].kind);
        ASSERT_EQ(p.gzip, 0);
        ASSERT_EQ(p.chunked, 0);
    }
}

static void request_other_content_types_are_415(void)
{
    static const char *const types[] = {"application/xml", "text/plain",
                                        "application/jsonx",
                                        "multipart/form-data; boundary=x"};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        request_head h = head(types[i], NULL, NULL, 10);
        request_plan p;
        request_error e;
        ASSERT_EQ(request_plan_of(&h, 100, &p, &e), -1);
        ASSERT_EQ(e.status, 415);
        ASSERT_STR_EQ(e.code, "unsupported_media_type");
    }
}

static void request_encodings_gzip_identity_or_415(void)
{
    static const struct {
        const char *ce;
        int rc, gzip;
    } cases[] = {
        {"gzip", 0, 1}, {"GZIP", 0, 1}, {" x-gzip ", 0, 1}, {"identity", 0, 0},
        {"", 0, 0},     {"br", -1, 0},  {"deflate", -1, 0}, {"gzip, br", -1, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        request_head h = head(NULL, cases[i].ce, NULL, 10);
        request_plan p;
        request_error e;
        int rc = request_plan_of(&h, 100, &p, &e);
        ASSERT_EQ(rc, cases[i].rc);
        if (rc == 0) {
            ASSERT_EQ(p.gzip, cases[i].gzip);
        } else {
            ASSERT_EQ(e.status, 415);
            ASSERT_STR_EQ(e.code, "unsupported_encoding");
        }
    }
}

static void request_without_length_is_411(void)
{
    request_head h = head("application/json", NULL, NULL, -1);
    request_plan p;
    request_error e;

    ASSERT_EQ(request_plan_of(&h, 100, &p, &e), -1);
    ASSERT_EQ(e.status, 411);
    ASSERT_STR_EQ(e.code, "length_required");
}

static void request_chunked_needs_no_length(void)
{
    request_head h = head("application/json", NULL, "chunked", -1);
    request_plan p;
    request_error e;

    ASSERT_EQ(request_plan_of(&h, 100, &p, &e), 0);
    ASSERT_EQ(p.chunked, 1);
}

static void request_declared_length_over_limit_is_413(void)
{
    request_head at = head(NULL, NULL, NULL, 100);
    request_head over = head(NULL, NULL, NULL, 101);
    request_head huge = head(NULL, NULL, NULL, 1LL << 60);
    request_plan p;
    request_error e;

    ASSERT_EQ(request_plan_of(&at, 100, &p, &e), 0);
    ASSERT_EQ(request_plan_of(&over, 100, &p, &e), -1);
    ASSERT_EQ(e.status, 413);
    ASSERT_STR_EQ(e.code, "body_too_large");
    ASSERT_EQ(request_plan_of(&huge, 100, &p, &e), -1);
    ASSERT_EQ(e.status, 413);
}

static void request_expect_continue_or_417(void)
{
    request_head h = head(NULL, NULL, NULL, 10);
    request_plan p;
    request_error e;

    h.expect = "100-Continue";
    ASSERT_EQ(request_plan_of(&h, 100, &p, &e), 0);
    ASSERT_EQ(p.send_continue, 1);
    h.expect = "something-else";
    ASSERT_EQ(request_plan_of(&h, 100, &p, &e), -1);
    ASSERT_EQ(e.status, 417);
    ASSERT_STR_EQ(e.code, "expectation_failed");
}

static void request_media_type_checked_before_length(void)
{
    request_head h = head("text/plain", "br", NULL, 1LL << 40);
    request_plan p;
    request_error e;

    ASSERT_EQ(request_plan_of(&h, 100, &p, &e), -1);
    ASSERT_EQ(e.status, 415);
    ASSERT_STR_EQ(e.code, "unsupported_media_type");
}

/* ---- the body ---- */

/* A scripted transport: each step gives n bytes of 'x' (or returns rc
 * when n is 0) and advances the fake clock by ms. */
typedef struct step {
    int n;
    int rc;
    long long ms;
} step;

typedef struct script {
    const step *steps;
    size_t n, at;
    size_t left; /* bytes of steps[at - 1] not handed out yet */
} script;

static long long clock_ms;

static long long fake_now(void)
{
    return clock_ms;
}

static int scripted_read(void *ctx, void *buf, size_t len)
{
    script *s = ctx;
    const step *st;
    size_t n;

    if (s->left == 0) {
        if (s->at == s->n)
            return 0;
        st = &s->steps[s->at++];
        clock_ms += st->ms;
        if (st->n == 0)
            return st->rc;
        s->left = (size_t)st->n;
    }
    n = s->left < len ? s->left : len;
    memset(buf, 'x', n);
    s->left -= n;
    return (int)n;
}

static int read_script(const step *steps, size_t n, long long declared,
                       size_t max, long long deadline, char **out, size_t *len,
                       size_t *nread, request_error *e)
{
    static script s;
    request_reader r = {scripted_read, &s, fake_now};

    s.steps = steps;
    s.n = n;
    s.at = 0;
    s.left = 0;
    clock_ms = 0;
    return request_read_body(&r, declared, max, deadline, out, len, nread, e);
}

static void request_body_read_whole(void)
{
    static const step steps[] = {{3, 0, 1}, {4, 0, 1}, {3, 0, 1}};
    request_error e;
    char *out;
    size_t len, nread;

    ASSERT_EQ(read_script(steps, 3, 10, 100, 1000, &out, &len, &nread, &e), 0);
    ASSERT_EQ(len, 10);
    ASSERT_EQ(nread, 10);
    ASSERT_EQ(out[10], '\0');
    ASSERT_MEM_EQ(out, "xxxxxxxxxx", 10);
    free(out);
}

static void request_chunked_body_read_to_its_end(void)
{
    static const step steps[] = {
        {5000, 0, 0}, {20000, 0, 0}, {1, 0, 0}, {0, 0, 0}};
    request_error e;
    char *out;
    size_t len, nread;

    ASSERT_EQ(read_script(steps, 4, -1, 100000, 1000, &out, &len, &nread, &e),
              0);
    ASSERT_EQ(len, 25001);
    free(out);
}

static void request_chunked_body_over_limit_stops_at_limit_plus_one(void)
{
    /* An endless chunked body: the reader stops after max + 1 bytes. */
    static step steps[1000];
    request_error e;
    char *out = (char *)1;
    size_t len, nread;

    for (size_t i = 0; i < 1000; i++)
        steps[i] = (step){4096, 0, 0};
    ASSERT_EQ(read_script(steps, 1000, -1, 10000, 1000, &out, &len, &nread, &e),
              -1);
    ASSERT_EQ(e.status, 413);
    ASSERT_STR_EQ(e.code, "body_too_large");
    ASSERT_EQ(nread, 10001);
    ASSERT(out == NULL);
}

static void request_body_past_deadline_is_408(void)
{
    /* A slow client: 1 byte per 400 ms against a 1000 ms deadline. */
    static const step steps[] = {
        {1, 0, 400}, {1, 0, 400}, {1, 0, 400}, {1, 0, 400}, {1, 0, 400}};
    request_error e;
    char *out;
    size_t len, nread;

    ASSERT_EQ(read_script(steps, 5, 5, 100, 1000, &out, &len, &nread, &e), -1);
    ASSERT_EQ(e.status, 408);
    ASSERT_STR_EQ(e.code, "request_timeout");
    ASSERT_EQ(nread, 3);
}

static void request_transport_timeout_is_408(void)
{
    /* civetweb's own read gives up (0) after its timeout: 408. */
    static const step steps[] = {{2, 0, 0}, {0, 0, 1500}};
    request_error e;
    char *out;
    size_t len, nread;

    ASSERT_EQ(read_script(steps, 2, 10, 100, 1000, &out, &len, &nread, &e), -1);
    ASSERT_EQ(e.status, 408);
}

static void request_body_shorter_than_length_is_400(void)
{
    static const step steps[] = {{4, 0, 0}, {0, 0, 0}};
    request_error e;
    char *out;
    size_t len, nread;

    ASSERT_EQ(read_script(steps, 2, 10, 100, 1000, &out, &len, &nread, &e), -1);
    ASSERT_EQ(e.status, 400);
    ASSERT_STR_EQ(e.code, "bad_body");
}

static void request_read_error_is_400(void)
{
    static const step steps[] = {{4, 0, 0}, {0, -1, 0}};
    request_error e;
    char *out;
    size_t len, nread;

    ASSERT_EQ(read_script(steps, 2, -1, 100, 1000, &out, &len, &nread, &e), -1);
    ASSERT_EQ(e.status, 400);
    ASSERT_STR_EQ(e.code, "bad_body");
}

static void request_empty_body_reads_nothing(void)
{
    request_error e;
    char *out;
    size_t len, nread;

    ASSERT_EQ(read_script(NULL, 0, 0, 100, 1000, &out, &len, &nread, &e), 0);
    ASSERT_EQ(len, 0);
    ASSERT_STR_EQ(out, "");
    free(out);
}

/* Content-Length is 1*DIGIT, no leading zero; TE only chunked; never both,
 * never twice; names are tokens; values hold no CR or LF. */
static void request_framing_is_strict(void)
{
    static const struct {
        const char *name;
        const char *value;
        int ok;
    } one[] = {
        {"Content-Length", "7", 1},
        {"Content-Length", "0", 1},
        {"content-length", "1024", 1},
        {"Content-Length", "7abc", 0},
        {"Content-Length", "7, 100", 0},
        {"Content-Length", "7 7", 0},
        {"Content-Length", "7.0", 0},
        {"Content-Length", "+7", 0},
        {"Content-Length", " 7", 0},
        {"Content-Length", "007", 0},
        {"Content-Length", "0x7", 0},
        {"Content-Length", "-1", 0},
        {"Content-Length", "", 0},
        {"Content-Length", "9999999999999999999", 0},
        {"Transfer-Encoding", "chunked", 1},
        {"Transfer-Encoding", "Chunked", 1},
        {"Transfer-Encoding", "chunked, identity", 0},
        {"Transfer-Encoding", "xchunked", 0},
        {"Transfer-Encoding", "identity", 0},
        {"X-Ok", "a\rb", 0},
        {"X-Ok", "a\nb", 0},
        {"X Bad", "v", 0},
        {" X", "v", 0},
        {"X:Y", "v", 0},
        {"", "v", 0},
    };

    for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
        request_field f = {one[i].name, one[i].value};
        const char *why = request_framing_error(&f, 1);
        if ((why == NULL) != one[i].ok)
            TEST_FAIL_("\"%s: %s\": %s", one[i].name, one[i].value,
                       why ? why : "accepted");
    }
    {
        request_field both[] = {{"Content-Length", "2"},
                                {"Transfer-Encoding", "chunked"}};
        request_field twice[] = {{"Content-Length", "2"},
                                 {"Content-Length", "2"}};
        ASSERT(request_framing_error(both, 2) != NULL);
        ASSERT(request_framing_error(twice, 2) != NULL);
    }
}

/* A head laid out as civetweb 1.15 leaves it after parsing in place: every
 * CR, LF and colon turned into NUL, the fields pointing into the buffer. */
static const char *layout_of(char *buf, size_t len)
{
    request_field f[8];
    int n = 0;
    char *p = buf;
    char *end = buf + len;

    p += strlen(p) + 1; /* the request line */
    while (p < end && n < 8) {
        while (p < end && *p == '\0')
            p++;
        if (p >= end || *p <= ' ') /* civetweb stops at a folded line too */
            break;
        f[n].name = p;
        p += strlen(p);
        while (p < end && *p == '\0')
            p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        f[n].value = p;
        p += strlen(p);
        n++;
    }
    return request_head_layout_error(f, n);
}

static void request_head_layout_shows_what_civetweb_hides(void)
{
    /* "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n" */
    static const char good[] = "POST / HTTP/1.1\0\0Host\0 x\0\0"
                               "Content-Length\0 2\0\0\r\0{}";
    /* "Content-Length : 2": the space before the colon became NUL */
    static const char space[] = "POST / HTTP/1.1\0\0Host\0 x\0\0"
                                "Content-Length\0\0 2\0\0\r\0{}";
    /* "Host: x\n": one NUL where CR LF leaves two */
    static const char bare_lf[] = "POST / HTTP/1.1\0\0Host\0 x\0"
                                  "Content-Length\0 2\0\0\r\0{}";
    /* "X-A: a\r\n b\r\n": civetweb stopped at the folded line */
    static const char fold[] = "POST / HTTP/1.1\0\0Host\0 x\0\0"
                               "X-A\0 a\0\0 b\r\n\r\n";
    char buf[128];

    memcpy(buf, good, sizeof(good));
    ASSERT(layout_of(buf, sizeof(good)) == NULL);
    memcpy(buf, space, sizeof(space));
    ASSERT(layout_of(buf, sizeof(space)) != NULL);
    memcpy(buf, bare_lf, sizeof(bare_lf));
    ASSERT(layout_of(buf, sizeof(bare_lf)) != NULL);
    memcpy(buf, fold, sizeof(fold));
    ASSERT(layout_of(buf, sizeof(fold)) != NULL);
}

TEST_MAIN(T(request_content_types_pick_the_body_kind),
          T(request_other_content_types_are_415),
          T(request_encodings_gzip_identity_or_415),
          T(request_without_length_is_411), T(request_chunked_needs_no_length),
          T(request_declared_length_over_limit_is_413),
          T(request_expect_continue_or_417),
          T(request_media_type_checked_before_length),
          T(request_body_read_whole), T(request_chunked_body_read_to_its_end),
          T(request_chunked_body_over_limit_stops_at_limit_plus_one),
          T(request_body_past_deadline_is_408),
          T(request_transport_timeout_is_408),
          T(request_body_shorter_than_length_is_400),
          T(request_read_error_is_400), T(request_empty_body_reads_nothing),
          T(request_framing_is_strict),
          T(request_head_layout_shows_what_civetweb_hides))
