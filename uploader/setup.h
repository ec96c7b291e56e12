/* setup.h -- building the uploader's store, its credentials and its
 * dead-letter producer from its settings; shared by the daemon and by
 * replay. */
#ifndef MILLRACE_SETUP_H
#define MILLRACE_SETUP_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "creds.h"
#include "dlq.h"
#include "store/store.h"
#include "upload.h"

/* Whether S3 requests name the bucket in the path (1) or in the host
 * (0): s3.path_style when set; for auto, virtual-hosted on AWS (no
 * s3.endpoint) as the AWS SDKs do, unless the bucket name is no valid host
 * label (then path style, which AWS still serves), and path style for a
 * custom endpoint (MinIO, Ceph RGW, versitygw: their host names rarely
 * resolve per bucket). */
int setup_path_style(const uploader_config *cfg);

/* The region to sign for and where it came from: s3.region (its file
 * setting, MILLRACE_S3_REGION or AWS_REGION), then AWS_DEFAULT_REGION,
 * then the region of the shared profile (AWS_PROFILE), then us-east-1.
 * getenv_fn NULL = getenv. Returns the source's description. */
const char *setup_region(const uploader_config *cfg,
                         const char *(*getenv_fn)(const char *), char *out,
                         size_t outlen);

/* The credential provider of the S3 store: the explicit settings, then
 * the AWS SDKs' chain. Nothing is fetched yet. NULL for the local store,
 * and on error with errbuf set (*err = 1). */
creds_provider *setup_creds(const uploader_config *cfg, int *err, char *errbuf,
                            size_t errlen);

/* Runs the chain now and logs which source yielded (or every source's
 * reason), then starts the refresher, which keeps trying when nothing
 * yielded. Returns 0 with credentials, 1 without (the reasons in errbuf),
 * -1 when the refresher cannot start. */
int setup_creds_start(creds_provider *cp, char *errbuf, size_t errlen);

/* For --check-config: resolves the chain once and prints "# region: ..."
 * and "# credentials: ..." (source, access key id, expiry; never a
 * secret). Returns 1 when credentials were found, else 0. */
int setup_print_creds(const uploader_config *cfg, FILE *out);

/* The local store or the S3 store the settings name, signing with cp's
 * credentials (borrowed: it must outlive the store). NULL and errbuf set
 * on failure. */
store *setup_store(const uploader_config *cfg, creds_provider *cp, char *errbuf,
                   size_t errlen);

/* Fills u from the settings, for objects of cfg's topic written to st
 * (borrowed) and counted in stats: the one place an upload_ctx meets the
 * configuration. Zeroes u first; the caller adds dlq, check_records, pool
 * and what it does differently (replay: the topic, its retry limits). */
void setup_upload_ctx(const uploader_config *cfg, store *st,
                      upload_stats *stats, upload_ctx *u);

/* An idempotent producer to "{topic}.dlq". */
dlq *setup_dlq(const uploader_config *cfg, char *errbuf, size_t errlen);

#endif
