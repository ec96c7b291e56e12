/* setup.h -- building the uploader's store and dead-letter producer from
 * its settings; shared by the daemon and by replay. */
#ifndef MILLRACE_SETUP_H
#define MILLRACE_SETUP_H

#include <stddef.h>

#include "config.h"
#include "dlq.h"
#include "store.h"

/* The local store or the S3 store the settings name. NULL and errbuf set
 * on failure. */
store *setup_store(const uploader_config *cfg, char *errbuf, size_t errlen);

/* An idempotent producer to "{topic}.dlq". */
dlq *setup_dlq(const uploader_config *cfg, char *errbuf, size_t errlen);

#endif
