/* consumer_wm.h -- the uploader's watermark thread: the end offsets of
 * the assigned partitions, asked of the brokers every lag interval, for
 * the consumer lag of /metrics. */
#ifndef MILLRACE_CONSUMER_WM_H
#define MILLRACE_CONSUMER_WM_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* The end offsets of the assigned partitions, asked of the brokers by a
 * thread of their own. The fetcher's cached watermark is not enough: a
 * paused partition is not fetched, so its cached end offset freezes
 * exactly when the backlog grows (S3 down, workers busy). */
typedef struct consumer_wm {
    pthread_t thread;
    int started;
    rd_kafka_t *rk; /* borrowed */
    const char *topic;
    long long every_ms; /* uploader.lag_interval_ms */
    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cv;
    atomic_int quit;     /* also read between queries, unlocked */
    atomic_int kafka_up; /* the last metadata request was answered */
    int32_t *want;       /* partitions to ask about, set by the main loop */
    int nwant;
    int64_t *low, *high; /* by partition; -1: not known */
    int cap;
} consumer_wm;

/* Before anything else; consumer_wm_destroy undoes it. */
void consumer_wm_init(consumer_wm *wm);
/* Starts the thread on rk (borrowed: it must outlive the thread). 0 or
 * -1. */
int consumer_wm_start(consumer_wm *wm, rd_kafka_t *rk, const char *topic,
                      long long every_ms);
/* Hands the thread the partitions to ask about (ids: heap, owned by wm
 * from now on); wakes it when the list changed, so that a new assignment
 * is measured at once. */
void consumer_wm_publish(consumer_wm *wm, int32_t *ids, int n);
/* The last offsets learned of partition id (-1: not known). */
void consumer_wm_get(consumer_wm *wm, int32_t id, int64_t *lo, int64_t *hi);
/* Stops the thread; harmless when it never started or already stopped. */
void consumer_wm_stop(consumer_wm *wm);
void consumer_wm_destroy(consumer_wm *wm);

#endif
