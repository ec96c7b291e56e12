/* test_mskiam.c -- MSK IAM tokens byte for byte as AWS's signer makes them
 * (mskiam_vectors.h, regenerated and compared by tests/e2e/test_msk_iam.py),
 * their lifetime, and the cluster's region from the broker names. */
#include "mskiam.h"
#include "mskiam_vectors.h"
#include "test.h"

#include <openssl/evp.h>
#include <stdlib.h>

#define N_VECTORS (sizeof(mskiam_vectors) / sizeof(mskiam_vectors[0]))

static void mskiam_tokens_match_the_aws_signer(void)
{
    for (size_t i = 0; i < N_VECTORS; i++) {
        const struct mskiam_vector *v = &mskiam_vectors[i];
        char err[256];
        char *tok = mskiam_token(v->region, v->access_key, v->secret_key,
                                 v->session_token, MSKIAM_REF_USER_AGENT,
                                 (time_t)v->now, NULL, err, sizeof(err));
        ASSERT(tok != NULL);
        ASSERT_STR_EQ(tok, v->token);
        ASSERT_EQ(mskiam_lifetime_ms((time_t)v->now, 0), v->expiry_ms);
        free(tok);
    }
}

static void mskiam_token_is_base64url_of_the_presigned_url(void)
{
    const struct mskiam_vector *v = &mskiam_vectors[1];
    char err[256];
    char *url = NULL;
    char *tok =
        mskiam_token(v->region, v->access_key, v->secret_key, v->session_token,
                     "millrace/test", (time_t)v->now, &url, err, sizeof(err));

    ASSERT(tok != NULL && url != NULL);
    ASSERT(strchr(tok, '=') == NULL && strchr(tok, '+') == NULL &&
           strchr(tok, '/') == NULL);
    ASSERT(strncmp(url,
                   "https://kafka.eu-west-1.amazonaws.com/?Action=kafka-"
                   "cluster%3AConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256&",
                   96) == 0);
    ASSERT(strstr(url, "&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-"
                       "Security-Token=") != NULL);
    ASSERT(strstr(url, "&User-Agent=millrace%2Ftest") != NULL);
    free(tok);
    free(url);
}

static void mskiam_refuses_a_bad_region_or_missing_keys(void)
{
    char err[256];

    ASSERT(mskiam_token("us east", "AK", "SK", NULL, "ua", 1, NULL, err,
                        sizeof(err)) == NULL);
    ASSERT(strstr(err, "bad region") != NULL);
    ASSERT(mskiam_token("", "AK", "SK", NULL, "ua", 1, NULL, err,
                        sizeof(err)) == NULL);
    ASSERT(mskiam_token("us-east-1", "", "SK", NULL, "ua", 1, NULL, err,
                        sizeof(err)) == NULL);
}

/* librdkafka refreshes at 80% of the lifetime: the lifetime must end no
 * later than the credentials that signed it. */
static void mskiam_lifetime_ends_with_the_credentials(void)
{
    ASSERT_EQ(mskiam_lifetime_ms(1000, 0), 1900000LL);
    ASSERT_EQ(mskiam_lifetime_ms(1000, 5000), 1900000LL);
    ASSERT_EQ(mskiam_lifetime_ms(1000, 1300), 1300000LL);
}

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static const char *region_env(const char *name)
{
    return strcmp(name, "AWS_DEFAULT_REGION") == 0 ? "ca-central-1" : NULL;
}

static void mskiam_region_from_setting_brokers_or_environment(void)
{
    char r[64];

    ASSERT(mskiam_region_of_brokers(
        "b-1.prod.ab12cd.c2.kafka.eu-central-1.amazonaws.com:9098,"
        "b-2.prod.ab12cd.c2.kafka.eu-central-1.amazonaws.com:9098",
        r, sizeof(r)));
    ASSERT_STR_EQ(r, "eu-central-1");
    ASSERT(mskiam_region_of_brokers("10.0.0.1:9098,boot-x.c1.kafka-serverless."
                                    "us-west-2.amazonaws.com:9098",
                                    r, sizeof(r)) == 0);
    ASSERT(!mskiam_region_of_brokers("kafka.local:9092", r, sizeof(r)));
    ASSERT_STR_EQ(mskiam_region("us-west-2", "x.kafka.eu-west-1.amazonaws.com",
                                no_env, r, sizeof(r)),
                  "kafka.aws_region");
    ASSERT_STR_EQ(r, "us-west-2");
    ASSERT_STR_EQ(mskiam_region("", "x.kafka.eu-west-1.amazonaws.com:9098",
                                no_env, r, sizeof(r)),
                  "the broker names");
    ASSERT_STR_EQ(r, "eu-west-1");
    ASSERT_STR_EQ(mskiam_region("", "k:9098", region_env, r, sizeof(r)),
                  "AWS_DEFAULT_REGION");
    ASSERT_STR_EQ(r, "ca-central-1");
}

TEST_MAIN(T(mskiam_tokens_match_the_aws_signer),
          T(mskiam_token_is_base64url_of_the_presigned_url),
          T(mskiam_refuses_a_bad_region_or_missing_keys),
          T(mskiam_lifetime_ends_with_the_credentials),
          T(mskiam_region_from_setting_brokers_or_environment))
