/* upload.c -- one worker's job: check a closed batch's records (sending the
 * ones that cannot be written to the dead-letter topic), encode the rest
 * into objects, and store each, retrying with backoff until stored or
 * abandoned.
 *
 * A permanent error (AccessDenied, NoSuchBucket, a bad signature) is retried
 * too, at the longest delay: the partition stops advancing and says so
 * loudly, but no record is ever skipped, unless the operator chose to send
 * such records to the dead-letter topic after some attempts. */
#include "upload.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "jsoncheck.h"
#include "log.h"
#include "hours.h"
#include "now.h"
#include "objkey.h"

const double upload_latency_bounds[UPLOAD_LATENCY_BUCKETS] = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120};

enum { OP_STORED = 0, OP_ABANDONED = -1, OP_GAVE_UP = -2 };

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

static void observe_latency(upload_stats *s, int64_t us)
{
    double secs = (double)us / 1e6;

    for (int i = 0; i < UPLOAD_LATENCY_BUCKETS; i++)
        if (secs <= upload_latency_bounds[i])
            atomic_fetch_add(&s->latency_le[i], 1);
    atomic_fetch_add(&s->latency_count, 1);
    atomic_fetch_add(&s->latency_sum_us, (unsigned long long)us);
}

/* Retry bookkeeping of one operation. */
typedef struct tries {
    int attempt;
    int permanent;
    int counted_failing;
    unsigned seed;
} tries;

static void tries_end(upload_ctx *c, tries *t)
{
    if (t->counted_failing)
        atomic_fetch_sub(&c->stats->failing, 1);
    t->counted_failing = 0;
}

/* After a failed attempt: logs, waits, and says whether to go on. */
static int after_failure(upload_job *j, upload_ctx *c, tries *t, store_result r,
                         const char *what, const char *err)
{
    long long delay;

    atomic_fetch_add(&c->stats->retries, 1);
    if (r == STORE_PERMANENT) {
        atomic_fetch_add(&c->stats->permanent_errors, 1);
        if (!t->counted_failing) {
            atomic_fetch_add(&c->stats->failing, 1);
            t->counted_failing = 1;
        }
        t->permanent++;
        if (c->permanent_to_dlq_after > 0 &&
            t->permanent >= c->permanent_to_dlq_after) {
            log_error("upload", "%s: %s (permanent, %d attempts: giving up%s)",
                      what, err, t->permanent,
                      c->dlq ? "; its records go to the dead-letter topic"
                             : "");
            return OP_GAVE_UP;
        }
        delay = upload_backoff_ms(c->retry_max_ms, c->retry_max_ms, 0,
                                  (unsigned)rand_r(&t->seed));
        log_error("upload",
                  "%s: %s (permanent; partition %d is stopped, retrying in "
                  "%lld ms)",
                  what, err, (int)j->b->partition, delay);
    } else if (c->max_transient > 0 && t->attempt + 1 >= c->max_transient) {
        log_error("upload", "%s: %s (giving up after %d attempts)", what, err,
                  t->attempt + 1);
        return OP_GAVE_UP;
    } else if (r == STORE_THROTTLED) {
        int level = atomic_fetch_add(&c->throttle_level, 1);
        int64_t until;
        atomic_fetch_add(&c->stats->throttled, 1);
        delay = upload_backoff_ms(c->retry_base_ms, c->retry_max_ms, level,
                                  (unsigned)rand_r(&t->seed));
        until = now_ms() + delay;
        /* Every worker waits: the server asked all clients to slow down. */
        if (until > atomic_load(&c->slow_until_ms))
            atomic_store(&c->slow_until_ms, until);
        log_warn("upload", "%s: %s (slowing down all uploads for %lld ms)",
                 what, err, delay);
        delay = 0;
    } else {
        delay = upload_backoff_ms(c->retry_base_ms, c->retry_max_ms, t->attempt,
                                  (unsigned)rand_r(&t->seed));
        log_warn("upload", "%s: %s (retry %d in %lld ms)", what, err,
                 t->attempt + 1, delay);
    }
    t->attempt++;
    return nap(j, delay) ? OP_ABANDONED : 1;
}

/* Waits out a shared slow-down; returns 1 if abandoned meanwhile. */
static int wait_throttle(upload_job *j, upload_ctx *c)
{
    long long wait = (long long)(atomic_load(&c->slow_until_ms) - now_ms());

    return wait > 0 ? nap(j, wait) : atomic_load(&j->abandon);
}

typedef store_result (*op_fn)(upload_ctx *c, void *arg, char *err,
                              size_t errlen);

