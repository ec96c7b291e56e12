/* test_jsoncheck.c -- the uploader's allocation-free JSON object check and
 * top-level field lookup. */
#include "test.h"

#include "../../uploader/jsoncheck.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct jcase {
    const char *text;
    int ok;
} jcase;

static int check(const char *t)
{
    const char *why = NULL;

    return jsoncheck_object(t, strlen(t), 8, &why);
}

static void jsoncheck_accepts_valid_objects(void)
{
    static const char *const good[] = {
        "{}",
        " {\"a\":1} \n",
        "{\"a\":[1,2.5,-3e-2,true,false,null,\"x\"]}",
        "{\"s\":\"\\u00e9\\n\\\"\\\\\\/\"}",
        "{\"utf8\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "{\"a\":{\"b\":{\"c\":{}}}}",
        "{\"z\":0,\"n\":-0.0}"};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (check(good[i]) != 0)
            TEST_FAIL_("rejected: %s", good[i]);
    }
}

static void jsoncheck_rejects_invalid(void)
{
    static const char *const bad[] = {"",
                                      "[]",
                                      "\"x\"",
                                      "42",
                                      "{",
                                      "{\"a\"}",
                                      "{\"a\":}",
                                      "{\"a\":1,}",
                                      "{a:1}",
                                      "{\"a\":01}",
                                      "{\"a\":1.}",
                                      "{\"a\":.5}",
                                      "{\"a\":tru}",
                                      "{} {}",
                                      "{\"a\":\"\x01\"}",
                                      "{\"a\":\"\\x\"}",
                                      "{\"a\":\"\\u12\"}",
                                      "{\"a\":\"\xff\"}",
                                      "{\"a\":\"\xc0\xaf\"}",
                                      "{\"a\":\"\xed\xa0\x80\"}",
                                      "{\"a\":\"abc"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(bad[i]) == 0)
            TEST_FAIL_("accepted: %s", bad[i]);
    }
}

static void jsoncheck_limits_depth(void)
{
    ASSERT_EQ(check("{\"a\":[[[[[[[1]]]]]]]}"), 0);    /* depth 8 */
    ASSERT_EQ(check("{\"a\":[[[[[[[[1]]]]]]]]}"), -1); /* depth 9 */
}

static void jsoncheck_rejects_nul_inside(void)
{
    const char t[] = "{\"a\":1}\0";
    const char *why = NULL;

    ASSERT_EQ(jsoncheck_object(t, sizeof(t) - 1, 8, &why), -1);
    ASSERT(why != NULL);
}

static void jsoncheck_field_finds_top_level_values(void)
{
    const char *t = "{\"x\":{\"ts\":1},\"ts\":\"2026-11-27T18:00:00Z\","
                    "\"n\":12}";
    const char *v;
    size_t n;

    ASSERT_EQ(jsoncheck_field(t, strlen(t), "ts", &v, &n), 0);
    ASSERT_EQ(n, 22);
    ASSERT_MEM_EQ(v, "\"2026-11-27T18:00:00Z\"", n);
    ASSERT_EQ(jsoncheck_field(t, strlen(t), "n", &v, &n), 0);
    ASSERT_MEM_EQ(v, "12", n);
    ASSERT_EQ(jsoncheck_field(t, strlen(t), "missing", &v, &n), -1);
    ASSERT_EQ(jsoncheck_field(t, strlen(t), "t", &v, &n), -1);
}

/* ---- the reasons, any depth, and the differences from jansson ---- */

static int check_why(const char *s, int max_depth, const char **why)
{
    *why = NULL;
    return jsoncheck_object(s, strlen(s), max_depth, why);
}

