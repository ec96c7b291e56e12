/* http_reply.h -- ingest-api's answers (http_reply.c) and the server
 * state its handlers share (http.c); not for other callers. */
#ifndef MILLRACE_HTTP_REPLY_H
#define MILLRACE_HTTP_REPLY_H

#include <civetweb.h>
#include <stdatomic.h>

#include "auth.h"
#include "http.h"
#include "metrics.h"
#include "publish.h"
#include "tlsreload.h"
#include "turns.h"
#include "validate.h"

struct http_server {
    struct mg_context *ctx;
    const ingest_config *cfg;
    publisher *pub;
    ingest_metrics *m;
    auth *auth;
    ingest_limits limits;
    atomic_ullong request_seq;
    atomic_int draining;
    atomic_llong inflight_bytes; /* reserved by requests being served */
    atomic_llong log_second;     /* civetweb's log lines: at most 5 a second */
    atomic_int log_count;
    unsigned boot_id;
    tls_reload *tls; /* NULL without TLS */
    turns turns;     /* CPU work at once (ingest.cpu_turns) */
};

/* What becomes of the connection after an answer. */
enum {
    CONN_KEEP = 0,   /* the body was read: the connection may carry more */
    CONN_UNREAD = 1, /* the body was not read (the head decided) */
    CONN_CLOSE = 2,  /* close it, whatever is left unread */
};

/* Unread body bytes civetweb may read and drop after an early answer so
 * that the connection stays usable and the client, still sending, reads
 * the answer rather than a reset. Anything larger, or chunked (of unknown
 * length), closes the connection instead: civetweb would otherwise read
 * all of it, however long. */
#define DRAIN_MAX (64 * 1024)

/* The reason phrase of status. */
const char *http_reason(int status);

/* Writes a whole response (one write where it fits, so that a small
 * answer leaves in one packet); extra: more header lines, or NULL; after:
 * CONN_*. Returns status. */
int http_respond(http_server *s, struct mg_connection *c, int status,
                 const char *ctype, const char *body, size_t len,
                 const char *extra, int after);
int http_reply_json(http_server *s, struct mg_connection *c, int status,
                    const char *body, const char *extra, int after);
/* A JSON error body: {"error": code, "detail": text[, "index": n]}
 * (index < 0: none). */
int http_reply_error(http_server *s, struct mg_connection *c, int status,
                     const char *code, const char *detail, long index,
                     const char *extra, int after);
/* 503 with Retry-After and the request id, counted under why. */
int http_unavailable(http_server *s, struct mg_connection *c, const char *rid,
                     metrics_reason why, const char *detail, int after);
metrics_reason http_reason_of(publish_status st);
/* 401 with its WWW-Authenticate challenge. */
int http_reply_unauthorized(http_server *s, struct mg_connection *c,
                            auth_result r, int after);

#endif