/* Runs op until it succeeds, the job is abandoned, or (optionally) the
 * operator's permanent-error budget is spent. */
static int with_retries(upload_job *j, upload_ctx *c, const char *what,
                        op_fn op, void *arg)
{
    tries t = {0, 0, 0, (unsigned)time(NULL) ^ (unsigned)(uintptr_t)arg};
    char err[512];
    int rc;

    for (;;) {
        store_result r;
        if (wait_throttle(j, c)) {
            rc = OP_ABANDONED;
            break;
        }
        err[0] = '\0';
        r = op(c, arg, err, sizeof(err));
        if (r == STORE_OK) {
            if (t.attempt)
                log_info("upload", "%s: stored after %d retries", what,
                         t.attempt);
            atomic_store(&c->throttle_level, 0);
            rc = OP_STORED;
            break;
        }
        rc = after_failure(j, c, &t, r, what, err);
        if (rc != 1)
            break;
    }
    tries_end(c, &t);
    return rc;
}

/* --- single PUT ------------------------------------------------------- */

static store_result op_put(upload_ctx *c, void *arg, char *err, size_t len)
{
    return store_put(c->st, arg, err, len);
}

/* --- multipart -------------------------------------------------------- */

typedef struct mpu {
    upload_job *j;
    upload_ctx *c;
    const store_object *obj;
    char upload_id[512];
} mpu;

typedef struct mpu_part_arg {
    mpu *m;
    int part_no;
    const char *data;
    size_t len;
    char etag[128];
    int rc;
} mpu_part_arg;

static store_result op_begin(upload_ctx *c, void *arg, char *err, size_t len)
{
    mpu *m = arg;

    return store_mpu_begin(c->st, m->obj, m->upload_id, sizeof(m->upload_id),
                           err, len);
}

static store_result op_part(upload_ctx *c, void *arg, char *err, size_t len)
{
    mpu_part_arg *p = arg;

    return store_mpu_part(c->st, p->m->obj->key, p->m->upload_id, p->part_no,
                          p->data, p->len, p->etag, sizeof(p->etag), err, len);
}

static void run_part(void *arg)
{
    mpu_part_arg *p = arg;
    char what[64];

    snprintf(what, sizeof(what), "part %d of %s", p->part_no, p->m->obj->key);
    p->rc = with_retries(p->m->j, p->m->c, what, op_part, p);
}

typedef struct mpu_done {
    mpu *m;
    const char *const *etags;
    int n;
    int retried; /* an earlier attempt's answer was lost */
    int redo;    /* the upload is gone: start over */
} mpu_done;

static store_result op_complete(upload_ctx *c, void *arg, char *err, size_t len)
{
    mpu_done *d = arg;
    store_result r = store_mpu_complete(c->st, d->m->obj->key, d->m->upload_id,
                                        d->etags, d->n, err, len);

    /* After a lost answer the upload may have completed, or been cleaned
     * up: either way it cannot be completed again, so the whole object is
     * uploaded anew (same key, same bytes: overwriting is harmless). */
    if (r == STORE_PERMANENT && d->retried && strstr(err, "NoSuchUpload")) {
        d->redo = 1;
        return STORE_OK;
    }
    if (r != STORE_OK)
        d->retried = 1;
    return r;
}

/* Best effort, a few tries whatever the job's state: an abort must not be
 * skipped because the job was abandoned. */
static void abort_upload(upload_ctx *c, const char *key, const char *id)
{
    char err[512];

    for (int i = 0; i < 3; i++) {
        if (store_mpu_abort(c->st, key, id, err, sizeof(err)) == STORE_OK)
            return;
    }
    log_warn("upload", "abort of multipart upload %s failed: %s", key, err);
}

typedef struct stale {
    upload_ctx *c;
    const char *key;
} stale;

static void abort_stale(const char *key, const char *upload_id, void *arg)
{
    stale *s = arg;

    /* A prefix listing can return longer keys; only this exact key's
     * uploads are leftovers of an earlier attempt at this object. */
    if (strcmp(key, s->key) != 0)
        return;
    log_info("upload",
             "aborting multipart upload of %s left by an earlier "
             "attempt",
             key);
    abort_upload(s->c, key, upload_id);
}

