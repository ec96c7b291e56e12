/* test_jsoncheck.c -- the uploader's allocation-free JSON object check and
 * top-level field lookup. */
#include "test.h"

#include "../../uploader/jsoncheck.h"

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

TEST_MAIN(T(jsoncheck_accepts_valid_objects), T(jsoncheck_rejects_invalid),
          T(jsoncheck_limits_depth), T(jsoncheck_rejects_nul_inside),
          T(jsoncheck_field_finds_top_level_values))
