/* main.c -- ingest-api: accepts JSON events over HTTP and publishes them to
 * Kafka, answering 202 only once they are safe.
 *
 * Exit status: 0 after SIGTERM/SIGINT; 1 for a configuration or start-up
 * error, and after a fatal producer error (the idempotent producer cannot
 * go on: the process drains and exits so that its supervisor starts a
 * fresh one, with a new producer id). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "now.h"
#include "metrics.h"
#include "publish.h"

/* How often the operations summary may be logged. */
#define SUMMARY_EVERY_S 10

static void validate_cb(const void *base, cfg_errors *errs)
{
    ingest_config_validate(base, errs);
}

/* Settings SIGHUP applies (reload_ingest), beside the log settings. */
static const char *const reloadable[] = {"ingest.tls_certificate", NULL};

/* SIGHUP's part of ingest-api: the TLS certificate is read again (from
 * the file named now), for the handshakes that follow. */
static const char *reload_ingest(const void *fresh, void *arg)
{
    const ingest_config *c = fresh;
    http_server *srv = arg;
    char errbuf[512];
    int rc =
        http_reload_tls(srv, c->ingest.tls_certificate, errbuf, sizeof(errbuf));

    if (rc < 0) {
        log_error("reload",
                  "TLS certificate not reloaded: %s (the running "
                  "one stays)",
                  errbuf);
        return NULL;
    }
    return rc > 0 ? "TLS certificate" : NULL;
}

/* linger_ms: the producer's linger.ms (ingest_linger_ms, or 0 for the
 * fast lane). */
static rd_kafka_conf_t *producer_conf(const ingest_config *c,
                                      long long linger_ms, char *errbuf,
                                      size_t errlen)
{
    char num[4][32];
    /* Ack mode kafka: one produce request in flight per broker, as
     * franz-go's ProduceSync. With a short linger, a lone request goes
     * out at once; under load, records gather while the request before
     * them is out, so batches grow with the load (and the broker's CPU
     * per record falls) without a fixed wait for every request. */
    const char *inflight = c->ingest.ack == PUBLISH_ACK_KAFKA ? "1" : "5";
    const kafka_prop props[] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"queue.buffering.max.messages", num[0]},
        {"queue.buffering.max.kbytes", num[1]},
        {"message.timeout.ms", num[2]},
        {"linger.ms", num[3]},
        {"reconnect.backoff.max.ms", "1000"},
        {"socket.nagle.disable", "true"},
        {"max.in.flight.requests.per.connection", inflight},
    };

    snprintf(num[0], sizeof(num[0]), "%lld", c->ingest.queue_max_messages);
    snprintf(num[1], sizeof(num[1]), "%lld", c->ingest.queue_max_kbytes);
    snprintf(num[2], sizeof(num[2]), "%lld", c->ingest.delivery_timeout_ms);
    snprintf(num[3], sizeof(num[3]), "%lld", linger_ms);
    /* Idempotence implies acks=all and keeps retries from duplicating or
     * reordering; message.timeout.ms bounds how long a record may stay
     * unreported, so a request's wait always ends. A short reconnect
     * backoff lets 202s resume soon after the cluster returns. Without
     * Nagle, a small produce request leaves at once (ack mode kafka waits
     * for it). Operators' properties come last and win. */
    return kafka_conf_build(&c->kafka, props, sizeof(props) / sizeof(props[0]),
                            errbuf, errlen);
}

/* An event must fit in one record of the producer's message.max.bytes:
 * lower ingest.max_event_bytes if it does not, so that such an event is a
 * 413 before anything is produced rather than a failed delivery. */
static void fit_event_limit(ingest_config *c, rd_kafka_conf_t *conf)
{
    char v[32];
    size_t n = sizeof(v);
    long long max;

    if (rd_kafka_conf_get(conf, "message.max.bytes", v, &n) != RD_KAFKA_CONF_OK)
        return;
    max = atoll(v) - PUBLISH_RECORD_OVERHEAD;
    if (max > 0 && c->ingest.max_event_bytes > max) {
        log_warn("main",
                 "ingest.max_event_bytes %lld lowered to %lld to fit "
                 "message.max.bytes %s",
                 c->ingest.max_event_bytes, max, v);
        c->ingest.max_event_bytes = max;
    }
}

