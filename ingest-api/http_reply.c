/* http_reply.c -- ingest-api's answers: one write per response where it
 * fits, JSON bodies and errors, 503 with Retry-After, 401 with its
 * challenge, and whether the connection may carry another request. */
#include "http_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

static int must_close(struct mg_connection *c, int after)
{
    const struct mg_request_info *ri = mg_get_request_info(c);

    if (after == CONN_CLOSE)
        return 1;
    if (after == CONN_KEEP)
        return 0;
    return mg_get_header(c, "Transfer-Encoding") != NULL ||
           ri->content_length > DRAIN_MAX;
}

/* Writes a whole response with one write where it fits, so that a small
 * answer leaves in one packet. */
int http_respond(http_server *s, struct mg_connection *c, int status,
                 const char *ctype, const char *body, size_t len,
                 const char *extra, int after)
{
    const char *method = mg_get_request_info(c)->request_method;
    int head_only = method && strcmp(method, "HEAD") == 0;
    int closing = must_close(c, after);
    char buf[2048];
    int n;

    metrics_count_status(s->m, status);
    /* Debian's civetweb: stop civetweb from reading the rest of the body
     * after the handler (and from keeping the connection). */
    if (closing)
        mg_disable_keep_alive(c);
    n = snprintf(buf, sizeof(buf),
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "Cache-Control: no-store\r\n"
                 "%s%s\r\n",
                 status, http_reason(status), ctype, len, extra ? extra : "",
                 closing ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(buf))
        return 500;
    if (head_only) {
        len = 0;
    } else if ((size_t)n + len <= sizeof(buf)) {
        memcpy(buf + n, body, len);
        n += (int)len;
        len = 0;
    }
    mg_write(c, buf, (size_t)n);
    if (len)
        mg_write(c, body, len);
    return status;
}

int http_reply_json(http_server *s, struct mg_connection *c, int status,
                    const char *body, const char *extra, int after)
{
    return http_respond(s, c, status, "application/json", body, strlen(body),
                        extra, after);
}

/* JSON string content for text: quotes, backslashes and control bytes
 * escaped; bytes outside ASCII (a client's path, say, may not be UTF-8)
 * become '?', so the body is always valid JSON. */
static void json_escape(const char *text, char *out, size_t outlen)
{
    size_t j = 0;

    for (const char *p = text; *p && j + 7 < outlen; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            out[j++] = '\\';
            out[j++] = (char)ch;
        } else if (ch < 0x20) {
            j += (size_t)snprintf(out + j, outlen - j, "\\u%04x", ch);
        } else if (ch >= 0x80) {
            out[j++] = '?';
        } else {
            out[j++] = (char)ch;
        }
    }
    out[j] = '\0';
}

/* A JSON error body: {"error": code, "detail": text[, "index": n]}. */
int http_reply_error(http_server *s, struct mg_connection *c, int status,
                     const char *code, const char *detail, long index,
                     const char *extra, int after)
{
    char body[1024];
    char esc[700];

    json_escape(detail, esc, sizeof(esc));
    if (index >= 0)
        snprintf(body, sizeof(body),
                 "{\"error\":\"%s\",\"detail\":\"%s\",\"index\":%ld}\n", code,
                 esc, index);
    else
        snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"%s\"}\n",
                 code, esc);
    return http_reply_json(s, c, status, body, extra, after);
}

static const char *unavailable_code(metrics_reason why)
{
    switch (why) {
    case METRICS_QUEUE_FULL:
        return "queue_full";
    case METRICS_UNREACHABLE:
        return "kafka_unreachable";
    case METRICS_TIMEOUT:
        return "delivery_timeout";
    case METRICS_FAILED:
        return "delivery_failed";
    case METRICS_FATAL:
        return "producer_failed";
    case METRICS_MEMORY_FULL:
        return "memory_full";
    default:
        return "shutting_down";
    }
}

int http_unavailable(http_server *s, struct mg_connection *c, const char *rid,
                     metrics_reason why, const char *detail, int after)
{
    char extra[96];

    metrics_count_unavailable(s->m, why);
    snprintf(extra, sizeof(extra), "Retry-After: %lld\r\nX-Request-Id: %s\r\n",
             s->cfg->ingest.retry_after_s, rid);
    return http_reply_error(s, c, 503, unavailable_code(why), detail, -1, extra,
                            after);
}

metrics_reason http_reason_of(publish_status st)
{
    switch (st) {
    case PUBLISH_QUEUE_FULL:
        return METRICS_QUEUE_FULL;
    case PUBLISH_UNREACHABLE:
        return METRICS_UNREACHABLE;
    case PUBLISH_TIMEOUT:
        return METRICS_TIMEOUT;
    case PUBLISH_FATAL:
        return METRICS_FATAL;
    case PUBLISH_STOPPING:
        return METRICS_SHUTTING_DOWN;
    default:
        return METRICS_FAILED;
    }
}

int http_reply_unauthorized(http_server *s, struct mg_connection *c,
                            auth_result r, int after)
{
    if (r == AUTH_MISSING)
        return http_reply_error(
            s, c, 401, "missing_token", "send Authorization: Bearer <token>",
            -1, "WWW-Authenticate: Bearer realm=\"millrace\"\r\n", after);
    return http_reply_error(s, c, 401, "invalid_token",
                            "the token is not valid", -1,
                            "WWW-Authenticate: Bearer realm=\"millrace\", "
                            "error=\"invalid_token\"\r\n",
                            after);
}
