/* http.h -- ingest-api's HTTP surface on civetweb: /v1/events, /healthz,
 * /readyz, /metrics. Handlers parse, validate and hand over to publish. */
#ifndef MILLRACE_HTTP_H
#define MILLRACE_HTTP_H

#include "config.h"
#include "publish.h"

typedef struct http_server http_server;

/* Starts listening. pub is borrowed and must outlive the server. */
http_server *http_start(const ingest_config *cfg, publisher *pub,
                        char *errbuf, size_t errlen);

/* Stops accepting, waits for in-flight requests to finish. Accepts NULL. */
void http_stop(http_server *s);

#endif
