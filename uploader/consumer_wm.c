/* consumer_wm.c -- the uploader's watermark thread: the end offsets of
 * the assigned partitions, asked of the brokers every lag interval. The
 * fetcher's cached watermark is not enough: a paused partition is not
 * fetched, so its cached end offset freezes exactly when the backlog
 * grows. */
#include "consumer_wm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "now.h"

/* Grows wm's arrays to hold partition id; with wm->mu held. */
static int wm_reserve(consumer_wm *wm, int32_t id)
{
    int n = id + 1;
    int64_t *lo, *hi;

    if (id < wm->cap)
        return 0;
    lo = realloc(wm->low, (size_t)n * sizeof(*lo));
    if (lo == NULL)
        return -1;
    wm->low = lo;
    hi = realloc(wm->high, (size_t)n * sizeof(*hi));
    if (hi == NULL)
        return -1;
    wm->high = hi;
    for (int i = wm->cap; i < n; i++) {
        wm->low[i] = -1;
        wm->high[i] = -1;
    }
    wm->cap = n;
    return 0;
}

/* One metadata request (brokers only): the cluster is reachable and lets
 * us in (TLS and SASL done). Logs each change. */
static void probe_kafka(consumer_wm *wm, int timeout)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(wm->rk, 0, NULL, &md, timeout);
    int was;

    if (md)
        rd_kafka_metadata_destroy(md);
    was = atomic_exchange(&wm->kafka_up, err == RD_KAFKA_RESP_ERR_NO_ERROR);
    if (err && was)
        log_error("consumer",
                  "Kafka unreachable: metadata request: %s (the reason is "
                  "in the kafka log lines); /readyz answers 503",
                  rd_kafka_err2str(err));
    else if (!err && !was)
        log_info("consumer", "Kafka reachable again");
}

/* The watermark thread: every lag_interval_ms (or when the main loop has
 * a new list of partitions), asks the partition leaders for the offsets
 * of each assigned partition, paused or not. One ListOffsets round per
 * interval bounds what it costs the brokers. */
static void *wm_main(void *arg)
{
    consumer_wm *wm = arg;
    long long every = wm->every_ms;
    /* one request's wait: within the interval, but never so short that a
     * busy broker's answer is given up on */
    int timeout = every < 1000 ? 1000 : every > 5000 ? 5000 : (int)every;

    pthread_mutex_lock(&wm->mu);
    while (!wm->quit) {
        int n = wm->nwant;
        int32_t *ids = n ? malloc((size_t)n * sizeof(*ids)) : NULL;
        struct timespec until;

        if (ids)
            memcpy(ids, wm->want, (size_t)n * sizeof(*ids));
        pthread_mutex_unlock(&wm->mu);
        probe_kafka(wm, timeout);
        for (int i = 0; ids && i < n && !wm->quit; i++) {
            int64_t lo = -1, hi = -1;
            rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                wm->rk, wm->topic, ids[i], &lo, &hi, timeout);
            if (err) {
                log_debug("consumer", "partition %d end offset: %s",
                          (int)ids[i], rd_kafka_err2str(err));
                continue;
            }
            pthread_mutex_lock(&wm->mu);
            if (wm_reserve(wm, ids[i]) == 0) {
                wm->low[ids[i]] = lo;
                wm->high[ids[i]] = hi;
            }
            pthread_mutex_unlock(&wm->mu);
        }
        free(ids);
        until = now_deadline(CLOCK_REALTIME, every);
        pthread_mutex_lock(&wm->mu);
        if (!wm->quit)
            pthread_cond_timedwait(&wm->cv, &wm->mu, &until);
    }
    pthread_mutex_unlock(&wm->mu);
    return NULL;
}

void consumer_wm_stop(consumer_wm *wm)
{
    if (!wm->started)
        return;
    pthread_mutex_lock(&wm->mu);
    wm->quit = 1;
    pthread_cond_signal(&wm->cv);
    pthread_mutex_unlock(&wm->mu);
    pthread_join(wm->thread, NULL);
    wm->started = 0;
}

void consumer_wm_init(consumer_wm *wm)
{
    memset(wm, 0, sizeof(*wm));
    atomic_init(&wm->kafka_up, 1); /* unknown until the first probe */
    pthread_mutex_init(&wm->mu, NULL);
    pthread_cond_init(&wm->cv, NULL);
}

int consumer_wm_start(consumer_wm *wm, rd_kafka_t *rk, const char *topic,
                      long long every_ms)
{
    wm->rk = rk;
    wm->topic = topic;
    wm->every_ms = every_ms;
    if (pthread_create(&wm->thread, NULL, wm_main, wm) != 0)
        return -1;
    wm->started = 1;
    return 0;
}

void consumer_wm_publish(consumer_wm *wm, int32_t *ids, int n)
{
    int changed;

    pthread_mutex_lock(&wm->mu);
    changed = n != wm->nwant ||
              (n && memcmp(ids, wm->want, (size_t)n * sizeof(*ids)) != 0);
    free(wm->want);
    wm->want = ids;
    wm->nwant = n;
    if (changed)
        pthread_cond_signal(&wm->cv);
    pthread_mutex_unlock(&wm->mu);
}

void consumer_wm_get(consumer_wm *wm, int32_t id, int64_t *lo, int64_t *hi)
{
    pthread_mutex_lock(&wm->mu);
    *lo = id < wm->cap ? wm->low[id] : -1;
    *hi = id < wm->cap ? wm->high[id] : -1;
    pthread_mutex_unlock(&wm->mu);
}

void consumer_wm_destroy(consumer_wm *wm)
{
    consumer_wm_stop(wm);
    pthread_mutex_destroy(&wm->mu);
    pthread_cond_destroy(&wm->cv);
    free(wm->want);
    free(wm->low);
    free(wm->high);
}
