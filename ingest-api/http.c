/* http.c -- ingest-api's HTTP surface on civetweb: /v1/events, /healthz,
 * /readyz, /metrics. Handlers parse, validate and hand over to publish. */
#include "http.h"

#include <civetweb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "gunzip.h"
#include "log.h"
#include "validate.h"

/* Status codes counted for /metrics. */
static const int counted[] = {202, 400, 401, 404, 405, 411,
                              413, 415, 500, 503};
#define N_COUNTED (sizeof(counted) / sizeof(counted[0]))

struct http_server {
    struct mg_context *ctx;
    const ingest_config *cfg;
    publisher *pub;
    ingest_limits limits;
    atomic_ullong by_status[N_COUNTED];
    atomic_ullong events_accepted;
    atomic_ullong request_seq;
    atomic_int in_flight;
    unsigned boot_id;
};

static void count_status(http_server *s, int status)
{
    for (size_t i = 0; i < N_COUNTED; i++) {
        if (counted[i] == status) {
            atomic_fetch_add(&s->by_status[i], 1);
            return;
        }
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* close_conn: the body was not read, so the connection cannot be reused. */
static int reply(http_server *s, struct mg_connection *c, int status,
                 const char *body, const char *extra, int close_conn)
{
    size_t len = strlen(body);

    count_status(s, status);
    mg_printf(c,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: application/json\r\n"
              "Content-Length: %zu\r\n"
              "%s%s\r\n",
              status, reason(status), len, extra ? extra : "",
              close_conn ? "Connection: close\r\n" : "");
    mg_write(c, body, len);
    return status;
}

/* A JSON error body: {"error": code, "detail": text[, "index": n]}. */
static int reply_error(http_server *s, struct mg_connection *c, int status,
                       const char *code, const char *detail, long index,
                       const char *extra, int close_conn)
{
    char body[1024];
    char esc[600];
    size_t j = 0;

    for (const char *p = detail; *p && j + 7 < sizeof(esc); p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            esc[j++] = '\\';
            esc[j++] = (char)ch;
        } else if (ch < 0x20) {
            j += (size_t)snprintf(esc + j, sizeof(esc) - j, "\\u%04x", ch);
        } else {
            esc[j++] = (char)ch;
        }
    }
    esc[j] = '\0';
    if (index >= 0)
        snprintf(body, sizeof(body),
                 "{\"error\":\"%s\",\"detail\":\"%s\",\"index\":%ld}\n", code,
                 esc, index);
    else
        snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"%s\"}\n",
                 code, esc);
    return reply(s, c, status, body, extra, close_conn);
}

