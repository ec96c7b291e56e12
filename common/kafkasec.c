/* kafkasec.c -- the Kafka connection's security settings: TLS files and
 * SASL checked at load, turned into librdkafka properties, and the
 * secrets they hold kept out of every log line. */
#include "kafkasec.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "kafka.h"
#include "log.h"
#include "mskiam.h"

static int set(const char *v)
{
    return v && v[0];
}

const char *const kafka_security_names[] = {"plaintext", "ssl",
                                            "sasl_plaintext", "sasl_ssl", NULL};
const char *const kafka_sasl_names[] = {
    "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "AWS_MSK_IAM", NULL};

#define PROTOCOL(ks) kafka_security_names[(ks)->security_protocol]
#define MECHANISM(ks) kafka_sasl_names[(ks)->sasl_mechanism]

static int uses_tls(const kafka_settings *ks)
{
    return ks->security_protocol == KAFKA_SECURITY_SSL ||
           ks->security_protocol == KAFKA_SECURITY_SASL_SSL;
}

static int uses_sasl(const kafka_settings *ks)
{
    return ks->security_protocol == KAFKA_SECURITY_SASL_SSL ||
           ks->security_protocol == KAFKA_SECURITY_SASL_PLAINTEXT;
}

static int is_msk_iam(const kafka_settings *ks)
{
    return ks->sasl_mechanism == KAFKA_SASL_AWS_MSK_IAM;
}

/* Opens a file the broker connection reads, with an error naming the row
 * and the file. NULL after adding the error. */
static BIO *open_file(const char *row, const char *path, cfg_errors *errs)
{
    FILE *f = fopen(path, "rb");
    BIO *b;

    if (f == NULL) {
        cfg_error_add(errs, "%s \"%s\": cannot read: %s", row, path,
                      strerror(errno));
        return NULL;
    }
    b = BIO_new_fp(f, BIO_CLOSE);
    if (b == NULL) {
        fclose(f);
        cfg_error_add(errs, "%s \"%s\": out of memory", row, path);
    }
    return b;
}

/* The first certificate of a PEM file, or NULL after adding an error. */
static X509 *read_cert(const char *row, const char *path, cfg_errors *errs)
{
    BIO *b = open_file(row, path, errs);
    X509 *x;

    if (b == NULL)
        return NULL;
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ERR_clear_error();
    if (x == NULL)
        cfg_error_add(errs, "%s \"%s\": holds no PEM certificate", row, path);
    return x;
}

/* Hands OpenSSL the key's password, or none (never a terminal prompt). */
static int password_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pw = u;
    size_t n = pw ? strlen(pw) : 0;

    (void)rwflag;
    if (n == 0 || n >= (size_t)size)
        return 0;
    memcpy(buf, pw, n);
    return (int)n;
}

/* 1 when the PEM file holds an encrypted private key. */
static int key_encrypted(const char *path)
{
    char line[256];
    int enc = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return 0;
    while (!enc && fgets(line, sizeof(line), f))
        enc = strstr(line, "ENCRYPTED") != NULL;
    fclose(f);
    return enc;
}

static EVP_PKEY *read_key(const kafka_settings *ks, cfg_errors *errs)
{
    const char *row = "kafka.ssl_key_file";
    BIO *b = open_file(row, ks->ssl_key_file, errs);
    EVP_PKEY *k;

    if (b == NULL)
        return NULL;
    k = PEM_read_bio_PrivateKey(b, NULL, password_cb, ks->ssl_key_password);
    BIO_free(b);
    ERR_clear_error();
    if (k != NULL)
        return k;
    if (!key_encrypted(ks->ssl_key_file))
        cfg_error_add(errs, "%s \"%s\": holds no PEM private key", row,
                      ks->ssl_key_file);
    else if (!set(ks->ssl_key_password))
        cfg_error_add(errs,
                      "%s \"%s\": the key is encrypted; set "
                      "kafka.ssl_key_password (env KAFKA_SSL_KEY_PASSWORD or "
                      "KAFKA_SSL_KEY_PASSWORD_FILE)",
                      row, ks->ssl_key_file);
    else
        cfg_error_add(errs,
                      "%s \"%s\": kafka.ssl_key_password does not decrypt "
                      "the key",
                      row, ks->ssl_key_file);
    return NULL;
}

/* The files TLS reads: each readable PEM, the key opened by its password
 * and belonging to the certificate. */
