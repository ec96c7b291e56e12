/* http.c -- ingest-api's HTTP surface on civetweb: /v1/events, /healthz,
 * /readyz, /metrics. Handlers parse, validate and hand over to publish.
 *
 * The order of the checks on POST /v1/events is the contract's: draining
 * (503), token (401), method (405), head (415, 417, 411, 413), body (408,
 * 400, 413 by counting), gzip (400, 413), events (400, 413), Kafka (503),
 * and 202. Everything decided from the head answers without reading the
 * body, and then closes the connection (its unread body makes it
 * unusable). */
#include "http.h"
#include "http_reply.h"

#include <civetweb.h>
#include <dirent.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "gunzip.h"
#include "log.h"
#include "now.h"
#include "request.h"
#include "tlsreload.h"
#include "validate.h"

static int read_conn(void *ctx, void *buf, size_t len)
{
    return mg_read(ctx, buf, len);
}

/* The body, decoded, into *text (owned by the caller); or an answer. */
static int get_text(http_server *s, struct mg_connection *c,
                    const request_plan *plan, char **text, size_t *len)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    long long max = s->cfg->ingest.max_body_bytes;
    request_reader rd = {read_conn, c, now_mono_ms};
    request_error err;
    char *raw = NULL;
    size_t rawlen = 0, nread = 0;
    int rc;

    if (plan->send_continue && strcmp(ri->http_version, "1.1") == 0)
        mg_printf(c, "HTTP/1.1 100 Continue\r\n\r\n");
    rc = request_read_body(&rd, ri->content_length, (size_t)max,
                           now_mono_ms() + s->cfg->ingest.request_timeout_ms,
                           &raw, &rawlen, &nread, &err);
    atomic_fetch_add_explicit(&s->m->body_bytes, nread, memory_order_relaxed);
    if (rc < 0)
        return http_reply_error(s, c, err.status, err.code, err.detail, -1,
                                NULL, CONN_CLOSE);
    if (!plan->gzip) {
        *text = raw;
        *len = rawlen;
        return 0;
    }
    rc = gunzip_capped(raw, rawlen, (size_t)max, text, len);
    free(raw);
    if (rc == GUNZIP_OK)
        return 0;
    if (rc == GUNZIP_TOO_LARGE) {
        char detail[128];
        snprintf(detail, sizeof(detail),
                 "the decompressed body exceeds the limit of %lld bytes", max);
        return http_reply_error(s, c, 413, "body_too_large", detail, -1, NULL,
                                CONN_KEEP);
    }
    return http_reply_error(s, c, 400, "bad_gzip", "the body is not valid gzip",
                            -1, NULL, CONN_KEEP);
}

/* Framing that civetweb lets through but a proxy in front may read
 * otherwise (request smuggling): see request_head_layout_error and
 * request_framing_error; and more headers than civetweb keeps (it drops
 * those past MG_MAX_HEADERS silently, Content-Length among them). NULL if
 * none. */
static const char *ambiguous_framing(const struct mg_request_info *ri)
{
    request_field fields[MG_MAX_HEADERS];
    const char *why;

    if (ri->num_headers >= MG_MAX_HEADERS)
        return "too many header fields";
    if (ri->num_headers == 0)
        return NULL;
    for (int i = 0; i < ri->num_headers; i++) {
        fields[i].name = ri->http_headers[i].name;
        fields[i].value = ri->http_headers[i].value;
    }
    why = request_head_layout_error(fields, ri->num_headers);
    return why ? why : request_framing_error(fields, ri->num_headers);
}

