/* health.h -- the uploader's small HTTP surface: /healthz, /readyz and
 * /metrics, for orchestrators and Prometheus. */
#ifndef MILLRACE_HEALTH_H
#define MILLRACE_HEALTH_H

#include <stddef.h>

#include "consumer.h"
#include "upload.h"

typedef struct health health;

/* c, dq and stats are borrowed and must outlive the server. */
health *health_start(const char *listen, consumer *c, dlq *dq,
                     upload_stats *stats, char *errbuf, size_t errlen);
void health_stop(health *h);

#endif