static void check_files(const kafka_settings *ks, cfg_errors *errs)
{
    X509 *ca = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;

    if (set(ks->ssl_ca_file)) {
        ca = read_cert("kafka.ssl_ca_file", ks->ssl_ca_file, errs);
        X509_free(ca);
    }
    if (set(ks->ssl_certificate_file))
        cert = read_cert("kafka.ssl_certificate_file", ks->ssl_certificate_file,
                         errs);
    if (set(ks->ssl_key_file))
        key = read_key(ks, errs);
    if (cert && key && X509_check_private_key(cert, key) != 1)
        cfg_error_add(errs,
                      "kafka.ssl_key_file \"%s\" is not the key of "
                      "kafka.ssl_certificate_file \"%s\"",
                      ks->ssl_key_file, ks->ssl_certificate_file);
    ERR_clear_error();
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void check_tls(const kafka_settings *ks, cfg_errors *errs)
{
    int cert = set(ks->ssl_certificate_file);
    int key = set(ks->ssl_key_file);

    if (!uses_tls(ks)) {
        if (set(ks->ssl_ca_file) || cert || key || set(ks->ssl_key_password))
            cfg_error_add(errs,
                          "kafka.ssl_* files are set but "
                          "kafka.security_protocol is %s: use ssl or "
                          "sasl_ssl",
                          PROTOCOL(ks));
        return;
    }
    if (cert != key)
        cfg_error_add(errs,
                      "kafka.ssl_certificate_file and kafka.ssl_key_file go "
                      "together (mutual TLS): set both or neither");
    if (set(ks->ssl_key_password) && !key)
        cfg_error_add(errs, "kafka.ssl_key_password is set without "
                            "kafka.ssl_key_file");
    check_files(ks, errs);
}

static void check_sasl(const kafka_settings *ks, cfg_errors *errs)
{
    const char *mech = MECHANISM(ks);
    int user = set(ks->sasl_username);
    int pass = set(ks->sasl_password);

    if (!uses_sasl(ks)) {
        if (set(mech) || user || pass)
            cfg_error_add(errs,
                          "kafka.sasl_* settings are set but "
                          "kafka.security_protocol is %s: use sasl_ssl",
                          PROTOCOL(ks));
        return;
    }
    if (!set(mech)) {
        cfg_error_add(errs,
                      "kafka.security_protocol %s needs kafka.sasl_mechanism "
                      "(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM)",
                      PROTOCOL(ks));
        return;
    }
    if (is_msk_iam(ks)) {
        if (user || pass)
            cfg_error_add(errs,
                          "kafka.sasl_mechanism AWS_MSK_IAM signs in with the "
                          "AWS credential chain: leave kafka.sasl_username "
                          "and kafka.sasl_password empty");
        if (ks->security_protocol != KAFKA_SECURITY_SASL_SSL)
            cfg_error_add(errs, "kafka.sasl_mechanism AWS_MSK_IAM needs "
                                "kafka.security_protocol sasl_ssl");
        return;
    }
    if (!user || !pass)
        cfg_error_add(errs,
                      "kafka.sasl_mechanism %s needs kafka.sasl_username and "
                      "kafka.sasl_password (env KAFKA_SASL_USERNAME, "
                      "KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE)",
                      mech);
}

int kafkasec_validate(const kafka_settings *ks, cfg_errors *errs)
{
    size_t before = errs->n;

    check_tls(ks, errs);
    check_sasl(ks, errs);
    if (!is_msk_iam(ks) && set(ks->aws_region))
        cfg_error_add(errs, "kafka.aws_region is set but kafka.sasl_mechanism "
                            "is not AWS_MSK_IAM");
    if (is_msk_iam(ks) && uses_sasl(ks)) {
        char region[64];
        if (mskiam_region(ks->aws_region, ks->brokers, NULL, region,
                          sizeof(region)) == NULL)
            cfg_error_add(errs,
                          "kafka.sasl_mechanism AWS_MSK_IAM: the cluster's "
                          "region is unknown: set kafka.aws_region (or "
                          "AWS_REGION)");
    }
    return (int)(errs->n - before);
}

int kafkasec_sensitive(const char *name)
{
    char item[256];

    snprintf(item, sizeof(item), "%s=", name);
    return cfg_sensitive_item(item) > 0;
}

static int set_if(rd_kafka_conf_t *conf, const char *name, const char *v,
                  char *errbuf, size_t errlen)
{
    if (!set(v))
        return 0;
    return kafka_conf_set(conf, name, v, errbuf, errlen);
}

int kafkasec_apply(rd_kafka_conf_t *conf, const kafka_settings *ks,
                   char *errbuf, size_t errlen)
{
    if (kafka_conf_set(conf, "security.protocol", PROTOCOL(ks), errbuf, errlen))
        return -1;
    if (uses_tls(ks) &&
        (set_if(conf, "ssl.ca.location", ks->ssl_ca_file, errbuf, errlen) ||
         set_if(conf, "ssl.certificate.location", ks->ssl_certificate_file,
                errbuf, errlen) ||
         set_if(conf, "ssl.key.location", ks->ssl_key_file, errbuf, errlen) ||
         set_if(conf, "ssl.key.password", ks->ssl_key_password, errbuf,
                errlen)))
        return -1;
    if (!uses_sasl(ks) || ks->sasl_mechanism == KAFKA_SASL_NONE)
        return 0;
    if (is_msk_iam(ks)) {
        char region[64];
        if (mskiam_region(ks->aws_region, ks->brokers, NULL, region,
                          sizeof(region)) == NULL) {
            errbuf_set(errbuf, errlen,
                       "AWS_MSK_IAM: no region (set kafka.aws_region)");
            return -1;
        }
        return mskiam_conf_apply(conf, region, errbuf, errlen);
    }
    if (kafka_conf_set(conf, "sasl.mechanisms", MECHANISM(ks), errbuf,
                       errlen) ||
        set_if(conf, "sasl.username", ks->sasl_username, errbuf, errlen) ||
        set_if(conf, "sasl.password", ks->sasl_password, errbuf, errlen))
        return -1;
    return 0;
}

void kafkasec_redact_secrets(const kafka_settings *ks)
{
    const char *cur = ks->properties;
    char item[1024];

    if (set(ks->sasl_password))
        log_redact_add(ks->sasl_password);
    if (set(ks->ssl_key_password))
        log_redact_add(ks->ssl_key_password);
    while (cfg_list_next(&cur, item, sizeof(item))) {
        size_t n = cfg_sensitive_item(item);
        if (n)
            log_redact_add(item + n + 1);
    }
    explicit_bzero(item, sizeof(item));
}
