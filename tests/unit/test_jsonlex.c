/* test_jsonlex.c -- the shared JSON lexer: what each token reader accepts,
 * where it stops, and what it reports. */
#include "jsonlex.h"
#include "test.h"

static const char *str_end(const char *s, int flags, int *escaped,
                           const char **why)
{
    return jsonlex_string(s, s + strlen(s), flags, escaped, why);
}

static void jsonlex_string_stops_after_the_quote(void)
{
    const char *s = "\"a\\\"b\xc3\xa9\" tail";
    const char *why = NULL;
    int escaped = 0;

    ASSERT(str_end(s, 0, &escaped, &why) == s + 8);
    ASSERT_EQ(escaped, 1);
}

/* \u0000 and lone surrogates are RFC 8259 text; jansson refuses them. */
static void jsonlex_string_strict_escapes(void)
{
    static const char *const cases[] = {"\"\\u0000\"", "\"\\udc00\"",
                                        "\"\\ud800\"", "\"\\ud800\\u0041\""};
    const char *why = NULL;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ASSERT(str_end(cases[i], 0, NULL, &why) != NULL);
        ASSERT(str_end(cases[i], JSONLEX_STRICT_ESCAPES, NULL, &why) == NULL);
        ASSERT_STR_EQ(why, "bad \\u escape");
    }
    ASSERT(str_end("\"\\ud83d\\ude00\"", JSONLEX_STRICT_ESCAPES, NULL, &why) !=
           NULL);
}

static void jsonlex_number_shapes(void)
{
    const char *s = "-12.50e+3,";
    jsonlex_number_info n;
    const char *why = NULL;

    ASSERT(jsonlex_number(s, s + strlen(s), &n, &why) == s + 9);
    ASSERT_EQ(n.neg, 1);
    ASSERT_EQ(n.real, 1);
    ASSERT_EQ(n.int_digits, 2);
    ASSERT_EQ(n.frac_digits, 2);
    ASSERT_EQ(n.exp_digits, 1);
    ASSERT_EQ(n.exp, 3);
    s = "1.";
    ASSERT(jsonlex_number(s, s + 2, &n, &why) == NULL);
    ASSERT_STR_EQ(why, "bad number");
}

static void jsonlex_utf8_refuses_overlong_and_surrogates(void)
{
    static const unsigned char ok[] = {0xf0, 0x9f, 0x98, 0x80};
    static const unsigned char overlong[] = {0xe0, 0x80, 0x80};
    static const unsigned char surrogate[] = {0xed, 0xa0, 0x80};

    ASSERT_EQ(jsonlex_utf8(ok, ok + 4), 4);
    ASSERT_EQ(jsonlex_utf8(ok, ok + 3), 0);
    ASSERT_EQ(jsonlex_utf8(overlong, overlong + 3), 0);
    ASSERT_EQ(jsonlex_utf8(surrogate, surrogate + 3), 0);
}

TEST_MAIN(T(jsonlex_string_stops_after_the_quote),
          T(jsonlex_string_strict_escapes), T(jsonlex_number_shapes),
          T(jsonlex_utf8_refuses_overlong_and_surrogates))
