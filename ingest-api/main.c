/* main.c -- ingest-api: accepts JSON events over HTTP and publishes them to
 * Kafka, answering 202 only once they are safe. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "publish.h"

static void validate_cb(const void *base, cfg_errors *errs)
{
    ingest_config_validate(base, errs);
}

static rd_kafka_conf_t *producer_conf(const ingest_config *c, char *errbuf,
                                      size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf_new(&c->kafka, errbuf, errlen);
    char num[3][32];

    if (conf == NULL)
        return NULL;
    snprintf(num[0], sizeof(num[0]), "%lld", c->ingest.queue_max_messages);
    snprintf(num[1], sizeof(num[1]), "%lld", c->ingest.queue_max_kbytes);
    snprintf(num[2], sizeof(num[2]), "%lld", c->ingest.delivery_timeout_ms);
    /* Idempotence implies acks=all and keeps retries from duplicating or
     * reordering; message.timeout.ms bounds how long a record may stay
     * unreported, so a request's wait always ends. */
    if (kafka_conf_set(conf, "enable.idempotence", "true", errbuf, errlen) ||
        kafka_conf_set(conf, "acks", "all", errbuf, errlen) ||
        kafka_conf_set(conf, "queue.buffering.max.messages", num[0], errbuf,
                       errlen) ||
        kafka_conf_set(conf, "queue.buffering.max.kbytes", num[1], errbuf,
                       errlen) ||
        kafka_conf_set(conf, "message.timeout.ms", num[2], errbuf, errlen) ||
        kafka_conf_apply_properties(conf, c->kafka.properties, errbuf,
                                    errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    snprintf(num[0], sizeof(num[0]), "%lld", c->ingest.linger_ms);
    if (kafka_conf_set(conf, "linger.ms", num[0], errbuf, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

int main(int argc, char **argv)
{
    ingest_config cfg;
    cfg_table table;
    daemon_opts opts;
    publisher *pub = NULL;
    http_server *srv = NULL;
    rd_kafka_conf_t *conf;
    char errbuf[512];
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    rc = daemon_parse_args(argc, argv, "ingest-api",
                           "Accepts JSON events over HTTP and publishes them "
                           "to Kafka.",
                           &opts);
    if (rc >= 0)
        return rc;
    ingest_config_table(&table, &cfg);
    rc = daemon_load_config(&table, &opts, validate_cb, &cfg.log.level);
    if (rc >= 0)
        goto out;
    rc = 1;
    daemon_install_signals();
    conf = producer_conf(&cfg, errbuf, sizeof(errbuf));
    if (conf == NULL) {
        log_error("main", "%s", errbuf);
        goto out;
    }
    pub = publisher_new(conf, cfg.kafka.topic,
                        strcmp(cfg.ingest.ack, "queued") == 0
                            ? PUBLISH_ACK_QUEUED
                            : PUBLISH_ACK_KAFKA,
                        (int)cfg.ingest.delivery_timeout_ms + 500, errbuf,
                        sizeof(errbuf));
    conf = NULL; /* owned by pub, or destroyed */
    if (pub == NULL) {
        log_error("main", "producer: %s", errbuf);
        goto out;
    }
    srv = http_start(&cfg, pub, errbuf, sizeof(errbuf));
    if (srv == NULL) {
        log_error("main", "http: %s", errbuf);
        goto out;
    }
    log_info("main",
             "ingest-api %s listening on %s, topic %s on %s, ack mode %s",
             MILLRACE_VERSION, cfg.ingest.listen, cfg.kafka.topic,
             cfg.kafka.brokers, cfg.ingest.ack);
    while (!daemon_stop)
        usleep(100 * 1000);
    log_info("main", "stopping: finishing in-flight requests");
    rc = 0;
out:
    http_stop(srv);
    publisher_destroy(pub, (int)cfg.ingest.shutdown_timeout_ms);
    cfg_free(&table);
    if (rc == 0 && pub)
        log_info("main", "stopped");
    return rc;
}
