/* test.h -- a tiny table-driven unit test harness.
 * ASSERT_* print both values on failure (libuv style); each test is a
 * function in a table run by TEST_MAIN, which prints "N passed, N failed". */
#ifndef MILLRACE_TEST_H
#define MILLRACE_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

extern int test_failed_;

#define TEST_FAIL_(...)                                                        \
    do {                                                                       \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                      \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        test_failed_ = 1;                                                      \
        return;                                                                \
    } while (0)

#define ASSERT(c)                                                              \
    do {                                                                       \
        if (!(c))                                                              \
            TEST_FAIL_("assertion failed: %s", #c);                            \
    } while (0)

#define ASSERT_EQ(a, b)                                                        \
    do {                                                                       \
        long long a_ = (long long)(a);                                         \
        long long b_ = (long long)(b);                                         \
        if (a_ != b_)                                                          \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);              \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                    \
    do {                                                                       \
        const char *a_ = (a);                                                  \
        const char *b_ = (b);                                                  \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                   \
            TEST_FAIL_("%s == %s:\n    \"%s\"\n != \"%s\"", #a, #b,            \
                       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                 \
    do {                                                                       \
        if (memcmp((a), (b), (n)) != 0)                                        \
            TEST_FAIL_("%s == %s: %zu bytes differ", #a, #b, (size_t)(n));     \
    } while (0)

static inline int test_no_setup_(void)
{
    return 0;
}

static inline void test_no_teardown_(void)
{
}

/* The cases run in the order given, each on its own: what a whole file
 * needs (a library's global init) is done once by setup before the first
 * and by teardown after the last, not by cases that must run first or
 * last. setup returns 0, or nonzero to run no case at all. */
#define TEST_MAIN_WITH(setup, teardown, ...)                                   \
    int test_failed_;                                                          \
    int main(void)                                                             \
    {                                                                          \
        static const test_case cases_[] = {__VA_ARGS__};                       \
        size_t n_ = sizeof(cases_) / sizeof(cases_[0]);                        \
        int passed_ = 0, failed_ = 0;                                          \
        if (setup() != 0) {                                                    \
            printf("%s: setup failed\n", __FILE__);                            \
            return 1;                                                          \
        }                                                                      \
        for (size_t i_ = 0; i_ < n_; i_++) {                                   \
            test_failed_ = 0;                                                  \
            cases_[i_].fn();                                                   \
            printf("%s %s\n", test_failed_ ? "FAIL" : "ok  ",                  \
                   cases_[i_].name);                                           \
            if (test_failed_)                                                  \
                failed_++;                                                     \
            else                                                               \
                passed_++;                                                     \
        }                                                                      \
        teardown();                                                            \
        printf("%s: %d passed, %d failed\n", __FILE__, passed_, failed_);      \
        return failed_ ? 1 : 0;                                                \
    }

#define TEST_MAIN(...)                                                         \
    TEST_MAIN_WITH(test_no_setup_, test_no_teardown_, __VA_ARGS__)

#define T(fn)                                                                  \
    {                                                                          \
#fn, fn                                                                \
    }

#endif
