/* kafka.c -- librdkafka configuration shared by both daemons: bootstrap,
 * pass-through properties, logging into our log format. */
#include "kafka.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                   char *errbuf, size_t errlen)
{
    char why[256];

    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errbuf, errlen, "kafka property %s=%s: %s", name, value, why);
        return -1;
    }
    return 0;
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
    enum log_level lvl = level <= 3   ? LOG_ERROR
                         : level <= 4 ? LOG_WARN
                         : level <= 6 ? LOG_INFO
                                      : LOG_DEBUG;
    (void)rk;
    log_msg(lvl, "kafka", "%s: %s", fac, buf);
}

int kafka_conf_apply_properties(rd_kafka_conf_t *conf, const char *properties,
                                char *errbuf, size_t errlen)
{
    const char *cur = properties;
    char item[1024];

    while (cfg_list_next(&cur, item, sizeof(item))) {
        char *eq = strchr(item, '=');
        if (item[0] == '\0')
            continue;
        if (eq == NULL) {
            snprintf(errbuf, errlen,
                     "kafka property \"%s\": expected name=value", item);
            return -1;
        }
        *eq = '\0';
        if (kafka_conf_set(conf, item, eq + 1, errbuf, errlen) < 0)
            return -1;
    }
    return 0;
}

static int value_allowed(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcasecmp(v, *allowed) == 0)
            return 1;
    return 0;
}

int kafka_properties_guard(const char *properties, const kafka_guard *guards,
                           size_t n, cfg_errors *errs)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[512];
    int bad = 0;

    for (size_t i = 0; i < n; i++)
        if (kafka_conf_set(conf, guards[i].name, guards[i].preset, why,
                           sizeof(why)) < 0)
            goto done;
    if (kafka_conf_apply_properties(conf, properties, why, sizeof(why)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        char v[64];
        size_t vlen = sizeof(v);
        if (rd_kafka_conf_get(conf, guards[i].name, v, &vlen) !=
            RD_KAFKA_CONF_OK)
            continue;
        if (value_allowed(v, guards[i].allowed))
            continue;
        cfg_error_add(errs,
                      "kafka.properties sets %s=%s: %s (refused; allowed: "
                      "%s)",
                      guards[i].name, v, guards[i].why, guards[i].allowed[0]);
        bad++;
    }
done:
    rd_kafka_conf_destroy(conf);
    return bad;
}

rd_kafka_conf_t *kafka_conf_new(const kafka_settings *ks, char *errbuf,
                                size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    if (kafka_conf_set(conf, "bootstrap.servers", ks->brokers, errbuf, errlen) <
        0)
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
