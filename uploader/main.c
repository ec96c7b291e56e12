/* main.c -- uploader: consumes the events topic with a fixed worker pool and
 * writes each batch to S3 (or a local directory) exactly once. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "consumer.h"
#include "daemon.h"
#include "dlq.h"
#include "health.h"
#include "kafka.h"
#include "localstore.h"
#include "log.h"
#include "s3.h"

static void validate_cb(const void *base, cfg_errors *errs)
{
    uploader_config_validate(base, errs);
}

static store *open_store(const uploader_config *cfg, char *errbuf,
                         size_t errlen)
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
    o.path_style = cfg->s3.path_style;
    o.connect_timeout_ms = (long)cfg->s3.connect_timeout_ms;
    o.request_timeout_ms = (long)cfg->s3.request_timeout_ms;
    o.sse = cfg->s3.sse;
    o.sse_kms_key_id = cfg->s3.sse_kms_key_id;
    o.storage_class = cfg->s3.storage_class;
    return s3_store_new(&o, errbuf, errlen);
}

static dlq *open_dlq(const uploader_config *cfg, char *errbuf, size_t errlen)
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

int main(int argc, char **argv)
{
    uploader_config cfg;
    cfg_table table;
    daemon_opts opts;
    upload_stats stats;
    store *st = NULL;
    consumer *c = NULL;
    dlq *dq = NULL;
    health *h = NULL;
    char errbuf[512];
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    memset(&stats, 0, sizeof(stats));
    rc = daemon_parse_args(argc, argv, "uploader",
                           "Writes the events topic to S3 in batches.", &opts);
    if (rc >= 0)
        return rc;
    uploader_config_table(&table, &cfg);
    rc = daemon_load_config(&table, &opts, validate_cb, &cfg.log.level);
    if (rc >= 0)
        goto out;
    rc = 1;
    daemon_install_signals();
    if (s3_global_init() < 0) {
        log_error("main", "libcurl initialisation failed");
        goto out;
    }
    st = open_store(&cfg, errbuf, sizeof(errbuf));
    if (st == NULL) {
        log_error("main", "store: %s", errbuf);
        goto out;
    }
    dq = open_dlq(&cfg, errbuf, sizeof(errbuf));
    if (dq == NULL) {
        log_error("main", "dead-letter producer: %s", errbuf);
        goto out;
    }
    c = consumer_new(&cfg, st, dq, &stats, errbuf, sizeof(errbuf));
    if (c == NULL) {
        log_error("main", "consumer: %s", errbuf);
        goto out;
    }
    h = health_start(cfg.uploader.listen, c, dq, &stats, errbuf,
                     sizeof(errbuf));
    if (h == NULL) {
        log_error("main", "health: %s", errbuf);
        goto out;
    }
    log_info("main",
             "uploader %s: topic %s on %s, group %s, %lld workers, queue "
             "%lld, store %s%s%s, batches close at %lld records, %lld "
             "bytes or %lld ms",
             MILLRACE_VERSION, cfg.kafka.topic, cfg.kafka.brokers,
             cfg.uploader.group, cfg.uploader.workers, cfg.uploader.queue,
             st->name, strcmp(st->name, "local") == 0 ? " " : " bucket ",
             strcmp(st->name, "local") == 0 ? cfg.uploader.local_dir
                                            : cfg.s3.bucket,
             cfg.uploader.max_records, cfg.uploader.max_bytes,
             cfg.uploader.max_age_ms);
    rc = consumer_run(c) == 0 ? 0 : 1;
    log_info("main", "stopped");
out:
    health_stop(h);
    consumer_free(c);
    dlq_free(dq);
    store_destroy(st);
    s3_global_cleanup();
    cfg_free(&table);
    return rc;
}
