/* http.h -- ingest-api's HTTP surface on civetweb: /v1/events, /healthz,
 * /readyz, /metrics. Handlers parse, validate and hand over to publish. */
#ifndef MILLRACE_HTTP_H
#define MILLRACE_HTTP_H

#include "config.h"
#include "metrics.h"
#include "publish.h"

typedef struct http_server http_server;

/* Starts listening. cfg, pub and m are borrowed and must outlive the
 * server. */
http_server *http_start(const ingest_config *cfg, publisher *pub,
                        ingest_metrics *m, char *errbuf, size_t errlen);

/* SIGHUP: presents the certificate in path (re-read now) from the next
 * handshake on. Returns 1 when reloaded, 0 when the server has no TLS,
 * -1 with errbuf set when path cannot be used (the old one stays). */
int http_reload_tls(http_server *s, const char *path, char *errbuf,
                    size_t errlen);

/* The first half of a graceful stop: closes the listening sockets (new
 * connections are refused), answers 503 shutting_down to any new request
 * on a kept-alive connection, and waits up to budget_ms for the requests
 * in flight to be answered. Returns how many are still in flight. */
int http_drain(http_server *s, long long budget_ms);

/* Stops the server: connections still open are cut, handlers still
 * running are waited for. Accepts NULL. */
void http_stop(http_server *s);

#endif
