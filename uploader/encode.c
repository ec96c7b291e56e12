/* encode.c -- turns a closed batch into objects: one per hour of its
 * records, NDJSON, compressed with gzip or zstd (or not). Pure.
 *
 * Records are streamed into the compressor one line at a time so a batch
 * never exists uncompressed twice in memory. */
#include "encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "objkey.h"

const char *const encode_format_names[] = {"gzip", "zstd", "none", NULL};

int encode_format_parse(const char *name, encode_format *out)
{
    for (int i = 0; encode_format_names[i]; i++) {
        if (strcmp(name, encode_format_names[i]) == 0) {
            *out = (encode_format)i;
            return 0;
        }
    }
    return -1;
}

const char *encode_ext(encode_format f)
{
    static const char *const ext[] = {".ndjson.gz", ".ndjson.zst", ".ndjson"};
    return ext[f];
}

const char *encode_content_encoding(encode_format f)
{
    static const char *const ce[] = {"gzip", "zstd", NULL};
    return ce[f];
}

const char *encode_content_type(encode_format f, int as_encoding)
{
    static const char *const file[] = {"application/gzip", "application/zstd",
                                       "application/x-ndjson"};
    return as_encoding ? "application/x-ndjson" : file[f];
}

/* A growing output buffer. */
typedef struct outbuf {
    char *p;
    size_t len, cap;
} outbuf;

static int out_reserve(outbuf *o, size_t more)
{
    size_t c = o->cap ? o->cap : 65536;
    char *np;

    if (o->len + more <= o->cap)
        return 0;
    while (c < o->len + more)
        c *= 2;
    np = realloc(o->p, c);
    if (np == NULL)
        return -1;
    o->p = np;
    o->cap = c;
    return 0;
}

typedef struct encoder {
    encode_format f;
    z_stream zs;
    ZSTD_CCtx *zc;
    outbuf out;
} encoder;

static int enc_init(encoder *e, encode_format f, int level)
{
    memset(e, 0, sizeof(*e));
    e->f = f;
    if (f == ENCODE_GZIP)
        return deflateInit2(&e->zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8,
                            Z_DEFAULT_STRATEGY) == Z_OK
                   ? 0
                   : -1;
    if (f == ENCODE_ZSTD) {
        e->zc = ZSTD_createCCtx();
        if (e->zc == NULL)
            return -1;
        ZSTD_CCtx_setParameter(e->zc, ZSTD_c_compressionLevel, level);
        ZSTD_CCtx_setParameter(e->zc, ZSTD_c_checksumFlag, 1);
    }
    return 0;
}

/* Feed len bytes (or finish, when fin). */
static int enc_feed(encoder *e, const char *p, size_t len, int fin)
{
    if (e->f == ENCODE_NONE) {
        if (len == 0)
            return 0; /* the finishing call passes NULL: no memcpy(NULL) */
        if (out_reserve(&e->out, len) < 0)
            return -1;
        memcpy(e->out.p + e->out.len, p, len);
        e->out.len += len;
        return 0;
    }
    if (e->f == ENCODE_GZIP) {
        int zrc;
        e->zs.next_in = (Bytef *)p;
        e->zs.avail_in = (uInt)len;
        do {
            if (out_reserve(&e->out, 65536) < 0)
                return -1;
            e->zs.next_out = (Bytef *)e->out.p + e->out.len;
            e->zs.avail_out = (uInt)(e->out.cap - e->out.len);
            zrc = deflate(&e->zs, fin ? Z_FINISH : Z_NO_FLUSH);
            if (zrc == Z_STREAM_ERROR)
                return -1;
            e->out.len = e->out.cap - e->zs.avail_out;
        } while (e->zs.avail_out == 0 || (fin && zrc != Z_STREAM_END));
        return 0;
    }
    {
        ZSTD_inBuffer in = {p, len, 0};
        size_t left;
        do {
            ZSTD_outBuffer ob;
            if (out_reserve(&e->out, 65536) < 0)
                return -1;
            ob.dst = e->out.p + e->out.len;
            ob.size = e->out.cap - e->out.len;
            ob.pos = 0;
            left = ZSTD_compressStream2(e->zc, &ob, &in,
                                        fin ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(left))
                return -1;
            e->out.len += ob.pos;
        } while (fin ? left != 0 : in.pos < in.size);
    }
    return 0;
}