/* A producer batch must fit in one record batch the topic takes: its
 * max.message.bytes, learned once here (the publisher keeps it current for
 * single events). A lower limit than batch.size would fail whole batches,
 * other clients' records with them. A cluster that cannot answer now
 * leaves batch.size as it is (the broker default is above it). Returns the
 * limit, or -1 when it could not be learned. */
static long long fit_batch_to_topic(const ingest_config *c,
                                    rd_kafka_conf_t *conf)
{
    rd_kafka_conf_t *dup = rd_kafka_conf_dup(conf);
    char errstr[256];
    char why[256];
    char v[32];
    size_t n = sizeof(v);
    rd_kafka_t *rk = kafka_new(RD_KAFKA_PRODUCER, dup, errstr, sizeof(errstr));
    long long limit;

    if (rk == NULL) {
        rd_kafka_conf_destroy(dup);
        return -1;
    }
    limit = kafka_topic_max_message_bytes(rk, c->kafka.topic, 5000, why,
                                          sizeof(why));
    rd_kafka_destroy(rk); /* dup was owned by rk */
    if (limit < 0) {
        log_warn("main", "topic %s: record size limit not learned at start: %s",
                 c->kafka.topic, why);
        return -1;
    }
    if (rd_kafka_conf_get(conf, "batch.size", v, &n) != RD_KAFKA_CONF_OK ||
        atoll(v) <= limit - PUBLISH_RECORD_OVERHEAD)
        return limit;
    snprintf(v, sizeof(v), "%lld", limit - PUBLISH_RECORD_OVERHEAD);
    if (rd_kafka_conf_set(conf, "batch.size", v, errstr, sizeof(errstr)) ==
        RD_KAFKA_CONF_OK)
        log_info("main",
                 "batch.size lowered to %s to fit topic %s "
                 "(max.message.bytes %lld)",
                 v, c->kafka.topic, limit);
    return limit;
}

/* One line every SUMMARY_EVERY_S seconds while requests are refused or
 * records fail, instead of a line per request. */
static void log_summary(ingest_metrics *m, publisher *pub,
                        unsigned long long *last503,
                        unsigned long long *lasterr)
{
    unsigned long long n503 = metrics_status_count(m, 503);
    publish_stats ps;

    publisher_stats(pub, &ps);
    if (n503 != *last503 || ps.delivery_errors != *lasterr)
        log_warn("main",
                 "last %ds: %llu request(s) answered 503, %llu record(s) "
                 "failed delivery; producer queue %d; see /metrics",
                 SUMMARY_EVERY_S, n503 - *last503,
                 ps.delivery_errors - *lasterr, ps.queue_messages);
    *last503 = n503;
    *lasterr = ps.delivery_errors;
}

/* Stop accepting, finish what is in flight, flush: all within one
 * shutdown_timeout_ms budget. */
static void shut_down(const ingest_config *cfg, http_server *srv,
                      publisher *pub)
{
    long long budget = cfg->ingest.shutdown_timeout_ms;
    long long t0 = now_mono_ms();
    long long left;
    int busy;

    log_info("main", "stopping: refusing new connections, finishing the "
                     "requests in flight");
    busy = http_drain(srv, budget);
    if (busy)
        log_warn("main",
                 "%d request(s) still in flight after %lld ms; "
                 "cutting them (none of them got a 202)",
                 busy, budget);
    http_stop(srv);
    left = budget - (now_mono_ms() - t0);
    publisher_destroy(pub, left > 100 ? (int)left : 100);
}