static int put_multipart_once(upload_job *j, upload_ctx *c,
                              const store_object *obj, int *redo)
{
    mpu m = {j, c, obj, ""};
    stale s = {c, obj->key};
    int n = (int)((obj->len + c->part_size - 1) / c->part_size);
    mpu_part_arg *parts = calloc((size_t)n, sizeof(*parts));
    void **args = calloc((size_t)n, sizeof(*args));
    const char **etags = calloc((size_t)n, sizeof(*etags));
    char err[512];
    int rc = OP_ABANDONED;

    if (!parts || !args || !etags)
        goto done;
    /* An upload of this key left by a crash would never complete. */
    if (store_mpu_list(c->st, obj->key, abort_stale, &s, err, sizeof(err)))
        log_warn("upload", "listing multipart uploads of %s: %s", obj->key,
                 err);
    rc = with_retries(j, c, obj->key, op_begin, &m);
    if (rc != OP_STORED)
        goto done;
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)i * c->part_size;
        parts[i].m = &m;
        parts[i].part_no = i + 1;
        parts[i].data = (const char *)obj->data + off;
        parts[i].len =
            obj->len - off < c->part_size ? obj->len - off : c->part_size;
        args[i] = &parts[i];
    }
    pool_run_parts(c->pool, run_part, args, n);
    for (int i = 0; i < n; i++) {
        if (parts[i].rc != OP_STORED) {
            rc = parts[i].rc;
            break;
        }
        etags[i] = parts[i].etag;
    }
    if (rc == OP_STORED) {
        mpu_done d = {&m, etags, n, 0, 0};
        rc = with_retries(j, c, obj->key, op_complete, &d);
        *redo = d.redo;
    }
    if (rc != OP_STORED)
        abort_upload(c, obj->key, m.upload_id);
    else if (!*redo)
        atomic_fetch_add(&c->stats->multipart_uploads, 1);
done:
    free(parts);
    free(args);
    free(etags);
    return rc;
}

static int put_multipart(upload_job *j, upload_ctx *c, const store_object *obj)
{
    int redo = 1;
    int rc = OP_STORED;

    while (redo && rc == OP_STORED) {
        redo = 0;
        rc = put_multipart_once(j, c, obj, &redo);
    }
    return rc;
}

/* --- records that cannot be written ---------------------------------- */

/* Sends recs to the dead-letter topic, retrying until persisted. */
static int send_dlq(upload_job *j, upload_ctx *c, const dlq_record *recs,
                    size_t n)
{
    char err[256];
    int attempt = 0;
    unsigned seed = (unsigned)(uintptr_t)recs;

    while (dlq_send(c->dlq, recs, n, 30000, err, sizeof(err)) < 0) {
        long long delay = upload_backoff_ms(c->retry_base_ms, c->retry_max_ms,
                                            attempt++, (unsigned)rand_r(&seed));
        log_warn("upload", "dead-letter topic: %s (retry in %lld ms)", err,
                 delay);
        if (nap(j, delay))
            return OP_ABANDONED;
    }
    atomic_fetch_add(&c->stats->dlq_records, n);
    return OP_STORED;
}

