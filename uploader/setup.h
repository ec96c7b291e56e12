/* setup.h -- building the uploader's store and dead-letter producer from
 * its settings; shared by the daemon and by replay. */
#ifndef MILLRACE_SETUP_H
#define MILLRACE_SETUP_H

#include <stddef.h>

#include "config.h"
#include "dlq.h"
#include "store.h"

/* Whether S3 requests name the bucket in the path (1) or in the host
 * (0): s3.path_style when set; for auto, virtual-hosted on AWS (no
 * s3.endpoint) as the AWS SDKs do, unless the bucket name is no valid host
 * label (then path style, which AWS still serves), and path style for a
 * custom endpoint (MinIO, Ceph RGW, versitygw: their host names rarely
 * resolve per bucket). */
int setup_path_style(const uploader_config *cfg);

/* The local store or the S3 store the settings name. NULL and errbuf set
 * on failure. */
store *setup_store(const uploader_config *cfg, char *errbuf, size_t errlen);

/* An idempotent producer to "{topic}.dlq". */
dlq *setup_dlq(const uploader_config *cfg, char *errbuf, size_t errlen);

#endif
