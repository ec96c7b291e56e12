/* config.h -- the uploader's settings and their declarative table. */
#ifndef MILLRACE_UPLOADER_CONFIG_H
#define MILLRACE_UPLOADER_CONFIG_H

#include "cfg.h"
#include "settings.h"

/* The enum settings: each row's choices (the _names arrays, in the enums'
 * order) are turned into these integers once, at load. uploader.format
 * holds an encode_format (choices encode_format_names). */
typedef enum uploader_store {
    UPLOADER_STORE_S3 = 0,
    UPLOADER_STORE_LOCAL,
} uploader_store;
extern const char *const uploader_store_names[];

typedef enum uploader_content_encoding {
    UPLOADER_CE_NONE = 0, /* stored as the file its name says */
    UPLOADER_CE_FORMAT,   /* Content-Encoding names the compression */
} uploader_content_encoding;
extern const char *const uploader_content_encoding_names[];

typedef enum uploader_assignment {
    UPLOADER_ASSIGN_COOPERATIVE_STICKY = 0,
    UPLOADER_ASSIGN_RANGE,
    UPLOADER_ASSIGN_ROUNDROBIN,
} uploader_assignment;
/* librdkafka's names: partition.assignment.strategy takes them as they are */
extern const char *const uploader_assignment_names[];

typedef enum uploader_on_permanent_error {
    UPLOADER_ON_PERMANENT_BLOCK = 0,
    UPLOADER_ON_PERMANENT_DLQ,
} uploader_on_permanent_error;
extern const char *const uploader_on_permanent_error_names[];

typedef enum uploader_sse {
    UPLOADER_SSE_NONE = 0,
    UPLOADER_SSE_AES256,
    UPLOADER_SSE_KMS,
} uploader_sse;
/* S3's names ("" for none): s3_options.sse takes them as they are */
extern const char *const uploader_sse_names[];

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
        int format;           /* encode_format */
        int content_encoding; /* uploader_content_encoding */
        long long level;
        int store; /* uploader_store */
        char *local_dir;
        char *listen;
        long long retry_base_ms;
        long long retry_max_ms;
        long long shutdown_timeout_ms;
        long long revoke_timeout_ms;
        int assignment; /* uploader_assignment */
        char *time_field;
        int line_metadata;
        long long max_record_bytes;
        long long max_json_depth;
        int on_permanent_error; /* uploader_on_permanent_error */
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
        int sse; /* uploader_sse */
        char *sse_kms_key_id;
        char *storage_class;
    } s3;
} uploader_config;

void uploader_config_table(cfg_table *t, uploader_config *c);
void uploader_config_validate(const uploader_config *c, cfg_errors *errs);

#endif