static void enc_end(encoder *e)
{
    if (e->f == ENCODE_GZIP)
        deflateEnd(&e->zs);
    ZSTD_freeCCtx(e->zc);
    e->zc = NULL;
}

/* "{" + "_kafka":{...} + "," when the event has members + the rest. */
static int feed_with_metadata(encoder *e, const encode_opts *o, int32_t part,
                              const batch_record *r, const char *v)
{
    char meta[256];
    size_t i = 1;
    int n;

    while (i < r->len &&
           (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r'))
        i++;
    n = snprintf(meta, sizeof(meta),
                 "{\"_kafka\":{\"topic\":\"%s\",\"partition\":%d,"
                 "\"offset\":%lld,\"timestamp\":%lld}%s",
                 o->topic ? o->topic : "", (int)part, (long long)r->offset,
                 (long long)r->kafka_ms, i < r->len && v[i] == '}' ? "" : ",");
    if (n < 0 || (size_t)n >= sizeof(meta))
        return -1;
    if (enc_feed(e, meta, (size_t)n, 0) < 0)
        return -1;
    return enc_feed(e, v + 1, r->len - 1, 0);
}

static int feed_record(encoder *e, const encode_opts *o, const batch *b,
                       const batch_record *r)
{
    const char *v = b->arena + r->pos;

    if (o->line_metadata && r->len >= 2 && v[0] == '{') {
        if (feed_with_metadata(e, o, b->partition, r, v) < 0)
            return -1;
    } else if (enc_feed(e, v, r->len, 0) < 0) {
        return -1;
    }
    return enc_feed(e, "\n", 1, 0);
}

static int encode_hour(const batch *b, int64_t hour, const encode_opts *opt,
                       encoded_object *o)
{
    encoder e;
    int rc = -1;

    if (enc_init(&e, opt->format, opt->level) < 0)
        goto done;
    o->hour_ms = hour;
    o->records = 0;
    o->first_offset = -1;
    for (size_t i = 0; i < b->n; i++) {
        const batch_record *r = &b->recs[i];
        if (objkey_hour_start(r->ts_ms) != hour)
            continue;
        /* The key names the hour's first record even when that record is
         * skipped, so writing it later (a replay after the cause is
         * fixed) rewrites this object instead of adding another. */
        if (o->first_offset < 0)
            o->first_offset = r->offset;
        if (opt->skip && opt->skip[i])
            continue;
        o->last_offset = r->offset;
        o->records++;
        if (feed_record(&e, opt, b, r) < 0)
            goto done;
    }
    if (enc_feed(&e, NULL, 0, 1) < 0)
        goto done;
    o->data = e.out.p;
    o->len = e.out.len;
    e.out.p = NULL;
    rc = 0;
done:
    enc_end(&e);
    free(e.out.p);
    return rc;
}

int encode_batch_opts(const batch *b, const encode_opts *o,
                      encoded_object **out, size_t *n, char *errbuf,
                      size_t errlen)
{
    encoded_object *objs = NULL;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < b->n; i++) {
        int64_t hour = objkey_hour_start(b->recs[i].ts_ms);
        size_t k;
        encoded_object *grown;

        if (o->skip && o->skip[i])
            continue;
        for (k = 0; k < count; k++)
            if (objs[k].hour_ms == hour)
                break;
        if (k < count)
            continue;
        grown = realloc(objs, (count + 1) * sizeof(*objs));
        if (grown == NULL)
            goto fail;
        objs = grown;
        memset(&objs[count], 0, sizeof(objs[count]));
        if (encode_hour(b, hour, o, &objs[count]) < 0) {
            count++;
            goto fail;
        }
        count++;
    }
    *out = objs;
    *n = count;
    return 0;
fail:
    snprintf(errbuf, errlen, "cannot encode partition %d batch at offset %lld",
             (int)b->partition, (long long)batch_first_offset(b));
    encoded_objects_free(objs, count);
    return -1;
}

int encode_batch(const batch *b, encode_format f, int level,
                 encoded_object **out, size_t *n, char *errbuf, size_t errlen)
{
    encode_opts o = {f, level, 0, NULL, NULL};

    return encode_batch_opts(b, &o, out, n, errbuf, errlen);
}

void encoded_objects_free(encoded_object *objs, size_t n)
{
    if (objs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(objs[i].data);
    free(objs);
}
