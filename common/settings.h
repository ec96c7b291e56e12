/* settings.h -- the configuration sections both daemons share (kafka, log)
 * and the table rows that describe them, included in each daemon's table. */
#ifndef MILLRACE_SETTINGS_H
#define MILLRACE_SETTINGS_H

#include <stddef.h>

#include "cfg.h"
#include "log.h"

/* kafka.security_protocol and kafka.sasl_mechanism, in the order of their
 * names (kafkasec.c). */
enum kafka_security {
    KAFKA_SECURITY_PLAINTEXT = 0,
    KAFKA_SECURITY_SSL,
    KAFKA_SECURITY_SASL_PLAINTEXT,
    KAFKA_SECURITY_SASL_SSL,
};
extern const char *const kafka_security_names[];
enum kafka_sasl {
    KAFKA_SASL_NONE = 0,
    KAFKA_SASL_PLAIN,
    KAFKA_SASL_SCRAM_SHA_256,
    KAFKA_SASL_SCRAM_SHA_512,
    KAFKA_SASL_AWS_MSK_IAM,
};
extern const char *const kafka_sasl_names[];

typedef struct kafka_settings {
    char *brokers;    /* bootstrap.servers */
    char *topic;      /* the JobQueue topic */
    char *properties; /* librdkafka "name=value" pass-through, one per line */
    /* The connection's security (kafkasec.h validates and applies them). */
    int security_protocol; /* enum kafka_security */
    char *ssl_ca_file;
    char *ssl_certificate_file;
    char *ssl_key_file;
    char *ssl_key_password; /* secret */
    int sasl_mechanism;     /* enum kafka_sasl */
    char *sasl_username;
    char *sasl_password; /* secret */
    char *aws_region;    /* AWS_MSK_IAM: the cluster's region */
} kafka_settings;

typedef struct log_settings {
    int level;  /* enum log_level */
    int format; /* enum log_format */
} log_settings;

/* Rows for a daemon struct T holding a kafka_settings at member K and a
 * log_settings at member L. */
