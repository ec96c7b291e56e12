/* s3_transport.h -- sending built S3 requests with libcurl over a pool of
 * idle handles (their connections kept open), answers read into bounded
 * buffers. */
#ifndef MILLRACE_S3_TRANSPORT_H
#define MILLRACE_S3_TRANSPORT_H

#include "s3_request.h"
#include "store.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>

/* Error and result bodies are small; the rest is dropped. */
#define S3_RESPONSE_MAX (64 * 1024)
/* A page of S3_LIST_PAGE keys or uploads, long and escaped at worst. */
#define S3_LIST_RESPONSE_MAX (16 * 1024 * 1024)
#define S3_HEADER_MAX 256 /* a captured response header: an ETag */
#define S3_POOL_MAX 16    /* idle curl handles kept for their connections */

/* What comes back: the status, the start of the body, one header. */
typedef struct s3_reply {
    long status;
    char *body; /* NUL-terminated once a byte arrived; NULL before */
    size_t len;
    size_t cap;
    size_t max;       /* bytes kept; the rest is dropped */
    int cut;          /* the body was longer than max */
    int squeeze;      /* drop blanks after '>': S3's keep-alive spaces */
    const char *want; /* the header to capture ("ETag"), or NULL */
    char header[S3_HEADER_MAX];
    int header_state; /* 0 absent, 1 captured, -1 too long */
} s3_reply;

void s3_reply_init(s3_reply *r, size_t max);
void s3_reply_free(s3_reply *r);

/* Idle handles, shared by the threads of one store. */
typedef struct s3_pool {
    pthread_mutex_t lock; /* guards idle and n_idle */
    int ready;
    CURL *idle[S3_POOL_MAX];
    size_t n_idle;
} s3_pool;

/* Returns 0, or -1 when no mutex could be made. */
int s3_pool_init(s3_pool *p);
/* Closes the idle handles. Accepts a zeroed pool. */
void s3_pool_free(s3_pool *p);

/* Sends one built request (body: len bytes, or NULL) on a pooled handle:
 * the one way every operation reaches the network. The answer is
 * classified (s3_classify); on STORE_OK rep holds the body and the wanted
 * header, and otherwise why holds the reason. */
store_result s3_exec(s3_pool *p, const s3_options *opt, const s3_request *req,
                     const void *body, size_t len, s3_reply *rep, char *why,
                     size_t whylen);

#endif