static int media_is(const char *ct, const char *type)
{
    size_t n = strlen(type);

    return strncasecmp(ct, type, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Which body shape a Content-Type announces; -1 for one we do not take.
 * No type, and curl's default form type, are read as JSON so that
 * `curl -d '{...}'` works. */
static int body_kind_of(const char *ct)
{
    if (ct == NULL || ct[0] == '\0' || media_is(ct, "application/json") ||
        media_is(ct, "application/x-www-form-urlencoded") ||
        media_is(ct, "text/json"))
        return BODY_JSON;
    if (media_is(ct, "application/x-ndjson") ||
        media_is(ct, "application/ndjson") ||
        media_is(ct, "application/jsonl") ||
        media_is(ct, "application/json-seq"))
        return BODY_NDJSON;
    return -1;
}

/* Reads at most max bytes; returns the length, -1 on a read error, or
 * max + 1 when the body is longer than max. */
static long long read_body(struct mg_connection *c, long long declared,
                           size_t max, char **out)
{
    size_t cap = declared >= 0 ? (size_t)declared + 1 : 65536;
    size_t len = 0;
    char *buf;

    if (cap > max + 2)
        cap = max + 2;
    buf = malloc(cap);
    if (buf == NULL)
        return -1;
    for (;;) {
        int n;
        if (len == cap - 1) {
            char *grown;
            if (len > max)
                break;
            cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            grown = realloc(buf, cap);
            if (grown == NULL) {
                free(buf);
                return -1;
            }
            buf = grown;
        }
        n = mg_read(c, buf + len, cap - 1 - len);
        if (n < 0) {
            free(buf);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out = buf;
    return len > max ? (long long)max + 1 : (long long)len;
}

static int too_large(http_server *s, struct mg_connection *c, long long max)
{
    char detail[128];

    snprintf(detail, sizeof(detail), "the body exceeds %lld bytes", max);
    return reply_error(s, c, 413, "body_too_large", detail, -1, NULL, 1);
}

static int unavailable(http_server *s, struct mg_connection *c,
                       const char *detail)
{
    char extra[64];

    snprintf(extra, sizeof(extra), "Retry-After: %lld\r\n",
             s->cfg->ingest.retry_after_s);
    return reply_error(s, c, 503, "unavailable", detail, -1, extra, 0);
}

/* Decodes the body into *text (owned by the caller) or answers an error. */
static int get_text(http_server *s, struct mg_connection *c, char **text,
                    size_t *len)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    const char *te = mg_get_header(c, "Transfer-Encoding");
    const char *ce = mg_get_header(c, "Content-Encoding");
    long long max = s->cfg->ingest.max_body_bytes;
    int gzip = 0;
    char *raw = NULL;
    long long n;

    if (ce && strcasecmp(ce, "gzip") == 0)
        gzip = 1;
    else if (ce && ce[0] && strcasecmp(ce, "identity") != 0)
        return reply_error(s, c, 415, "unsupported_encoding",
                           "Content-Encoding must be gzip or identity", -1,
                           NULL, 1);
    if (ri->content_length < 0 && !(te && strcasestr(te, "chunked")))
        return reply_error(s, c, 411, "length_required",
                           "send Content-Length or a chunked body", -1, NULL,
                           1);
    if (ri->content_length > max)
        return too_large(s, c, max);
    n = read_body(c, ri->content_length, (size_t)max, &raw);
    if (n < 0)
        return reply_error(s, c, 400, "bad_body", "could not read the body",
                           -1, NULL, 1);
    if (n > max) {
        free(raw);
        return too_large(s, c, max);
    }
    if (!gzip) {
        *text = raw;
        *len = (size_t)n;
        return 0;
    }
    switch (gunzip_capped(raw, (size_t)n, (size_t)max, text, len)) {
    case GUNZIP_OK:
        free(raw);
        return 0;
    case GUNZIP_TOO_LARGE:
        free(raw);
        return reply_error(s, c, 413, "body_too_large",
                           "the decompressed body exceeds the limit", -1,
                           NULL, 0);
    default:
        free(raw);
        return reply_error(s, c, 400, "bad_gzip",
                           "the body is not valid gzip", -1, NULL, 0);
    }
}

static int handle_events(struct mg_connection *c, void *cbdata)
{
    http_server *s = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(c);
    event_batch batch = {0};
    validate_error verr;
    char *text = NULL;
    size_t len = 0;
    char detail[256];
    char request_id[40];
    char body[64];
    int kind;
    int status;

    if (strcmp(ri->request_method, "POST") != 0)
        return reply_error(s, c, 405, "method_not_allowed",
                           "use POST for /v1/events", -1, "Allow: POST\r\n",
                           1);
    kind = body_kind_of(mg_get_header(c, "Content-Type"));
    if (kind < 0)
        return reply_error(s, c, 415, "unsupported_media_type",
                           "Content-Type must be application/json or "
                           "application/x-ndjson",
                           -1, NULL, 1);
    status = get_text(s, c, &text, &len);
    if (status)
        return status;
    atomic_fetch_add(&s->in_flight, 1);
    if (validate_body(text, len, (body_kind)kind, &s->limits, &batch,
                      &verr) < 0) {
        status = reply_error(s, c, verr.status, verr.code, verr.detail,
                             verr.index, NULL, 0);
        goto done;
    }
    snprintf(request_id, sizeof(request_id), "%08x-%llx", s->boot_id,
             (unsigned long long)atomic_fetch_add(&s->request_seq, 1));
    if (publish_events(s->pub, &batch, request_id, detail, sizeof(detail)) !=
        PUBLISH_OK) {
        log_debug("http", "request %s: 503: %s", request_id, detail);
        status = unavailable(s, c, detail);
        goto done;
    }
    atomic_fetch_add(&s->events_accepted, batch.n);
    snprintf(body, sizeof(body), "{\"accepted\":%zu}\n", batch.n);
    status = reply(s, c, 202, body, NULL, 0);
done:
    atomic_fetch_sub(&s->in_flight, 1);
    event_batch_clear(&batch);
    free(text);
    return status;
}

static int handle_healthz(struct mg_connection *c, void *cbdata)
{
    return reply(cbdata, c, 200, "{\"status\":\"ok\"}\n", NULL, 0);
}

static int handle_readyz(struct mg_connection *c, void *cbdata)
{
    http_server *s = cbdata;

    if (publisher_ready(s->pub))
        return reply(s, c, 200, "{\"status\":\"ready\"}\n", NULL, 0);
    return reply_error(s, c, 503, "unavailable", "Kafka is not reachable",
                       -1, NULL, 0);
}

static int handle_metrics(struct mg_connection *c, void *cbdata)
{
    http_server *s = cbdata;
    char buf[4096];
    size_t n = 0;

    n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                          "# TYPE millrace_ingest_requests_total counter\n");
    for (size_t i = 0; i < N_COUNTED; i++)
        n += (size_t)snprintf(
            buf + n, sizeof(buf) - n,
            "millrace_ingest_requests_total{code=\"%d\"} %llu\n", counted[i],
            (unsigned long long)atomic_load(&s->by_status[i]));
    n += (size_t)snprintf(
        buf + n, sizeof(buf) - n,
        "# TYPE millrace_ingest_events_accepted_total counter\n"
        "millrace_ingest_events_accepted_total %llu\n"
        "# TYPE millrace_ingest_in_flight_requests gauge\n"
        "millrace_ingest_in_flight_requests %d\n"
        "# TYPE millrace_ingest_producer_queue_messages gauge\n"
        "millrace_ingest_producer_queue_messages %d\n",
        (unsigned long long)atomic_load(&s->events_accepted),
        atomic_load(&s->in_flight), publisher_outq_len(s->pub));
    mg_printf(c,
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/plain; version=0.0.4\r\n"
              "Content-Length: %zu\r\n\r\n",
              n);
    mg_write(c, buf, n);
    return 200;
}

static int handle_other(struct mg_connection *c, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    char detail[200];

    snprintf(detail, sizeof(detail), "no such path: %.150s", ri->local_uri);
    return reply_error(cbdata, c, 404, "not_found", detail, -1, NULL, 1);
}

/* /healthz and friends take GET (and HEAD) only. */
static int get_only(struct mg_connection *c, void *cbdata,
                    int (*fn)(struct mg_connection *, void *))
{
    const char *m = mg_get_request_info(c)->request_method;

    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
        return reply_error(cbdata, c, 405, "method_not_allowed", "use GET",
                           -1, "Allow: GET\r\n", 1);
    return fn(c, cbdata);
}

static int on_healthz(struct mg_connection *c, void *d)
{
    return get_only(c, d, handle_healthz);
}
static int on_readyz(struct mg_connection *c, void *d)
{
    return get_only(c, d, handle_readyz);
}
static int on_metrics(struct mg_connection *c, void *d)
{
    return get_only(c, d, handle_metrics);
}

static int log_message(const struct mg_connection *c, const char *msg)
{
    (void)c;
    log_warn("http", "%s", msg);
    return 1;
}

http_server *http_start(const ingest_config *cfg, publisher *pub,
                        char *errbuf, size_t errlen)
{
    http_server *s = calloc(1, sizeof(*s));
    struct mg_callbacks cb;
    char threads[24], req_to[24], ka_to[24];
    const char *opts[] = {"listening_ports",
                          cfg->ingest.listen,
                          "num_threads",
                          threads,
                          "request_timeout_ms",
                          req_to,
                          "keep_alive_timeout_ms",
                          ka_to,
                          "enable_keep_alive",
                          "yes",
                          NULL};

    if (s == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->pub = pub;
    s->boot_id = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    s->limits.max_event_bytes = (size_t)cfg->ingest.max_event_bytes;
    s->limits.max_events = (size_t)cfg->ingest.max_events;
    s->limits.max_depth = (int)cfg->ingest.max_depth;
    s->limits.required = cfg->ingest.required_fields;
    s->limits.key_field = cfg->ingest.key_field;
    snprintf(threads, sizeof(threads), "%lld", cfg->ingest.threads);
    snprintf(req_to, sizeof(req_to), "%lld", cfg->ingest.request_timeout_ms);
    snprintf(ka_to, sizeof(ka_to), "%lld", cfg->ingest.keepalive_timeout_ms);
    memset(&cb, 0, sizeof(cb));
    cb.log_message = log_message;
    s->ctx = mg_start(&cb, s, opts);
    if (s->ctx == NULL) {
        snprintf(errbuf, errlen, "cannot listen on %s (in use?)",
                 cfg->ingest.listen);
        free(s);
        return NULL;
    }
    mg_set_request_handler(s->ctx, "/v1/events$", handle_events, s);
    mg_set_request_handler(s->ctx, "/healthz$", on_healthz, s);
    mg_set_request_handler(s->ctx, "/readyz$", on_readyz, s);
    mg_set_request_handler(s->ctx, "/metrics$", on_metrics, s);
    mg_set_request_handler(s->ctx, "/", handle_other, s);
    return s;
}

void http_stop(http_server *s)
{
    if (s == NULL)
        return;
    if (s->ctx)
        mg_stop(s->ctx);
    free(s);
}