#define SETTINGS_KAFKA_ROWS(T, K)                                              \
    {"kafka.brokers",                                                          \
     CFG_STR,                                                                  \
     offsetof(T, K.brokers),                                                   \
     "127.0.0.1:9092",                                                         \
     0,                                                                        \
     0,                                                                        \
     NULL,                                                                     \
     "KAFKA_BROKERS",                                                          \
     0,                                                                        \
     "Kafka bootstrap servers, comma-separated host:port."},                   \
        {"kafka.topic",                                                        \
         CFG_STR,                                                              \
         offsetof(T, K.topic),                                                 \
         "events",                                                             \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         "KAFKA_TOPIC",                                                        \
         0,                                                                    \
         "The topic events are written to and read from."},                    \
        {"kafka.properties",                                                   \
         CFG_LIST,                                                             \
         offsetof(T, K.properties),                                            \
         NULL,                                                                 \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         NULL,                                                                 \
         0,                                                                    \
         "Extra librdkafka properties, each \"name=value\" (environment: "     \
         "comma-separated); they override the settings above. Values of "      \
         "properties named like a credential (password, secret, token, pem) "  \
         "are "                                                                \
         "masked."},                                                           \
        {"kafka.security_protocol",                                            \
         CFG_ENUM,                                                             \
         offsetof(T, K.security_protocol),                                     \
         "plaintext",                                                          \
         0,                                                                    \
         0,                                                                    \
         kafka_security_names,                                                 \
         "KAFKA_SECURITY_PROTOCOL",                                            \
         0,                                                                    \
         "How the brokers are reached: ssl is TLS, sasl_ssl is TLS with SASL " \
         "authentication (docs/kafka-security.md)."},                          \
        {"kafka.ssl_ca_file",                                                  \
         CFG_STR,                                                              \
         offsetof(T, K.ssl_ca_file),                                           \
         "",                                                                   \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         "KAFKA_SSL_CA_FILE",                                                  \
         0,                                                                    \
         "PEM file of the CA certificates that verify the brokers (empty: "    \
         "the "                                                                \
         "system's CA store). With ssl or sasl_ssl."},                         \
        {"kafka.ssl_certificate_file",                                         \
         CFG_STR,                                                              \
         offsetof(T, K.ssl_certificate_file),                                  \
         "",                                                                   \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         "KAFKA_SSL_CERTIFICATE_FILE",                                         \
         0,                                                                    \
         "PEM file of this client's certificate (and its chain) for mutual "   \
         "TLS, "                                                               \
         "with kafka.ssl_key_file."},                                          \
        {"kafka.ssl_key_file",                                                 \
         CFG_STR,                                                              \
         offsetof(T, K.ssl_key_file),                                          \
         "",                                                                   \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         "KAFKA_SSL_KEY_FILE",                                                 \
         0,                                                                    \
         "PEM file of the private key of kafka.ssl_certificate_file."},        \
        {"kafka.ssl_key_password",                                             \
         CFG_STR,                                                              \
         offsetof(T, K.ssl_key_password),                                      \
         NULL,                                                                 \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         "KAFKA_SSL_KEY_PASSWORD",                                             \
         1,                                                                    \
         "Passphrase of an encrypted kafka.ssl_key_file."},                    \
        {"kafka.sasl_mechanism",                                               \
         CFG_ENUM,                                                             \
         offsetof(T, K.sasl_mechanism),                                        \
         "",                                                                   \
         0,                                                                    \
         0,                                                                    \
         kafka_sasl_names,                                                     \
         "KAFKA_SASL_MECHANISM",                                               \
         0,                                                                    \
         "SASL mechanism, required with sasl_ssl and sasl_plaintext; "         \
         "AWS_MSK_IAM signs in with the AWS credential chain (no user name "   \
         "or "                                                                 \
         "password)."},                                                        \
        {"kafka.sasl_username",                                                \
         CFG_STR,                                                              \
         offsetof(T, K.sasl_username),                                         \
         "",                                                                   \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         "KAFKA_SASL_USERNAME",                                                \
         0,                                                                    \
         "SASL user name (PLAIN, SCRAM); Confluent Cloud: the API key."},      \
        {"kafka.sasl_password",                                                \
         CFG_STR,                                                              \
         offsetof(T, K.sasl_password),                                         \
         NULL,                                                                 \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         "KAFKA_SASL_PASSWORD",                                                \
         1,                                                                    \
         "SASL password (PLAIN, SCRAM); Confluent Cloud: the API secret."},    \
    {                                                                          \
        "kafka.aws_region", CFG_STR, offsetof(T, K.aws_region), "", 0, 0,      \
            NULL, NULL, 0,                                                     \
            "AWS_MSK_IAM: the cluster's region (empty: from the broker "       \
            "names, *.kafka.REGION.amazonaws.com, else AWS_REGION, "           \
            "AWS_DEFAULT_REGION or the profile's)."                            \
    }

#define SETTINGS_LOG_ROWS(T, L)                                                \
    {"log.level",                                                              \
     CFG_ENUM,                                                                 \
     offsetof(T, L.level),                                                     \
     "info",                                                                   \
     0,                                                                        \
     0,                                                                        \
     log_level_names,                                                          \
     "LOG_LEVEL",                                                              \
     0,                                                                        \
     "Lowest level logged; SIGHUP re-reads it."},                              \
    {                                                                          \
        "log.format", CFG_ENUM, offsetof(T, L.format), "text", 0, 0,           \
            log_format_names, "LOG_FORMAT", 0,                                 \
            "text: \"time level component: message\" lines; json: one "        \
            "object per line with time, level, component and message (for "    \
            "log shippers). SIGHUP re-reads it."                               \
    }

#endif
