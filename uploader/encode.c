/* encode.c -- turns a closed batch into objects: one per hour of its
 * records, NDJSON, compressed with gzip (libdeflate) or zstd (or not). Pure.
 *
 * The batch's arena already is its NDJSON, so an hour whose records lie
 * there back to back is compressed in place, in one call; only an hour
 * that needs metadata or leaves records out is copied first. One call per
 * object makes the bytes a function of the batch and the level alone, as
 * the exactly-once argument needs (the same batch re-uploaded overwrites
 * its object with the same bytes). */
#include "encode.h"

#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "objkey.h"

/* Room for a line's "_kafka" member, its braces and its comma. */
#define ENCODE_META_MAX 256
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

/* The records of one hour as one NDJSON buffer: a slice of the batch's
 * arena when they lie there back to back (the common case: no metadata,
 * nothing skipped, the batch within one hour), else a copy (own). */
typedef struct ndjson {
    const char *p;
    size_t len;
    char *own;
} ndjson;

/* "{" + "_kafka":{...} + "," when the event has members + the rest. */
static size_t put_with_metadata(char *out, const encode_opts *o, int32_t part,
                                const batch_record *r, const char *v)
{
    size_t i = 1;
    int n;

    while (i < r->len &&
           (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r'))
        i++;
    n = snprintf(out, ENCODE_META_MAX,
                 "{\"_kafka\":{\"topic\":\"%s\",\"partition\":%d,"
                 "\"offset\":%lld,\"timestamp\":%lld}%s",
                 o->topic ? o->topic : "", (int)part, (long long)r->offset,
                 (long long)r->kafka_ms, i < r->len && v[i] == '}' ? "" : ",");
    if (n < 0 || n >= ENCODE_META_MAX)
        return 0;
    memcpy(out + n, v + 1, r->len - 1);
    return (size_t)n + r->len - 1;
}

static int kept(const encode_opts *o, size_t i)
{
    return o->skip == NULL || !o->skip[i];
}

/* Collects the kept records of hour into nd, and counts them into o. */
static int hour_ndjson(const batch *b, int64_t hour, const encode_opts *opt,
                       encoded_object *o, ndjson *nd)
{
    size_t first = 0, last = 0, need = 0;
    int contiguous = !opt->line_metadata;
    char *w;

    o->first_offset = -1;
    o->records = 0;
    for (size_t i = 0; i < b->n; i++) {
        const batch_record *r = &b->recs[i];
        if (objkey_hour_start(r->ts_ms) != hour)
            continue;
        /* The key names the hour's first record even when that record is
         * skipped, so writing it later (a replay after the cause is
         * fixed) rewrites this object instead of adding another. */
        if (o->first_offset < 0)
            o->first_offset = r->offset;
        if (!kept(opt, i))
            continue;
        if (o->records > 0 && i != last + 1)
            contiguous = 0;
        if (o->records == 0)
            first = i;
        last = i;
        o->last_offset = r->offset;
        o->records++;
        need += r->len + 1 + ENCODE_META_MAX;
    }
    if (o->records == 0)
        return -1;
    if (contiguous) {
        nd->p = b->arena + b->recs[first].pos;
        nd->len =
            b->recs[last].pos + b->recs[last].len + 1 - b->recs[first].pos;
        return 0;
    }
    nd->own = malloc(need);
    if (nd->own == NULL)
        return -1;
    w = nd->own;
    for (size_t i = first; i <= last; i++) {
        const batch_record *r = &b->recs[i];
        const char *v = b->arena + r->pos;
        size_t n;
        if (objkey_hour_start(r->ts_ms) != hour || !kept(opt, i))
            continue;
        if (opt->line_metadata && r->len >= 2 && v[0] == '{') {
            n = put_with_metadata(w, opt, b->partition, r, v);
            if (n == 0)
                return -1;
        } else {
            memcpy(w, v, r->len);
            n = r->len;
        }
        w[n] = '\n';
        w += n + 1;
    }
    nd->p = nd->own;
    nd->len = (size_t)(w - nd->own);
    return 0;
}

/* Compresses nd whole (one call, no stream: the output depends on the
 * bytes and the level alone). Returns a malloc'd buffer of *outlen. */
static char *compress_whole(encode_format f, int level, const ndjson *nd,
                            size_t *outlen)
{
    char *out = NULL, *shrunk;
    size_t cap, n = 0;

    if (f == ENCODE_GZIP) {
        struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
        if (c == NULL)
            return NULL;
        cap = libdeflate_gzip_compress_bound(c, nd->len);
        out = malloc(cap);
        if (out)
            n = libdeflate_gzip_compress(c, nd->p, nd->len, out, cap);
        libdeflate_free_compressor(c);
    } else if (f == ENCODE_ZSTD) {
        ZSTD_CCtx *zc = ZSTD_createCCtx();
        if (zc == NULL)
            return NULL;
        cap = ZSTD_compressBound(nd->len);
        out = malloc(cap);
        if (out &&
            !ZSTD_isError(
                ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, level)) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1))) {
            size_t rc = ZSTD_compress2(zc, out, cap, nd->p, nd->len);
            n = ZSTD_isError(rc) ? 0 : rc;
        }
        ZSTD_freeCCtx(zc);
    } else {
        out = malloc(nd->len ? nd->len : 1);
        if (out)
            memcpy(out, nd->p, nd->len);
        n = nd->len;
    }
    if (out == NULL || (n == 0 && nd->len > 0)) {
        free(out);
        return NULL;
    }
    /* The bound is above the input; keep only what was written. */
    shrunk = realloc(out, n ? n : 1);
    *outlen = n;
    return shrunk ? shrunk : out;
}

static int encode_hour(const batch *b, int64_t hour, const encode_opts *opt,
                       encoded_object *o)
{
    ndjson nd = {0};
    int rc = -1;

    o->hour_ms = hour;
    if (hour_ndjson(b, hour, opt, o, &nd) < 0)
        goto done;
    o->data = compress_whole(opt->format, opt->level, &nd, &o->len);
    if (o->data == NULL)
        goto done;
    rc = 0;
done:
    free(nd.own);
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
