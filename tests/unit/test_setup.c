/* test_setup.c -- what the uploader builds from its settings without a
 * network: the region to sign for, in the SDKs' order. */
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

TEST_MAIN(T(region_follows_setting_env_profile_default))