/* Everything the head decides; 0 to go on and read the body. */
static int check_head(http_server *s, struct mg_connection *c,
                      request_plan *plan)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    const char *te = mg_get_header(c, "Transfer-Encoding");
    const char *framing = ambiguous_framing(ri);
    request_head h;
    request_error err;
    auth_result ar;

    if (framing)
        return http_reply_error(s, c, 400, "bad_request", framing, -1, NULL,
                                CONN_CLOSE);
    ar = auth_check(s->auth, mg_get_header(c, "Authorization"));
    if (ar != AUTH_OK)
        return http_reply_unauthorized(s, c, ar, CONN_UNREAD);
    if (strcmp(ri->request_method, "POST") != 0)
        return http_reply_error(s, c, 405, "method_not_allowed",
                                "use POST for /v1/events", -1,
                                "Allow: POST\r\n", CONN_UNREAD);
    h.content_type = mg_get_header(c, "Content-Type");
    h.content_encoding = mg_get_header(c, "Content-Encoding");
    h.transfer_encoding = te;
    h.expect = mg_get_header(c, "Expect");
    h.content_length = ri->content_length;
    if (request_plan_of(&h, s->cfg->ingest.max_body_bytes, plan, &err) < 0)
        return http_reply_error(s, c, err.status, err.code, err.detail, -1,
                                NULL, CONN_UNREAD);
    return 0;
}

/* Memory a request may come to hold, from its head: the raw body (its
 * Content-Length, or the limit when chunked), the decoded text (the limit
 * when gzip) and about as much again parsed. */
static long long body_reservation(const http_server *s,
                                  const request_plan *plan,
                                  long long content_length)
{
    long long max = s->cfg->ingest.max_body_bytes;
    long long raw = plan->chunked ? max : content_length;
    long long text = plan->gzip ? max : raw;

    return raw + 2 * text;
}

/* Takes n bytes of ingest.max_inflight_bytes, or nothing when they would
 * pass it. */
static int memory_reserve(http_server *s, long long n)
{
    long long cur = atomic_load(&s->inflight_bytes);

    do {
        if (cur + n > s->cfg->ingest.max_inflight_bytes)
            return 0;
    } while (!atomic_compare_exchange_weak(&s->inflight_bytes, &cur, cur + n));
    return 1;
}

static int serve_body(http_server *s, struct mg_connection *c, const char *rid,
                      const request_plan *plan);

static int serve_events(http_server *s, struct mg_connection *c,
                        const char *rid)
{
    request_plan plan;
    long long held;
    int status;

    if (atomic_load(&s->draining))
        return http_unavailable(s, c, rid, METRICS_SHUTTING_DOWN,
                                "the server is shutting down", CONN_CLOSE);
    status = check_head(s, c, &plan);
    if (status)
        return status;
    held = body_reservation(s, &plan, mg_get_request_info(c)->content_length);
    if (!memory_reserve(s, held))
        return http_unavailable(
            s, c, rid, METRICS_MEMORY_FULL,
            "the requests in flight hold the memory they may "
            "(ingest.max_inflight_bytes)",
            CONN_UNREAD);
    status = serve_body(s, c, rid, &plan);
    atomic_fetch_sub(&s->inflight_bytes, held);
    return status;
}

/* An event the topic cannot take is refused alone, before anything of the
 * request is produced: in a producer batch it would fail every record
 * beside it (other clients' too). The limit is the topic's
 * max.message.bytes, learned from Kafka; 0 until it is known. */
static int too_large(http_server *s, const event_batch *b, char *detail,
                     size_t dlen, long *index)
{
    long long limit = publisher_record_limit(s->pub);

    if (limit <= 0)
        return 0;
    for (size_t i = 0; i < b->n; i++) {
        long long size = (long long)(b->ev[i].len + b->ev[i].key_len) +
                         PUBLISH_RECORD_OVERHEAD;
        if (size <= limit)
            continue;
        snprintf(detail, dlen,
                 "event %zu is %zu bytes; topic %s takes records of at most "
                 "%lld bytes (max.message.bytes, with %d bytes of record "
                 "overhead)",
                 i, b->ev[i].len, s->cfg->kafka.topic, limit,
                 PUBLISH_RECORD_OVERHEAD);
        *index = (long)i;
        return 1;
    }
    return 0;
}

