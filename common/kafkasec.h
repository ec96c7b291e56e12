/* kafkasec.h -- the Kafka connection's security settings: TLS files and
 * SASL checked at load, turned into librdkafka properties, and the
 * secrets they hold kept out of every log line. */
#ifndef MILLRACE_KAFKASEC_H
#define MILLRACE_KAFKASEC_H

#include <librdkafka/rdkafka.h>

#include "cfg.h"
#include "settings.h"

/* Checks the combination (a SASL protocol without a mechanism, a
 * certificate without its key, ...) and the TLS files (readable, PEM, the
 * key decrypted by its password and matching the certificate). Adds one
 * error per problem, never quoting a secret; returns their number. */
int kafkasec_validate(const kafka_settings *ks, cfg_errors *errs);

/* Sets security.protocol, ssl.* and sasl.* on conf from ks; for
 * AWS_MSK_IAM, OAUTHBEARER with the MSK IAM token callback (mskiam.h).
 * Returns 0, or -1 with a reason (no secret in it) in errbuf. */
int kafkasec_apply(rd_kafka_conf_t *conf, const kafka_settings *ks,
                   char *errbuf, size_t errlen);

/* 1 when the librdkafka property name holds a credential (sasl.password,
 * ssl.key.password, ssl.keystore.password, sasl.oauthbearer.client.secret,
 * ssl.key.pem, ...): its value is never printed. */
int kafkasec_sensitive(const char *name);

/* Registers every secret of ks (kafka.sasl_password,
 * kafka.ssl_key_password, credential values in kafka.properties) with the
 * log's redaction (log_redact_add), so that no line quotes one, whoever
 * writes it (librdkafka's log and error callbacks included). */
void kafkasec_redact_secrets(const kafka_settings *ks);

#endif
