/* store.h -- where finished objects go: S3 or a local directory, behind one
 * seam so the uploader's batching can be tested without a network. */
#ifndef MILLRACE_STORE_H
#define MILLRACE_STORE_H

#include <stddef.h>

typedef enum store_result {
    STORE_OK = 0,
    STORE_RETRY,     /* transient: network error, 500, timeout; try again */
    STORE_PERMANENT, /* cannot succeed as configured: 4xx such as
                        AccessDenied, NoSuchBucket, SignatureDoesNotMatch */
    STORE_THROTTLED, /* the server asks every client to slow down: 503,
                        SlowDown, 429; retry after a shared backoff */
} store_result;

typedef struct store store;

typedef struct store_object {
    const char *key;              /* object key, no leading '/' */
    const void *data;             /* body */
    size_t len;                   /* body length */
    const char *content_type;     /* e.g. "application/x-ndjson" */
    const char *content_encoding; /* e.g. "gzip", or NULL */
} store_object;

/* Called by list for each key in order; nonzero stops the listing. */
typedef int (*store_object_fn)(const char *key, size_t size, void *arg);
/* Called by mpu_list for each upload in progress. */
typedef void (*store_upload_fn)(const char *key, const char *upload_id,
                                void *arg);

/* One backend's operations, as a static const table (Redis rio's
 * `static const rio rioBufferIO = {...}`): each backend has exactly one,
 * and every store it makes points at it. */
typedef struct store_ops {
    const char *name; /* "s3" or "local", for logs */
    /* Write one object whole (overwriting any object under the same key).
     * Thread-safe: the uploader's workers call it concurrently. On failure
     * writes a one-line reason into errbuf. */
    store_result (*put)(store *st, const store_object *obj, char *errbuf,
                        size_t errlen);
    void (*destroy)(store *st);

    /* Multipart upload, for objects above the uploader's threshold. All
     * five are NULL when the store has none (the local store): the
     * uploader then uses put. Thread-safe like put.
     *
     * mpu_begin starts an upload for obj->key (obj->data is ignored;
     * content type and encoding apply to the finished object) and writes
     * its id into upload_id. mpu_part uploads part part_no (1-based) and
     * writes the part's ETag (as the server returned it, quotes included)
     * into etag. mpu_complete assembles parts 1..n_parts in order from
     * their ETags; mpu_abort discards the upload and its parts. mpu_list
     * calls fn for every upload in progress whose key starts with prefix,
     * so uploads left by a crashed process can be found and aborted. */
    store_result (*mpu_begin)(store *st, const store_object *obj,
                              char *upload_id, size_t idlen, char *errbuf,
                              size_t errlen);
    store_result (*mpu_part)(store *st, const char *key, const char *upload_id,
                             int part_no, const void *data, size_t len,
                             char *etag, size_t etaglen, char *errbuf,
                             size_t errlen);
    store_result (*mpu_complete)(store *st, const char *key,
                                 const char *upload_id,
                                 const char *const *etags, int n_parts,
                                 char *errbuf, size_t errlen);
    store_result (*mpu_abort)(store *st, const char *key, const char *upload_id,
                              char *errbuf, size_t errlen);
    store_result (*mpu_list)(store *st, const char *prefix, store_upload_fn fn,
                             void *arg, char *errbuf, size_t errlen);
    /* Lists the keys that start with prefix, in lexicographic (UTF-8 byte)
     * order, beginning after start_after (NULL or "": from the first),
     * calling fn(key, size, arg) for each until fn returns nonzero, which
     * ends the listing early with STORE_OK. Pages are followed. Never
     * NULL: every store lists. */
    store_result (*list)(store *st, const char *prefix, const char *start_after,
                         store_object_fn fn, void *arg, char *errbuf,
                         size_t errlen);
    /* Reads the object under key whole, up to max bytes, into *data
     * (malloc'd, NUL-terminated, the caller frees it) and *len. A key
     * that does not exist is STORE_OK with *data NULL; an object longer
     * than max is STORE_PERMANENT. Never NULL. */
    store_result (*get)(store *st, const char *key, size_t max, char **data,
                        size_t *len, char *errbuf, size_t errlen);
    /* Removes the object under key; one already gone is STORE_OK. Never
     * NULL. */
    store_result (*del)(store *st, const char *key, char *errbuf,
                        size_t errlen);
} store_ops;

/* A backend's store embeds this first, so a store * is its own type. */
struct store {
    const store_ops *ops;
};

static inline const char *store_name(const store *st)
{
    return st->ops->name;
}

static inline store_result store_put(store *st, const store_object *obj,
                                     char *errbuf, size_t errlen)
{
    return st->ops->put(st, obj, errbuf, errlen);
}

/* Accepts NULL. */
static inline void store_destroy(store *st)
{
    if (st)
        st->ops->destroy(st);
}

/* 1 when the store has the five mpu_* operations. */
static inline int store_has_multipart(const store *st)
{
    return st->ops->mpu_begin != NULL;
}

static inline store_result store_mpu_begin(store *st, const store_object *obj,
                                           char *upload_id, size_t idlen,
                                           char *errbuf, size_t errlen)
{
    return st->ops->mpu_begin(st, obj, upload_id, idlen, errbuf, errlen);
}

static inline store_result store_mpu_part(store *st, const char *key,
                                          const char *upload_id, int part_no,
                                          const void *data, size_t len,
                                          char *etag, size_t etaglen,
                                          char *errbuf, size_t errlen)
{
    return st->ops->mpu_part(st, key, upload_id, part_no, data, len, etag,
                             etaglen, errbuf, errlen);
}

static inline store_result store_mpu_complete(store *st, const char *key,
                                              const char *upload_id,
                                              const char *const *etags,
                                              int n_parts, char *errbuf,
                                              size_t errlen)
{
    return st->ops->mpu_complete(st, key, upload_id, etags, n_parts, errbuf,
                                 errlen);
}

static inline store_result store_mpu_abort(store *st, const char *key,
                                           const char *upload_id, char *errbuf,
                                           size_t errlen)
{
    return st->ops->mpu_abort(st, key, upload_id, errbuf, errlen);
}

static inline store_result store_get(store *st, const char *key, size_t max,
                                     char **data, size_t *len, char *errbuf,
                                     size_t errlen)
{
    return st->ops->get(st, key, max, data, len, errbuf, errlen);
}

static inline store_result store_del(store *st, const char *key, char *errbuf,
                                     size_t errlen)
{
    return st->ops->del(st, key, errbuf, errlen);
}

static inline store_result store_mpu_list(store *st, const char *prefix,
                                          store_upload_fn fn, void *arg,
                                          char *errbuf, size_t errlen)
{
    return st->ops->mpu_list(st, prefix, fn, arg, errbuf, errlen);
}

static inline store_result store_list(store *st, const char *prefix,
                                      const char *start_after,
                                      store_object_fn fn, void *arg,
                                      char *errbuf, size_t errlen)
{
    return st->ops->list(st, prefix, start_after, fn, arg, errbuf, errlen);
}

#endif
