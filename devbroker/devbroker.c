/* devbroker.c -- the in-memory Kafka cluster behind `make run`: librdkafka's
 * mock cluster in its own process, for trying millrace out. Not durable. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static void usage(void)
{
    fprintf(stderr, "usage: millrace-devbroker [--topic NAME] "
                    "[--partitions N] [--brokers N] [--port-file FILE]\n");
}

int main(int argc, char **argv)
{
    const char *topic = "events";
    const char *port_file = NULL;
    int partitions = 4;
    int brokers = 1;
    char errbuf[512];
    char dlq[256];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    const char *bootstraps;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
            topic = argv[++i];
        else if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc)
            partitions = atoi(argv[++i]);
        else if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            brokers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
            port_file = argv[++i];
        else {
            usage();
            return 2;
        }
    }
    if (partitions < 1 || brokers < 1) {
        usage();
        return 2;
    }
    daemon_install_signals();
    /* The mock cluster needs a client instance to live in; a producer that
     * never produces is the smallest. */
    conf = rd_kafka_conf_new();
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, sizeof(errbuf));
    if (rk == NULL) {
        log_error("devbroker", "%s", errbuf);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    conf = NULL; /* owned by rk */
    mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (mc == NULL) {
        log_error("devbroker", "cannot create the mock cluster");
        goto out;
    }
    snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
    if (rd_kafka_mock_topic_create(mc, topic, partitions, 1) ||
        rd_kafka_mock_topic_create(mc, dlq, 1, 1)) {
        log_error("devbroker", "cannot create topics");
        goto out;
    }
    bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f == NULL || fprintf(f, "%s\n", bootstraps) < 0 || fclose(f)) {
            log_error("devbroker", "cannot write %s", port_file);
            goto out;
        }
    }
    log_info("devbroker",
             "in-memory Kafka at %s, topic %s with %d partitions "
             "(not durable: everything is gone when it stops)",
             bootstraps, topic, partitions);
    while (!daemon_stop)
        usleep(100 * 1000);
    rc = 0;
out:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