/* Takes a CPU turn (turns.h): 0 with it held. -1 when the turn did not
 * come within the room wait while the producer queue stayed full: the
 * holders are then waiting for room, each up to that long, and a request
 * behind them would otherwise wait that long for each of them. *room_by:
 * the room wait counted from the start of this one, so that a request
 * waits that long at most for the two together. */
static int take_turn(http_server *s, struct timespec *room_by)
{
    int ms = publisher_room_wait_ms(s->pub);
    struct timespec deadline = now_deadline(CLOCK_MONOTONIC, ms);

    *room_by = deadline;
    while (turns_take_until(&s->turns, &deadline) != 0) {
        if (publisher_queue_full(s->pub))
            return -1;
        deadline = now_deadline(CLOCK_MONOTONIC, ms);
    }
    return 0;
}

/* The body, its events and their publishing; the head was accepted. */
static int serve_body(http_server *s, struct mg_connection *c, const char *rid,
                      const request_plan *plan)
{
    event_batch batch = {0};
    validate_error verr;
    char *text = NULL;
    size_t len = 0;
    char detail[256];
    char body[64];
    char extra[64];
    publish_wait *wait;
    publish_status st;
    struct timespec room_by;
    long index;
    int status;

    status = get_text(s, c, plan, &text, &len);
    if (status)
        return status;
    snprintf(extra, sizeof(extra), "X-Request-Id: %s\r\n", rid);
    /* A turn for the CPU work only: the body is read, and the answer is
     * written and Kafka's reports awaited, without one. A request that
     * waits for room in a full producer queue keeps its turn: that holds
     * the intake to what the producer drains. Giving it back let more
     * requests in to compete with the producer's threads for the CPU and
     * cut throughput from 44-61k to 32k requests/s (256 and 512
     * connections, 2 CPUs). So that the others do not wait behind each
     * holder's wait for room in turn, a request that waited as long for
     * its turn while the queue stayed full is refused as the holders are,
     * and one that gets its turn has only what is left of that wait. */
    if (take_turn(s, &room_by) < 0) {
        snprintf(detail, sizeof(detail),
                 "the producer queue is full: waited %d ms for a turn "
                 "behind requests waiting for room",
                 publisher_room_wait_ms(s->pub));
        status = http_unavailable(s, c, rid, http_reason_of(PUBLISH_QUEUE_FULL),
                                  detail, CONN_KEEP);
        goto done;
    }
    if (validate_body(text, len, plan->kind, &s->limits, &batch, &verr) < 0) {
        turns_give(&s->turns);
        status = http_reply_error(s, c, verr.status, verr.code, verr.detail,
                                  verr.index, extra, CONN_KEEP);
        goto done;
    }
    if (too_large(s, &batch, detail, sizeof(detail), &index)) {
        turns_give(&s->turns);
        status = http_reply_error(s, c, 413, "event_too_large", detail, index,
                                  extra, CONN_KEEP);
        goto done;
    }
    st = publish_send(s->pub, &batch, rid, &room_by, &wait, detail,
                      sizeof(detail));
    turns_give(&s->turns);
    if (st == PUBLISH_OK)
        st = publish_wait_reports(s->pub, wait, detail, sizeof(detail));
    if (st != PUBLISH_OK) {
        log_debug("http", "request %s: 503: %s", rid, detail);
        status =
            http_unavailable(s, c, rid, http_reason_of(st), detail, CONN_KEEP);
        goto done;
    }
    atomic_fetch_add_explicit(&s->m->events_accepted, batch.n,
                              memory_order_relaxed);
    snprintf(body, sizeof(body), "{\"accepted\":%zu}\n", batch.n);
    status = http_reply_json(s, c, 202, body, extra, CONN_KEEP);
done:
    event_batch_clear(&batch);
    free(text);
    return status;
}

