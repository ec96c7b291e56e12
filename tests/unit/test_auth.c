/* test_auth.c -- bearer tokens: several tokens, the Bearer scheme, missing
 * and wrong tokens, auth off, and tokens refused at start (without their
 * text in the error). */
#include "test.h"

#include "../../ingest-api/auth.h"

#define TOK_A "tok-aaaaaaaaaaaaaaaa"
#define TOK_B "tok-bbbbbbbbbbbbbbbbbbbbbbbb"

static auth *two_tokens(void)
{
    char err[200];
    return auth_new(TOK_A "\n" TOK_B, err, sizeof(err));
}

static void auth_every_listed_token_is_accepted(void)
{
    auth *a = two_tokens();

    ASSERT(a != NULL);
    ASSERT_EQ(auth_enabled(a), 1);
    ASSERT_EQ(auth_check(a, "Bearer " TOK_A), AUTH_OK);
    ASSERT_EQ(auth_check(a, "Bearer " TOK_B), AUTH_OK);
    ASSERT_EQ(auth_check(a, "bearer   " TOK_B "  "), AUTH_OK);
    ASSERT_EQ(auth_check(a, "  BEARER\t" TOK_A), AUTH_OK);
    auth_free(a);
}

static void auth_wrong_tokens_are_invalid(void)
{
    static const char *const bad[] = {
        "Bearer " TOK_A "x",
        "Bearer tok-aaaaaaaaaaaaaaa", /* a prefix */
        "Bearer " TOK_A TOK_B,
        "Bearer tok-aaaaaaaaaaaaaaaA",
        "Bearer ",
        "Bearer x",
    };
    auth *a = two_tokens();

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (auth_check(a, bad[i]) != AUTH_INVALID)
            TEST_FAIL_("case %zu (%s) not invalid", i, bad[i]);
    auth_free(a);
}

static void auth_no_bearer_header_is_missing(void)
{
    static const char *const missing[] = {
        "Basic dXNlcjpwYXNz",
        "Bearer" TOK_A, /* no blank after the scheme */
        TOK_A,
        "",
    };
    auth *a = two_tokens();

    ASSERT_EQ(auth_check(a, NULL), AUTH_MISSING);
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
        if (auth_check(a, missing[i]) != AUTH_MISSING)
            TEST_FAIL_("case %zu (%s) not missing", i, missing[i]);
    auth_free(a);
}

static void auth_off_without_tokens(void)
{
    char err[200];
    auth *a = auth_new(NULL, err, sizeof(err));
    auth *b = auth_new("", err, sizeof(err));

    ASSERT(a != NULL && b != NULL);
    ASSERT_EQ(auth_enabled(a), 0);
    ASSERT_EQ(auth_check(a, NULL), AUTH_OK);
    ASSERT_EQ(auth_check(b, "Bearer whatever"), AUTH_OK);
    ASSERT_EQ(auth_enabled(NULL), 0);
    auth_free(a);
    auth_free(b);
    auth_free(NULL);
}

static void auth_short_or_blank_tokens_refused_without_echo(void)
{
    static const char *const lists[] = {
        TOK_A "\nshort-secret", TOK_A "\n" TOK_B " x", "has,a-comma-inside-it",
        "\n" TOK_A, /* an empty item */
    };

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        char err[200] = "";
        auth *a = auth_new(lists[i], err, sizeof(err));
        if (a != NULL) {
            auth_free(a);
            TEST_FAIL_("list %zu accepted", i);
        }
        ASSERT(err[0] != '\0');
        ASSERT(strstr(err, "short-secret") == NULL);
        ASSERT(strstr(err, "tok-") == NULL);
        ASSERT(strstr(err, "comma-inside") == NULL);
        ASSERT_EQ(auth_check_tokens(lists[i], err, sizeof(err)), -1);
    }
}

static void auth_check_tokens_accepts_good_lists(void)
{
    char err[200];

    ASSERT_EQ(auth_check_tokens(NULL, err, sizeof(err)), 0);
    ASSERT_EQ(auth_check_tokens("", err, sizeof(err)), 0);
    ASSERT_EQ(auth_check_tokens(TOK_A "\n" TOK_B, err, sizeof(err)), 0);
}

TEST_MAIN(T(auth_every_listed_token_is_accepted),
          T(auth_wrong_tokens_are_invalid), T(auth_no_bearer_header_is_missing),
          T(auth_off_without_tokens),
          T(auth_short_or_blank_tokens_refused_without_echo),
          T(auth_check_tokens_accepts_good_lists))