static void jsoncheck_refusals_name_the_problem(void)
{
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"", "not a JSON object"},
        {"[{}]", "not a JSON object"},
        {"\"s\"", "not a JSON object"},
        {"{} {}", "data after the object"},
        {"{\"a\":1", "expected ',' or '}'"},
        {"{\"a\":[1 2]}", "expected ',' or ']'"},
        {"{a:1}", "expected a member name"},
        {"{\"a\" 1}", "expected ':'"},
        {"{\"a\":}", "unexpected character"},
        {"{\"a\":tru}", "unexpected character"},
        {"{\"a\":01}", "expected ',' or '}'"},
        {"{\"a\":1.}", "bad number"},
        {"{\"a\":-}", "bad number"},
        {"{\"a\":\"x", "unterminated string"},
        {"{\"a\":\"\x01\"}", "control character in a string"},
        {"{\"a\":\"\\x\"}", "bad escape"},
        {"{\"a\":\"\\u12G4\"}", "bad \\u escape"},
        {"{\"a\":\"\xc0\x80\"}", "invalid UTF-8"},
        {"{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8"},
        {"{\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8"},
        {"{\"a\":[", "truncated"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why;
        if (check_why(cases[i].text, 64, &why) != -1 || why == NULL ||
            strcmp(why, cases[i].why) != 0)
            TEST_FAIL_("%s: \"%s\", want \"%s\"", cases[i].text,
                       why ? why : "accepted", cases[i].why);
    }
}

/* The bytes of an object nested depth deep: {"a":[[...]]}. */
static char *nested(int depth, size_t *len)
{
    char *s = malloc(2 * (size_t)depth + 8);
    size_t n = 0;

    memcpy(s, "{\"a\":", 5);
    n = 5;
    for (int i = 1; i < depth; i++)
        s[n++] = '[';
    for (int i = 1; i < depth; i++)
        s[n++] = ']';
    s[n++] = '}';
    *len = n;
    return s;
}

typedef struct deep_run {
    int depth, max_depth, rc;
    const char *why;
    int field_rc;
} deep_run;

static void *deep_thread(void *arg)
{
    deep_run *r = arg;
    size_t n;
    char *s = nested(r->depth, &n);
    const char *v;
    size_t vlen;

    r->rc = jsoncheck_object(s, n, r->max_depth, &r->why);
    r->field_rc = jsoncheck_field(s, n, "a", &v, &vlen);
    free(s);
    return NULL;
}

/* The checker recursed once per level: 100000 levels (the configuration's
 * bound) overflowed a sanitizer build's stack and needed megabytes in
 * any build. Now a 256 KiB thread stack is plenty. */
static void jsoncheck_deep_nesting_in_a_small_stack(void)
{
    deep_run runs[] = {{100000, 100000, 0, NULL, 0},
                       {100001, 100000, 0, NULL, 0},
                       {JSONCHECK_MAX_DEPTH + 1, 1 << 30, 0, NULL, 0}};
    pthread_attr_t attr;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    for (size_t i = 0; i < 3; i++) {
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, &attr, deep_thread, &runs[i]), 0);
        pthread_join(t, NULL);
    }
    pthread_attr_destroy(&attr);
    ASSERT_EQ(runs[0].rc, 0);
    ASSERT_EQ(runs[0].field_rc, 0);
    ASSERT_EQ(runs[1].rc, -1);
    ASSERT_STR_EQ(runs[1].why, "nested too deep");
    ASSERT_EQ(runs[2].rc, -1); /* a larger limit counts as the maximum */
    ASSERT_STR_EQ(runs[2].why, "nested too deep");
}

/* Valid RFC 8259 text that jansson refuses (documented in jsoncheck.h,
 * held to jansson by tests/fuzz/fuzz_jsoncheck). */
static void jsoncheck_accepts_what_jansson_refuses(void)
{
    static const char *const ok[] = {
        "{\"a\":\"\\u0000\"}",
        "{\"\\u0000\":1}",
        "{\"a\":\"\\ud800\",\"b\":\"\\udc00\"}",
        "{\"a\":9223372036854775808,\"b\":-9223372036854775809}",
        "{\"a\":1e400}",
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const char *why;
        if (check_why(ok[i], 64, &why) != 0)
            TEST_FAIL_("refused %s: %s", ok[i], why);
    }
}

/* jansson drops a raw NUL after a number ({"a":1<NUL>} parses); the
 * checker does not. */
static void jsoncheck_raw_nul_after_a_value_refused(void)
{
    const char *why = NULL;

    ASSERT_EQ(jsoncheck_object("{\"a\":1\0}", 8, 64, &why), -1);
    ASSERT_EQ(jsoncheck_object("{\"a\":true\0}", 11, 64, &why), -1);
    ASSERT_EQ(jsoncheck_object("{}\0", 3, 64, &why), -1);
    ASSERT_STR_EQ(why, "data after the object");
}