static int handle_events(struct mg_connection *c, void *cbdata)
{
    http_server *s = cbdata;
    long long t0 = now_mono_us();
    char rid[40];
    int status;

    atomic_fetch_add(&s->m->in_flight, 1);
    snprintf(rid, sizeof(rid), "%08x-%llx", s->boot_id,
             (unsigned long long)atomic_fetch_add(&s->request_seq, 1));
    status = serve_events(s, c, rid);
    metrics_observe_us(s->m, now_mono_us() - t0);
    atomic_fetch_sub(&s->m->in_flight, 1);
    return status;
}

static int handle_healthz(struct mg_connection *c, void *cbdata)
{
    return http_reply_json(cbdata, c, 200, "{\"status\":\"ok\"}\n", NULL,
                           CONN_KEEP);
}

static int handle_readyz(struct mg_connection *c, void *cbdata)
{
    http_server *s = cbdata;

    if (atomic_load(&s->draining))
        return http_reply_error(s, c, 503, "shutting_down",
                                "the server is shutting down", -1, NULL,
                                CONN_KEEP);
    if (publisher_fatal(s->pub))
        return http_reply_error(
            s, c, 503, "producer_failed",
            "the Kafka producer failed and must be restarted", -1, NULL,
            CONN_KEEP);
    if (!publisher_ready(s->pub))
        return http_reply_error(s, c, 503, "kafka_unreachable",
                                "Kafka is not reachable", -1, NULL, CONN_KEEP);
    return http_reply_json(s, c, 200, "{\"status\":\"ready\"}\n", NULL,
                           CONN_KEEP);
}

static int handle_metrics(struct mg_connection *c, void *cbdata)
{
    http_server *s = cbdata;
    metrics_sample smp;
    publish_stats ps;
    char stack[8192];
    char *buf = stack;
    size_t need;
    int status;

    publisher_stats(s->pub, &ps);
    memset(&smp, 0, sizeof(smp));
    smp.queue_messages = ps.queue_messages;
    smp.delivered = ps.delivered;
    smp.delivery_errors = ps.delivery_errors;
    smp.room_waits = ps.room_waits;
    smp.fast_sends = ps.fast_sends;
    smp.kafka_up = ps.up && !ps.fatal;
    smp.draining = atomic_load(&s->draining);
    smp.have_process = prom_process_read(&smp.process) == 0;
    need = metrics_render(s->m, &smp, stack, sizeof(stack));
    if (need >= sizeof(stack)) {
        buf = malloc(need + 1);
        if (buf == NULL)
            return http_reply_error(s, c, 500, "out_of_memory", "out of memory",
                                    -1, NULL, 0);
        metrics_render(s->m, &smp, buf, need + 1);
    }
    status = http_respond(s, c, 200, "text/plain; version=0.0.4", buf, need,
                          NULL, CONN_KEEP);
    if (buf != stack)
        free(buf);
    return status;
}

static int handle_other(struct mg_connection *c, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    char detail[200];

    snprintf(detail, sizeof(detail), "no such path: %.150s", ri->local_uri);
    return http_reply_error(cbdata, c, 404, "not_found", detail, -1, NULL,
                            CONN_UNREAD);
}

