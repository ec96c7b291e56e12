/* health.h -- the uploader's small HTTP surface: /healthz, /readyz and
 * /metrics, for orchestrators and Prometheus. */
#ifndef MILLRACE_HEALTH_H
#define MILLRACE_HEALTH_H

#include <stddef.h>

#include "consumer.h"
#include "creds.h"
#include "upload.h"

typedef struct health health;

/* c, dq, stats and cp (NULL for the local store) are borrowed and must
 * outlive the server. Without usable credentials /readyz answers 503. */
health *health_start(const char *listen, consumer *c, dlq *dq,
                     upload_stats *stats, creds_provider *cp, char *errbuf,
                     size_t errlen);
void health_stop(health *h);

#endif