static int field(const char *obj, const char *name, char *out, size_t outlen)
{
    const char *v;
    size_t vlen;

    if (jsoncheck_field(obj, strlen(obj), name, &v, &vlen) != 0)
        return -1;
    snprintf(out, outlen, "%.*s", (int)vlen, v);
    return 0;
}

static void jsoncheck_field_raw_values(void)
{
    const char *obj = " { \"n\" : 12.5e1 , \"s\":\"a\\\"b\", \"o\":{\"ts\":1},"
                      "\"a\":[1,{\"x\":[]}],\"ts\":\"2024-03-01T00:00:00Z\" } ";
    char v[64];

    ASSERT_EQ(field(obj, "n", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "12.5e1");
    ASSERT_EQ(field(obj, "s", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "\"a\\\"b\"");
    ASSERT_EQ(field(obj, "a", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "[1,{\"x\":[]}]");
    ASSERT_EQ(field(obj, "ts", v, sizeof(v)), 0); /* not the nested one */
    ASSERT_STR_EQ(v, "\"2024-03-01T00:00:00Z\"");
}

static void jsoncheck_field_absent_escaped_or_duplicated(void)
{
    char v[64];

    ASSERT_EQ(field("{\"a\":1}", "b", v, sizeof(v)), -1);
    ASSERT_EQ(field("{\"ab\":1}", "a", v, sizeof(v)), -1);
    ASSERT_EQ(field("{\"a\":1}", "ab", v, sizeof(v)), -1);
    ASSERT_EQ(field("{}", "a", v, sizeof(v)), -1);
    ASSERT_EQ(field("{\"\\u0061\":1}", "a", v, sizeof(v)), -1);
    ASSERT_EQ(field("{\"a\":1,\"a\":2}", "a", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "1");
}

/* A name was matched by a prefix of the raw key up to a quote, which
 * could be an escaped one: {"\\"x":1} answered for the name "\\". Found by
 * tests/fuzz/fuzz_jsoncheck (corpus: escaped-quote-after-name). */
static void jsoncheck_field_matches_whole_names(void)
{
    char v[64];

    ASSERT_EQ(field("{\"\\\"x\":1,\"\\\\\":2}", "\\", v, sizeof(v)), -1);
    ASSERT_EQ(field("{\"a\\\"b\":1}", "a\\", v, sizeof(v)), -1);
    ASSERT_EQ(field("{\"a\\\"b\":1,\"a\":2}", "a", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "2");
}

/* The raw text of a name with escapes was compared with the name asked
 * for: in {"\\":1,"\\\\":2} the text of the first name is two
 * backslashes, so the name of two backslashes (the second member) got the
 * first member's 1. Found by the CI's fuzzing smoke (fuzz_jsoncheck). */
static void jsoncheck_field_ignores_names_written_with_escapes(void)
{
    char v[64];

    ASSERT_EQ(field("{\"\\\\\":1,\"\\\\\\\\\":2}", "\\\\", v, sizeof(v)), -1);
    ASSERT_EQ(field("{\"\\\\\":1}", "\\\\", v, sizeof(v)), -1);
    ASSERT_EQ(field("{\"a\\\\\":1,\"b\":2}", "b", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "2");
}

TEST_MAIN(T(jsoncheck_accepts_valid_objects), T(jsoncheck_rejects_invalid),
          T(jsoncheck_limits_depth), T(jsoncheck_rejects_nul_inside),
          T(jsoncheck_field_finds_top_level_values),
          T(jsoncheck_refusals_name_the_problem),
          T(jsoncheck_deep_nesting_in_a_small_stack),
          T(jsoncheck_accepts_what_jansson_refuses),
          T(jsoncheck_raw_nul_after_a_value_refused),
          T(jsoncheck_field_raw_values),
          T(jsoncheck_field_ignores_names_written_with_escapes),
          T(jsoncheck_field_absent_escaped_or_duplicated),
          T(jsoncheck_field_matches_whole_names))
