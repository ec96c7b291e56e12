/* settings.h -- the configuration sections both daemons share (kafka, log)
 * and the table rows that describe them, included in each daemon's table. */
#ifndef MILLRACE_SETTINGS_H
#define MILLRACE_SETTINGS_H

#include <stddef.h>

#include "cfg.h"
#include "log.h"

typedef struct kafka_settings {
    char *brokers;    /* bootstrap.servers */
    char *topic;      /* the JobQueue topic */
    char *properties; /* librdkafka "name=value" pass-through, one per line */
} kafka_settings;

typedef struct log_settings {
    int level;  /* enum log_level */
    int format; /* enum log_format */
} log_settings;

/* Rows for a daemon struct T holding a kafka_settings at member K and a
 * log_settings at member L. */
#define SETTINGS_KAFKA_ROWS(T, K)                                              \
    {"kafka.brokers",                                                          \
     CFG_STR,                                                                  \
     offsetof(T, K.brokers),                                                   \
     "127.0.0.1:9092",                                                         \
     0,                                                                        \
     0,                                                                        \
     NULL,                                                                     \
     "KAFKA_BROKERS",                                                          \
     0,                                                                        \
     "Kafka bootstrap servers, comma-separated host:port."},                   \
        {"kafka.topic",                                                        \
         CFG_STR,                                                              \
         offsetof(T, K.topic),                                                 \
         "events",                                                             \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         "KAFKA_TOPIC",                                                        \
         0,                                                                    \
         "The topic events are written to and read from."},                    \
    {                                                                          \
        "kafka.properties", CFG_LIST, offsetof(T, K.properties), NULL, 0, 0,   \
            NULL, NULL, 0,                                                     \
            "Extra librdkafka properties, each \"name=value\" (environment: "  \
            "comma-separated)."                                                \
    }

#define SETTINGS_LOG_ROWS(T, L)                                                \
    {"log.level",                                                              \
     CFG_ENUM,                                                                 \
     offsetof(T, L.level),                                                     \
     "info",                                                                   \
     0,                                                                        \
     0,                                                                        \
     log_level_names,                                                          \
     "LOG_LEVEL",                                                              \
     0,                                                                        \
     "Lowest level logged; SIGHUP re-reads it."},                              \
    {                                                                          \
        "log.format", CFG_ENUM, offsetof(T, L.format), "text", 0, 0,           \
            log_format_names, "LOG_FORMAT", 0,                                 \
            "text: \"time level component: message\" lines; json: one "        \
            "object per line with time, level, component and message (for "    \
            "log shippers). SIGHUP re-reads it."                               \
    }

#endif
