/* config.h -- the uploader's settings and their declarative table. */
#ifndef MILLRACE_UPLOADER_CONFIG_H
#define MILLRACE_UPLOADER_CONFIG_H

#include "cfg.h"
#include "settings.h"

typedef struct uploader_config {
    kafka_settings kafka;
    log_settings log;
    struct {
        char *group;
        long long workers;
        long long queue;
        long long max_records;
        long long max_bytes;
        long long max_buffer_bytes;
        long long max_age_ms;
        char *format;
        char *content_encoding; /* "none" | "format" */
        long long level;
        char *store;
        char *local_dir;
        char *listen;
        long long retry_base_ms;
        long long retry_max_ms;
        long long shutdown_timeout_ms;
        long long revoke_timeout_ms;
        char *assignment;
        char *time_field;
        int line_metadata;
        long long max_record_bytes;
        long long max_json_depth;
        char *on_permanent_error;
        long long permanent_retries;
        long long multipart_threshold;
        long long part_size;
        long long lag_interval_ms;
        int index;
        int hour_markers;
        long long hour_lateness_ms;
        long long hour_check_ms;
    } uploader;
    struct {
        char *endpoint;
        char *bucket;
        char *region;
        char *prefix;
        char *access_key;
        char *secret_key;
        char *session_token;
        int path_style; /* -1: auto (setup_path_style) */
        long long connect_timeout_ms;
        long long request_timeout_ms;
        char *sse;
        char *sse_kms_key_id;
        char *storage_class;
    } s3;
} uploader_config;

void uploader_config_table(cfg_table *t, uploader_config *c);
void uploader_config_validate(const uploader_config *c, cfg_errors *errs);

#endif
