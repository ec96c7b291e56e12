/* replay_kafka.c -- what replay asks Kafka: partitions, watermarks, the
 * live group's committed offsets (without joining it), offsets for times,
 * and the source offsets named by the dead-letter topic. */
#include "replay_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"
#include "now.h"

#define METADATA_TIMEOUT_MS 10000
#define WATERMARKS_TIMEOUT_MS 10000
#define OFFSETS_TIMEOUT_MS 30000
#define POLL_MS 1000

rd_kafka_t *replay_reader_new(const uploader_config *cfg, const char *group,
                              char *errbuf, size_t errlen)
{
    const kafka_prop props[] = {
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
    };
    rd_kafka_conf_t *conf =
        kafka_conf_build(&cfg->kafka, props, 4, errbuf, errlen);
    rd_kafka_t *rk;

    if (conf == NULL)
        return NULL;
    rk = kafka_new(RD_KAFKA_CONSUMER, conf, errbuf, errlen);
    if (rk == NULL)
        rd_kafka_conf_destroy(conf);
    return rk;
}

int replay_partitions_of(rd_kafka_t *rk, const char *topic, char *errbuf,
                         size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err;
    int n = -1;

    err = rd_kafka_metadata(rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
    if (err)
        snprintf(errbuf, errlen, "metadata of %s: %s", topic,
                 rd_kafka_err2str(err));
    else if (md->topic_cnt != 1 || md->topics[0].err)
        snprintf(errbuf, errlen, "topic %s: %s", topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
                               : "not found");
    else
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

int replay_watermarks(rd_kafka_t *rk, const char *topic, int n,
                      replay_part *parts, char *errbuf, size_t errlen)
{
    for (int p = 0; p < n; p++) {
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, topic, p, &parts[p].lo, &parts[p].hi, WATERMARKS_TIMEOUT_MS);
        if (err) {
            snprintf(errbuf, errlen, "watermarks of %s/%d: %s", topic, p,
                     rd_kafka_err2str(err));
            return -1;
        }
        parts[p].live = -1;
    }
    return 0;
}

int replay_live_committed(const uploader_config *cfg, const char *topic, int n,
                          replay_part *parts, char *errbuf, size_t errlen)
{
    rd_kafka_t *rk =
        replay_reader_new(cfg, cfg->uploader.group, errbuf, errlen);
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t err;

    if (rk == NULL)
        return -1;
    /* Only OffsetFetch: this handle never subscribes, so it never joins
     * (or disturbs) the live group. */
    l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, i);
    err = rd_kafka_committed(rk, l, OFFSETS_TIMEOUT_MS);
    for (int i = 0; i < n && !err; i++)
        parts[l->elems[i].partition].live =
            l->elems[i].offset >= 0 ? l->elems[i].offset : -1;
    if (err)
        snprintf(errbuf, errlen, "offsets of group %s: %s", cfg->uploader.group,
                 rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return err ? -1 : 0;
}

/* --since/--until: the offsets of the first record at or after each time. */
int replay_time_ranges(rd_kafka_t *rk, const char *topic, int nparts,
                       const replay_opts *o, replay_part *parts, char *errbuf,
                       size_t errlen)
{
    int64_t since, until = now_ms();
    rd_kafka_topic_partition_list_t *a, *b;
    rd_kafka_resp_err_t err;
    int rc = -1;

    if (replay_parse_time(o->since, &since) < 0 ||
        (o->until && replay_parse_time(o->until, &until) < 0)) {
        snprintf(errbuf, errlen,
                 "bad time in --since/--until (RFC 3339 "
                 "such as 2026-11-27T18:00:00Z, or ms)");
        return REPLAY_BAD_ARGS;
    }
    if (until < since) {
        snprintf(errbuf, errlen, "--until is before --since");
        return REPLAY_BAD_ARGS;
    }
    a = rd_kafka_topic_partition_list_new(nparts);
    b = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++) {
        rd_kafka_topic_partition_list_add(a, topic, i)->offset = since;
        rd_kafka_topic_partition_list_add(b, topic, i)->offset = until + 1;
    }
    err = rd_kafka_offsets_for_times(rk, a, OFFSETS_TIMEOUT_MS);
    if (!err)
        err = rd_kafka_offsets_for_times(rk, b, OFFSETS_TIMEOUT_MS);
    if (err) {
        snprintf(errbuf, errlen, "offsets for times: %s",
                 rd_kafka_err2str(err));
        goto done;
    }
    for (int i = 0; i < nparts; i++) {
        int p = a->elems[i].partition;
        int64_t f = a->elems[i].offset;
        int64_t t = b->elems[i].offset;
        /* -1: no record at or after the time, i.e. the end. */
        if (f < 0)
            f = parts[p].hi;
        if (t < 0)
            t = parts[p].hi;
        if (f < parts[p].lo)
            f = parts[p].lo;
        if (f < t && replay_ranges_add(&parts[p].want, f, t - 1) < 0)
            goto done;
    }
    rc = 0;
done:
    rd_kafka_topic_partition_list_destroy(a);
    rd_kafka_topic_partition_list_destroy(b);
    return rc;
}

static const char *header(const rd_kafka_message_t *m, const char *name,
                          char *buf, size_t len)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t n;

    if (rd_kafka_message_headers(m, &h) || h == NULL ||
        rd_kafka_header_get_last(h, name, &v, &n) || n >= len)
        return NULL;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

/* --from-dlq: every dead-letter record of topic (filtered) names a source
 * offset; its batch is re-made. */
int replay_dlq_ranges(const uploader_config *cfg, const char *topic,
                      const replay_opts *o, int nparts, replay_part *parts,
                      unsigned long long *matched, char *errbuf, size_t errlen)
{
    char dlq_name[300], group[64];
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *l;
    int n, eofs = 0, rc = -1;

    snprintf(dlq_name, sizeof(dlq_name), "%s.dlq", topic);
    snprintf(group, sizeof(group), "millrace-replay-%d", (int)getpid());
    rk = replay_reader_new(cfg, group, errbuf, errlen);
    if (rk == NULL)
        return -1;
    n = replay_partitions_of(rk, dlq_name, errbuf, errlen);
    if (n < 0)
        goto done;
    l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, dlq_name, i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    while (eofs < n) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, POLL_MS);
        char st[300], sp[16], so[24], rs[64];
        int64_t p, off;
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (m->err) {
            snprintf(errbuf, errlen, "reading %s: %s", dlq_name,
                     rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto done;
        } else if (header(m, "source_topic", st, sizeof(st)) &&
                   strcmp(st, topic) == 0 &&
                   header(m, "source_partition", sp, sizeof(sp)) &&
                   header(m, "source_offset", so, sizeof(so)) &&
                   replay_parse_int64(sp, &p) == 0 &&
                   replay_parse_int64(so, &off) == 0 && p < nparts &&
                   (o->source_partition < 0 || p == o->source_partition) &&
                   (o->reason == NULL || (header(m, "reason", rs, sizeof(rs)) &&
                                          strcmp(rs, o->reason) == 0))) {
            (*matched)++;
            if (replay_ranges_add(&parts[p].want, off, off) < 0) {
                rd_kafka_message_destroy(m);
                goto done;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rc = 0;
done:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