int upload_parse_time(const char *v, size_t len, int64_t *ms)
{
    char buf[64];
    struct tm tm;
    char *end;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (buf[0] != '"') {
        double d;
        /* A JSON number's characters only: strtod also takes "nan", "inf",
         * hex and leading spaces, and NaN passes every comparison below
         * (its conversion to an integer is undefined). */
        if (strspn(buf, "0123456789.eE+-") != len)
            return -1;
        d = strtod(buf, &end);
        if (*end != '\0' || !(d >= 0 && d <= 1e15))
            return -1;
        *ms = d < 1e11 ? (int64_t)(d * 1000) : (int64_t)d;
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(buf + 1, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    *ms = (int64_t)timegm(&tm) * 1000;
    if (*end == '.') {
        int64_t frac = 0, scale = 1000;
        for (end++; *end >= '0' && *end <= '9'; end++) {
            if (scale > 1) {
                scale /= 10;
                frac += (*end - '0') * scale;
            }
        }
        *ms += frac;
    }
    if (*end == 'Z' || *end == 'z') {
        end++;
    } else if (*end == '+' || *end == '-') {
        /* Exactly "hh:mm": a shorter offset ("+1:2", which sscanf's %2d
         * took) made the 6-byte step below read past the string. */
        int hh, mm;
        if (!isdigit((unsigned char)end[1]) ||
            !isdigit((unsigned char)end[2]) || end[3] != ':' ||
            !isdigit((unsigned char)end[4]) || !isdigit((unsigned char)end[5]))
            return -1;
        hh = (end[1] - '0') * 10 + (end[2] - '0');
        mm = (end[4] - '0') * 10 + (end[5] - '0');
        *ms -= (*end == '+' ? 1 : -1) * (int64_t)(hh * 60 + mm) * 60000;
        end += 6;
    } else {
        return -1;
    }
    return strcmp(end, "\"") == 0 ? 0 : -1;
}

/* Marks in skip the records that cannot be written (sending them to the
 * dead-letter topic when there is one); applies the event time field. */
static int sort_records(upload_job *j, upload_ctx *c, unsigned char *skip)
{
    batch *b = j->b;
    dlq_record *bad = NULL;
    size_t nbad = 0;
    int rc = OP_STORED;

    for (size_t i = 0; i < b->n; i++) {
        batch_record *r = &b->recs[i];
        const char *v = b->arena + r->pos;
        const char *why = NULL;
        const char *reason = NULL;
        const char *tv;
        size_t tlen;

        if (c->check_records && r->len > c->max_record_bytes) {
            reason = "too_large";
            why = "larger than uploader.max_record_bytes";
            j->skipped_too_large++;
        } else if (c->check_records &&
                   jsoncheck_object(v, r->len, c->max_depth, &why) < 0) {
            reason = "not_json";
            j->skipped_not_json++;
        }
        if (reason) {
            skip[i] = 1;
            if (c->dlq) {
                dlq_record *grown = realloc(bad, (nbad + 1) * sizeof(*bad));
                if (grown == NULL) {
                    free(bad);
                    return OP_ABANDONED;
                }
                bad = grown;
                bad[nbad++] =
                    (dlq_record){v,           r->len, b->partition, r->offset,
                                 r->kafka_ms, reason, why};
            }
            continue;
        }
        if (c->time_field && c->time_field[0] &&
            jsoncheck_field(v, r->len, c->time_field, &tv, &tlen) == 0)
            upload_parse_time(tv, tlen, &r->ts_ms);
    }
    if (nbad) {
        log_warn("upload",
                 "partition %d: %zu record(s) cannot be written; sending "
                 "them to %s",
                 (int)b->partition, nbad, dlq_topic(c->dlq));
        rc = send_dlq(j, c, bad, nbad);
    }
    free(bad);
    return rc;
}

/* The records of one object, to the dead-letter topic (after the store
 * refused it for good and the operator chose to move on). */
static int object_to_dlq(upload_job *j, upload_ctx *c,
                         const unsigned char *skip, const encoded_object *o)
{
    batch *b = j->b;
    dlq_record *recs = calloc(o->records ? o->records : 1, sizeof(*recs));
    size_t n = 0;
    int rc;

    if (recs == NULL)
        return OP_ABANDONED;
    for (size_t i = 0; i < b->n && n < o->records; i++) {
        batch_record *r = &b->recs[i];
        if (skip[i] || objkey_hour_start(r->ts_ms) != o->hour_ms)
            continue;
        recs[n++] = (dlq_record){b->arena + r->pos,
                                 r->len,
                                 b->partition,
                                 r->offset,
                                 r->kafka_ms,
                                 "permanent_error",
                                 "the object store refused the object"};
    }
    rc = send_dlq(j, c, recs, n);
    free(recs);
    return rc;
}

static int store_object_of(upload_job *j, upload_ctx *c,
                           const encoded_object *o, const char *key)
{
    store_object obj;
    struct timeval t0, t1;
    int rc;

    obj.key = key;
    obj.data = o->data;
    obj.len = o->len;
    obj.content_type = encode_content_type(c->format, c->content_encoding);
    obj.content_encoding =
        c->content_encoding ? encode_content_encoding(c->format) : NULL;
    gettimeofday(&t0, NULL);
    if (c->pool && store_has_multipart(c->st) && c->multipart_threshold &&
        o->len > c->multipart_threshold)
        rc = put_multipart(j, c, &obj);
    else
        rc = with_retries(j, c, key, op_put, &obj);
    gettimeofday(&t1, NULL);
    if (rc == OP_STORED)
        observe_latency(c->stats, (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
                                      (t1.tv_usec - t0.tv_usec));
    return rc;
}

/* The object's hour entry (hours.h): an empty object whose key says
 * everything the hour's manifest needs. */
static int store_entry(upload_job *j, upload_ctx *c, const encoded_object *o)
{
    char key[1024];
    store_object obj = {key, "", 0, "application/octet-stream", NULL};

    if (hours_entry_key(key, sizeof(key), c->prefix, c->topic, j->b->partition,
                        o->first_offset, o->hour_ms, encode_ext(c->format),
                        (unsigned long long)o->records,
                        (unsigned long long)o->len) < 0) {
        log_error("upload", "hour entry key too long for partition %d",
                  (int)j->b->partition);
        return OP_ABANDONED;
    }
    return with_retries(j, c, key, op_put, &obj);
}

static int store_one(upload_job *j, upload_ctx *c, const unsigned char *skip,
                     const encoded_object *o)
{
    char key[1024];
    int rc;

    if (objkey_format(key, sizeof(key), c->prefix, c->topic, j->b->partition,
                      o->first_offset, o->hour_ms, encode_ext(c->format)) < 0) {
        log_error("upload", "key too long for partition %d offset %lld",
                  (int)j->b->partition, (long long)o->first_offset);
        return OP_ABANDONED;
    }
    rc = store_object_of(j, c, o, key);
    if (rc == OP_GAVE_UP && c->dlq)
        return object_to_dlq(j, c, skip, o);
    if (rc != OP_STORED)
        return rc;
    /* Before the batch commits, or its hour could be marked without it;
     * failing, the batch is done again (same bytes, same keys). */
    if (c->hour_entries && (rc = store_entry(j, c, o)) != OP_STORED)
        return rc == OP_GAVE_UP ? OP_ABANDONED : rc;
    j->objects_written++;
    atomic_fetch_add(&c->stats->objects, 1);
    atomic_fetch_add(&c->stats->bytes, o->len);
    atomic_fetch_add(&c->stats->records, o->records);
    log_debug("upload", "stored %s (%zu records, %zu bytes)", key, o->records,
              o->len);
    return OP_STORED;
}

/* The batch's index entry: its exact range and objects, for replay. */
static int store_index(upload_job *j, upload_ctx *c, const encoded_object *objs,
                       size_t n)
{
    batch *b = j->b;
    size_t cap = 256 + n * 1200;
    char *body = malloc(cap);
    char key[1024];
    store_object obj;
    size_t len;
    int rc;

    if (body == NULL)
        return OP_ABANDONED;
    len = (size_t)snprintf(
        body, cap,
        "{\"topic\":\"%s\",\"partition\":%d,\"first\":%lld,"
        "\"last\":%lld,\"records\":%zu,\"skipped\":%zu,"
        "\"format\":\"%s\",\"objects\":[",
        c->topic, (int)b->partition, (long long)batch_first_offset(b),
        (long long)batch_last_offset(b), b->n,
        j->skipped_not_json + j->skipped_too_large, encode_ext(c->format));
    for (size_t i = 0; i < n && len < cap; i++) {
        objkey_format(key, sizeof(key), c->prefix, c->topic, b->partition,
                      objs[i].first_offset, objs[i].hour_ms,
                      encode_ext(c->format));
        len +=
            (size_t)snprintf(body + len, cap - len,
                             "%s{\"key\":\"%s\",\"records\":%zu,"
                             "\"bytes\":%zu}",
                             i ? "," : "", key, objs[i].records, objs[i].len);
    }
    if (len < cap)
        len += (size_t)snprintf(body + len, cap - len, "]}\n");
    if (len >= cap ||
        objkey_index(key, sizeof(key), c->prefix, c->topic, b->partition,
                     batch_first_offset(b), batch_last_offset(b)) < 0) {
        free(body);
        return OP_ABANDONED;
    }
    obj.key = key;
    obj.data = body;
    obj.len = len;
    obj.content_type = "application/json";
    obj.content_encoding = NULL;
    rc = with_retries(j, c, key, op_put, &obj);
    free(body);
    return rc;
}

void upload_run(void *job, void *ctx)
{
    upload_job *j = job;
    upload_ctx *c = ctx;
    unsigned char *skip = calloc(j->b->n ? j->b->n : 1, 1);
    encoded_object *objs = NULL;
    size_t n = 0;
    char err[256];
    encode_opts eo = {c->format, c->level, c->line_metadata, c->topic, skip};

    j->result = UPLOAD_ABANDONED;
    if (skip == NULL)
        return;
    if (sort_records(j, c, skip) != OP_STORED)
        goto done;
    if (encode_batch_opts(j->b, &eo, &objs, &n, err, sizeof(err)) < 0) {
        log_error("upload", "%s", err);
        goto done;
    }
    /* One batch's objects go up one after another: a partition has one
     * batch in flight at a time, so its offsets commit in order. */
    for (size_t i = 0; i < n; i++)
        if (store_one(j, c, skip, &objs[i]) != OP_STORED)
            goto done;
    /* The index only helps replay: an entry the store refuses for good
     * (after the operator chose to move on) does not hold the batch back. */
    if (c->write_index && store_index(j, c, objs, n) == OP_ABANDONED)
        goto done;
    j->result = UPLOAD_STORED;
done:
    encoded_objects_free(objs, n);
    free(skip);
}
