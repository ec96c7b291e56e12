/* test_kafkasec.c -- the Kafka security settings: combinations refused with
 * clear errors, the librdkafka properties they become, credential names,
 * and secrets redacted from log lines. */
#include "kafkasec.h"
#include "log.h"
#include "test.h"

#include <stdlib.h>

static kafka_settings base(void)
{
    kafka_settings ks = {
        .brokers = "127.0.0.1:9093",
        .topic = "events",
        .properties = "",
        .security_protocol = KAFKA_SECURITY_PLAINTEXT,
        .ssl_ca_file = "",
        .ssl_certificate_file = "",
        .ssl_key_file = "",
        .ssl_key_password = "",
        .sasl_mechanism = KAFKA_SASL_NONE,
        .sasl_username = "",
        .sasl_password = "",
        .aws_region = "",
    };
    return ks;
}

/* The errors validate adds for ks, joined by '\n'. */
static int errors_of(const kafka_settings *ks, char *out, size_t outlen)
{
    cfg_errors e = {0};
    int n = kafkasec_validate(ks, &e);

    out[0] = '\0';
    for (size_t i = 0; i < e.n; i++) {
        strncat(out, e.msgs[i], outlen - strlen(out) - 2);
        strcat(out, "\n");
    }
    cfg_errors_free(&e);
    return n;
}

#define ASSERT_CONTAINS(hay, needle)                                           \
    do {                                                                       \
        if (strstr((hay), (needle)) == NULL)                                   \
            TEST_FAIL_("\"%s\" not in:\n%s", (needle), (hay));                 \
    } while (0)

static void kafkasec_plaintext_default_is_valid(void)
{
    kafka_settings ks = base();
    char out[2048];

    ASSERT_EQ(errors_of(&ks, out, sizeof(out)), 0);
}

static void kafkasec_sasl_needs_mechanism_and_credentials(void)
{
    kafka_settings ks = base();
    char out[2048];

    ks.security_protocol = KAFKA_SECURITY_SASL_SSL;
    ASSERT_EQ(errors_of(&ks, out, sizeof(out)), 1);
    ASSERT_CONTAINS(out, "sasl_ssl needs kafka.sasl_mechanism");
    ks.sasl_mechanism = KAFKA_SASL_SCRAM_SHA_512;
    ks.sasl_password = "hunter2hunter2";
    ASSERT_EQ(errors_of(&ks, out, sizeof(out)), 1);
    ASSERT_CONTAINS(out, "needs kafka.sasl_username and kafka.sasl_password");
    ASSERT(strstr(out, "hunter2") == NULL);
    ks.sasl_username = "alice";
    ASSERT_EQ(errors_of(&ks, out, sizeof(out)), 0);
}

static void kafkasec_settings_of_another_protocol_are_refused(void)
{
    kafka_settings ks = base();
    char out[2048];

    ks.sasl_mechanism = KAFKA_SASL_PLAIN;
    ks.ssl_ca_file = "/etc/ssl/certs/ca.pem";
    ASSERT_EQ(errors_of(&ks, out, sizeof(out)), 2);
    ASSERT_CONTAINS(out, "kafka.ssl_* files are set but "
                         "kafka.security_protocol is plaintext");
    ASSERT_CONTAINS(out, "kafka.sasl_* settings are set but "
                         "kafka.security_protocol is plaintext");
}

static void kafkasec_certificate_and_key_go_together(void)
{
    kafka_settings ks = base();
    char out[2048];

    ks.security_protocol = KAFKA_SECURITY_SSL;
    ks.ssl_key_password = "secret-pass";
    ASSERT(errors_of(&ks, out, sizeof(out)) >= 1);
    ASSERT_CONTAINS(out, "kafka.ssl_key_password is set without "
                         "kafka.ssl_key_file");
    ks = base();
    ks.security_protocol = KAFKA_SECURITY_SSL;
    ks.ssl_certificate_file = "/nonexistent/client.pem";
    errors_of(&ks, out, sizeof(out));
    ASSERT_CONTAINS(out, "go together");
    ASSERT_CONTAINS(out, "\"/nonexistent/client.pem\": cannot read");
}

