/* mskiam.h -- AWS MSK IAM authentication: the SASL OAUTHBEARER token MSK
 * accepts (a SigV4-presigned kafka-cluster:Connect URL, base64url), and
 * librdkafka's token refresh callback signing it with the AWS credential
 * chain (creds.h). */
#ifndef MILLRACE_MSKIAM_H
#define MILLRACE_MSKIAM_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <time.h>

#include "daemon.h"

#define MSKIAM_SERVICE "kafka-cluster"
#define MSKIAM_ACTION "kafka-cluster:Connect"
#define MSKIAM_EXPIRES_S 900 /* the signed URL's X-Amz-Expires */
/* The User-Agent the tokens name (AWS's signers name themselves). */
#define MSKIAM_USER_AGENT "millrace/" MILLRACE_VERSION

/* The token for region, signed at now with the given keys (session_token
 * NULL or "" when there is none) and naming user_agent: base64url without
 * padding of
 *   https://kafka.REGION.amazonaws.com/?Action=kafka-cluster%3AConnect
 *   &X-Amz-Algorithm=...&X-Amz-Credential=...&X-Amz-Date=...
 *   &X-Amz-Expires=900&X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]
 *   &X-Amz-Signature=...&User-Agent=...
 * laid out exactly as AWS's signers (aws-msk-iam-sasl-signer-python) do.
 * Pure. Returns a heap string (the caller wipes and frees it), or NULL
 * with a reason in errbuf. url_out, when not NULL, receives the URL too. */
char *mskiam_token(const char *region, const char *access_key,
                   const char *secret_key, const char *session_token,
                   const char *user_agent, time_t now, char **url_out,
                   char *errbuf, size_t errlen);

/* When the token made at now with credentials expiring at expiration
 * (0: never) stops being valid, in milliseconds since the epoch: at
 * X-Amz-Expires, or when the credentials expire if that is sooner. */
long long mskiam_lifetime_ms(time_t now, time_t expiration);

/* The region of MSK broker names in brokers ("b-1.c.x.c2.kafka.REGION.
 * amazonaws.com:9098,..."): 1 and out set, or 0. */
int mskiam_region_of_brokers(const char *brokers, char *out, size_t outlen);

/* The cluster's region: setting (kafka.aws_region) if set, else from the
 * broker names, else AWS_REGION, AWS_DEFAULT_REGION, the shared profile's
 * region. Returns where it came from ("kafka.aws_region", "the broker
 * names", ...) or NULL when none is known. getenv_fn NULL = getenv. */
const char *mskiam_region(const char *setting, const char *brokers,
                          const char *(*getenv_fn)(const char *), char *out,
                          size_t outlen);

/* Sets conf up for MSK IAM: sasl.mechanisms OAUTHBEARER, the refresh
 * callback (served on librdkafka's background thread, see
 * mskiam_client_started), and the process's credential chain, started on
 * first use (keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN, else web identity, profile, container, IMDS). Returns
 * 0, or -1 with a reason in errbuf. */
int mskiam_conf_apply(rd_kafka_conf_t *conf, const char *region, char *errbuf,
                      size_t errlen);

/* Lets rk's token refreshes run on librdkafka's background thread, so a
 * client that does not poll yet (metadata, admin calls at start) still
 * signs in. Call after rd_kafka_new on a conf mskiam_conf_apply set up;
 * returns 0 or -1 with a reason. */
int mskiam_client_started(rd_kafka_t *rk, char *errbuf, size_t errlen);

#endif
