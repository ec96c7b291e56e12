/* upload.c -- one worker's job: encode a closed batch into objects and put
 * each into the store, retrying with backoff until stored or abandoned.
 *
 * A permanent error (AccessDenied, NoSuchBucket, a bad signature) is retried
 * too, at the longest delay: the partition stops advancing and says so
 * loudly, but no record is ever skipped. */
#include "upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "objkey.h"

upload_job *upload_job_new(batch *b)
{
    upload_job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->b = b;
    j->next_offset = batch_last_offset(b) + 1;
    atomic_init(&j->abandon, 0);
    return j;
}

void upload_job_free(upload_job *j)
{
    if (j == NULL)
        return;
    batch_free(j->b);
    free(j);
}

long long upload_backoff_ms(long long base, long long max, int attempt,
                            unsigned r)
{
    long long d = base;

    for (int i = 0; i < attempt && d < max; i++)
        d *= 2;
    if (d > max)
        d = max;
    return d / 2 + (long long)(r % (unsigned)(d / 2 + 1));
}

/* Sleeps ms in short steps; returns 1 if the job was abandoned meanwhile. */
static int nap(upload_job *j, long long ms)
{
    while (ms > 0) {
        long long step = ms < 100 ? ms : 100;
        if (atomic_load(&j->abandon))
            return 1;
        usleep((useconds_t)step * 1000);
        ms -= step;
    }
    return atomic_load(&j->abandon);
}

static int put_one(upload_job *j, const upload_ctx *c,
                   const encoded_object *o, unsigned *seed)
{
    char key[1024];
    char err[512];
    store_object obj;
    int attempt = 0;

    if (objkey_format(key, sizeof(key), c->prefix, c->topic, j->b->partition,
                      o->first_offset, o->hour_ms, encode_ext(c->format)) < 0) {
        log_error("upload", "key too long for partition %d offset %lld",
                  (int)j->b->partition, (long long)o->first_offset);
        return -1;
    }
    obj.key = key;
    obj.data = o->data;
    obj.len = o->len;
    obj.content_type = "application/x-ndjson";
    obj.content_encoding = encode_content_encoding(c->format);
    for (;;) {
        store_result r;
        long long delay;

        if (atomic_load(&j->abandon))
            return -1;
        r = store_put(c->st, &obj, err, sizeof(err));
        if (r == STORE_OK)
            break;
        atomic_fetch_add(&c->stats->retries, 1);
        if (r == STORE_PERMANENT) {
            atomic_fetch_add(&c->stats->permanent_errors, 1);
            atomic_store(&c->stats->failing, 1);
            delay = upload_backoff_ms(c->retry_max_ms, c->retry_max_ms, 0,
                                      (unsigned)rand_r(seed));
            log_error("upload",
                      "%s: %s (permanent; partition %d is stopped, retrying "
                      "in %lld ms)",
                      key, err, (int)j->b->partition, delay);
        } else {
            delay = upload_backoff_ms(c->retry_base_ms, c->retry_max_ms,
                                      attempt, (unsigned)rand_r(seed));
            log_warn("upload", "%s: %s (retry %d in %lld ms)", key, err,
                     attempt + 1, delay);
        }
        attempt++;
        if (nap(j, delay))
            return -1;
    }
    if (attempt)
        atomic_store(&c->stats->failing, 0);
    atomic_fetch_add(&c->stats->objects, 1);
    atomic_fetch_add(&c->stats->bytes, o->len);
    atomic_fetch_add(&c->stats->records, o->records);
    log_debug("upload", "stored %s (%zu records, %zu bytes)", key, o->records,
              o->len);
    return 0;
}

void upload_run(void *job, void *ctx)
{
    upload_job *j = job;
    const upload_ctx *c = ctx;
    encoded_object *objs = NULL;
    size_t n = 0;
    char err[256];
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)j;

    j->result = UPLOAD_ABANDONED;
    if (encode_batch(j->b, c->format, c->level, &objs, &n, err,
                     sizeof(err)) < 0) {
        log_error("upload", "%s", err);
        return;
    }
    /* One batch's objects go up one after another: a partition has one
     * batch in flight at a time, so its offsets commit in order. */
    for (size_t i = 0; i < n; i++)
        if (put_one(j, c, &objs[i], &seed) < 0)
            goto done;
    j->result = UPLOAD_STORED;
done:
    encoded_objects_free(objs, n);
}