static void kafkasec_msk_iam_wants_sasl_ssl_a_region_and_no_password(void)
{
    kafka_settings ks = base();
    char out[2048];

    ks.security_protocol = KAFKA_SECURITY_SASL_SSL;
    ks.sasl_mechanism = KAFKA_SASL_AWS_MSK_IAM;
    ks.brokers = "b-1.c.x.c2.kafka.eu-west-1.amazonaws.com:9098";
    ASSERT_EQ(errors_of(&ks, out, sizeof(out)), 0);
    ks.sasl_password = "not-for-iam";
    ks.security_protocol = KAFKA_SECURITY_SASL_PLAINTEXT;
    ASSERT_EQ(errors_of(&ks, out, sizeof(out)), 2);
    ASSERT_CONTAINS(out, "leave kafka.sasl_username and kafka.sasl_password");
    ASSERT_CONTAINS(out, "AWS_MSK_IAM needs kafka.security_protocol sasl_ssl");
    ks = base();
    ks.aws_region = "us-east-1";
    ASSERT_EQ(errors_of(&ks, out, sizeof(out)), 1);
    ASSERT_CONTAINS(out, "kafka.aws_region is set but");
}

static void kafkasec_apply_sets_the_librdkafka_properties(void)
{
    kafka_settings ks = base();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    char v[64];
    size_t n = sizeof(v);

    ks.security_protocol = KAFKA_SECURITY_SASL_SSL;
    ks.sasl_mechanism = KAFKA_SASL_SCRAM_SHA_256;
    ks.sasl_username = "alice";
    ks.sasl_password = "pw-for-alice";
    ASSERT_EQ(kafkasec_apply(conf, &ks, err, sizeof(err)), 0);
    ASSERT(rd_kafka_conf_get(conf, "security.protocol", v, &n) ==
           RD_KAFKA_CONF_OK);
    ASSERT_STR_EQ(v, "sasl_ssl");
    n = sizeof(v);
    ASSERT(rd_kafka_conf_get(conf, "sasl.mechanisms", v, &n) ==
           RD_KAFKA_CONF_OK);
    ASSERT_STR_EQ(v, "SCRAM-SHA-256");
    n = sizeof(v);
    ASSERT(rd_kafka_conf_get(conf, "sasl.username", v, &n) == RD_KAFKA_CONF_OK);
    ASSERT_STR_EQ(v, "alice");
    rd_kafka_conf_destroy(conf);
}

static void kafkasec_credential_property_names(void)
{
    static const char *const yes[] = {
        "sasl.password",         "ssl.key.password",
        "ssl.keystore.password", "sasl.oauthbearer.client.secret",
        "ssl.key.pem",           "sasl.oauthbearer.config"};
    static const char *const no[] = {"sasl.username", "ssl.key.location",
                                     "bootstrap.servers", "acks"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ASSERT(kafkasec_sensitive(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ASSERT(!kafkasec_sensitive(no[i]));
}

static void kafkasec_secrets_are_redacted_from_log_lines(void)
{
    kafka_settings ks = base();
    char line[128];

    ks.sasl_password = "Sasl-Pw-0001";
    ks.ssl_key_password = "Key-Pw-0002";
    ks.properties = "acks=all\nsasl.oauthbearer.client.secret=Oidc-0003";
    kafkasec_redact_secrets(&ks);
    snprintf(line, sizeof(line),
             "auth Sasl-Pw-0001 and Key-Pw-0002, Oidc-0003; Sasl-Pw-0001");
    log_redact(line, sizeof(line));
    ASSERT_STR_EQ(line, "auth ******** and ********, ********; ********");
    /* a mask longer than the secret: a full line is cut, never overflowed */
    ASSERT_EQ(log_redact_add("abc123"), 0);
    memcpy(line, "zz abc123", 10);
    log_redact(line, 10);
    ASSERT(strlen(line) < 10);
    ASSERT(strstr(line, "abc") == NULL);
    ASSERT_EQ(log_redact_add("abc"), -1); /* too short to mask */
}

TEST_MAIN(T(kafkasec_plaintext_default_is_valid),
          T(kafkasec_sasl_needs_mechanism_and_credentials),
          T(kafkasec_settings_of_another_protocol_are_refused),
          T(kafkasec_certificate_and_key_go_together),
          T(kafkasec_msk_iam_wants_sasl_ssl_a_region_and_no_password),
          T(kafkasec_apply_sets_the_librdkafka_properties),
          T(kafkasec_credential_property_names),
          T(kafkasec_secrets_are_redacted_from_log_lines))
