/* test_setup.c -- s3.path_style: explicit values win; auto is
 * virtual-hosted on AWS for a bucket name that can be a host label, and
 * path style for any custom endpoint. */
#include "test.h"

#include "../../uploader/setup.h"

static void setup_path_style_table(void)
{
    static const struct {
        int setting; /* -1: auto */
        const char *endpoint;
        const char *bucket;
        int want;
    } cases[] = {
        {-1, "", "millrace-events", 0},
        {-1, "", "logs2026", 0},
        {-1, "", "my.bucket.example", 1}, /* dots: one TLS label */
        {-1, "", "Caps", 1},
        {-1, "", "under_score", 1},
        {-1, "", "ab", 1},
        {-1, "", "-lead", 1},
        {-1, "http://127.0.0.1:7070", "millrace", 1},
        {-1, "https://minio.example:9000", "millrace-events", 1},
        {0, "http://127.0.0.1:7070", "millrace", 0},
        {1, "", "millrace-events", 1},
        {0, "", "my.bucket", 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uploader_config c;
        int got;

        memset(&c, 0, sizeof(c));
        c.s3.path_style = cases[i].setting;
        c.s3.endpoint = (char *)cases[i].endpoint;
        c.s3.bucket = (char *)cases[i].bucket;
        got = setup_path_style(&c);
        if (got != cases[i].want)
            TEST_FAIL_("case %zu (%d, \"%s\", %s): %d, want %d", i,
                       cases[i].setting, cases[i].endpoint, cases[i].bucket,
                       got, cases[i].want);
    }
}

TEST_MAIN(T(setup_path_style_table))
