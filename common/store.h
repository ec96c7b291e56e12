/* store.h -- where finished objects go: S3 or a local directory, behind one
 * seam so the uploader's batching can be tested without a network. */
#ifndef MILLRACE_STORE_H
#define MILLRACE_STORE_H

#include <stddef.h>

typedef enum store_result {
    STORE_OK = 0,
    STORE_RETRY,     /* transient: network error, 5xx, SlowDown; try again */
    STORE_PERMANENT, /* cannot succeed as configured: 4xx such as
                        AccessDenied, NoSuchBucket, SignatureDoesNotMatch */
} store_result;

typedef struct store store;

typedef struct store_object {
    const char *key;              /* object key, no leading '/' */
    const void *data;             /* body */
    size_t len;                   /* body length */
    const char *content_type;     /* e.g. "application/x-ndjson" */
    const char *content_encoding; /* e.g. "gzip", or NULL */
} store_object;

struct store {
    /* Write one object whole (overwriting any object under the same key).
     * Thread-safe: the uploader's workers call it concurrently. On failure
     * writes a one-line reason into errbuf. */
    store_result (*put)(store *st, const store_object *obj, char *errbuf,
                        size_t errlen);
    void (*destroy)(store *st);
    const char *name; /* "s3" or "local", for logs */
};

static inline store_result store_put(store *st, const store_object *obj,
                                     char *errbuf, size_t errlen)
{
    return st->put(st, obj, errbuf, errlen);
}

/* Accepts NULL. */
static inline void store_destroy(store *st)
{
    if (st)
        st->destroy(st);
}

#endif
