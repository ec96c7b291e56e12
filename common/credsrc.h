/* credsrc.h -- the sources of the AWS credential chain, one fetch each:
 * explicit settings, web identity (STS AssumeRoleWithWebIdentity), the
 * shared profile files, the container endpoint and IMDSv2; and the
 * parsers of their answers. Network through creds_http_fn only. */
#ifndef MILLRACE_CREDSRC_H
#define MILLRACE_CREDSRC_H

#include <stddef.h>
#include <time.h>

#include "creds.h"

#define CREDSRC_IMDS_ENDPOINT "http://169.254.169.254"
#define CREDSRC_IMDS_ENDPOINT_V6 "http://[fd00:ec2::254]"
#define CREDSRC_ECS_HOST "http://169.254.170.2"
#define CREDSRC_IMDS_TOKEN_TTL "21600"
/* IMDS: the SDKs' 1 s, so that a machine without it fails fast. */
#define CREDSRC_IMDS_CONNECT_MS 1000L
#define CREDSRC_IMDS_TIMEOUT_MS 2000L
#define CREDSRC_CONTAINER_CONNECT_MS 2000L
#define CREDSRC_CONTAINER_TIMEOUT_MS 5000L
#define CREDSRC_STS_CONNECT_MS 5000L
#define CREDSRC_STS_TIMEOUT_MS 15000L
#define CREDSRC_FILE_MAX 65536  /* a token or a profile file, in bytes */
#define CREDSRC_KEY_MAX 256     /* an access key id */
#define CREDSRC_SECRET_MAX 256  /* a secret key */
#define CREDSRC_TOKEN_MAX 16384 /* a session token (STS's can be long) */

typedef enum credsrc_result {
    CREDSRC_OK = 0,
    CREDSRC_SKIP, /* the source is not configured here */
    CREDSRC_FAIL, /* configured, but it did not yield: errbuf says why */
} credsrc_result;

/* Everything a fetch reads, injected. */
typedef struct credsrc_env {
    const char *access_key; /* explicit settings */
    const char *secret_key;
    const char *session_token;
    const char *region;                      /* for STS */
    const char *(*getenv)(const char *name); /* never NULL here */
    creds_http_fn http;
    void *http_arg;
    time_t now;
} credsrc_env;

/* Asks one source. On CREDSRC_OK *out holds new credentials (one
 * reference, the caller's) and detail says where they came from, never a
 * secret. */
credsrc_result credsrc_fetch(creds_source src, const credsrc_env *env,
                             creds **out, char *detail, size_t detaillen,
                             char *errbuf, size_t errlen);

/* The region of the profile the environment names (AWS_PROFILE, else
 * "default") in the config file: 1 found, 0 not. */
int credsrc_profile_region(const char *(*getenv)(const char *name), char *out,
                           size_t outlen);

/* Parsers and builders, pure, exposed for tests. */

/* ISO 8601 in UTC as AWS writes it: "2026-12-07T10:20:30Z", with
 * optional fractional seconds, "+00:00" for Z. Returns 0 or -1. */
int credsrc_parse_time(const char *s, time_t *out);

/* The value of key in [section] of an INI text (~/.aws files): keys and
 * values trimmed, '#' and ';' lines skipped, indented lines (a nested
 * block's) ignored. Returns 1 found, 0 not. */
int credsrc_ini_get(const char *text, const char *section, const char *key,
                    char *out, size_t outlen);
/* 1 when text has a [section] line. */
int credsrc_ini_has_section(const char *text, const char *section);

/* The JSON of IMDS and the container endpoint: AccessKeyId,
 * SecretAccessKey, Token, Expiration (and Code, when present, must be
 * "Success"). Returns 0 with *out set, or -1 with a reason. */
int credsrc_parse_json(const char *body, size_t len, creds **out, char *errbuf,
                       size_t errlen);

/* An STS answer (AssumeRole, AssumeRoleWithWebIdentity): the
 * <Credentials> of a 200, or the <Error>'s code and message. */
int credsrc_parse_sts(long status, const char *body, size_t len, creds **out,
                      char *errbuf, size_t errlen);

/* The STS endpoint for region: AWS_ENDPOINT_URL_STS, then
 * AWS_ENDPOINT_URL, then https://sts.REGION.amazonaws.com (or the global
 * https://sts.amazonaws.com with AWS_STS_REGIONAL_ENDPOINTS=legacy or no
 * region); no trailing '/'. */
void credsrc_sts_endpoint(const char *(*getenv)(const char *name),
                          const char *region, char *out, size_t outlen);

/* 1 when an http:// AWS_CONTAINER_CREDENTIALS_FULL_URI may be used: its
 * host is loopback or the ECS / EKS Pod Identity agent's address (the
 * SDKs' rule); https:// is always allowed. */
int credsrc_container_url_allowed(const char *url);

#endif