/* /healthz and friends take GET (and HEAD) only. */
static int get_only(struct mg_connection *c, void *cbdata,
                    int (*fn)(struct mg_connection *, void *))
{
    const char *m = mg_get_request_info(c)->request_method;

    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
        return http_reply_error(cbdata, c, 405, "method_not_allowed", "use GET",
                                -1, "Allow: GET, HEAD\r\n", CONN_UNREAD);
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

/* Errors civetweb answers itself (a malformed request line, headers over
 * ingest.max_header_bytes, a bad Content-Length or Transfer-Encoding, an
 * HTTP version other than 1.x) get a JSON body like ours. */
static int on_http_error(struct mg_connection *c, int status, const char *msg)
{
    http_server *s = mg_get_user_data(mg_get_context(c));
    const char *code;

    switch (status) {
    case 400:
        code = "bad_request";
        break;
    case 411:
        code = "length_required";
        break;
    case 413:
        code = "headers_too_large";
        break;
    case 505:
        code = "http_version_not_supported";
        break;
    default:
        code = "http_error";
        break;
    }
    http_reply_error(s, c, status, code,
                     msg && msg[0] ? msg : http_reason(status), -1, NULL,
                     CONN_CLOSE);
    return 0;
}

/* civetweb reports trouble with single connections too (a failed TLS
 * handshake, say): log them, but never more than a few lines a second. */
static int log_message(const struct mg_connection *c, const char *msg)
{
    http_server *s = c ? mg_get_user_data(mg_get_context(c)) : NULL;
    long long sec = now_mono_ms() / 1000;

    if (s) {
        if (atomic_exchange(&s->log_second, sec) != sec)
            atomic_store(&s->log_count, 0);
        if (atomic_fetch_add(&s->log_count, 1) >= 5)
            return 1;
    }
    log_warn("http", "%s", msg);
    return 1;
}

/* The HTTP workers may run at a lower priority (ingest.worker_nice) than
 * the rest of the process: the producer's threads, which are few, then
 * win the CPU from any number of busy workers. */
static void *init_thread(const struct mg_context *ctx, int type)
{
    const http_server *s = mg_get_user_data(ctx);

    if (type == 1 && s && s->cfg->ingest.worker_nice > 0) {
        pid_t tid = (pid_t)syscall(SYS_gettid);
        int base = getpriority(PRIO_PROCESS, (id_t)tid);
        if (setpriority(PRIO_PROCESS, (id_t)tid,
                        base + (int)s->cfg->ingest.worker_nice) != 0)
            log_debug("http", "cannot lower a worker's priority");
    }
    return NULL;
}

/* The civetweb options of the settings; strings live in num[]. */
static void civetweb_options(const ingest_config *cfg, const char **opts,
                             char num[][24])
{
    int i = 0;

    snprintf(num[0], 24, "%lld", cfg->ingest.threads);
    snprintf(num[1], 24, "%lld", cfg->ingest.request_timeout_ms);
    snprintf(num[2], 24, "%lld", cfg->ingest.keepalive_timeout_ms);
    snprintf(num[3], 24, "%lld", cfg->ingest.connection_queue);
    snprintf(num[4], 24, "%lld", cfg->ingest.listen_backlog);
    snprintf(num[5], 24, "%lld", cfg->ingest.max_header_bytes);
    opts[i++] = "listening_ports";
    opts[i++] = cfg->ingest.listen;
    opts[i++] = "num_threads";
    opts[i++] = num[0];
    opts[i++] = "request_timeout_ms";
    opts[i++] = num[1];
    opts[i++] = "keep_alive_timeout_ms";
    opts[i++] = num[2];
    opts[i++] = "connection_queue";
    opts[i++] = num[3];
    opts[i++] = "listen_backlog";
    opts[i++] = num[4];
    opts[i++] = "max_request_size";
    opts[i++] = num[5];
    opts[i++] = "enable_keep_alive";
    opts[i++] = cfg->ingest.keepalive ? "yes" : "no";
    opts[i++] = "tcp_nodelay";
    opts[i++] = "1";
    if (cfg->ingest.tls_certificate && cfg->ingest.tls_certificate[0]) {
        opts[i++] = "ssl_certificate";
        opts[i++] = cfg->ingest.tls_certificate;
        opts[i++] = "ssl_protocol_version";
        opts[i++] = "4"; /* TLS 1.2 and later */
    }
    opts[i] = NULL;
}

/* Debian 12's civetweb 1.15 dlopen()s "libssl.so" and "libcrypto.so" for
 * the OpenSSL 1.1 API. libmillrace-ssl.so and libmillrace-crypto.so, next
 * to the binary, carry those sonames and bring OpenSSL 3 with the one name
 * it lacks (tls_shim.c); loaded first, they are what civetweb's dlopen()
 * returns. Without them civetweb finds the system's OpenSSL 3, if any, and
 * cannot use it. Writes why a shim did not load into why. */
static void tls_load_shims(char *why, size_t whylen)
{
    static const char *const shims[] = {"libmillrace-crypto.so",
                                        "libmillrace-ssl.so"};
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    char *dir_end;

    why[0] = '\0';
    if (n <= 0) {
        snprintf(why, whylen, "cannot find the binary's directory");
        return;
    }
    path[n] = '\0';
    dir_end = strrchr(path, '/') + 1;
    for (size_t i = 0; i < sizeof(shims) / sizeof(shims[0]); i++) {
        snprintf(dir_end, sizeof(path) - (size_t)(dir_end - path), "%s",
                 shims[i]);
        if (dlopen(path, RTLD_NOW | RTLD_LOCAL) == NULL && !why[0]) {
            const char *e = dlerror();
            snprintf(why, whylen, "%.400s", e ? e : shims[i]);
        }
    }
}

/* civetweb made its TLS context: handshakes can now present a reloaded
 * certificate. 0: civetweb goes on to load ingest.tls_certificate. */
static int init_ssl(void *ssl_ctx, void *user_data)
{
    http_server *s = user_data;

    if (s == NULL || s->tls == NULL)
        return 0;
    return tls_reload_attach(s->tls, ssl_ctx) == 0 ? 0 : -1;
}

int http_reload_tls(http_server *s, const char *path, char *errbuf,
                    size_t errlen)
{
    if (s == NULL || s->tls == NULL)
        return 0;
    return tls_reload_file(s->tls, path, errbuf, errlen) == 0 ? 1 : -1;
}

/* civetweb loads OpenSSL when TLS is first used; a civetweb that cannot
 * would start and then crash on the first handshake. So TLS is
 * initialised here, and a failure is a start-up error. */
static int tls_unavailable(char *errbuf, size_t errlen)
{
    char why[512];

    if (!mg_check_feature(MG_FEATURES_TLS)) {
        snprintf(errbuf, errlen,
                 "TLS is unavailable: civetweb %s is built without it",
                 mg_version());
        return 1;
    }
    tls_load_shims(why, sizeof(why));
    if (!(mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS)) {
        snprintf(errbuf, errlen,
                 "TLS is unavailable: civetweb %s could not load OpenSSL "
                 "(a civetweb built for the OpenSSL 1.1 API, as Debian "
                 "12's 1.15 is, needs libmillrace-ssl.so and "
                 "libmillrace-crypto.so next to ingest-api to use OpenSSL "
                 "3%s%s)",
                 mg_version(), why[0] ? ": " : "", why);
        return 1;
    }
    return 0;
}

http_server *http_start(const ingest_config *cfg, publisher *pub,
                        ingest_metrics *m, char *errbuf, size_t errlen)
{
    http_server *s = calloc(1, sizeof(*s));
    int tls = cfg->ingest.tls_certificate && cfg->ingest.tls_certificate[0];
    struct mg_callbacks cb;
    struct mg_init_data init;
    struct mg_error_data error;
    char why[256] = "";
    unsigned code = 0;
    char num[6][24];
    const char *opts[32];

    if (s == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    if (tls && tls_unavailable(errbuf, errlen))
        goto fail;
    if (tls && (s->tls = tls_reload_new()) == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    s->cfg = cfg;
    s->pub = pub;
    s->m = m;
    s->boot_id = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    s->limits.max_event_bytes = (size_t)cfg->ingest.max_event_bytes;
    s->limits.max_events = (size_t)cfg->ingest.max_events;
    s->limits.max_depth = (int)cfg->ingest.max_depth;
    s->limits.required = cfg->ingest.required_fields;
    s->limits.key_field = cfg->ingest.key_field;
    s->auth = auth_new(cfg->ingest.tokens, errbuf, errlen);
    if (s->auth == NULL)
        goto fail;
    turns_init(&s->turns, ingest_cpu_turns(cfg));
    civetweb_options(cfg, opts, num);
    memset(&cb, 0, sizeof(cb));
    cb.log_message = log_message;
    cb.http_error = on_http_error;
    cb.init_thread = init_thread;
    cb.init_ssl = init_ssl;
    init.callbacks = &cb;
    init.user_data = s;
    init.configuration_options = opts;
    error.code = &code;
    error.text = why;
    error.text_buffer_size = sizeof(why);
    s->ctx = mg_start2(&init, &error);
    if (s->ctx == NULL) {
        snprintf(errbuf, errlen, "cannot listen on %s: %s", cfg->ingest.listen,
                 why[0] ? why : "(no reason given)");
        goto fail;
    }
    mg_set_request_handler(s->ctx, "/v1/events$", handle_events, s);
    mg_set_request_handler(s->ctx, "/healthz$", on_healthz, s);
    mg_set_request_handler(s->ctx, "/readyz$", on_readyz, s);
    mg_set_request_handler(s->ctx, "/metrics$", on_metrics, s);
    mg_set_request_handler(s->ctx, "/", handle_other, s);
    return s;
fail:
    if (s) {
        auth_free(s->auth);
        tls_reload_free(s->tls);
        turns_destroy(&s->turns);
    }
    free(s);
    return NULL;
}

/* Is fd a listening TCP socket on one of ports? */
static int listener_on(int fd, const struct mg_server_port *ports, int n)
{
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    int acc = 0;
    socklen_t alen = sizeof(acc);
    int port;

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) != 0 || !acc)
        return 0;
    if (getsockname(fd, (struct sockaddr *)&sa, &salen) != 0)
        return 0;
    if (sa.ss_family == AF_INET)
        port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
    else if (sa.ss_family == AF_INET6)
        port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    else
        return 0;
    for (int i = 0; i < n; i++)
        if (ports[i].port == port)
            return 1;
    return 0;
}

/* civetweb has no call that closes its listening sockets and keeps
 * serving the connections it has: mg_stop does both at once, and cuts
 * the answers of requests still in flight. So each listening socket is
 * replaced, under the same descriptor number, by an unbound UDP socket,
 * which never becomes readable: civetweb's accept loop keeps polling and
 * accepts nothing, the kernel closes the real listener (new connections
 * are refused), and mg_stop later closes the stand-in. */
static int stop_listening(http_server *s)
{
    struct mg_server_port ports[8];
    int n = mg_get_server_ports(s->ctx, 8, ports);
    int closed = 0;
    struct dirent *e;
    DIR *d;

    if (n <= 0)
        return 0;
    d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        int udp;
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d) ||
            !listener_on(fd, ports, n))
            continue;
        udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (udp < 0)
            continue;
        if (dup2(udp, fd) >= 0)
            closed++;
        close(udp);
    }
    closedir(d);
    return closed;
}

int http_drain(http_server *s, long long budget_ms)
{
    long long deadline = now_mono_ms() + budget_ms;
    int left;

    if (s == NULL || s->ctx == NULL)
        return 0;
    atomic_store(&s->draining, 1);
    if (stop_listening(s) == 0)
        log_warn("http", "could not close the listening socket early; new "
                         "connections get 503 until the server stops");
    while ((left = atomic_load(&s->m->in_flight)) > 0 &&
           now_mono_ms() < deadline)
        usleep(10 * 1000); /* poll interval of the drain */
    return left;
}

void http_stop(http_server *s)
{
    if (s == NULL)
        return;
    if (s->ctx)
        mg_stop(s->ctx);
    auth_free(s->auth);
    tls_reload_free(s->tls);
    turns_destroy(&s->turns);
    free(s);
}
