/* mskiam.c -- AWS MSK IAM authentication: the SASL OAUTHBEARER token MSK
 * accepts (a SigV4-presigned kafka-cluster:Connect URL, base64url), and
 * librdkafka's token refresh callback signing it with the AWS credential
 * chain (creds.h). */
#include "mskiam.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "credsrc.h"
#include "kafka.h"
#include "log.h"
#include "sigv4.h"

/* base64url of len bytes, without padding; heap string or NULL. */
static char *base64url(const char *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    int n;

    if (out == NULL)
        return NULL;
    n = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data,
                        (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    return out;
}

/* Appends the percent-encoded s to buf at *n (bounded by len). */
static void append_encoded(char *buf, size_t len, size_t *n, const char *s)
{
    char *e = sigv4_uri_encode(s, strlen(s), 0);

    if (e)
        *n += (size_t)snprintf(buf + *n, *n < len ? len - *n : 0, "%s", e);
    else
        *n = len; /* out of memory: reported as too long */
    free(e);
}

/* The signed URL in the reference signer's order: the signed parameters as
 * botocore adds them (the token after SignedHeaders), the signature, then
 * the unsigned User-Agent. */
static char *layout(const char *host, const char *region, const sigv4_creds *c,
                    const sigv4_result *r, const char *user_agent)
{
    size_t len = 4096 + strlen(c->session_token ? c->session_token : "") * 3;
    char *url = malloc(len);
    size_t n;
    char cred[256];

    if (url == NULL)
        return NULL;
    snprintf(cred, sizeof(cred), "%s/%.8s/%s/%s/aws4_request", c->access_key,
             r->amz_date, region, MSKIAM_SERVICE);
    n = (size_t)snprintf(url, len,
                         "https://%s/?Action=kafka-cluster%%3AConnect"
                         "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=",
                         host);
    append_encoded(url, len, &n, cred);
    n += (size_t)snprintf(url + n, n < len ? len - n : 0,
                          "&X-Amz-Date=%s&X-Amz-Expires=%d"
                          "&X-Amz-SignedHeaders=%s",
                          r->amz_date, MSKIAM_EXPIRES_S, r->signed_headers);
    if (c->session_token && c->session_token[0]) {
        n += (size_t)snprintf(url + n, n < len ? len - n : 0,
                              "&X-Amz-Security-Token=");
        append_encoded(url, len, &n, c->session_token);
    }
    n += (size_t)snprintf(url + n, n < len ? len - n : 0,
                          "&X-Amz-Signature=%s&User-Agent=", r->signature);
    append_encoded(url, len, &n, user_agent);
    if (n >= len) {
        free(url);
        return NULL;
    }
    return url;
}

char *mskiam_token(const char *region, const char *access_key,
                   const char *secret_key, const char *session_token,
                   const char *user_agent, time_t now, char **url_out,
                   char *errbuf, size_t errlen)
{
    char host[128];
    sigv4_header h[1];
    sigv4_request req;
    sigv4_creds c;
    sigv4_result r;
    char *url = NULL;
    char *token = NULL;

    if (url_out)
        *url_out = NULL;
    if (region == NULL || region[0] == '\0' ||
        strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
            strlen(region) ||
        strlen(region) > 64) {
        errbuf_set(errbuf, errlen, "MSK IAM: bad region \"%s\"",
                   region ? region : "");
        return NULL;
    }
    snprintf(host, sizeof(host), "kafka.%s.amazonaws.com", region);
    h[0].name = "host";
    h[0].value = host;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.path = "/";
    req.query = "Action=kafka-cluster%3AConnect";
    req.headers = h;
    req.n_headers = 1;
    req.payload_hash = NULL; /* the hash of an empty body, as botocore */
    memset(&c, 0, sizeof(c));
    c.access_key = access_key;
    c.secret_key = secret_key;
    c.session_token = session_token;
    c.region = region;
    c.service = MSKIAM_SERVICE;
    if (sigv4_presign_query(&req, &c, now, MSKIAM_EXPIRES_S, &r, errbuf,
                            errlen) != 0)
        return NULL;
    url = layout(host, region, &c, &r, user_agent);
    sigv4_result_free(&r);
    if (url)
        token = base64url(url, strlen(url));
    if (token == NULL)
        errbuf_set(errbuf, errlen, "MSK IAM: out of memory");
    if (url_out && token)
        *url_out = url;
    else if (url) {
        explicit_bzero(url, strlen(url));
        free(url);
    }
    return token;
}

long long mskiam_lifetime_ms(time_t now, time_t expiration)
{
    time_t end = now + MSKIAM_EXPIRES_S;

    if (expiration > 0 && expiration < end)
        end = expiration;
    return (long long)end * 1000;
}

int mskiam_region_of_brokers(const char *brokers, char *out, size_t outlen)
{
    const char *p = brokers;

    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *k = NULL;
        char host[256];
        char *colon;
        char *dot;

        if (n < sizeof(host)) {
            memcpy(host, p, n);
            host[n] = '\0';
            colon = strrchr(host, ':');
            if (colon)
                *colon = '\0';
            k = strstr(host, ".kafka.");
        }
        /* ...kafka.REGION.amazonaws.com (or .amazonaws.com.cn) */
        if (k && (dot = strchr(k + 7, '.')) != NULL &&
            strncmp(dot, ".amazonaws.com", 14) == 0 && dot > k + 7) {
            snprintf(out, outlen, "%.*s", (int)(dot - (k + 7)), k + 7);
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static const char *plain_getenv(const char *name)
{
    return getenv(name);
}

const char *mskiam_region(const char *setting, const char *brokers,
                          const char *(*getenv_fn)(const char *), char *out,
                          size_t outlen)
{
    static const char *const vars[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};

    if (getenv_fn == NULL)
        getenv_fn = plain_getenv;
    if (setting && setting[0]) {
        snprintf(out, outlen, "%s", setting);
        return "kafka.aws_region";
    }
    if (mskiam_region_of_brokers(brokers, out, outlen))
        return "the broker names";
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv_fn(vars[i]);
        if (v && v[0]) {
            snprintf(out, outlen, "%s", v);
            return vars[i];
        }
    }
    if (credsrc_profile_region(getenv_fn, out, outlen))
        return "the shared profile";
    return NULL;
}

/* --- the process's signer ------------------------------------------------
 * One credential chain and one region for every Kafka client of the
 * process (the producer, the consumer, the dead-letter producer): the
 * refresh callback's opaque is the client's own, so it finds them here. */

static pthread_mutex_t signer_mu = PTHREAD_MUTEX_INITIALIZER;
static creds_provider *signer_creds;
static char signer_region[64];

static creds_provider *signer_start(const char *region, char *errbuf,
                                    size_t errlen)
{
    creds_options o;
    char why[1024];

    pthread_mutex_lock(&signer_mu);
    if (signer_creds)
        goto done;
    snprintf(signer_region, sizeof(signer_region), "%s", region);
    memset(&o, 0, sizeof(o));
    /* The SDKs' environment source, then the rest of the chain. */
    o.access_key = getenv("AWS_ACCESS_KEY_ID");
    o.secret_key = getenv("AWS_SECRET_ACCESS_KEY");
    o.session_token = getenv("AWS_SESSION_TOKEN");
    o.region = region;
    signer_creds = creds_provider_new(&o, errbuf, errlen);
    if (signer_creds == NULL)
        goto done;
    /* A failure here is logged by the provider, which keeps trying; each
     * token refresh until then fails with its reason and is retried. */
    creds_provider_resolve(signer_creds, why, sizeof(why));
    if (creds_provider_start(signer_creds, errbuf, errlen) != 0) {
        creds_provider_free(signer_creds);
        signer_creds = NULL;
    }
done:
    pthread_mutex_unlock(&signer_mu);
    return signer_creds;
}

static void refresh_cb(rd_kafka_t *rk, const char *oauthbearer_config,
                       void *opaque)
{
    char why[1024];
    char err[512];
    char *token;
    time_t now = time(NULL);
    creds *c = creds_acquire(signer_creds);
    long long lifetime;

    (void)oauthbearer_config;
    (void)opaque;
    if (c == NULL) {
        creds_provider_why(signer_creds, why, sizeof(why));
        log_error("mskiam", "no MSK IAM token: %s; librdkafka asks again soon",
                  why);
        rd_kafka_oauthbearer_set_token_failure(rk, why);
        return;
    }
    token = mskiam_token(signer_region, c->access_key, c->secret_key,
                         c->session_token, MSKIAM_USER_AGENT, now, NULL, why,
                         sizeof(why));
    lifetime = mskiam_lifetime_ms(now, c->expiration);
    if (token == NULL) {
        log_error("mskiam", "no MSK IAM token: %s", why);
        rd_kafka_oauthbearer_set_token_failure(rk, why);
    } else if (rd_kafka_oauthbearer_set_token(rk, token, lifetime, "millrace",
                                              NULL, 0, err, sizeof(err)) !=
               RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_error("mskiam", "MSK IAM token refused by librdkafka: %s", err);
        rd_kafka_oauthbearer_set_token_failure(rk, err);
    } else {
        log_debug("mskiam",
                  "MSK IAM token for region %s signed by access key %s, "
                  "valid for %lld s",
                  signer_region, c->access_key,
                  lifetime / 1000 - (long long)now);
    }
    if (token) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
    creds_release(c);
}

int mskiam_conf_apply(rd_kafka_conf_t *conf, const char *region, char *errbuf,
                      size_t errlen)
{
    if (kafka_conf_set(conf, "sasl.mechanisms", "OAUTHBEARER", errbuf,
                       errlen) != 0)
        return -1;
    if (signer_start(region, errbuf, errlen) == NULL)
        return -1;
    rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, refresh_cb);
    rd_kafka_conf_enable_sasl_queue(conf, 1);
    return 0;
}

int mskiam_client_started(rd_kafka_t *rk, char *errbuf, size_t errlen)
{
    rd_kafka_error_t *e = rd_kafka_sasl_background_callbacks_enable(rk);

    if (e == NULL)
        return 0;
    errbuf_set(errbuf, errlen, "MSK IAM: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return -1;
}
