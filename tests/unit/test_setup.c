/* test_setup.c -- what the uploader builds from its settings without a
 * network: the region to sign for, in the SDKs' order; s3.path_style
 * (explicit values win; auto is virtual-hosted on AWS for a bucket name
 * that can be a host label, path style for any custom endpoint). */
#include "../../uploader/setup.h"
#include "fake_aws.h"
#include "test.h"

#include <unistd.h>

static void region_follows_setting_env_profile_default(void)
{
    char conf[] = "/tmp/test_setup.XXXXXX";
    int fd = mkstemp(conf);
    static const struct {
        const char *setting;
        const char *default_region; /* AWS_DEFAULT_REGION */
        const char *profile;        /* AWS_PROFILE */
        const char *want, *from;
    } t[] = {
        {"eu-west-1", "us-west-2", NULL, "eu-west-1", "s3.region"},
        {"", "us-west-2", NULL, "us-west-2", "AWS_DEFAULT_REGION"},
        {"", NULL, NULL, "ap-south-1", "the shared profile"},
        {"", NULL, "dev", "eu-north-1", "the shared profile"},
        {"", NULL, "bare", "us-east-1", "default"},
        {"", "", "absent", "us-east-1", "default"},
    };

    ASSERT(fd >= 0);
    close(fd);
    fake_write(conf, "[default]\nregion = ap-south-1\n[profile dev]\n"
                     "region = eu-north-1\n[profile bare]\nx = y\n");
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uploader_config cfg;
        char region[64];
        const char *vars[] = {"AWS_CONFIG_FILE",
                              conf,
                              "AWS_DEFAULT_REGION",
                              t[i].default_region,
                              t[i].profile ? "AWS_PROFILE" : NULL,
                              t[i].profile,
                              NULL};
        const char *from;

        if (!t[i].default_region) {
            vars[2] = t[i].profile ? "AWS_PROFILE" : NULL;
            vars[3] = t[i].profile;
            vars[4] = NULL;
        }
        memset(&cfg, 0, sizeof(cfg));
        cfg.s3.region = (char *)t[i].setting;
        fake_env_table = vars;
        from = setup_region(&cfg, fake_getenv, region, sizeof(region));
        ASSERT_STR_EQ(region, t[i].want);
        ASSERT_STR_EQ(from, t[i].from);
    }
    unlink(conf);
}

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

TEST_MAIN(T(region_follows_setting_env_profile_default),
          T(setup_path_style_table))