int main(int argc, char **argv)
{
    static ingest_metrics metrics;
    ingest_config cfg;
    cfg_table table;
    daemon_opts opts;
    publish_opts po;
    publisher *pub = NULL;
    http_server *srv = NULL;
    rd_kafka_conf_t *conf;
    daemon_reload_spec reload;
    unsigned long long last503 = 0, lasterr = 0;
    long long next_summary;
    char errbuf[512];
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    rc = daemon_parse_args(argc, argv, "ingest-api",
                           "Accepts JSON events over HTTP and publishes them "
                           "to Kafka.",
                           NULL, &opts);
    if (rc >= 0)
        return rc;
    ingest_config_table(&table, &cfg);
    rc = daemon_load_config(&table, &opts, validate_cb, &cfg.log);
    if (rc >= 0)
        goto out;
    rc = 1;
    daemon_install_signals();
    metrics_init(&metrics);
    conf = producer_conf(&cfg, ingest_linger_ms(&cfg), errbuf, sizeof(errbuf));
    if (conf == NULL) {
        log_error("main", "%s", errbuf);
        goto out;
    }
    fit_event_limit(&cfg, conf);
    memset(&po, 0, sizeof(po));
    po.record_limit = fit_batch_to_topic(&cfg, conf);
    po.topic = cfg.kafka.topic;
    po.ack = (publish_ack)cfg.ingest.ack;
    po.wait_ms = (int)cfg.ingest.delivery_timeout_ms;
    po.probe_ms = (int)cfg.ingest.probe_interval_ms;
    /* The fast lane: ack mode kafka with a linger to skip (else every
     * request already leaves at once). */
    if (cfg.ingest.ack == PUBLISH_ACK_KAFKA && cfg.ingest.fast_lane > 0 &&
        ingest_linger_ms(&cfg) > 0) {
        po.fast_conf = producer_conf(&cfg, 0, errbuf, sizeof(errbuf));
        po.fast_max = (int)cfg.ingest.fast_lane;
    }
    pub = publisher_new(conf, &po, errbuf, sizeof(errbuf));
    conf = NULL; /* owned by pub, or destroyed */
    if (pub == NULL) {
        log_error("main", "producer: %s", errbuf);
        goto out;
    }
    srv = http_start(&cfg, pub, &metrics, errbuf, sizeof(errbuf));
    if (srv == NULL) {
        log_error("main", "http: %s", errbuf);
        goto out;
    }
    log_info(
        "main",
        "ingest-api %s listening on %s, topic %s on %s, ack mode %s "
        "(linger %lld ms), %lld threads%s%s",
        MILLRACE_VERSION, cfg.ingest.listen, cfg.kafka.topic, cfg.kafka.brokers,
        ingest_ack_names[cfg.ingest.ack], ingest_linger_ms(&cfg),
        cfg.ingest.threads, cfg.ingest.tls_certificate[0] ? ", TLS" : "",
        cfg.ingest.tokens && cfg.ingest.tokens[0] ? ", bearer tokens" : "");
    memset(&reload, 0, sizeof(reload));
    reload.live = &table;
    reload.base_size = sizeof(cfg);
    reload.opts = &opts;
    reload.validate = validate_cb;
    reload.log_offset = offsetof(ingest_config, log);
    reload.reloadable = reloadable;
    reload.apply = reload_ingest;
    reload.arg = srv;
    if (daemon_reloader_start(&reload) < 0)
        log_warn("main", "no SIGHUP reloader thread: SIGHUP is ignored");
    next_summary = now_mono_ms() + SUMMARY_EVERY_S * 1000;
    while (!daemon_stop && !publisher_fatal(pub)) {
        usleep(100 * 1000);
        if (now_mono_ms() >= next_summary) {
            log_summary(&metrics, pub, &last503, &lasterr);
            next_summary += SUMMARY_EVERY_S * 1000;
        }
    }
    rc = daemon_stop ? 0 : 1;
    daemon_reloader_stop();
    if (rc)
        log_error("main", "the producer failed for good: draining and "
                          "exiting 1 so that a new process takes over");
    shut_down(&cfg, srv, pub);
    srv = NULL;
    pub = NULL;
    log_info("main", "stopped");
out:
    daemon_reloader_stop();
    http_stop(srv);
    publisher_destroy(pub, 0);
    cfg_free(&table);
    return rc;
}
