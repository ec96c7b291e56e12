/* kafka.h -- librdkafka configuration shared by both daemons: bootstrap,
 * pass-through properties, logging into our log format. */
#ifndef MILLRACE_KAFKA_H
#define MILLRACE_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "settings.h"

/* Set one property; on failure writes "name=value: reason" to errbuf. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                   char *errbuf, size_t errlen);

/* A new conf with bootstrap.servers, the connection's security
 * (kafkasec_apply: TLS, SASL) and our log callback; the settings' secrets
 * are registered with the log's redaction. Returns NULL and fills errbuf
 * on failure. The caller owns the conf until it hands it to
 * rd_kafka_new(). */
rd_kafka_conf_t *kafka_conf_new(const kafka_settings *ks, char *errbuf,
                                size_t errlen);

/* rd_kafka_new(), and for AWS_MSK_IAM the token refreshes started on
 * librdkafka's background thread (mskiam_client_started), so that a client
 * signs in before it is first polled. conf is owned by the client on
 * success, still the caller's on failure (NULL returned). */
rd_kafka_t *kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errbuf,
                      size_t errlen);
/* One property a daemon sets itself. */
typedef struct kafka_prop {
    const char *name;
    const char *value;
} kafka_prop;

/* A new conf (kafka_conf_new), then props in order, then the
 * pass-through properties of ks, which come last so operators can
 * override any of them. Returns NULL and fills errbuf on failure; the
 * caller owns the conf until it hands it to rd_kafka_new(). */
rd_kafka_conf_t *kafka_conf_build(const kafka_settings *ks,
                                  const kafka_prop *props, size_t n,
                                  char *errbuf, size_t errlen);

/* Apply the pass-through properties; daemons call this after setting their
 * own defaults, so operators can override any of them. */
int kafka_conf_apply_properties(rd_kafka_conf_t *conf, const char *properties,
                                char *errbuf, size_t errlen);

/* A librdkafka property a daemon's promise depends on: the value the
 * daemon sets itself (preset) and the values that keep the promise. */
typedef struct kafka_guard {
    const char *name;
    const char *preset;
    const char *const *allowed; /* NULL-terminated */
    const char *why;            /* what another value would break */
} kafka_guard;

/* Checks the pass-through properties against guards: each guard's preset is
 * applied to a scratch conf, then the properties (as the daemons do), and
 * the effective value (aliases resolved by librdkafka) must be one of the
 * allowed. Adds one error to errs per violation, naming the property, its
 * value and what it would break; returns their number. A property
 * librdkafka rejects is left to the daemon's start, which reports it. */
int kafka_properties_guard(const char *properties, const kafka_guard *guards,
                           size_t n, cfg_errors *errs);

/* The topic's effective max.message.bytes (its own setting, or the broker's
 * message.max.bytes), asked with DescribeConfigs on rk; -1 when it cannot
 * be learned within timeout_ms (why says why). */
long long kafka_topic_max_message_bytes(rd_kafka_t *rk, const char *topic,
                                        int timeout_ms, char *why,
                                        size_t whylen);

#endif
