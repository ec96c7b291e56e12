/* setup.c -- building the uploader's store and dead-letter producer from
 * its settings; shared by the daemon and by replay. */
#include "setup.h"

#include <stdio.h>
#include <string.h>

#include "kafka.h"
#include "localstore.h"
#include "s3.h"

/* A bucket name that can be the first label of a host name under TLS
 * (no dots: a wildcard certificate covers one label). */
static int dns_safe_bucket(const char *b)
{
    size_t n = strlen(b);

    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') ||
              b[i] == '-'))
            return 0;
    return 1;
}

int setup_path_style(const uploader_config *cfg)
{
    if (cfg->s3.path_style >= 0)
        return cfg->s3.path_style;
    if (cfg->s3.endpoint[0])
        return 1;
    return !dns_safe_bucket(cfg->s3.bucket);
}

store *setup_store(const uploader_config *cfg, char *errbuf, size_t errlen)
{
    s3_options o;
    char endpoint[512];

    if (strcmp(cfg->uploader.store, "local") == 0)
        return localstore_new(cfg->uploader.local_dir, errbuf, errlen);
    memset(&o, 0, sizeof(o));
    if (cfg->s3.endpoint[0]) {
        o.endpoint = cfg->s3.endpoint;
    } else {
        snprintf(endpoint, sizeof(endpoint), "https://s3.%s.amazonaws.com",
                 cfg->s3.region);
        o.endpoint = endpoint;
    }
    o.bucket = cfg->s3.bucket;
    o.region = cfg->s3.region;
    o.access_key = cfg->s3.access_key;
    o.secret_key = cfg->s3.secret_key;
    o.session_token = cfg->s3.session_token;
    o.path_style = setup_path_style(cfg);
    o.connect_timeout_ms = (long)cfg->s3.connect_timeout_ms;
    o.request_timeout_ms = (long)cfg->s3.request_timeout_ms;
    o.sse = cfg->s3.sse;
    o.sse_kms_key_id = cfg->s3.sse_kms_key_id;
    o.storage_class = cfg->s3.storage_class;
    return s3_store_new(&o, errbuf, errlen);
}

dlq *setup_dlq(const uploader_config *cfg, char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf_new(&cfg->kafka, errbuf, errlen);

    if (conf == NULL)
        return NULL;
    if (kafka_conf_set(conf, "enable.idempotence", "true", errbuf, errlen) ||
        kafka_conf_set(conf, "acks", "all", errbuf, errlen) ||
        kafka_conf_apply_properties(conf, cfg->kafka.properties, errbuf,
                                    errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return dlq_new(conf, cfg->kafka.topic, errbuf, errlen);
}
